import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type ActionLogger, createActionLogger, MemoryStore, type ModelLog } from 'actionlog';
import { ActionLogSubscriber, type ActionLogSubscriberOptions } from 'actionlog/typeorm';
import { Column, type DataSource, Entity, ManyToOne, OneToMany, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { openDatabase, type SqlDatabase, type SqlKind } from '../../support/sql.js';
import { logsOf as logsOfRun } from '../../support/logs.js';
import { Article, Content } from '../../support/typeorm-entities.js';
import { asObject, readState, replay } from './database-state.js';

/*
 * Columns the database shapes (update: false, generated, dates given as text, uuid keys) and writes side by side in one
 * transaction: each test reads the tables with plain SQL before and after the call, replays the call's model logs over
 * the rows before it, and expects the rows after it (the exactness rule of exactness.test.ts).
 */

/** A priced line: `code` is written once (update: false), `total` is computed by the database (a generated column). */
@Entity('hunt_lines')
class HuntLine {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', update: false })
  code!: string;

  @Column({ type: 'varchar' })
  name!: string;

  @Column({ type: 'integer', default: 1 })
  price!: number;

  @Column({ type: 'integer', default: 1 })
  qty!: number;

  @Column({ type: 'integer', generatedType: 'STORED', asExpression: '"price" * "qty"', insert: false, update: false, nullable: true })
  total?: number;
}

/** A row with a date-time column, of the type each database has (`timestamptz` / `datetime`). */
function scheduleEntity(type: 'timestamptz' | 'datetime') {
  @Entity('hunt_schedules')
  class HuntSchedule {
    @PrimaryGeneratedColumn()
    id!: number;

    @Column({ type: 'varchar' })
    name!: string;

    @Column({ type, nullable: true })
    dueAt?: Date | null;
  }
  return HuntSchedule;
}
const SCHEDULES = { postgres: scheduleEntity('timestamptz'), sqlite: scheduleEntity('datetime') };

/** A plain row: no generated, update:false or date columns. */
@Entity('hunt_counters')
class HuntCounter {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  name!: string;

  @Column({ type: 'integer', default: 1 })
  price!: number;

  @Column({ type: 'integer', default: 1 })
  qty!: number;
}

/** A row keyed by a uuid the client made (e.g. an offline-first mobile app). */
@Entity('hunt_devices')
class HuntDevice {
  @PrimaryColumn({ type: 'uuid' })
  id!: string;

  @Column({ type: 'varchar' })
  label!: string;
}

/** A parent whose children the database deletes (ON DELETE CASCADE) or detaches (SET NULL) with it. */
@Entity('hunt_folders')
class HuntFolder {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  name!: string;

  @OneToMany(() => HuntFile, (file) => file.folder)
  files?: HuntFile[];

  @OneToMany(() => HuntLink, (link) => link.folder)
  links?: HuntLink[];
}

@Entity('hunt_files')
class HuntFile {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  name!: string;

  @ManyToOne(() => HuntFolder, (folder) => folder.files, { onDelete: 'CASCADE' })
  folder?: HuntFolder;
}

@Entity('hunt_links')
class HuntLink {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  url!: string;

  @ManyToOne(() => HuntFolder, (folder) => folder.links, { nullable: true, onDelete: 'SET NULL' })
  folder?: HuntFolder | null;
}

const ENTITIES = [HuntLine, HuntDevice, HuntFolder, HuntFile, HuntLink, HuntCounter, Content, Article];
const entitiesOf = (kind: SqlKind) => [...ENTITIES, SCHEDULES[kind]];

const RUNS: Array<[string, SqlKind, ActionLogSubscriberOptions]> = [
  ['sqlite', 'sqlite', {}],
  ['postgres', 'postgres', {}],
  ['postgres, reading before query-level writes', 'postgres', { queryWrites: 'readBefore' }],
];

describe.each(RUNS)('TypeORM exactness of columns the database shapes and of writes side by side, on %s', (_name, kind, options) => {
  let db: SqlDatabase;
  let ds: DataSource;
  let store: MemoryStore;
  let logger: ActionLogger;
  const errors: Error[] = [];

  beforeAll(async () => {
    db = await openDatabase(kind, { entities: entitiesOf(kind) });
    ds = db.dataSource;
  });
  afterAll(async () => {
    await logger.close();
    await db.drop();
  });

  beforeEach(async () => {
    ds.subscribers.splice(0, ds.subscribers.length);
    for (const entity of [HuntFile, HuntLink, HuntFolder, HuntLine, HuntDevice, HuntCounter, Content, SCHEDULES[kind]])
      await ds.getRepository(entity).createQueryBuilder().delete().execute();
    errors.length = 0;
    store = new MemoryStore();
    logger = createActionLogger({ store, flushIntervalMs: 0, onError: (error) => void errors.push(error) });
    ds.subscribers.push(new ActionLogSubscriber(logger, options));
  });
  afterEach(async () => {
    await logger.close();
    expect(errors.map(String)).toEqual([]);
  });

  /** Runs `fn` as one request: its model logs, checked against the tables before and after it. */
  async function exact(fn: () => Promise<unknown>, tables: Array<new () => object> = entitiesOf(kind)): Promise<ModelLog[]> {
    const before = await readState(ds, tables);
    const logs = await logsOfRun(logger, store, fn);
    const after = await readState(ds, tables);
    const { state, problems } = replay(before, logs);
    expect(problems).toEqual([]);
    expect(asObject(state)).toEqual(asObject(after));
    return logs;
  }

  const lines = () => ds.getRepository(HuntLine);

  it('update() of a DTO that carries an update:false column records what the database keeps', async () => {
    const { id } = await lines().save(lines().create({ code: 'A-1', name: 'pen' }));
    await exact(() => lines().update({ id }, { code: 'B-2', name: 'ink' }));
    expect((await lines().findOneByOrFail({ id })).code).toBe('A-1');
  });

  it('save() of a loaded entity whose update:false column was changed records what the database keeps', async () => {
    const { id } = await lines().save(lines().create({ code: 'A-1', name: 'pen' }));
    const loaded = await lines().findOneByOrFail({ id });
    loaded.code = 'B-2';
    loaded.name = 'ink';
    await exact(() => lines().save(loaded));
    expect((await lines().findOneByOrFail({ id })).code).toBe('A-1');
  });

  it('update() of a column a generated column depends on records the generated column as the database computed it', async () => {
    const { id } = await lines().save(lines().create({ code: 'A-1', name: 'pen', price: 2, qty: 3 }));
    await exact(() => lines().update({ id }, { qty: 5 }));
    expect((await lines().findOneByOrFail({ id })).total).toBe(10);
  });

  it('save() of a loaded entity changing a column a generated column depends on records the generated column as the database computed it', async () => {
    const { id } = await lines().save(lines().create({ code: 'A-1', name: 'pen', price: 2, qty: 3 }));
    const loaded = await lines().findOneByOrFail({ id });
    loaded.qty = 5;
    await exact(() => lines().save(loaded));
  });

  it('update() setting a timestamp from an ISO string (a JSON body) records the stored date', async () => {
    const schedules = ds.getRepository(SCHEDULES[kind]);
    const { id } = await schedules.save({ name: 'pen', dueAt: new Date('2030-01-02T03:04:05.000Z') });
    await exact(() => schedules.update({ id }, { dueAt: '2030-01-02T03:04:05.000Z', name: 'ink' }));
  });

  it('insert() of a row keyed by an upper-case uuid records the row', async () => {
    const id = '0B8E5C4A-3F1D-4E2B-9A7C-1D2E3F4A5B6C';
    const logs = await exact(() => ds.getRepository(HuntDevice).insert({ id, label: 'phone' }));
    expect(logs.map((l) => l.action)).toEqual(['Created']);
  });

  it('save() of a new entity keyed by an upper-case uuid records the row', async () => {
    const id = '0B8E5C4A-3F1D-4E2B-9A7C-1D2E3F4A5B6D';
    const logs = await exact(() => ds.getRepository(HuntDevice).save({ id, label: 'phone' }));
    expect(logs.map((l) => l.action)).toEqual(['Created']);
  });

  // Writes side by side in one transaction: each has its own statements, and its own changes recorded.
  const counters = () => ds.getRepository(HuntCounter);

  it('two updates of different rows side by side (Promise.all) in a transaction', async () => {
    const a = await counters().save(counters().create({ name: 'pen' }));
    const b = await counters().save(counters().create({ name: 'ink' }));
    await exact(() =>
      ds.transaction((m) =>
        Promise.all([m.update(HuntCounter, { id: a.id }, { price: 2 }), m.update(HuntCounter, { id: b.id }, { price: 3 })]),
      ),
    );
  });

  it('two inserts side by side (Promise.all) in a transaction', async () => {
    let raws: unknown[] = [];
    const logs = await exact(async () => {
      const results = await ds.transaction((m) =>
        Promise.all([m.insert(HuntCounter, { name: 'pen' }), m.insert(HuntCounter, { name: 'ink' })]),
      );
      raws = results.map((r) => r.raw as unknown);
    });
    expect(logs.map((l) => l.action)).toEqual(['Created', 'Created']);
    expect(JSON.stringify(raws)).not.toContain('actionlog');
  });

  it('two inserts side by side (Promise.all) in a transaction answer their caller as without actionlog', async () => {
    const results = await logger.run({}, () =>
      ds.transaction((m) => Promise.all([m.insert(HuntCounter, { name: 'pen' }), m.insert(HuntCounter, { name: 'ink' })])),
    );
    expect(results.map((r): unknown => r.raw)).toEqual(
      kind === 'sqlite'
        ? [expect.any(Number), expect.any(Number)]
        : [[expect.objectContaining({ price: 1, qty: 1 })], [expect.objectContaining({ price: 1, qty: 1 })]],
    );
  });

  it('two deletes side by side (Promise.all) in a transaction', async () => {
    const a = await counters().save(counters().create({ name: 'pen' }));
    const b = await counters().save(counters().create({ name: 'ink' }));
    const logs = await exact(() =>
      ds.transaction((m) => Promise.all([m.delete(HuntCounter, { id: a.id }), m.delete(HuntCounter, { id: b.id })])),
    );
    expect(logs.map((l) => l.action)).toEqual(['Deleted', 'Deleted']);
  });
});
