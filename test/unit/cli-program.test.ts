import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT, runCli } from '../../bin/cli/program.ts';

/** runCli in-process with no AWS behind it: what the dispatcher itself does with arguments and errors. */
async function run(...argv: string[]) {
  return runWithStdin(undefined, ...argv);
}

async function runWithStdin(stdin: string | undefined, ...argv: string[]) {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    ...(stdin === undefined ? {} : { readStdin: async () => stdin }),
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

  it("preview --item: the item from a file or stdin, with the target's or a given projection, no AWS call", async () => {
    const directory = await mkdtemp(join(tmpdir(), 'cli-preview-'));
    const file = (name: string, value: unknown) => {
      const path = join(directory, name);
      return writeFile(path, typeof value === 'string' ? value : JSON.stringify(value)).then(() => path);
    };
    const targetFile = await file('target.json', {
      ...target,
      projection: { filter: { attribute: 'type', equals: 'order' } },
    });
    const order = await file('order.json', { Item: { pk: { S: 'o-1' }, type: { S: 'order' } } });
    const text = await run('--target', targetFile, 'preview', '--item', order);
    expect(text).toMatchObject({ code: EXIT.ok, err: '' });
    expect(text.out).toContain("index 'products', document id 'o-1': indexed\n  filter: matches");
    const json = await run('--target', targetFile, '--json', 'preview', '--item', order);
    expect(JSON.parse(json.out)).toMatchObject({
      source: `file ${order}`,
      key: { pk: { S: 'o-1' } },
      indexes: [{ index: 'products', id: 'o-1', outcome: 'indexed', document: { id: 'o-1', type: 'order' } }],
    });

    const tried = await file('projection.json', { filter: { attribute: 'type', equals: 'customer' } });
    const stdin = await runWithStdin(
      '{"pk":"c-1","type":"customer"}',
      '--target',
      targetFile,
      'preview',
      '--plain',
      '--item',
      '-',
      '--projection',
      tried,
    );
    expect(stdin.code).toBe(EXIT.ok);
    expect(stdin.out).toContain(
      'item {"pk":{"S":"c-1"}} from stdin\nindex \'products\', document id \'c-1\': indexed',
    );
  });

  it('preview: bad input is one line naming what is wrong, exit 1', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'cli-preview-'));
    const targetFile = join(directory, 'target.json');
    await writeFile(targetFile, JSON.stringify(target));
    const badJson = join(directory, 'bad.json');
    await writeFile(badJson, '{"pk":');
    const keyless = join(directory, 'keyless.json');
    await writeFile(keyless, '{"type":{"S":"order"}}');
    const badProjection = join(directory, 'projection.json');
    await writeFile(badProjection, '{"filter":{"attribute":"n","gte":"5"}}');
    const cases: [string[], string][] = [
      [['preview'], 'error: preview needs --key <json> or --item <file>\n'],
      [
        ['preview', '--item', join(directory, 'none.json')],
        `error: cannot read --item ${join(directory, 'none.json')}: ENOENT`,
      ],
      [['preview', '--item', badJson], 'error: --item is not JSON: '],
      [
        ['preview', '--item', keyless],
        `error: --item file ${keyless}: key attribute 'pk' is missing (the table's key is pk)\n`,
      ],
      [
        ['preview', '--item', keyless, '--projection', badProjection],
        'error: --projection is not a valid projection: filter.gte must be a finite number, got "5"\n',
      ],
      [
        ['preview', '--key', '{"sk":1}'],
        "error: --key must name the table's key attributes pk, and only them; missing pk; not in the key: sk\n",
      ],
    ];
    for (const [args, message] of cases) {
      const { code, out, err } = await run('--target', targetFile, ...args);
      expect({ args, code, out }).toEqual({ args, code: EXIT.error, out: '' });
      expect(err.startsWith(message)).toBe(true);
    }
    const both = await run('--target', targetFile, 'preview', '--key', '{"pk":"a"}', '--item', keyless);
    expect(both.err).toContain("option '--key <json>' cannot be used with option '--item <file>'");
  });
});
