import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { measureAggregation } from '../../bench/p8-aggregation.ts';
import { ROUTES, SHAPING_OPTIONS, SHAPINGS, shapingFixture } from '../../bench/p8-shaping.ts';
import { KEY_ATTRIBUTES } from '../../bench/stream.ts';
import { readFrom } from '../../bench/stream-fixture.ts';
import { projectionProblems } from '../../functions/contract/projection.ts';
import { documentJson } from '../../functions/core/project.ts';
import { buildDocument } from '../../functions/core/transform.ts';
import { processChangeMessages } from '../../functions/core/write-batch.ts';

type Fixture = Awaited<ReturnType<typeof shapingFixture>>;
let fixture: Fixture;
beforeAll(async () => {
  fixture = await shapingFixture(2_000, 400, 3);
});

const text = (value: AttributeValue | undefined) => value?.S as string;
const build = (item: Record<string, AttributeValue>, name: (typeof SHAPINGS)[number]) =>
  buildDocument(item, KEY_ATTRIBUTES, SHAPING_OPTIONS[name].projection, SHAPING_OPTIONS[name].transform);

describe('P8 shaping fixture', () => {
  it('gives projections the contract accepts', () => {
    for (const name of SHAPINGS) {
      const { projection } = SHAPING_OPTIONS[name];
      if (projection !== undefined)
        expect(projectionProblems(projection, 'projection', KEY_ATTRIBUTES)).toEqual([]);
    }
  });

  it('makes ~1 KB items with a nested map, an ISO date and a numeric string', () => {
    expect(fixture.items.length).toBeGreaterThan(100);
    for (const item of fixture.items) {
      const bytes = Buffer.byteLength(JSON.stringify(item));
      expect(bytes).toBeGreaterThan(900);
      expect(bytes).toBeLessThan(1_600);
      expect(item.attributes?.M).toBeDefined();
      expect(new Date(text(item.createdAt)).toISOString()).toBe(text(item.createdAt));
      expect(text(item.legacyId)).toMatch(/^\d+$/);
    }
  });

  it('filters in exactly the active items, half the keys', () => {
    const kept = fixture.items.filter((item) => build(item, 'filter') !== undefined);
    expect(kept).toEqual(fixture.items.filter((item) => text(item.status) === 'active'));
    expect(kept.length / fixture.items.length).toBeGreaterThan(0.4);
    expect(kept.length / fixture.items.length).toBeLessThan(0.6);
  });

  it('routes every item to exactly one of the two indexes', () => {
    for (const item of fixture.items) {
      const routed = ROUTES.filter(
        ({ projection }) => buildDocument(item, KEY_ATTRIBUTES, projection, undefined) !== undefined,
      );
      expect(routed).toHaveLength(1);
    }
  });

  it('maps renamed, flattened and converted fields, and the transform adds one field', () => {
    for (const item of fixture.items) {
      const mapped = build(item, 'mapping') as Record<string, unknown>;
      expect(mapped).toMatchObject({
        title: text(item.name),
        maker: text(item.brand),
        'attributes.color': text(item.attributes?.M?.color),
        createdAt: Date.parse(text(item.createdAt)) / 1000,
        legacyId: Number(text(item.legacyId)),
      });
      for (const gone of ['name', 'brand', 'attributes']) expect(mapped).not.toHaveProperty(gone);
      const stock = Number(item.stock?.N);
      expect(build(item, 'transform')).toEqual({ ...mapped, inStock: stock > 0 });
      expect(build(item, 'plain')).toHaveProperty('attributes.color', text(item.attributes?.M?.color));
    }
  });

  it("has the writer core write each shaping's documents, refusing none", async () => {
    const { table, sqsBatches } = fixture;
    for (const name of SHAPINGS) {
      const lines: string[] = [];
      const deleted: string[] = [];
      let deadLetters = 0;
      const ports = {
        readItems: async (keys: Parameters<typeof readFrom>[1]) => readFrom(table, keys),
        importDocuments: async (batch: string[]) => {
          lines.push(...batch);
          return batch.map(() => ({ success: true as const }));
        },
        deleteDocuments: async (ids: string[]) => deleted.push(...ids),
        sendDeadLetters: async (letters: unknown[]) => {
          deadLetters += letters.length;
        },
        now: Date.now,
      };
      for (const records of sqsBatches)
        await processChangeMessages(records, ports, {
          keyAttributes: KEY_ATTRIBUTES,
          ...SHAPING_OPTIONS[name],
        });
      expect(deadLetters).toBe(0);
      expect(lines.length).toBeGreaterThan(0);
      for (const line of lines) {
        const id = (JSON.parse(line) as { id: string }).id;
        expect(line).toBe(documentJson(build(table.get(id) as Record<string, AttributeValue>, name)));
      }
      for (const id of deleted) {
        const item = table.get(id);
        if (item !== undefined) expect(build(item, name)).toBeUndefined();
      }
    }
  });
});

describe('P8 aggregation rows', () => {
  it('writes one document per changed order, holding its lines, and no dead letter', async () => {
    const row = await measureAggregation(10, { changes: 1_000, repetitions: 1, seed: 3 });
    // 1,000 changes over ~10,000 items of ~900 orders: per item, nearly one upsert per change; aggregated,
    // the changes to one order in a batch coalesce, and each document carries the order and its 10 lines.
    expect(row.perItemUpserts).toBeGreaterThan(row.aggregatedUpserts);
    expect(row.aggregatedUpserts).toBeGreaterThan(0);
    expect(row.aggregatedBytesPerUpsert).toBeGreaterThan(10 * 100);
    expect(row.perItemCpuUs).toBeGreaterThan(0);
    expect(row.aggregatedCpuUs).toBeGreaterThan(0);
  });
});
