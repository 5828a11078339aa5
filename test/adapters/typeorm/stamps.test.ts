import 'reflect-metadata';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createActionLogger, MemoryStore } from 'actionlog';
import { ActionLogSubscriber, AuditStamped, softRemoveWithReason } from 'actionlog/typeorm';
import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { openDatabase, SQL_KINDS, type SqlDatabase } from '../../support/sql.js';
import { anyDate } from '../../support/matchers.js';

@Entity('invoices')
class Invoice extends AuditStamped {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'integer' })
  amount!: number;
}

const ada = { id: 'u1', name: 'Ada', email: 'ada@example.test' };
const bo = { id: 'u2', name: 'Bo' };
const ref = (u: { id: string; name: string; email?: string }) => ({
  lookup_from: 'users',
  _id: u.id,
  label: u.name,
  ...(u.email ? { email: u.email } : {}),
});

describe.each(SQL_KINDS)('inline stamps on %s', (kind) => {
  let db: SqlDatabase;
  const store = new MemoryStore();
  const logger = createActionLogger({ store, flushIntervalMs: 0 });

  beforeAll(async () => {
    db = await openDatabase(kind, { entities: [Invoice], subscribers: [new ActionLogSubscriber(logger)] });
  });
  afterAll(async () => {
    await logger.close();
    await db.drop();
  });

  const invoices = () => db.dataSource.getRepository(Invoice);
  const as = <T>(user: object | undefined, fn: () => Promise<T>) => logger.run(user ? { user } : {}, fn);

  it('stamps who created and who updated, counting updates from save() and update()', async () => {
    const created = await as(ada, () => invoices().save(invoices().create({ amount: 10 })));
    let row = (await invoices().findOneBy({ id: created.id }))!;
    expect(row).toMatchObject({ created_by: ref(ada), updated_by: null, updated_count: 0, is_updated: false, is_deleted: false });
    await as(bo, async () => {
      const loaded = (await invoices().findOneBy({ id: created.id }))!;
      loaded.amount = 12;
      await invoices().save(loaded);
    });
    row = (await invoices().findOneBy({ id: created.id }))!;
    expect(row).toMatchObject({ created_by: ref(ada), updated_by: ref(bo), updated_count: 1, is_updated: true });
    await as(ada, () => invoices().update({ id: created.id }, { amount: 13 }));
    row = (await invoices().findOneBy({ id: created.id }))!;
    expect(row).toMatchObject({ amount: 13, updated_by: ref(ada), updated_count: 2, is_updated: true });
    await logger.flush();
    const lastLog = store.requests().at(-1)!.details.model_logs[0]!;
    expect(lastLog.model_details.new_object).toMatchObject({ updated_count: 2, updated_by: ref(ada) });
  });

  it('soft-deletes with who and why, hides the row, and restores it', async () => {
    const invoice = await as(ada, () => invoices().save(invoices().create({ amount: 5 })));
    await as(bo, () => softRemoveWithReason(db.dataSource.manager, invoice, 'duplicate invoice'));
    expect(await invoices().findOneBy({ id: invoice.id })).toBeNull();
    const hidden = (await invoices().findOne({ where: { id: invoice.id }, withDeleted: true }))!;
    expect(hidden).toMatchObject({ deleted_by: ref(bo), deleted_reason: 'duplicate invoice', is_deleted: true, deleted_date: anyDate });
    await logger.flush();
    const softLog = store.requests().at(-1)!.details.model_logs[0]!;
    expect(softLog).toMatchObject({ action: 'SoftDeleted', model_id: String(invoice.id) });
    expect(softLog.model_details.new_object).toMatchObject({ deleted_by: ref(bo), deleted_reason: 'duplicate invoice', is_deleted: true });
    await as(ada, () => invoices().recover(hidden));
    expect(await invoices().findOneBy({ id: invoice.id })).toMatchObject({
      deleted_by: null,
      deleted_reason: null,
      is_deleted: false,
      deleted_date: null,
    });
  });

  it('stamps query-level soft deletes and restores, and leaves the user null outside a scope', async () => {
    const invoice = await invoices().save(invoices().create({ amount: 1 }));
    expect((await invoices().findOneBy({ id: invoice.id }))!.created_by).toBeNull();
    await as(bo, () => invoices().softDelete({ id: invoice.id }));
    expect(await invoices().findOne({ where: { id: invoice.id }, withDeleted: true })).toMatchObject({
      is_deleted: true,
      deleted_by: ref(bo),
    });
    await as(ada, () => invoices().restore({ id: invoice.id }));
    expect(await invoices().findOneBy({ id: invoice.id })).toMatchObject({ is_deleted: false, deleted_by: null });
  });
});
