/**
 * The order the examples, the tests and the benchmarks record: its stored states and the model change an ORM
 * adapter reports for it. One definition, so that all three speak of the same record.
 */
import type { ModelChange } from 'actionlog/adapter-kit';

/** An order as stored, in the size and shape ORMs hand over: a few fields, a nested object and an array. */
export function orderState(id: string, values: Record<string, unknown> = {}): Record<string, unknown> {
  return Object.assign(
    { _id: id, status: 'new', total: 10, customer: { name: 'Ada', city: 'Oslo' }, items: [{ sku: 'a', qty: 1 }] },
    values,
  );
}

/** The change an ORM adapter reports when order `id` is paid; `fields` replace any part of it. */
export function orderChange(id: string, fields: Partial<ModelChange> = {}): ModelChange {
  return Object.assign(
    {
      action: 'Updated' as const,
      model: 'orders',
      model_class_name: 'Order',
      model_namespace: 'shop.orders',
      model_id: id,
      old_object: { _id: id, status: 'new', total: 10 },
      new_object: { _id: id, status: 'paid', total: 10 },
    },
    fields,
  );
}
