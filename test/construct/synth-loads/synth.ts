// Synthesizes the ready stack the way `cdk synth` loads it (lib/index.ts, infra/synth-app.ts) and prints every
// module loaded meanwhile, one per line: ESM resolutions recorded by record-loads.mjs, and CommonJS modules
// from the require cache (whose nested require() calls no ESM hook sees).
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { appWithoutBundling } from '../../../infra/synth-app.ts';
import { TypesenseSyncStack } from '../../../lib/index.ts';

const app = appWithoutBundling();
new TypesenseSyncStack(app, 'Default', { env: { account: '123456789012', region: 'eu-west-1' } });
app.synth();

const file = process.env.SYNTH_LOADS_FILE;
const esm = file === undefined ? [] : readFileSync(file, 'utf8').split('\n').filter(Boolean);
const cjs = Object.keys(createRequire(import.meta.url).cache);
process.stdout.write(`${[...new Set([...esm, ...cjs])].join('\n')}\n`);
