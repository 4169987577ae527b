import { mkdir, rm, writeFile } from 'node:fs/promises';
import { ingestionDelayOf } from '../../bin/cli/operations/lag.ts';
import { formatIndexFigures, verifyIndexes } from './demo-indexes.ts';
import { loadShop, runShopWorkload, SHOP_KEY_ATTRIBUTES, shopIndexes } from './demo-shop.ts';
import { exitOnSignals, sleep } from './processes.ts';
import { type LocalStack, type LocalStatus, startLocalStack } from './stack.ts';
import { describeLoad } from './status-page.ts';
import { productSchema } from './workload.ts';

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
    `pending ${status.pendingMessages} msg | DLQ ${status.dlqDepth} | lag ${lag} | circuit ${status.circuit}` +
    formatIndexFigures(status.indexes)
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

/**
 * `npm start`: the embedded stack with the demo shop (demo-shop.ts: products and their reviews in one table)
 * flowing through both Lambdas into three indexes.
 */
export async function runLocalDemo(options: DemoOptions): Promise<number> {
  console.log('starting the embedded stack (DynamoDB Local, SQS emulator, Typesense emulator)…');
  const prefill = options.prefill ?? 0;
  // As `cdk deploy` does it: the index custom resource creates the index with a first load.
  const stack = await startLocalStack({
    keyAttributes: SHOP_KEY_ATTRIBUTES,
    schema: productSchema,
    indexes: shopIndexes,
    index: 'custom-resource',
    ...(prefill === 0
      ? {}
      : {
          prefill: (dynamodb, tableName) =>
            loadShop({ dynamodb, tableName, first: options.items, count: prefill }),
        }),
    sourceTimestampAttribute: 'updatedAt',
    ports: { dynamodb: options.dynamodbPort, sqs: options.sqsPort, typesense: options.typesensePort },
  });
  let stopping = false;
  let stopLiveTicker: (() => Promise<void>) | undefined;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    if (stopLiveTicker !== undefined) {
      await stopLiveTicker();
      await verifyAtStop(stack);
    }
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
  const clean = await checkIndexes(stack);

  if (options.keepRunning) {
    console.log(
      'keep-running: the stack stays up; write to the table with any DynamoDB client. Ctrl-C stops.',
    );
    stopLiveTicker = statusTicker(stack, () => '');
    // Runs until SIGINT, whose handler stops the stack and exits.
    await new Promise<never>(() => undefined);
  }
  await shutdown();
  return clean ? 0 : 1;
}

/**
 * Ctrl-C after `--keep-running`: every index verified once more, after the writes made meanwhile have caught
 * up (as far as a few seconds of the signal's grace allow).
 */
async function verifyAtStop(stack: LocalStack): Promise<void> {
  try {
    await stack.waitForIdle(5_000);
    for (const { line } of await verifyIndexes(stack)) console.log(line);
  } catch (error) {
    console.log(`verify at stop skipped: ${(error as Error).message}`);
  }
}

/** Where everything is, and the operator CLI's target file. */
async function announce(stack: LocalStack): Promise<void> {
  console.log(`  DynamoDB Local  ${stack.endpoints.dynamodb}  table '${stack.tableName}'`);
  console.log(`  SQS emulator    ${stack.endpoints.sqs}  queue ${stack.queueUrl}`);
  console.log(
    `  Typesense       ${stack.endpoints.typesense}  aliases ${Object.keys(stack.indexes)
      .map((alias) => `'${alias}'`)
      .join(', ')} (each created by its first load; API key: see infra/local/stack-options.ts)`,
  );

  await mkdir('.local', { recursive: true });
  await writeFile(TARGET_FILE, `${JSON.stringify(stack.target, null, 2)}\n`);
  console.log(
    `  Operator CLI    npm run cli -- --target ${TARGET_FILE} status   (lag: ${stack.ingestionDelayUrl})`,
  );
  console.log(
    `  Status page     ${stack.statusPageUrl}  (lag chart, throughput, pending, DLQ, circuit; each index)`,
  );
}

/** The first loads with a live status line, until their swaps have created every alias. */
async function firstLoad(stack: LocalStack): Promise<void> {
  const started = Date.now();
  const stopTicker = statusTicker(stack, () => '');
  const aliases = Object.keys(stack.indexes);
  const created = async (alias: string) => (await stack.typesense.getAlias(alias)) !== undefined;
  while (!(await Promise.all(aliases.map(created))).every(Boolean)) await sleep(250);
  await stopTicker();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  for (const index of Object.values(stack.indexes)) {
    const loaded = await stack.typesense.getCollection(index.collection);
    console.log(
      `first load: ${loaded?.num_documents ?? 0} documents within ${seconds} s; alias '${index.alias}' → '${index.collection}'`,
    );
  }
}

/** The demo workload through the pipeline, with a live status line, until the index has caught up. */
async function writeDemo(stack: LocalStack, options: DemoOptions): Promise<void> {
  let done = 0;
  let total = options.items + options.ops;
  const stopTicker = statusTicker(stack, () => (done < total ? `writes ${done}/${total} | ` : ''));
  const started = Date.now();
  const workload = await runShopWorkload({
    dynamodb: stack.dynamodb,
    tableName: stack.tableName,
    products: options.items,
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
  const { products, reviews } = workload;
  console.log(
    `wrote ${workload.total} changes (products: ${products.inserts} inserts, ${products.updates} updates, ` +
      `${products.deletes} deletes, ${products.expiries} TTL-style expiries, ${products.recreates} re-creates; ` +
      `reviews: ${reviews.inserts} written, ${reviews.updates} rewritten, ${reviews.deletes} deleted) ` +
      `and the indexes caught up in ${seconds.toFixed(1)} s`,
  );
}

/** Every index against the table, one line each, and two searches; resolves true when every index is clean. */
async function checkIndexes(stack: LocalStack): Promise<boolean> {
  const verdicts = await verifyIndexes(stack);
  for (const { line } of verdicts) console.log(line);

  const answer = await stack.typesense.search('products', { q: 'kettle', query_by: 'name', per_page: 3 });
  console.log(`search products 'kettle' → ${answer.found} found; first ${answer.hits.length}:`);
  for (const hit of answer.hits) {
    const document = hit.document as { id: string; name: string; price: number };
    console.log(`  ${document.id}  ${document.name}  ${document.price}`);
  }
  const aggregated = await stack.typesense.search('catalogue', {
    q: 'kettle',
    query_by: 'name',
    per_page: 3,
  });
  console.log(`search catalogue 'kettle' → ${aggregated.found} found; first ${aggregated.hits.length}:`);
  for (const hit of aggregated.hits) {
    const document = hit.document as { id: string; name: string; reviews: { rating: number }[] };
    const ratings = document.reviews.map(({ rating }) => rating).join(', ');
    const count = document.reviews.length === 1 ? '1 review' : `${document.reviews.length} reviews`;
    console.log(`  ${document.id}  ${document.name}  ${count} (ratings: ${ratings || 'none'})`);
  }
  return verdicts.every(({ clean }) => clean);
}
