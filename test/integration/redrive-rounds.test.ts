import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redriveDeadLetters } from '../../bin/cli/operations/redrive.ts';
import type { Connection, Target } from '../../bin/cli/operations/target.ts';
import type { DeadLetter } from '../../functions/core/change.ts';
import { parseChangeMessage } from '../../functions/core/pack.ts';
import { queueDepth, sendDeadLetters } from '../../functions/shared/aws.ts';
import { change } from '../helpers/factories.ts';

let fauxqs: Awaited<ReturnType<typeof startFauxqs>>;
let sqs: SQSClient;

beforeAll(async () => {
  fauxqs = await startFauxqs({ port: 0, logger: false });
  sqs = new SQSClient({
    endpoint: fauxqs.address,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    useQueueUrlAsEndpoint: false,
  });
});

afterAll(async () => {
  sqs?.destroy();
  await fauxqs?.stop();
});

const fifo = async (name: string) =>
  (
    await sqs.send(
      new CreateQueueCommand({
        QueueName: `${name}.fifo`,
        Attributes: { FifoQueue: 'true', DeduplicationScope: 'messageGroup' },
      }),
    )
  ).QueueUrl as string;

const letter = (id: string, note: string): DeadLetter => ({
  v: 1,
  kind: 'dead-letter',
  stage: 'writer',
  change: change(id),
  id,
  reason: { code: 503, message: note },
  firstSeen: 1_700_000_000_000,
  attempts: 5,
});

/** Every change id on a queue, one entry per message that carries it (drains the queue). */
async function drainIds(queueUrl: string): Promise<string[]> {
  const ids: string[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: empty }),
    );
    empty = Messages.length === 0 ? empty + 1 : 0;
    for (const message of Messages) {
      ids.push(...(parseChangeMessage(message.Body ?? '')?.changes.map(({ id }) => id) ?? []));
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
    }
  }
  return ids;
}

describe('dlq redrive over several rounds', () => {
  it('re-enqueues a letter written after its key was re-enqueued in an earlier round, never just deletes it', async () => {
    const queueUrl = await fifo('rounds-changes');
    const dlqUrl = await fifo('rounds-dlq');
    const target = {
      queueUrl,
      dlqUrl,
      keyAttributes: ['pk'],
      messageGroupBuckets: 4,
      maxMessageBytes: 262_144,
    } as unknown as Target;
    const connection = { target, sqs } as unknown as Connection;
    const toDlq = sendDeadLetters(sqs, dlqUrl);
    // Eleven letters of j share a DLQ group: a receive returns at most 10 messages of a group (SQS, and
    // the patched emulator, return as many of one group as they can), so the 11th is out of reach in
    // round 1 and a round 2 runs.
    await toDlq([
      ...Array.from({ length: 11 }, (_, n) => letter('j', `letter ${n + 1}`)),
      letter('k', 'first'),
    ]);

    let wroteLate = false;
    const report = await redriveDeadLetters(connection, {
      filters: [],
      dryRun: false,
      waitMs: 0,
      // After round 1 re-enqueued k, the writer fails k again: a new letter, newer than that re-enqueue.
      onProgress: () => {
        if (wroteLate) return;
        wroteLate = true;
        void toDlq([letter('k', 'failed again after its redrive')]);
      },
    });

    expect(report.kept).toEqual([]);
    expect((await queueDepth(sqs, dlqUrl)).total).toBe(0);
    const ids = await drainIds(queueUrl);
    // k: once for its first letter, and again for the letter written after that re-enqueue.
    expect(ids.filter((id) => id === 'k')).toHaveLength(2);
    expect(ids.filter((id) => id === 'j').length).toBeGreaterThanOrEqual(1);
  });
});
