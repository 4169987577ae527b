import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Change } from '../../functions/core/change.ts';
import {
  MAX_BATCH_BYTES,
  MAX_BATCH_ENTRIES,
  messageGroupOf,
  OversizeChangeError,
  type PackedMessage,
  packChanges,
  parseChangeMessage,
  toSendBatches,
} from '../../functions/core/pack.ts';
import { change } from '../helpers/factories.ts';

const EMPTY_ENVELOPE_BYTES = Buffer.byteLength('{"v":1,"changes":[]}');
const changeBytes = (c: Change) => Buffer.byteLength(JSON.stringify(c));

/** Changes with unicode ids (multi-byte in UTF-8), each distinguishable by its version. */
const changesArbitrary = fc
  .array(
    fc.record({
      id: fc.oneof(
        fc.constantFrom('a', 'b', 'ключ', '🦆|x', 'z\\'),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
      ),
      op: fc.constantFrom('upsert' as const, 'delete' as const),
      clock: fc.constantFrom('item' as const, 'stream' as const),
    }),
    { maxLength: 40 },
  )
  .map((specs) =>
    specs.map(({ id, op, clock }, i) =>
      change(id, {
        op,
        clock,
        version: `1100000000000${String(i).padStart(9, '0')}`,
        sourceTs: 1_700_000_000_000 + i,
      }),
    ),
  );

describe('messageGroupOf', () => {
  it('is FNV-1a 32-bit modulo the bucket count (published test vectors)', () => {
    // FNV-1a 32: "" → 0x811c9dc5, "a" → 0xe40c292c, "foobar" → 0xbf9cf968.
    expect(messageGroupOf('', 1_000_000)).toBe(`b${0x811c9dc5 % 1_000_000}`);
    expect(messageGroupOf('a', 16)).toBe(`b${0xe40c292c % 16}`);
    expect(messageGroupOf('foobar', 1000)).toBe(`b${0xbf9cf968 % 1000}`);
  });

  it('hashes UTF-8 bytes, so the group is stable for non-ASCII ids', () => {
    expect(messageGroupOf('ü', 1)).toBe('b0');
    const group = messageGroupOf('ключ-🦆', 64);
    expect(group).toMatch(/^b([0-9]|[1-5][0-9]|6[0-3])$/);
    expect(messageGroupOf('ключ-🦆', 64)).toBe(group);
  });

  it('property: always one of the configured buckets', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.integer({ min: 1, max: 10_000 }), (id, buckets) => {
        const n = Number(messageGroupOf(id, buckets).slice(1));
        expect(Number.isInteger(n) && n >= 0 && n < buckets).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});

describe('packChanges', () => {
  it('puts changes of one group into one message with a body parseChangeMessage reads back', () => {
    const changes = [change('a', { version: '1' }), change('a', { version: '2' })];
    const { messages, oversize } = packChanges(changes, 1, 262_144);
    expect(oversize).toEqual([]);
    expect(messages).toHaveLength(1);
    const [message] = messages as [PackedMessage];
    expect(message.groupId).toBe('b0');
    expect(message.changes).toEqual(changes);
    expect(JSON.parse(message.body)).toEqual({ v: 1, changes });
    expect(message.bytes).toBe(Buffer.byteLength(message.body));
  });

  it('returns nothing for no changes', () => {
    expect(packChanges([], 16, 262_144)).toEqual({ messages: [], oversize: [] });
  });

  it('marks re-enqueued messages with since: parsed back, counted in the size, never deduplicated against an earlier redrive', () => {
    const changes = [change('a', { version: '1' })];
    const first = packChanges(changes, 16, 262_144, 1_700_000_000_000).messages[0] as PackedMessage;
    const second = packChanges(changes, 16, 262_144, 1_700_000_060_000).messages[0] as PackedMessage;
    expect(parseChangeMessage(first.body)).toEqual({ v: 1, since: 1_700_000_000_000, changes });
    expect(first.bytes).toBe(Buffer.byteLength(first.body));
    expect(first.deduplicationId).not.toBe(second.deduplicationId);
    const exact = Buffer.byteLength(first.body);
    expect(
      packChanges([...changes, change('a', { version: '2' })], 1, exact, 1_700_000_000_000).messages,
    ).toHaveLength(2);
  });

  it('splits a group exactly at the byte limit', () => {
    const changes = [change('a', { version: '1' }), change('a', { version: '2' })];
    const one = changeBytes(changes[0] as Change);
    const exactlyTwo = EMPTY_ENVELOPE_BYTES + one + 1 + changeBytes(changes[1] as Change);
    expect(packChanges(changes, 1, exactlyTwo).messages).toHaveLength(1);
    expect(packChanges(changes, 1, exactlyTwo - 1).messages).toHaveLength(2);
  });

  it('reports a change that cannot fit in any message instead of dropping it', () => {
    const big = change('big', { version: '7' });
    const small = change('s', { version: '8', key: {} });
    const maxBytes = EMPTY_ENVELOPE_BYTES + changeBytes(small);
    expect(changeBytes(big)).toBeGreaterThan(changeBytes(small));
    const { messages, oversize } = packChanges([big, small], 1, maxBytes);
    expect(messages.flatMap((m) => m.changes)).toEqual([small]);
    expect(oversize).toHaveLength(1);
    const [error] = oversize as [OversizeChangeError];
    expect(error).toBeInstanceOf(OversizeChangeError);
    expect(error.id).toBe('big');
    expect(error.bytes).toBe(changeBytes(big));
    expect(error.maxBytes).toBe(maxBytes);
    expect(error.message).toContain("'big'");
  });

  it('property: every change lands in exactly one message or in oversize; bodies fit maxBytes in bytes', () => {
    fc.assert(
      fc.property(
        changesArbitrary,
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 120, max: 2_000 }),
        (changes, buckets, maxBytes) => {
          const { messages, oversize } = packChanges(changes, buckets, maxBytes);
          const packed = messages.flatMap((m) => m.changes);
          // Identity, not equality: each input object appears once in total.
          const seen = new Map<Change, number>();
          for (const c of packed) seen.set(c, (seen.get(c) ?? 0) + 1);
          for (const c of changes) {
            const isOversize = EMPTY_ENVELOPE_BYTES + changeBytes(c) > maxBytes;
            expect(seen.get(c) ?? 0).toBe(isOversize ? 0 : 1);
          }
          expect(packed.length + oversize.length).toBe(changes.length);
          const expectedOversize = changes.filter((c) => EMPTY_ENVELOPE_BYTES + changeBytes(c) > maxBytes);
          // Oversize changes are reported group by group: compare as multisets of ids.
          expect(oversize.map((e) => e.id).sort()).toEqual(expectedOversize.map((c) => c.id).sort());
          for (const message of messages) {
            expect(message.changes.length).toBeGreaterThan(0);
            expect(Buffer.byteLength(message.body)).toBeLessThanOrEqual(maxBytes);
            expect(message.bytes).toBe(Buffer.byteLength(message.body));
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('property: one group per message, groupId = messageGroupOf(id), order within a group kept', () => {
    fc.assert(
      fc.property(changesArbitrary, fc.integer({ min: 1, max: 8 }), (changes, buckets) => {
        const { messages } = packChanges(changes, buckets, 600);
        for (const message of messages)
          for (const c of message.changes) expect(message.groupId).toBe(messageGroupOf(c.id, buckets));
        const groups = new Set(changes.map((c) => messageGroupOf(c.id, buckets)));
        for (const group of groups) {
          const fits = (c: Change) => EMPTY_ENVELOPE_BYTES + changeBytes(c) <= 600;
          const expected = changes.filter((c) => messageGroupOf(c.id, buckets) === group && fits(c));
          const actual = messages.filter((m) => m.groupId === group).flatMap((m) => m.changes);
          expect(actual).toEqual(expected);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('property: packing is greedy: a message is only closed when the next change would not fit', () => {
    fc.assert(
      fc.property(changesArbitrary, fc.integer({ min: 200, max: 1_500 }), (changes, maxBytes) => {
        const { messages } = packChanges(changes, 2, maxBytes);
        for (let i = 0; i + 1 < messages.length; i++) {
          const [current, next] = [messages[i] as PackedMessage, messages[i + 1] as PackedMessage];
          if (current.groupId !== next.groupId) continue;
          const head = next.changes[0] as Change;
          expect(current.bytes + 1 + changeBytes(head)).toBeGreaterThan(maxBytes);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('property: parseChangeMessage(body) round-trips every packed message', () => {
    fc.assert(
      fc.property(changesArbitrary, (changes) => {
        for (const message of packChanges(changes, 4, 1_000).messages)
          expect(parseChangeMessage(message.body)).toEqual({ v: 1, changes: message.changes });
      }),
      { numRuns: 150 },
    );
  });

  it('derives a deterministic deduplication id that changes with the content', () => {
    const changes = [change('a', { version: '1' }), change('b', { version: '2' })];
    const first = packChanges(changes, 1, 262_144).messages;
    const again = packChanges(structuredClone(changes), 1, 262_144).messages;
    expect(first.map((m) => m.deduplicationId)).toEqual(again.map((m) => m.deduplicationId));
    expect(first[0]?.deduplicationId).toMatch(/^[0-9a-f]{64}$/);

    const later = packChanges([change('a', { version: '1' }), change('b', { version: '3' })], 1, 262_144);
    expect(later.messages[0]?.deduplicationId).not.toBe(first[0]?.deduplicationId);
    const deleted = packChanges(
      [change('a', { version: '1', op: 'delete' }), changes[1] as Change],
      1,
      262_144,
    );
    expect(deleted.messages[0]?.deduplicationId).not.toBe(first[0]?.deduplicationId);
  });

  it('property: distinct message bodies never share a deduplication id', () => {
    fc.assert(
      fc.property(changesArbitrary, (changes) => {
        const { messages } = packChanges(changes, 3, 500);
        const ids = new Map<string, string>();
        for (const m of messages) {
          const body = ids.get(m.deduplicationId);
          if (body !== undefined) expect(body).toBe(m.body);
          ids.set(m.deduplicationId, m.body);
        }
      }),
      { numRuns: 100 },
    );
  });
});

describe('toSendBatches', () => {
  const message = (n: number, bytes: number): PackedMessage => ({
    groupId: `b${n}`,
    deduplicationId: `d${n}`,
    body: '',
    bytes,
    changes: [],
  });

  it('never emits an empty batch, even for a message over 1 MiB (regression)', () => {
    const batches = toSendBatches([message(0, MAX_BATCH_BYTES + 1), message(1, 10)]);
    expect(batches.map((batch) => batch.map((m) => m.groupId))).toEqual([['b0'], ['b1']]);
  });

  it('cuts at 10 entries', () => {
    const messages = Array.from({ length: 23 }, (_, n) => message(n, 100));
    expect(toSendBatches(messages).map((batch) => batch.length)).toEqual([10, 10, 3]);
    expect(MAX_BATCH_ENTRIES).toBe(10);
  });

  it('cuts before 1 MiB of bodies', () => {
    expect(MAX_BATCH_BYTES).toBe(1024 * 1024);
    const messages = [message(0, 600_000), message(1, 448_576), message(2, 1)];
    expect(toSendBatches(messages).map((batch) => batch.map((m) => m.groupId))).toEqual([
      ['b0', 'b1'],
      ['b2'],
    ]);
  });

  it('property: batches are non-empty, ≤ 10 entries, ≤ 1 MiB, greedy, and keep the order', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 400_000 }), { maxLength: 60 }), (sizes) => {
        const messages = sizes.map((bytes, n) => message(n, bytes));
        const batches = toSendBatches(messages);
        expect(batches.flat()).toEqual(messages);
        for (const [i, batch] of batches.entries()) {
          expect(batch.length).toBeGreaterThan(0);
          expect(batch.length).toBeLessThanOrEqual(MAX_BATCH_ENTRIES);
          const total = batch.reduce((sum, m) => sum + m.bytes, 0);
          expect(total).toBeLessThanOrEqual(MAX_BATCH_BYTES);
          const next = batches[i + 1]?.[0];
          if (next !== undefined && batch.length < MAX_BATCH_ENTRIES)
            expect(total + next.bytes).toBeGreaterThan(MAX_BATCH_BYTES);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('parseChangeMessage', () => {
  const good = change('a');
  const bodyWith = (patch: Record<string, unknown>) =>
    JSON.stringify({ v: 1, changes: [{ ...good, ...patch }] });

  it('accepts a v1 message', () => {
    expect(parseChangeMessage(JSON.stringify({ v: 1, changes: [good] }))).toEqual({ v: 1, changes: [good] });
  });

  it.each([
    ['not JSON', 'hello'],
    ['truncated JSON', '{"v":1,"changes":['],
    ['JSON null', 'null'],
    ['a JSON string', '"{\\"v\\":1}"'],
    ['a JSON array', '[]'],
    ['the wrong version', JSON.stringify({ v: 2, changes: [good] })],
    ['version as text', JSON.stringify({ v: '1', changes: [good] })],
    ['no changes field', JSON.stringify({ v: 1 })],
    ['changes not an array', JSON.stringify({ v: 1, changes: { 0: good } })],
    ['a null change', JSON.stringify({ v: 1, changes: [null] })],
    ['a change without id', bodyWith({ id: undefined })],
    ['a numeric id', bodyWith({ id: 7 })],
    ['a change without key', bodyWith({ key: undefined })],
    ['a null key', bodyWith({ key: null })],
    ['a numeric version', bodyWith({ version: 1 })],
    ['a textual sourceTs', bodyWith({ sourceTs: '1700000000000' })],
    ['an unknown clock', bodyWith({ clock: 'wall' })],
    ['an unknown op', bodyWith({ op: 'insert' })],
  ])('rejects %s', (_name, body) => {
    expect(parseChangeMessage(body)).toBeUndefined();
  });

  it('rejects a message where only one of several changes is bad', () => {
    const body = JSON.stringify({ v: 1, changes: [good, { ...good, op: 'merge' }] });
    expect(parseChangeMessage(body)).toBeUndefined();
  });
});
