import 'reflect-metadata';
import { setTimeout as sleep } from 'node:timers/promises';
import { type CanActivate, ConflictException, Controller, Inject, Injectable, Module, Param, Post, UseGuards } from '@nestjs/common';
import { describe, expect, it } from 'vitest';
import { ActionLogConfigError, ActionLogger, MemoryStore, type RequestDocument } from 'actionlog';
import { ActionLogModule, AuditAction } from 'actionlog/nestjs';
import { NEST_PLATFORMS, startNest } from '../../support/nest.js';

interface LoanRequest {
  params: { id: string };
  headers: Record<string, string | string[] | undefined>;
}

/** A guard that records, as an authorization check might: it runs inside the request's scope. */
@Injectable()
class CheckedGuard implements CanActivate {
  constructor(@Inject(ActionLogger) private readonly logger: ActionLogger) {}

  canActivate(): boolean {
    this.logger.record({ action: 'access_checked' });
    return true;
  }
}

@Controller('loans')
class LoansController {
  @Post(':id/approve')
  @AuditAction<LoanRequest, { id: string; status: string }>('approve', {
    category: 'loans',
    target: (_req, loan) => ({ type: 'loan', id: loan.id, name: `Loan #${loan.id}` }),
    describe: (req) => ({ note: `approved by ${String(req.headers['x-clerk'])}` }),
  })
  async approve(@Param('id') id: string): Promise<{ id: string; status: string }> {
    await sleep(Math.random() * 3);
    return { id, status: 'approved' };
  }

  @Post(':id/reject')
  @AuditAction<LoanRequest>('reject', { target: (req) => ({ type: 'loan', id: req.params.id }) })
  reject(@Param('id') id: string): never {
    throw new ConflictException(`loan ${id} is closed`);
  }

  @Post(':id/cancel')
  @AuditAction('cancel')
  async cancel(): Promise<never> {
    await sleep(1);
    throw new Error('the ledger is down');
  }

  @Post(':id/review')
  @UseGuards(CheckedGuard)
  @AuditAction<LoanRequest>('review', { target: (req) => ({ type: 'loan', id: req.params.id }) })
  review(): { reviewed: true } {
    return { reviewed: true };
  }
}

function appModule(store: MemoryStore) {
  @Module({ imports: [ActionLogModule.forRoot({ store, flushIntervalMs: 10 })], controllers: [LoansController] })
  class AppModule {}
  return AppModule;
}

describe.each(NEST_PLATFORMS)('@AuditAction on %s', (platform) => {
  it('records the action when the handler succeeds, and nothing when it throws or rejects', async () => {
    const store = new MemoryStore();
    const nest = await startNest(appModule(store), platform);
    const send = (path: string) => nest.client.send(path, { method: 'POST', headers: { 'x-clerk': 'ada' } });
    const approved = await Promise.all(Array.from({ length: 20 }, (_, i) => send(`/loans/${String(i)}/approve`)));
    const rejected = await send('/loans/7/reject');
    const cancelled = await send('/loans/8/cancel');
    const reviewed = await send('/loans/9/review');
    await nest.close();

    const docs = new Map<string, RequestDocument>(store.requests().map((d) => [d.request_uuid, d]));
    const actionsOf = (reply: { headers: Record<string, unknown> }) => docs.get(reply.headers['x-request-id'] as string)!.details.actions;
    for (const [i, reply] of approved.entries()) {
      expect(reply.status).toBe(201);
      expect(actionsOf(reply)).toMatchObject([
        {
          action_type: 'approve',
          action_category: 'loans',
          target: { type: 'loan', id: String(i), name: `Loan #${String(i)}` },
          note: 'approved by ada',
        },
      ]);
    }
    expect(rejected.status).toBe(409);
    expect(cancelled.status).toBe(500);
    // Their requests are still documented, without the action.
    expect(actionsOf(rejected)).toEqual([]);
    expect(docs.get(rejected.headers['x-request-id'] as string)!.details.response!.status_code).toBe(409);
    expect(actionsOf(cancelled)).toEqual([]);
    // The guard records into the same document as the handler.
    expect(actionsOf(reviewed).map((a) => [a.action_type, a.target_id])).toEqual([
      ['access_checked', null],
      ['review', '9'],
    ]);
    expect(docs.size).toBe(23);
  });
});

describe('@AuditAction and the module options', () => {
  it('refuses bad options when the decorator or the module is defined', () => {
    expect(() => AuditAction('')).toThrow(ActionLogConfigError);
    expect(() => AuditAction('approve', { target: 'loan' as never })).toThrow(/target: must be a function/);
    const store = new MemoryStore();
    expect(() => ActionLogModule.forRoot({ store, closeTimeout: -1 })).toThrow(/closeTimeout: must be at least 0/);
    expect(() => ActionLogModule.forRoot({ store, mongoose: { connections: [] } })).toThrow(/mongoose.connections: must not be empty/);
    expect(() => ActionLogModule.forRoot({ logger: new ActionLogger({ store }), store })).toThrow(
      /logger: give either a logger or the options of createActionLogger, not both/,
    );
  });

  it('needs ActionLogModule in the application', async () => {
    @Controller()
    class PlainController {
      @Post('approve')
      @AuditAction('approve')
      approve(): string {
        return 'ok';
      }
    }
    @Module({ controllers: [PlainController] })
    class BareModule {}
    const app = await startNest(BareModule, 'express').catch((e: unknown) => e);
    expect(app).toBeInstanceOf(ActionLogConfigError);
    expect((app as Error).message).toMatch(/logger: import ActionLogModule.forRoot\(\) in the application/);
  });

  it('a bad target is reported, never thrown into the request', async () => {
    const errors: Error[] = [];
    const store = new MemoryStore();
    @Controller()
    class BadController {
      @Post('bad')
      @AuditAction('Not A Type')
      bad(): string {
        return 'ok';
      }
    }
    @Module({ imports: [ActionLogModule.forRoot({ store, onError: (e) => errors.push(e) })], controllers: [BadController] })
    class BadModule {}
    const nest = await startNest(BadModule, 'express');
    const reply = await nest.client.send('/bad', { method: 'POST' });
    await nest.close();
    expect(reply.status).toBe(201);
    expect(errors.map((e) => e.message)).toEqual([expect.stringMatching(/action.type/)]);
    expect(store.requests()[0]!.details.actions).toEqual([]);
  });
});
