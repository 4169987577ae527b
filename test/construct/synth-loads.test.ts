import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Runtime clients and Powertools: what a Lambda function loads, never what synthesizing the stack needs. */
const RUNTIME_ONLY = /\/node_modules\/(@aws-sdk\/|@smithy\/|@aws-lambda-powertools\/)/;

/** Every module `cdk synth` of the ready stack loads, from a fresh Node process (test/construct/synth-loads/). */
function modulesLoadedBySynth(): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'synth-loads-'));
  try {
    const run = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        './test/construct/synth-loads/register.mjs',
        'test/construct/synth-loads/synth.ts',
      ],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, SYNTH_LOADS_FILE: join(dir, 'loads.txt') },
        maxBuffer: 64 * 1024 * 1024,
      },
    );
    expect(run.status, run.stderr).toBe(0);
    return run.stdout.split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('cdk synth', () => {
  it('loads no runtime SDK client and no Powertools module', () => {
    const loaded = modulesLoadedBySynth();
    // The recorder works: the construct library itself shows up.
    expect(loaded.some((path) => path.includes('/lib/typesense-sync.ts'))).toBe(true);
    expect(loaded.some((path) => path.includes('/node_modules/aws-cdk-lib/'))).toBe(true);
    expect(loaded.filter((path) => RUNTIME_ONLY.test(path))).toEqual([]);
  }, 120_000);
});
