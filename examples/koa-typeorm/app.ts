/**
 * A small library-loans API on Koa + TypeORM + SQLite (in memory: nothing to install or start). It sends
 * itself a few requests and prints the request documents actionlog stored, read back from its SQL tables.
 *
 *   npm run example
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import bodyParser from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { ActionLogValidationError, createActionLogger, SqlStore } from 'actionlog';
import { actionLog } from 'actionlog/koa';
import { ActionLogSubscriber, actionLogEntities, AuditStamped } from 'actionlog/typeorm';

@Entity('books')
class Book extends AuditStamped {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar' })
  title!: string;

  @Column({ type: 'integer', default: 1 })
  copies!: number;
}

@Entity('loans')
class Loan {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'integer' })
  bookId!: number;

  @Column({ type: 'varchar' })
  member!: string;

  @Column({ type: 'varchar', default: 'open' })
  status!: string;
}

const dataSource = new DataSource({
  type: 'better-sqlite3',
  database: ':memory:',
  entities: [Book, Loan, ...actionLogEntities('better-sqlite3')],
  synchronize: true,
});
await dataSource.initialize();

const store = new SqlStore({ dataSource });
const logger = createActionLogger({ store, flushIntervalMs: 50 });
dataSource.subscribers.push(new ActionLogSubscriber(logger));

const books = dataSource.getRepository(Book);

const app = new Koa();
app.use(actionLog(logger));
app.use(bodyParser());
app.use((ctx, next) => {
  // What an auth middleware does: actionlog reads ctx.state.user when it needs the user.
  const member = ctx.get('x-member');
  if (member) ctx.state.user = { id: member, name: member };
  return next();
});

const router = new Router();
router.post('/books', async (ctx) => {
  const { title, copies } = ctx.request.body as { title: string; copies: number };
  ctx.status = 201;
  ctx.body = await books.save(books.create({ title, copies }));
});
router.post('/books/:id/loans', async (ctx) => {
  const bookId = Number(ctx.params.id);
  // Both writes commit together, or neither is stored nor logged.
  const loan = await dataSource.transaction(async (manager) => {
    const created = await manager.save(manager.create(Loan, { bookId, member: (ctx.state.user as { id: string }).id }));
    await manager.update(Book, { id: bookId }, { copies: () => 'copies - 1' });
    return created;
  });
  ctx.status = 201;
  ctx.body = loan;
});
router.post('/loans/:id/waive', async (ctx) => {
  try {
    const { id } = ctx.params as { id: string };
    logger.record({
      action: { type: 'waive_fee', category: 'loans' },
      target: { type: 'loan', id },
      note: (ctx.request.body as { note: unknown }).note as string,
    });
    ctx.body = { waived: id };
  } catch (error) {
    if (!(error instanceof ActionLogValidationError)) throw error;
    ctx.status = 400;
    ctx.body = { error: error.message };
  }
});
app.use(router.routes());

const server = app.listen(0, '127.0.0.1');
await new Promise((resolve) => server.once('listening', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

async function send(method: string, path: string, body: unknown) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', 'x-member': 'ada' },
    body: JSON.stringify(body),
  });
  console.log(`${method} ${path} -> ${res.status} ${await res.text()}`);
}

await send('POST', '/books', { title: 'Dune', copies: 3 });
await send('POST', '/books/1/loans', {});
await send('POST', '/loans/1/waive', { note: 'first loan is free' });
await send('POST', '/loans/1/waive', { note: 42 });

server.close();
await logger.close();
console.log('\nStored request documents (oldest first):');
console.log(JSON.stringify(await store.findRequests({ order: 'asc' }), null, 2));
console.log(`\nstats: ${JSON.stringify(logger.stats())}`);
await dataSource.destroy();
