import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';

/** Every process below `pid`, from `ps` (children of children included). */
function descendants(pid: number): number[] {
  const table = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift() as number;
    for (const [child, ppid] of table) {
      if (ppid === parent) {
        found.push(child);
        queue.push(child);
      }
    }
  }
  return found;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('npm start (bin/local.ts)', () => {
  let demo: ChildProcess | undefined;
  afterAll(() => {
    if (demo?.exitCode === null) demo.kill('SIGKILL');
  });

  it('runs the demo to a verified index and a search answer, then stops on Ctrl-C leaving no process behind', async () => {
    demo = spawn(
      process.execPath,
      ['--import', 'tsx', 'bin/local.ts', '--items', '40', '--ops', '60', '--rate', '500', '--keep-running'],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } },
    );
    let output = '';
    demo.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    demo.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => demo?.once('exit', (code) => resolve(code)));

    for (let waited = 0; !output.includes('keep-running:'); waited += 200) {
      if (waited > 90_000 || demo.exitCode !== null) throw new Error(`demo did not come up:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(output).toContain('wrote 100 changes (40 inserts');
    expect(output).toMatch(/verify: index matches table field by field \(\d+ items, \d+ documents\)/);
    expect(output).toMatch(/search 'kettle' → \d+ found/);
    expect(output).not.toContain('local-typesense-key');

    const children = descendants(demo.pid as number);
    expect(children.length).toBeGreaterThan(0); // DynamoDB Local's JVM at least
    demo.kill('SIGINT');
    expect(await exited).toBe(130);
    // Children exit on their own schedule once their parent is gone (a tool's pipe closes, the JVM
    // finishes its shutdown): none may survive, but give them a moment to go.
    for (let waited = 0; children.some(alive) && waited < 15_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(children.filter(alive)).toEqual([]);
  });
});
