import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  billedMilliseconds,
  consistentReadUnits,
  gbSeconds,
  itemBytes,
  line,
  PRICES,
  scanReadUnits,
  sqsBilledRequests,
  total,
} from '../../bench/cost-model.ts';
import { sectionsOfMarkdown } from '../../bench/report.ts';

describe('SQS billing: every 64 KiB chunk of a request is one request', () => {
  it('bills an empty or small payload as one request and each started 64 KiB chunk as one more', () => {
    expect(sqsBilledRequests(0)).toBe(1);
    expect(sqsBilledRequests(1)).toBe(1);
    expect(sqsBilledRequests(65_536)).toBe(1);
    expect(sqsBilledRequests(65_537)).toBe(2);
    // A full 256 KiB message is four requests.
    expect(sqsBilledRequests(262_144)).toBe(4);
    expect(sqsBilledRequests(262_145)).toBe(5);
  });

  it('never bills fewer chunks than the payload fills, nor one more than it starts', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 24 }), (bytes) => {
        const chunks = sqsBilledRequests(bytes);
        expect(chunks * 65_536).toBeGreaterThanOrEqual(bytes);
        expect(chunks === 1 || (chunks - 1) * 65_536 < bytes).toBe(true);
      }),
    );
  });

  it('rejects a negative payload with a clear error', () => {
    expect(() => sqsBilledRequests(-1)).toThrow(/non-negative/);
  });
});

describe('Lambda GB-seconds: duration rounded up to 1 ms, times memory', () => {
  it('rounds every started millisecond up', () => {
    expect(billedMilliseconds(0)).toBe(0);
    expect(billedMilliseconds(20)).toBe(20);
    expect(billedMilliseconds(1.0001)).toBe(2);
    expect(billedMilliseconds(47.01)).toBe(48);
  });

  it('multiplies the billed seconds by the memory in GB (MB ÷ 1,024)', () => {
    expect(gbSeconds(1024, 1000)).toBe(1);
    // 512 MB for 20.4 ms is billed as 21 ms: 0.5 GB × 0.021 s.
    expect(gbSeconds(512, 20.4)).toBeCloseTo(0.0105, 12);
    expect(gbSeconds(128, 0.2)).toBeCloseTo(0.125 * 0.001, 12);
  });

  it('rejects a negative or non-finite duration', () => {
    expect(() => billedMilliseconds(-0.5)).toThrow(/non-negative/);
    expect(() => gbSeconds(512, Number.NaN)).toThrow(/non-negative/);
  });
});

describe('DynamoDB read units', () => {
  it('rounds each item of a BatchGetItem up to 4 KB on its own (the Developer Guide example: 1.5 KB + 6.5 KB = 12 KB)', () => {
    expect(consistentReadUnits([3_500])).toBe(1);
    expect(consistentReadUnits([4_096])).toBe(1);
    expect(consistentReadUnits([4_097])).toBe(2);
    expect(consistentReadUnits([1_536, 6_656])).toBe(3);
    expect(consistentReadUnits([])).toBe(0);
  });

  it('charges a key with no item the minimum of one unit', () => {
    expect(consistentReadUnits([undefined, undefined, 100])).toBe(3);
  });

  it('sums a Scan page before rounding, and halves it for eventually consistent reads', () => {
    // The same two items cost 3 units read one by one but 2 in one Scan page (8,192 bytes).
    expect(scanReadUnits(1_536 + 6_656, true)).toBe(2);
    expect(scanReadUnits(1_536 + 6_656, false)).toBe(1);
    expect(scanReadUnits(0, true)).toBe(1);
  });

  it('sizes an item as DynamoDB does: attribute names plus values', () => {
    expect(itemBytes({ pk: { S: 'abc' } })).toBe(5);
    // A number: one byte per two significant digits, plus one.
    expect(itemBytes({ n: { N: '12345' } })).toBe(1 + 4);
    expect(itemBytes({ n: { N: '-0.0012300' } })).toBe(1 + 3);
    // A map: 3 bytes, its entries, and 1 byte per entry.
    expect(itemBytes({ m: { M: { a: { S: 'x' } } } })).toBe(1 + 3 + 2 + 1);
    expect(itemBytes({ l: { L: [{ BOOL: true }, { NULL: true }] } })).toBe(1 + 3 + 2 * (1 + 1));
    expect(itemBytes({ b: { B: new Uint8Array(10) }, s: { SS: ['ü', 'ab'] } })).toBe(1 + 10 + 1 + 4);
  });
});

describe('cost lines', () => {
  it('prices a count with one unit price from the single price table', () => {
    expect(line('sends', 2_000_000, 'sqsFifoRequest', 'test').usd).toBeCloseTo(1, 12);
    expect(line('free reads', 10_000, 'dynamodbStreamsReadByLambda', 'test').usd).toBe(0);
    expect(
      total([line('a', 1, 'cloudwatchDashboard', 'test'), line('b', 10, 'cloudwatchAlarmMetric', 'test')]),
    ).toBeCloseTo(PRICES.cloudwatchDashboard.usd + 10 * PRICES.cloudwatchAlarmMetric.usd, 12);
  });

  it('states for every price where it comes from, the day it was read, and the page that confirmed it or that none did', () => {
    for (const price of Object.values(PRICES)) {
      expect(price.source).toMatch(/https:\/\//);
      expect(price.status).toMatch(
        /^(confirmed \d{4}-\d{2}-\d{2}( \(stated by .+\))?|NOT FOUND in the search corpus on \d{4}-\d{2}-\d{2}: assumed.*)$/,
      );
    }
  });
});

describe('merging a subset run into the report', () => {
  it('finds each section of an earlier report by its id, up to the next heading', () => {
    const markdown = [
      '# Benchmark results',
      'Command: `npm run bench`',
      '## P1 — SQS',
      '| a |',
      '- note',
      '## P3 — End to end',
      'text',
      '## Appendix',
      'not a section',
    ].join('\n');
    const sections = sectionsOfMarkdown(markdown);
    expect([...sections.keys()]).toEqual(['P1', 'P3']);
    expect(sections.get('P1')).toBe('## P1 — SQS\n| a |\n- note');
    expect(sections.get('P3')).toBe('## P3 — End to end\ntext');
  });
});
