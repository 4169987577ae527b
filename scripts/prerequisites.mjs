#!/usr/bin/env node
/**
 * `node scripts/prerequisites.mjs <test|start>`: checks the tools outside npm that a command needs, before
 * it starts, so that a fresh machine stops with one line naming what is missing and how to install it
 * instead of failing deep inside a test. Run by package.json's `pretest` and `prestart`.
 *
 * Injectable for its own test: PATH (where `java` and `cfn-lint` are looked up) and CHROMIUM_PATH
 * (default /usr/bin/chromium, the browser the status-page test drives).
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';

const MIN_JAVA = 17;

/** Java for DynamoDB Local: on PATH and at least MIN_JAVA. */
function checkJava(env) {
  const run = spawnSync('java', ['-version'], { env, encoding: 'utf8', timeout: 30_000 });
  const install = 'sudo apt-get install -y default-jre-headless';
  if (run.error !== undefined || run.status !== 0)
    return { what: `Java ${MIN_JAVA}+ (java on PATH)`, install };
  // `java -version` prints e.g. `openjdk version "17.0.12" 2024-07-16` (or "1.8.0_392" before Java 9).
  const match = /version "(\d+)(?:\.(\d+))?/.exec(`${run.stderr}${run.stdout}`);
  const major = match === null ? Number.NaN : match[1] === '1' ? Number(match[2]) : Number(match[1]);
  if (!(major >= MIN_JAVA))
    return {
      what: `Java ${MIN_JAVA}+ (found ${Number.isNaN(major) ? 'an unknown version' : major})`,
      install,
    };
  return undefined;
}

/** The system Chromium that playwright-core drives (no browser download). */
function checkChromium(env) {
  const path = env.CHROMIUM_PATH || '/usr/bin/chromium';
  try {
    accessSync(path, constants.X_OK);
    return undefined;
  } catch {
    return { what: `Chromium (${path})`, install: 'sudo apt-get install -y chromium' };
  }
}

/** cfn-lint (the Python tool, 1.x) for test/construct/cfn-lint.test.ts. */
function checkCfnLint(env) {
  const run = spawnSync('cfn-lint', ['--version'], { env, encoding: 'utf8', timeout: 60_000 });
  if (run.error === undefined && run.status === 0) return undefined;
  return { what: 'cfn-lint (on PATH)', install: 'pip install cfn-lint' };
}

const CHECKS = {
  test: [checkJava, checkChromium, checkCfnLint],
  start: [checkJava],
};

/** The one line naming every missing prerequisite and its install command, or undefined. */
export function missingLine(command, env = process.env) {
  const checks = CHECKS[command];
  if (checks === undefined) throw new Error(`unknown command '${command}' (expected test or start)`);
  const missing = checks.map((check) => check(env)).filter((problem) => problem !== undefined);
  if (missing.length === 0) return undefined;
  const label = missing.length === 1 ? 'missing prerequisite' : 'missing prerequisites';
  return `${label}: ${missing.map(({ what, install }) => `${what} — install with: ${install}`).join('; ')}`;
}

const line = missingLine(process.argv[2] ?? 'test');
if (line !== undefined) {
  console.error(line);
  process.exitCode = 1;
}
