import { describe, expect, it } from 'vitest';
import { transform } from '../../examples/transform/product-transform.ts';
import { buildDocument } from '../../functions/core/transform.ts';

/*
 * The example app's transform, unit-tested as an app tests its own: call it with a projected document and
 * a context (the documents the sync would index), or through `buildDocument` with a DynamoDB item.
 */

const context = { id: 'p1', key: { pk: { S: 'p1' } }, item: {} };

describe('the example products transform', () => {
  it('indexes a published product with its price in the currency and a lower-cased name', () => {
    expect(
      transform({ id: 'p1', name: 'Blue Kettle', status: 'published', priceCents: 2599 }, context),
    ).toEqual({
      id: 'p1',
      name: 'Blue Kettle',
      name_lower: 'blue kettle',
      status: 'published',
      price: 25.99,
    });
  });

  it('leaves a draft out of the index', () => {
    expect(transform({ id: 'p1', name: 'Kettle', status: 'draft', priceCents: 1 }, context)).toBeNull();
  });

  it('refuses a product without a price, which the sync dead-letters with transform-error', () => {
    const item = { pk: { S: 'p1' }, name: { S: 'Kettle' }, status: { S: 'published' } };
    expect(() => buildDocument(item, ['pk'], undefined, transform)).toThrow(
      'transform threw: priceCents is not a number',
    );
  });
});
