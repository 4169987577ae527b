import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { documentId } from '../../functions/core/keys.ts';
import { type LocalStack, startLocalStack } from '../../infra/local/stack.ts';
import { itemKey, productItem, productSchema, seededRandom } from '../../infra/local/workload.ts';
import { drainPipeline, openBackend, type SyncBackend } from '../scenarios/backend.ts';
import { SCENARIOS } from '../scenarios/scenarios.ts';

/** The shared scenarios on the embedded stack; `test/localstack/` runs the same ones on LocalStack. */
const TIMEOUT_MS = 60_000;

let stack: LocalStack;
let backend: SyncBackend & { close(): void };

beforeAll(async () => {
  // Composite keys, as the LocalStack deployment uses: ids with an escaped `|` go through every path.
  stack = await startLocalStack({
    keyAttributes: ['pk', 'sk'],
    schema: productSchema,
    visibilityTimeoutSeconds: 1,
    logLevel: 'ERROR',
  });
  const targetFile = join(await mkdtemp(join(tmpdir(), 'scenarios-')), 'target.json');
  await writeFile(targetFile, JSON.stringify(stack.target));
  backend = await openBackend({
    name: 'embedded',
    targetFile,
    timeoutMs: TIMEOUT_MS,
    // The stack sees its own pollers: idle is exact here, no canary needed.
    settle: () => stack.waitForIdle(TIMEOUT_MS),
  });
});

afterAll(async () => {
  backend?.close();
  await stack?.stop();
});

describe('shared scenarios on the embedded stack', () => {
  for (const scenario of SCENARIOS) it(scenario.name, () => scenario.run(backend), 3 * TIMEOUT_MS);

  it('drainPipeline, the settle of deployed backends, returns only once earlier changes are applied', async () => {
    const { dynamodb, typesense, target } = backend.connection;
    const item = productItem(seededRandom(8), target.keyAttributes, 60_000, 4, Date.now());
    await dynamodb.send(new PutItemCommand({ TableName: target.tableName, Item: item }));
    await drainPipeline(backend.connection, TIMEOUT_MS);
    const id = documentId(itemKey(target.keyAttributes, 60_000), target.keyAttributes);
    expect(await typesense.getDocument(target.typesense.collection, id)).toMatchObject({ revision: 4 });
  });
});
