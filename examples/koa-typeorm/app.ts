/**
 * A small library-loans API on Koa + TypeORM + SQLite (in memory: nothing to install or start). It sends
 * itself four requests, then prints what actionlog stored for each, read back from its SQL tables: a line per
 * request, and one document in full.
 *
 *   npm run example              a summary
 *   npm run example -- --json    every stored document in full
 */
import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import bodyParser from '@koa/bodyparser';
import Router from '@koa/router';
import Koa from 'koa';
import { Column, DataSource, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { ActionLogValidationError, createActionLogger, SqlStore } from 'actionlog';
import { actionLog } from 'actionlog/koa';
import { ActionLogSubscriber, AuditStamped } from 'actionlog/typeorm';

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

const dataSource = new DataSource({ type: 'better-sqlite3', database: ':memory:', entities: [Book, Loan], synchronize: true });
await dataSource.initialize();

// The store creates its tables (actionlog_requests...) in the same database when the logger starts.
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

async function send(method: string, path: string, body: unknown, why: string) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', 'x-member': 'ada' },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  console.log(`${method} ${path} -> ${res.status} ${text.length > 90 ? `${text.slice(0, 90)}…` : text}\n    ${why}`);
}

console.log('Four requests to the loans API:\n');
await send('POST', '/books', { title: 'Dune', copies: 3 }, 'creates a book: one model change');
await send('POST', '/books/1/loans', {}, 'a loan and the book copies, in one transaction: two model changes');
await send('POST', '/loans/1/waive', { note: 'first loan is free' }, 'an explicit action, recorded with logger.record()');
await send('POST', '/loans/1/waive', { note: 42 }, 'refused on purpose (the note must be text): the request is still audited');

server.close();
await logger.close();

const { items: documents } = await logger.query({ kind: 'requests' }, { order: 'asc' });
if (process.argv.includes('--json')) {
  console.log(JSON.stringify(documents, null, 2));
} else {
  console.log('\nWhat actionlog stored, one request document each (oldest first):\n');
  for (const doc of documents) {
    const { request, response } = doc.details;
    const changes = doc.details.model_logs.map(
      (m) => `${m.action} ${m.model}#${m.model_id}${m.action === 'Updated' ? ` [${m.model_details.changed_fields.join(', ')}]` : ''}`,
    );
    const actions = doc.details.actions.map((a) => `action ${a.action_type} on ${a.target_type}#${a.target_id}`);
    console.log(
      `  ${request?.method} ${request?.url} ${response?.status_code} by ${request?.user_details?.label}: ${[...changes, ...actions].join('; ') || 'no changes'}`,
    );
  }
  console.log('\nThe loan request in full (npm run example -- --json prints all four):\n');
  console.log(JSON.stringify(documents[1], null, 2));
}
console.log(`\nstats: ${JSON.stringify(logger.stats())}`);
await dataSource.destroy();
