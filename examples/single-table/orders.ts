import type { CollectionSchema, Transform, TypesenseSyncProjection } from 'typesense-sync';

/*
 * A single-table design (README "Single-table example"): customers, their orders and the orders' lines
 * share one table, told apart by the sort key's prefix and a `type` attribute:
 *
 *   pk            sk                   type      attributes
 *   CUSTOMER#c1   PROFILE              customer  name, email
 *   CUSTOMER#c1   ORDER#o1             order     status, total, placedAt, shipping { city, country }, tags, paymentToken
 *   CUSTOMER#c1   ORDER#o1#LINE#001    line      sku, quantity
 *
 * The `orders` collection indexes the orders only; this module holds what the construct is given for it.
 */

/** Which items become order documents, and how their attributes become fields. */
export const ordersProjection: TypesenseSyncProjection = {
  // Orders only: a customer profile or an order line is not indexed (and leaves the index if it was).
  filter: {
    and: [
      { attribute: 'type', equals: 'order' },
      { attribute: 'sk', beginsWith: 'ORDER#' },
    ],
  },
  // Never index what no search needs, let alone a payment token.
  exclude: ['paymentToken'],
  rename: { placedAt: 'placed_at' },
  // `shipping.city` and `shipping.country` become plain fields: the collection needs no nested fields.
  nested: 'flatten',
  // Typesense sorts and ranges on numbers: an ISO date becomes epoch seconds.
  convert: { placed_at: 'epochSeconds', total: 'float', tags: 'stringArray' },
};

/** The orders' document: ids a client can read, and no key attributes or entity type. */
export const transform: Transform = (order) => {
  const { pk, sk, type: _type, ...fields } = order;
  return {
    ...fields,
    customer_id: String(pk).replace(/^CUSTOMER#/, ''),
    order_id: String(sk).replace(/^ORDER#/, ''),
  };
};

/** The `orders` collection (`typesense.schema`): created, loaded and migrated by `cdk deploy`. */
export const ordersSchema: CollectionSchema = {
  fields: [
    { name: 'order_id', type: 'string' },
    { name: 'customer_id', type: 'string', facet: true },
    { name: 'status', type: 'string', facet: true },
    { name: 'total', type: 'float' },
    { name: 'placed_at', type: 'int64' },
    { name: 'shipping.city', type: 'string', facet: true },
    { name: 'shipping.country', type: 'string', facet: true },
    { name: 'tags', type: 'string[]', facet: true, optional: true },
  ],
  default_sorting_field: 'placed_at',
};
