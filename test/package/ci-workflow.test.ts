import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

/**
 * .github/workflows/ci.yml, checked offline: the GitHub Actions workflow schema by action-validator
 * (@action-validator/cli, WebAssembly, no network), then what the jobs must do.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const WORKFLOW = join(ROOT, '.github', 'workflows', 'ci.yml');
const VALIDATOR = join(ROOT, 'node_modules', '@action-validator', 'cli', 'cli.mjs');

async function validate(file: string): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [VALIDATOR, file], {
      env: { ...process.env, NO_COLOR: '1' },
      timeout: 60_000,
    });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, output: `${failed.stdout ?? ''}${failed.stderr ?? ''}` };
  }
}

/** The lines of job `name` (two-space indented under `jobs:`), up to the next job. */
function job(text: string, name: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(`  ${name}:`);
  if (start < 0) throw new Error(`no job '${name}'`);
  const end = lines.findIndex((line, index) => index > start && /^ {2}\S/.test(line));
  return lines.slice(start, end < 0 ? undefined : end).join('\n');
}

describe('.github/workflows/ci.yml', () => {
  let text: string;

  beforeAll(async () => {
    text = await readFile(WORKFLOW, 'utf8');
  });

  it('is a valid workflow for action-validator, which does reject a broken one', async () => {
    expect(await validate(WORKFLOW)).toEqual({ code: 0, output: '' });
    const broken = join(await mkdtemp(join(tmpdir(), 'workflow-')), 'ci.yml');
    await writeFile(broken, text.replace('runs-on: ubuntu-latest', 'runs-onn: ubuntu-latest'));
    const run = await validate(broken);
    expect(run.code).not.toBe(0);
    expect(run.output).toContain("Additional property 'runs-onn' is not allowed");
  }, 90_000);

  it('runs npm ci && npm test with Java, Chromium and cfn-lint installed first', () => {
    const test = job(text, 'test');
    expect(test).toMatch(/apt-get install -y [^\n]*default-jre-headless/);
    expect(test).toMatch(/apt-get install -y [^\n]*chromium/);
    expect(test).toMatch(/pip install [^\n]*cfn-lint/);
    expect(test.indexOf('npm ci')).toBeGreaterThan(test.indexOf('cfn-lint'));
    expect(test.indexOf('run: npm test')).toBeGreaterThan(test.indexOf('npm ci'));
  });

  it('runs the contract suite on real Typesense service containers (newest 30.x, oldest 27.x) and the LocalStack suite', () => {
    const real = job(text, 'real-typesense');
    const matrixImage = 'typesense/typesense:$' + '{{ matrix.typesense }}';
    expect(real).toMatch(/typesense: \['30\.\d+', '27\.\d+'\]/);
    expect(real).toContain(`image: ${matrixImage}`);
    expect(real).toMatch(
      /run: npx vitest run test\/contract\n\s+env:\n\s+TYPESENSE_URL: http:\/\/localhost:8109/,
    );
    expect(real).toContain('- 8109:8108');
    expect(real).toContain('run: npm run test:localstack');
    expect(real).toContain(`TYPESENSE_IMAGE: ${matrixImage}`);
  });
});
