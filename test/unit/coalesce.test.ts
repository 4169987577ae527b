import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Change } from '../../functions/core/change.ts';
import { coalesce, compareVersions } from '../../functions/core/coalesce.ts';
import { change } from '../helpers/factories.ts';

const sign = (n: number | bigint) => (n > 0 ? 1 : n < 0 ? -1 : 0);
const padded = (value: bigint, zeros: number) => `${'0'.repeat(zeros)}${value}`;

/** Changes over a few ids, every version distinct (as stream sequence numbers are), some zero-padded. */
const changesArbitrary = fc
  .uniqueArray(fc.bigInt({ min: 0n, max: 10n ** 30n }), { minLength: 1, maxLength: 40 })
  .chain((versions) =>
    fc.tuple(
      fc.constant(versions),
      fc.array(fc.constantFrom('a', 'b', 'c', 'd|e', 'ü'), {
        minLength: versions.length,
        maxLength: versions.length,
      }),
      fc.array(fc.nat({ max: 3 }), { minLength: versions.length, maxLength: versions.length }),
    ),
  )
  .map(([versions, ids, pads]) =>
    versions.map((version, i) =>
      change(ids[i] as string, { version: padded(version, pads[i] as number), sourceTs: i }),
    ),
  );

describe('compareVersions', () => {
  it('orders by numeric value, not text', () => {
    expect(compareVersions('9', '10')).toBeLessThan(0);
    expect(compareVersions('100000000000000000000000', '99999999999999999999999')).toBeGreaterThan(0);
    expect(compareVersions('0042', '42')).toBe(0);
    expect(compareVersions('000', '0')).toBe(0);
    expect(compareVersions('0', '00001')).toBeLessThan(0);
  });

  it('property: agrees with BigInt comparison, zero padding included', () => {
    const version = fc.tuple(fc.bigInt({ min: 0n, max: 10n ** 40n }), fc.nat({ max: 5 }));
    fc.assert(
      fc.property(version, version, ([a, padA], [b, padB]) => {
        expect(sign(compareVersions(padded(a, padA), padded(b, padB)))).toBe(sign(a - b));
      }),
      { numRuns: 200 },
    );
  });

  it('property: equal values compare equal whatever the padding', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 40n }),
        fc.nat({ max: 5 }),
        fc.nat({ max: 5 }),
        (v, p, q) => {
          expect(compareVersions(padded(v, p), padded(v, q))).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe('coalesce', () => {
  it('keeps the highest version per id, in order of first appearance', () => {
    const input = [
      change('b', { version: '5' }),
      change('a', { version: '10' }),
      change('b', { version: '9' }),
      change('a', { version: '2' }),
    ];
    const result = coalesce(input);
    expect(result.map(({ id, version }) => [id, version])).toEqual([
      ['b', '9'],
      ['a', '10'],
    ]);
    expect(result[0]).toBe(input[2]);
    expect(result[1]).toBe(input[1]);
  });

  it('takes a later change of the same version (a redelivered duplicate)', () => {
    const first = change('a', { version: '7', op: 'upsert' });
    const again = change('a', { version: '7', op: 'upsert' });
    expect(coalesce([first, again])[0]).toBe(again);
  });

  it('is empty for no changes and accepts any iterable', () => {
    expect(coalesce([])).toEqual([]);
    function* generate(): Generator<Change> {
      yield change('x', { version: '1' });
      yield change('x', { version: '2' });
    }
    expect(coalesce(generate()).map(({ version }) => version)).toEqual(['2']);
  });

  it('property: one change per id, each the max version of that id', () => {
    fc.assert(
      fc.property(changesArbitrary, (changes) => {
        const result = coalesce(changes);
        const ids = result.map(({ id }) => id);
        expect(new Set(ids).size).toBe(ids.length);
        expect(new Set(ids)).toEqual(new Set(changes.map(({ id }) => id)));
        for (const winner of result) {
          const max = changes
            .filter(({ id }) => id === winner.id)
            .reduce((best, candidate) =>
              BigInt(candidate.version) > BigInt(best.version) ? candidate : best,
            );
          expect(winner).toBe(max);
        }
        const firstAppearance = [...new Set(changes.map(({ id }) => id))];
        expect(ids).toEqual(firstAppearance);
      }),
      { numRuns: 200 },
    );
  });

  it('property: the winners do not depend on the order changes arrive in', () => {
    fc.assert(
      fc.property(
        changesArbitrary.chain((changes) =>
          fc.tuple(
            fc.constant(changes),
            fc.shuffledSubarray(changes, { minLength: changes.length, maxLength: changes.length }),
          ),
        ),
        ([changes, shuffled]) => {
          const byId = (list: Change[]) => new Map(list.map((c) => [c.id, c]));
          expect(byId(coalesce(shuffled))).toEqual(byId(coalesce(changes)));
        },
      ),
      { numRuns: 200 },
    );
  });
});
