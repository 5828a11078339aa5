/**
 * A small library-loans API on NestJS + TypeORM + SQLite (in memory: nothing to install or start), on Express.
 * ActionLogModule opens the request scope, adds the TypeORM subscriber to the data source @nestjs/typeorm
 * creates, records `@AuditAction`s and drains on `app.close()`; the audit tables live in the same database. It
 * sends itself a few requests and prints the request documents, read back from SQL.
 *
 *   npm run example:nestjs-typeorm
 *
 * Dependencies are injected with explicit tokens (`@InjectRepository`, `@Inject(ActionLogger)`), so the app runs
 * under tsx and vitest, which do not emit decorator metadata.
 */
import 'reflect-metadata';
import {
  BadRequestException,
  Body,
  type CanActivate,
  ConflictException,
  Controller,
  type ExecutionContext,
  Inject,
  Injectable,
  Module,
  Param,
  Post,
  UseGuards,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken, InjectDataSource, InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { Column, type DataSource, Entity, PrimaryGeneratedColumn, type Repository } from 'typeorm';
import { ActionLogger, ActionLogValidationError, SqlStore } from 'actionlog';
import { ActionLogModule, AuditAction } from 'actionlog/nestjs';
import { actionLogEntities, AuditStamped } from 'actionlog/typeorm';

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

interface MemberRequest {
  headers: Record<string, string | string[] | undefined>;
  params: { id: string };
  user?: { id: string; name: string };
}

/** What an auth guard does: the member goes on `req.user`, where actionlog reads the user when it needs it. */
@Injectable()
class MemberGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<MemberRequest>();
    const member = req.headers['x-member'];
    if (typeof member !== 'string') return false;
    req.user = { id: member, name: member };
    return true;
  }
}

@Controller('books')
@UseGuards(MemberGuard)
class BooksController {
  constructor(@InjectRepository(Book) private readonly books: Repository<Book>) {}

  @Post()
  create(@Body() body: { title: string; copies: number }): Promise<Book> {
    return this.books.save(this.books.create(body));
  }
}

@Controller('loans')
@UseGuards(MemberGuard)
class LoansController {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(ActionLogger) private readonly logger: ActionLogger,
  ) {}

  @Post()
  @AuditAction<MemberRequest, Loan>('lend', { category: 'loans', target: (_req, loan) => ({ type: 'loan', id: loan.id }) })
  lend(@Body() body: { bookId: number; member: string }): Promise<Loan> {
    // Both writes commit together, or neither is stored nor logged.
    return this.dataSource.transaction(async (manager) => {
      const loan = await manager.save(manager.create(Loan, body));
      await manager.update(Book, { id: body.bookId }, { copies: () => 'copies - 1' });
      return loan;
    });
  }

  @Post(':id/return')
  @AuditAction<MemberRequest>('return', { category: 'loans', target: (req) => ({ type: 'loan', id: req.params.id }) })
  async giveBack(@Param('id') id: string): Promise<{ returned: string }> {
    const loans = this.dataSource.getRepository(Loan);
    const loan = await loans.findOneByOrFail({ id: Number(id) });
    // A refused return throws: the action is not recorded, the request document still is.
    if (loan.status !== 'open') throw new ConflictException(`loan ${id} is already ${loan.status}`);
    await loans.update({ id: loan.id }, { status: 'returned' });
    return { returned: id };
  }

  @Post(':id/waive')
  waive(@Param('id') id: string, @Body() body: { note: unknown }): { waived: string } {
    try {
      this.logger.record({ action: { type: 'waive_fee', category: 'loans' }, target: { type: 'loan', id }, note: body.note as string });
    } catch (error) {
      if (error instanceof ActionLogValidationError) throw new BadRequestException(error.message);
      throw error;
    }
    return { waived: id };
  }
}

@Module({
  imports: [
    TypeOrmModule.forRoot({
      type: 'better-sqlite3',
      database: ':memory:',
      entities: [Book, Loan, ...actionLogEntities('better-sqlite3')],
      synchronize: true,
    }),
    TypeOrmModule.forFeature([Book]),
    ActionLogModule.forRootAsync({
      inject: [getDataSourceToken()],
      useFactory: (dataSource: DataSource) => ({ store: new SqlStore({ dataSource }), flushIntervalMs: 50 }),
    }),
  ],
  controllers: [BooksController, LoansController],
})
class AppModule {}

// Nest types its options as a class, and documents them as this literal.
// eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
const app = await NestFactory.create(AppModule, { logger: ['error', 'warn'] });
app.enableShutdownHooks();
await app.listen(0, '127.0.0.1');
const base = await app.getUrl();

async function send(path: string, body: unknown) {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-member': 'ada' },
    body: JSON.stringify(body),
  });
  console.log(`POST ${path} -> ${res.status} ${await res.text()}`);
}

await send('/books', { title: 'Dune', copies: 3 });
await send('/loans', { bookId: 1, member: 'ada' });
await send('/loans/1/return', {});
await send('/loans/1/return', {});
await send('/loans/1/waive', { note: 'first loan is free' });
await send('/loans/1/waive', { note: 42 });

const logger = app.get(ActionLogger);
await logger.flush();
const { items: documents } = await logger.query({ kind: 'requests' }, { order: 'asc', limit: 1000 });
console.log('\nStored request documents (oldest first):');
console.log(JSON.stringify(documents, null, 2));
console.log('\nIn short, one line per request document:');
for (const doc of documents) {
  const { request, response, model_logs, actions } = doc.details;
  const parts = [...model_logs.map((l) => `${l.action} ${l.model_class_name}`), ...actions.map((a) => `action ${a.action_type}`)];
  console.log(
    `  ${request?.user_details?.label ?? '-'} ${request?.method} ${request?.route} ${response?.status_code}: ${parts.join('; ') || 'nothing'}`,
  );
}
// Closing the app drains the logger (its shutdown hook) before @nestjs/typeorm closes the data source.
await app.close();
console.log(`\nstats: ${JSON.stringify(logger.stats())}`);
