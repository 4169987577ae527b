import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, runCli } from '../../bin/cli/program.ts';

/** runCli in-process with no AWS behind it: what the dispatcher itself does with arguments and errors. */
async function run(...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: (text) => {
      out += text;
    },
    err: (text) => {
      err += text;
    },
    env: {},
    isTTY: false,
  });
  return { code, out, err };
}

const target = {
  tableName: 'items',
  keyAttributes: ['pk'],
  queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/items-changes.fifo',
  dlqUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/items-dlq.fifo',
  typesense: { nodes: ['http://127.0.0.1:1'], collection: 'products', apiKey: 'local' },
};

describe('runCli', () => {
  it('--help lists every command group and the exit codes, and exits 0', async () => {
    const { code, out } = await run('--help');
    expect(code).toBe(EXIT.ok);
    for (const command of ['status', 'lag', 'dlq', 'replay-stream-failures', 'resync', 'verify'])
      expect(out).toContain(command);
    expect(out).toContain('Exit codes: 0 all well, 1 the command could not run, 2 it found a problem');
  });

  it.each([
    ['dlq', ['list', 'show', 'redrive']],
    ['resync', ['start', 'status', 'cancel', 'rollback']],
  ])('%s --help lists each of its commands', async (group, commands) => {
    const { code, out } = await run(group, '--help');
    expect(code).toBe(EXIT.ok);
    const listed = [...out.matchAll(/^ {2}(\w+)/gm)].map(([, name]) => name);
    expect(listed).toEqual([...commands, 'help']);
  });

  it('an operator error is one line after "error: ", exit 1', async () => {
    const { code, err } = await run('status');
    expect(code).toBe(EXIT.error);
    expect(err).toBe(
      'error: no target: give --target <file> (e.g. .local/target.json from `npm start`) or --stack <name>, ' +
        'or set TYPESENSE_SYNC_TARGET / TYPESENSE_SYNC_STACK\n',
    );
    const both = await run('--target', 't.json', '--stack', 'S', 'status');
    expect(both.err).toBe('error: give either --target or --stack, not both\n');
  });

  it('lag without an ingestion-delay endpoint in the target says so, exit 1', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'cli-program-')), 'target.json');
    await writeFile(file, JSON.stringify(target));
    const { code, out, err } = await run('--target', file, 'lag');
    expect(code).toBe(EXIT.error);
    expect(out).toBe('');
    expect(err).toBe('error: lag unknown: the target names no ingestion-delay endpoint\n');
  });

  it('a bad option value or an unknown command is a usage error, exit 1', async () => {
    const rate = await run('dlq', 'redrive', '--rate', '0');
    expect(rate.code).toBe(EXIT.error);
    expect(rate.err).toContain('--rate must be a positive integer');
    const above = await run('verify', '--resync-above', '101');
    expect(above.code).toBe(EXIT.error);
    expect(above.err).toContain('--resync-above must be a percentage from 0 to 100');
    const unknown = await run('frobnicate');
    expect(unknown.code).toBe(EXIT.error);
    expect(unknown.err).toContain("unknown command 'frobnicate'");
  });
});
