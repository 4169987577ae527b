// Module resolve hook (runs on the loader thread): appends every module URL the app resolves to the file
// named by the SYNTH_LOADS_FILE variable, one per line, so the synth script can list what `cdk synth` loaded.
import { appendFileSync } from 'node:fs';

const file = process.env.SYNTH_LOADS_FILE;

export async function resolve(specifier, context, nextResolve) {
  const result = await nextResolve(specifier, context);
  if (file !== undefined) appendFileSync(file, `${result.url}\n`);
  return result;
}
