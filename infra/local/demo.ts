import { mkdir, rm, writeFile } from 'node:fs/promises';
import { ingestionDelayOf } from '../../bin/cli/operations/lag.ts';
import { exitOnSignals, sleep } from './processes.ts';
import { type LocalStack, type LocalStatus, startLocalStack } from './stack.ts';
import { describeLoad } from './status-page.ts';
import { loadItems, productSchema, runWorkload } from './workload.ts';

export interface DemoOptions {
  items: number;
  ops: number;
  rate: number;
  seed: number;
  keepRunning: boolean;
  dynamodbPort?: number;
  sqsPort?: number;
  typesensePort?: number;
  /** Items already in the table when the sync is deployed: the first load indexes them. */
  prefill?: number;
}

export function formatStatus(status: LocalStatus, progress: string): string {
  // The same figure the ingestion-delay endpoint and `typesense-sync lag` answer.
  const delay = ingestionDelayOf(status, Date.now());
  const lag =
    delay.oldestPendingChangeAgeMs !== null && delay.oldestPendingChangeAgeMs >= delay.lagMs
      ? `${delay.lagMs} ms (pending)`
      : status.lagMs === undefined
        ? 'idle'
        : `${delay.lagMs} ms`;
  return (
    `${progress}${formatLoad(status.load)}seen ${status.changesSeen} | applied ${status.changesApplied} | ` +
    `pending ${status.pendingMessages} msg | DLQ ${status.dlqDepth} | lag ${lag} | circuit ${status.circuit}`
  );
}

/** The running re-sync: the first load (before the alias exists) or a migration. */
function formatLoad(load: LocalStatus['load']): string {
  const described = describeLoad(load);
  return described === undefined ? '' : `${described} | `;
}

function statusTicker(stack: LocalStack, progress: () => string) {
  const tty = process.stdout.isTTY === true;
  let last = 0;
  const timer = setInterval(async () => {
    // A poll that fails (the stack is stopping) just skips a tick.
    const status = await stack.status().catch(() => undefined);
    if (status === undefined) return;
    const line = formatStatus(status, progress());
    if (tty) process.stdout.write(`\r\x1b[2K${line}`);
    else if (Date.now() - last >= 2_000) {
      last = Date.now();
      console.log(line);
    }
  }, 250);
  return async () => {
    clearInterval(timer);
    const line = formatStatus(await stack.status(), progress());
    console.log(tty ? `\r\x1b[2K${line}` : line);
  };
}

/** Where `npm start` leaves the operator CLI's target while the stack runs (removed when it stops). */
const TARGET_FILE = '.local/target.json';

/** `npm start`: the embedded stack with a demo catalogue flowing through both Lambdas. */
export async function runLocalDemo(options: DemoOptions): Promise<number> {
  console.log('starting the embedded stack (DynamoDB Local, SQS emulator, Typesense emulator)…');
  const prefill = options.prefill ?? 0;
  // As `cdk deploy` does it: the index custom resource creates the index with a first load.
  const stack = await startLocalStack({
    schema: productSchema,
    index: 'custom-resource',
    ...(prefill === 0
      ? {}
      : {
          prefill: (dynamodb, tableName) =>
            loadItems({ dynamodb, tableName, keyAttributes: ['pk'], first: options.items, count: prefill }),
        }),
    sourceTimestampAttribute: 'updatedAt',
    ports: { dynamodb: options.dynamodbPort, sqs: options.sqsPort, typesense: options.typesensePort },
  });
  let stopping = false;
  let stopLiveTicker: (() => Promise<void>) | undefined;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    await stopLiveTicker?.();
    await rm(TARGET_FILE, { force: true });
    await stack.stop();
  };
  exitOnSignals(async () => {
    console.log('\nstopping…');
    await shutdown();
  });
  await announce(stack);
  await firstLoad(stack);
  await writeDemo(stack, options);
  const drift = await checkIndex(stack);

  if (options.keepRunning) {
    console.log(
      'keep-running: the stack stays up; write to the table with any DynamoDB client. Ctrl-C stops.',
    );
    stopLiveTicker = statusTicker(stack, () => '');
    // Runs until SIGINT, whose handler stops the stack and exits.
    await new Promise<never>(() => undefined);
  }
  await shutdown();
  return drift === 0 ? 0 : 1;
}

/** Where everything is, and the operator CLI's target file. */
async function announce(stack: LocalStack): Promise<void> {
  console.log(`  DynamoDB Local  ${stack.endpoints.dynamodb}  table '${stack.tableName}'`);
  console.log(`  SQS emulator    ${stack.endpoints.sqs}  queue ${stack.queueUrl}`);
  console.log(
    `  Typesense       ${stack.endpoints.typesense}  alias '${stack.alias}' (first load into '${stack.collection}'; API key: see infra/local/stack-options.ts)`,
  );

  await mkdir('.local', { recursive: true });
  await writeFile(TARGET_FILE, `${JSON.stringify(stack.target, null, 2)}\n`);
  console.log(
    `  Operator CLI    npm run cli -- --target ${TARGET_FILE} status   (lag: ${stack.ingestionDelayUrl})`,
  );
  console.log(`  Status page     ${stack.statusPageUrl}  (lag chart, throughput, pending, DLQ, circuit)`);
}

/** The first load with a live status line, until its swap creates the alias. */
async function firstLoad(stack: LocalStack): Promise<void> {
  const started = Date.now();
  const stopTicker = statusTicker(stack, () => '');
  while ((await stack.typesense.getAlias(stack.alias)) === undefined) await sleep(250);
  await stopTicker();
  const loaded = await stack.typesense.getCollection(stack.collection);
  console.log(
    `first load: ${loaded?.num_documents ?? 0} documents in ${((Date.now() - started) / 1000).toFixed(1)} s; alias '${stack.alias}' → '${stack.collection}'`,
  );
}

/** The demo workload through the pipeline, with a live status line, until the index has caught up. */
async function writeDemo(stack: LocalStack, options: DemoOptions): Promise<void> {
  let done = 0;
  let total = options.items + options.ops;
  const stopTicker = statusTicker(stack, () => (done < total ? `writes ${done}/${total} | ` : ''));
  const started = Date.now();
  const workload = await runWorkload({
    dynamodb: stack.dynamodb,
    tableName: stack.tableName,
    keyAttributes: stack.keyAttributes,
    keys: options.items,
    ops: options.ops,
    seed: options.seed,
    rate: options.rate,
    onProgress: (count, all) => {
      done = count;
      total = all;
    },
  });
  await stack.waitForIdle(120_000);
  const seconds = (Date.now() - started) / 1000;
  await stopTicker();
  console.log(
    `wrote ${workload.total} changes (${workload.inserts} inserts, ${workload.updates} updates, ` +
      `${workload.deletes} deletes, ${workload.expiries} TTL-style expiries, ${workload.recreates} re-creates) ` +
      `and the index caught up in ${seconds.toFixed(1)} s`,
  );
}

/** Table vs index field by field, and a search; resolves with the drift found (0: none). */
async function checkIndex(stack: LocalStack): Promise<number> {
  const report = await stack.verify();
  const drift = report.missing.length + report.extra.length + report.stale.length;
  console.log(
    drift === 0
      ? `verify: index matches table field by field (${report.tableItems} items, ${report.indexDocuments} documents)`
      : `verify: DRIFT — missing ${report.missing.length}, extra ${report.extra.length}, stale ${report.stale.length}`,
  );

  const answer = await stack.typesense.search(stack.alias, { q: 'kettle', query_by: 'name', per_page: 3 });
  console.log(`search 'kettle' → ${answer.found} found; first ${answer.hits.length}:`);
  for (const hit of answer.hits) {
    const document = hit.document as { id: string; name: string; price: number };
    console.log(`  ${document.id}  ${document.name}  ${document.price}`);
  }
  return drift;
}
