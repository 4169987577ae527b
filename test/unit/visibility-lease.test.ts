import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker } from '../../functions/core/breaker.ts';
import {
  LeaseLostError,
  LeaseNotTakenError,
  VisibilityLease,
  type WriteLease,
} from '../../functions/core/write-batch/lease.ts';
import { processChangeMessages, type WriterPorts } from '../../functions/core/write-batch.ts';
import { TypesenseNotSentError, TypesenseUnavailableError } from '../../functions/shared/typesense-errors.ts';
import { change, pkOf, sqsRecord } from '../helpers/factories.ts';

type Entry = { receiptHandle: string; seconds: number };

/** SQS's side of a lease on a fake clock: every visibility call, when it was sent, and a switch to refuse them. */
function leaseSqs() {
  const clock = { now: 1_700_000_000_000 };
  const calls: { at: number; entries: Entry[] }[] = [];
  const sqs = {
    refuse: false,
    /** How long a call takes. */
    callMs: 0,
    async changeVisibility(entries: Entry[]) {
      calls.push({ at: clock.now, entries });
      clock.now += sqs.callMs;
      if (sqs.refuse) throw new Error('ReceiptHandleIsInvalid');
    },
    now: () => clock.now,
  };
  return { clock, calls, sqs };
}

const records = (count: number) =>
  Array.from({ length: count }, (_, n) =>
    sqsRecord({ messageId: `m${n}`, groupId: `g${n}`, changes: [change(`p${n}`)] }),
  );

describe('VisibilityLease: a batch holds its messages for a short lease while its writes need them', () => {
  it('takes the lease on every message of the batch at once', async () => {
    const { calls, sqs } = leaseSqs();
    await VisibilityLease.take(records(3), 2, sqs);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.entries).toEqual(records(3).map(({ receiptHandle }) => ({ receiptHandle, seconds: 2 })));
  });

  it('a lease SQS refuses is not taken: the batch must not write', async () => {
    const { sqs } = leaseSqs();
    sqs.refuse = true;
    await expect(VisibilityLease.take(records(1), 2, sqs)).rejects.toBeInstanceOf(LeaseNotTakenError);
  });

  it('gives a write what it wants while that ends half a lease before the lease does, without a call', async () => {
    const { clock, calls, sqs } = leaseSqs();
    const lease = await VisibilityLease.take(records(2), 4, sqs);
    // 4 s lease, 2 s margin: 2 s left for writes.
    expect(await lease.window(2_000)).toBe(2_000);
    clock.now += 1_500;
    expect(await lease.window(500)).toBe(500);
    expect(calls).toHaveLength(1);
  });

  it('extends the lease, once for writes asking together, before a write that would end too late', async () => {
    const { clock, calls, sqs } = leaseSqs();
    const lease = await VisibilityLease.take(records(2), 2, sqs);
    clock.now += 700; // 300 ms left for writes.
    const windows = await Promise.all([lease.window(800), lease.window(800), lease.window(100)]);
    expect(windows).toEqual([800, 800, 100]);
    // The extension: the lease or what the write and the margin need, whichever is longer, in whole seconds.
    expect(calls).toHaveLength(2);
    expect(calls[1]?.entries.map(({ seconds }) => seconds)).toEqual([2, 2]);
    // A write wanting more than the lease extends it to cover it and the margin: ceil((2.5 + 1) s).
    expect(await lease.window(2_500)).toBe(2_500);
    expect(calls[2]?.entries.map(({ seconds }) => seconds)).toEqual([4, 4]);
  });

  it('counts the lease from before each call was sent, so a slow call shortens it, never lengthens it', async () => {
    const { calls, sqs } = leaseSqs();
    sqs.callMs = 400;
    const lease = await VisibilityLease.take(records(1), 2, sqs);
    // Taken at t, answered at t + 400 ms: writes may run until t + 1 s, so 600 ms from now.
    expect(await lease.window(600)).toBe(600);
    expect(calls).toHaveLength(1);
    // Extended at t + 400 ms, answered at t + 800 ms: 600 ms again, not the 601 asked for.
    expect(await lease.window(601)).toBe(600);
    expect(calls).toHaveLength(2);
  });

  it('sends nothing once the lease is within its margin of ending: another invocation may hold the messages', async () => {
    const { clock, calls, sqs } = leaseSqs();
    const lease = await VisibilityLease.take(records(1), 2, sqs);
    clock.now += 1_000;
    await expect(lease.window(10)).rejects.toBeInstanceOf(LeaseLostError);
    await lease.change([{ receiptHandle: 'r', seconds: 0 }]);
    expect(calls).toHaveLength(1);
  });

  it('a write is not sent when its extension fails', async () => {
    const { clock, sqs } = leaseSqs();
    const lease = await VisibilityLease.take(records(1), 2, sqs);
    clock.now += 900;
    sqs.refuse = true;
    await expect(lease.window(500)).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('passes a backoff on while the lease holds the messages', async () => {
    const { calls, sqs } = leaseSqs();
    const lease = await VisibilityLease.take(records(1), 2, sqs);
    await lease.change([{ receiptHandle: 'r', seconds: 8 }]);
    expect(calls[1]?.entries).toEqual([{ receiptHandle: 'r', seconds: 8 }]);
  });
});

/** A writer over fake ports whose Typesense writes record the lease they were given, on the lease's clock. */
function leasedWriter() {
  const { clock, calls, sqs } = leaseSqs();
  const writes: { kind: 'import' | 'delete'; at: number; lease: WriteLease | undefined }[] = [];
  const ports: WriterPorts = {
    readItems: async (keys) =>
      keys
        .filter((key) => pkOf(key) !== 'gone')
        .map((key) => ({ pk: { S: pkOf(key) }, title: { S: 'a title' } })),
    // As the adapters do: a write asks the lease for its time before it is sent.
    importDocuments: async (lines, _remainingMs, lease) => {
      await lease?.window(100);
      writes.push({ kind: 'import', at: clock.now, lease });
      return lines.map(() => ({ success: true as const }));
    },
    deleteDocuments: async (ids, lease) => {
      await lease?.window(100);
      writes.push({ kind: 'delete', at: clock.now, lease });
      return ids.length;
    },
    sendDeadLetters: async () => {},
    changeVisibility: sqs.changeVisibility,
    now: sqs.now,
  };
  return { clock, calls, sqs, writes, ports };
}

describe('processChangeMessages with a visibility lease', () => {
  const batch = () => [
    sqsRecord({ messageId: 'm1', groupId: 'g1', changes: [change('p1')] }),
    sqsRecord({ messageId: 'm2', groupId: 'g2', changes: [change('gone', { op: 'delete' })] }),
  ];

  it('takes the lease before anything else, and every Typesense write runs under it', async () => {
    const writer = leasedWriter();
    const result = await processChangeMessages(batch(), writer.ports, {
      keyAttributes: ['pk'],
      visibilityLeaseSeconds: 3,
    });
    expect(result.batchItemFailures).toEqual([]);
    expect(writer.calls[0]?.entries).toEqual(
      batch().map(({ receiptHandle }) => ({ receiptHandle, seconds: 3 })),
    );
    expect(writer.writes.map(({ kind }) => kind).sort()).toEqual(['delete', 'import']);
    for (const write of writer.writes) expect(write.lease).toBeInstanceOf(VisibilityLease);
  });

  it('without a lease, the messages keep the queue’s visibility and writes get none', async () => {
    const writer = leasedWriter();
    await processChangeMessages(batch(), writer.ports, { keyAttributes: ['pk'] });
    expect(writer.calls).toEqual([]);
    for (const write of writer.writes) expect(write.lease).toBeUndefined();
  });

  it('a lease SQS refuses fails the batch before any read or write', async () => {
    const writer = leasedWriter();
    writer.sqs.refuse = true;
    await expect(
      processChangeMessages(batch(), writer.ports, { keyAttributes: ['pk'], visibilityLeaseSeconds: 3 }),
    ).rejects.toBeInstanceOf(LeaseNotTakenError);
    expect(writer.writes).toEqual([]);
  });

  it('a write the lease can no longer cover is not sent: its message is retried, no outage counted', async () => {
    const writer = leasedWriter();
    // The item read outlasts the lease's write time (a stalled invocation).
    const readItems = writer.ports.readItems;
    writer.ports.readItems = async (keys) => {
      writer.clock.now += 2_000;
      return readItems(keys);
    };
    const result = await processChangeMessages(batch(), writer.ports, {
      keyAttributes: ['pk'],
      visibilityLeaseSeconds: 2,
    });
    expect(result.batchItemFailures.map(({ itemIdentifier }) => itemIdentifier).sort()).toEqual(['m1', 'm2']);
    expect(result.summary.deadLettered).toBe(0);
    expect(result.summary.upserted + result.summary.deleted).toBe(0);
    expect(writer.writes).toEqual([]);
    // Neither written nor backed off: the lease's end returns the messages; a late call could reach
    // messages another invocation holds by then.
    expect(writer.calls).toHaveLength(1);
  });

  it.each([
    ['the lease could not cover it', 'closed', () => new LeaseLostError('lease ends too soon')],
    ["the client's time ran out before it sent it", 'closed', () => new TypesenseNotSentError('POST /x')],
    ['it was sent and got no answer', 'open', () => new TypesenseUnavailableError('no answer')],
  ])(
    'a write that failed because %s leaves the circuit %s: only a sent one can show an outage',
    async (_why, state, failure) => {
      const writer = leasedWriter();
      writer.ports.importDocuments = async () => {
        throw failure();
      };
      writer.ports.deleteDocuments = async () => {
        throw failure();
      };
      const breaker = new CircuitBreaker({
        failureThreshold: 1,
        probeMs: 30_000,
        maxProbeMs: 300_000,
        requestFailureRun: 1,
        now: writer.sqs.now,
      });
      const result = await processChangeMessages(batch(), writer.ports, {
        keyAttributes: ['pk'],
        visibilityLeaseSeconds: 3,
        breaker,
      });
      expect(result.batchItemFailures.map(({ itemIdentifier }) => itemIdentifier).sort()).toEqual([
        'm1',
        'm2',
      ]);
      expect(breaker.state).toBe(state);
    },
  );
});

describe('the lease while a batch waits between its writes (a retry pause, a slot of the import limit)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A writer on fake timers whose import waits `waitMs` before it asks the lease for its time and writes. */
  function waitingWriter(waitMs: number) {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const renewals: { at: number; seconds: number[] }[] = [];
    const writes: number[] = [];
    const sqs = { refuseAfter: Number.POSITIVE_INFINITY, calls: 0 };
    const ports: WriterPorts = {
      readItems: async (keys) => keys.map((key) => ({ pk: { S: pkOf(key) }, title: { S: 'a title' } })),
      importDocuments: async (lines, _remainingMs, lease) => {
        await vi.advanceTimersByTimeAsync(waitMs);
        await lease?.window(100);
        writes.push(Date.now());
        return lines.map(() => ({ success: true as const }));
      },
      deleteDocuments: async (ids) => ids.length,
      sendDeadLetters: async () => {},
      changeVisibility: async (entries) => {
        sqs.calls++;
        if (renewals.length >= sqs.refuseAfter) throw new Error('ReceiptHandleIsInvalid');
        renewals.push({ at: Date.now(), seconds: entries.map(({ seconds }) => seconds) });
      },
      now: () => Date.now(),
    };
    return { ports, renewals, writes, sqs };
  }

  it('renews the lease every quarter lease while the batch runs, so a write after a long wait is still sent', async () => {
    const writer = waitingWriter(3_000);
    const takenAt = Date.now();
    // A 2 s lease leaves a write 1 s: the wait alone is three times that.
    const result = await processChangeMessages(records(1), writer.ports, {
      keyAttributes: ['pk'],
      visibilityLeaseSeconds: 2,
    });
    expect(result.batchItemFailures).toEqual([]);
    expect(writer.writes).toHaveLength(1);
    expect(writer.renewals.map(({ at }) => at - takenAt)).toEqual([
      0, 500, 1_000, 1_500, 2_000, 2_500, 3_000,
    ]);
    for (const { seconds } of writer.renewals) expect(seconds).toEqual([2]);
    // Nothing renews the lease once the batch has returned: its messages are the event source's again.
    await vi.advanceTimersByTimeAsync(5_000);
    expect(writer.renewals).toHaveLength(7);
  });

  it('stops renewing a message once the batch settles its visibility (a renewal would undo its backoff), and keeps the others until the batch returns', async () => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
    const calls: Entry[][] = [];
    const [backedOff, done] = records(2).map(({ receiptHandle }) => receiptHandle);
    const lease = await VisibilityLease.take(records(2), 2, {
      changeVisibility: async (entries) => {
        calls.push(entries);
      },
      now: () => Date.now(),
    });
    const stop = lease.keep();
    await vi.advanceTimersByTimeAsync(500);
    await lease.change([{ receiptHandle: backedOff ?? '', seconds: 8 }]);
    await vi.advanceTimersByTimeAsync(1_000);
    stop();
    await vi.advanceTimersByTimeAsync(1_000);
    const held = (entries: Entry[]) =>
      entries.map(({ receiptHandle, seconds }) => `${receiptHandle}:${seconds}`);
    expect(calls.map(held)).toEqual([
      [`${backedOff}:2`, `${done}:2`],
      [`${backedOff}:2`, `${done}:2`],
      [`${backedOff}:8`],
      [`${done}:2`],
      [`${done}:2`],
    ]);
  });

  it('stops renewing once a renewal fails: the write after the wait is not sent, the messages come back at the lease’s end', async () => {
    const writer = waitingWriter(3_000);
    writer.sqs.refuseAfter = 2; // the take and one renewal
    const result = await processChangeMessages(records(1), writer.ports, {
      keyAttributes: ['pk'],
      visibilityLeaseSeconds: 2,
    });
    expect(result.batchItemFailures.map(({ itemIdentifier }) => itemIdentifier)).toEqual(['m0']);
    expect(writer.writes).toEqual([]);
    expect(writer.renewals).toHaveLength(2);
    // The refused renewal is not tried again: the lease ends.
    expect(writer.sqs.calls).toBe(3);
  });

  it('renews as soon as a renewal slower than a quarter lease returns, so one slow SQS call does not end the lease', async () => {
    const writer = waitingWriter(3_000);
    const changeVisibility = writer.ports.changeVisibility;
    let slow = true;
    writer.ports.changeVisibility = async (entries) => {
      await changeVisibility?.(entries);
      // The first renewal (the take's call is the first) takes 700 ms: more than a quarter of the 2 s lease.
      if (writer.renewals.length === 2 && slow) {
        slow = false;
        await new Promise((resolve) => setTimeout(resolve, 700));
      }
    };
    const result = await processChangeMessages(records(1), writer.ports, {
      keyAttributes: ['pk'],
      visibilityLeaseSeconds: 2,
    });
    expect(result.batchItemFailures).toEqual([]);
    expect(writer.writes).toHaveLength(1);
  });
});
