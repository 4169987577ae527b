import type { Transform } from 'typesense-sync';

/**
 * The products' transform module (docs/configuration.md "Transform"): give its path to the construct as
 * `transform: { entry }`. It gets each item's projected document (plain JSON values) and returns the
 * document to index, or null to keep the item out of the index. Synchronous and pure: it runs for every
 * change and for every item of a re-sync.
 */
export const transform: Transform = (product) => {
  // Unpublished products are not searchable: the sync deletes a product's document when it is unpublished.
  if (product.status !== 'published') return null;
  const { priceCents, ...rest } = product;
  // A throw dead-letters this product's change with the reason `transform-error` and this message.
  if (typeof priceCents !== 'number') throw new Error('priceCents is not a number');
  return {
    ...rest,
    // Typesense sorts strings by bytes: a lower-cased copy sorts case-insensitively.
    name_lower: String(rest.name ?? '').toLowerCase(),
    price: priceCents / 100,
  };
};
