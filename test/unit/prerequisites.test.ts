import { execFile } from 'node:child_process';
import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../scripts/prerequisites.mjs', import.meta.url));

/** A directory holding only the given shell scripts, to stand in for PATH on a bare machine. */
async function binDir(scripts: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'prereq-'));
  for (const [name, body] of Object.entries(scripts)) {
    await writeFile(join(dir, name), `#!/bin/sh\n${body}\n`);
    await chmod(join(dir, name), 0o755);
  }
  return dir;
}

const JAVA_17 = 'echo \'openjdk version "17.0.12" 2024-07-16\' >&2';
const CFN_LINT = 'echo cfn-lint 1.51.0';

/** Runs the check as `npm test` / `npm start` do (pretest / prestart), with PATH and CHROMIUM_PATH replaced. */
async function check(command: 'test' | 'start', env: { PATH: string; CHROMIUM_PATH: string }) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [SCRIPT, command], {
      env: { ...env, HOME: tmpdir() },
      timeout: 30_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

describe('scripts/prerequisites.mjs (pretest, prestart)', () => {
  it('passes silently when Java 17, Chromium and cfn-lint are there', async () => {
    const path = await binDir({ java: JAVA_17, 'cfn-lint': CFN_LINT, chromium: 'exit 0' });
    const run = await check('test', { PATH: path, CHROMIUM_PATH: join(path, 'chromium') });
    expect(run).toEqual({ code: 0, output: '' });
  });

  it('on a fresh machine stops npm test with one line naming each missing tool and its install command', async () => {
    const empty = await binDir({});
    const run = await check('test', { PATH: empty, CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(run.code).toBe(1);
    expect(run.output).toBe(
      'missing prerequisites: Java 17+ (java on PATH) — install with: sudo apt-get install -y default-jre-headless; ' +
        'Chromium (/nonexistent/chromium) — install with: sudo apt-get install -y chromium; ' +
        'cfn-lint (on PATH) — install with: pip install cfn-lint\n',
    );
  });

  it('names only Chromium when only Chromium is missing (a non-executable file does not count)', async () => {
    const path = await binDir({ java: JAVA_17, 'cfn-lint': CFN_LINT });
    const notExecutable = join(path, 'chromium');
    await writeFile(notExecutable, '');
    const run = await check('test', { PATH: path, CHROMIUM_PATH: notExecutable });
    expect(run.code).toBe(1);
    expect(run.output).toBe(
      `missing prerequisite: Chromium (${notExecutable}) — install with: sudo apt-get install -y chromium\n`,
    );
  });

  it('refuses a Java older than 17, naming the version found', async () => {
    const path = await binDir({ java: 'echo \'java version "1.8.0_392"\' >&2', 'cfn-lint': CFN_LINT });
    const run = await check('start', { PATH: path, CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(run.code).toBe(1);
    expect(run.output).toBe(
      'missing prerequisite: Java 17+ (found 8) — install with: sudo apt-get install -y default-jre-headless\n',
    );
  });

  it('npm start needs Java only: no Chromium or cfn-lint', async () => {
    const path = await binDir({ java: 'echo \'openjdk version "21" 2023-09-19\' >&2' });
    expect(await check('start', { PATH: path, CHROMIUM_PATH: '/nonexistent/chromium' })).toEqual({
      code: 0,
      output: '',
    });
    const run = await check('start', { PATH: await binDir({}), CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(run.output).toBe(
      'missing prerequisite: Java 17+ (java on PATH) — install with: sudo apt-get install -y default-jre-headless\n',
    );
  });
});
