import {
  applyDecorators,
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  type NestInterceptor,
  Optional,
  SetMetadata,
  UseInterceptors,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { type Observable, tap } from 'rxjs';
import { ActionLogConfigError, ActionLogger, type NativeActionInput } from 'actionlog';

/** Options of `@AuditAction(type, options)`. `req` is the platform's request (for other transports: the handler's first argument). */
export interface AuditActionOptions<Req = unknown, Result = unknown> {
  /** `action.category` of the recorded action. */
  category?: string;
  /** The action's target, from the request and what the handler returned: `(req, order) => ({ type: 'order', id: order.id })`. */
  target?: (req: Req, result: Result) => NativeActionInput['target'] | null | undefined;
  /** The rest of the action (note, details, tags, context...), from the request and the result. */
  describe?: (req: Req, result: Result) => Omit<NativeActionInput, 'action' | 'target' | 'resource'> | null | undefined;
}

interface AuditActionSpec extends AuditActionOptions<never, never> {
  type: string;
}

const AUDIT_ACTION = 'actionlog:audit-action';

const WHAT = '@AuditAction()';

/** Records one action of the request when it succeeds, through `logger.record()`; reports what it cannot record. */
@Injectable()
export class AuditActionInterceptor implements NestInterceptor {
  private readonly logger: ActionLogger;

  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Optional() @Inject(ActionLogger) logger: ActionLogger | undefined,
  ) {
    if (!logger) {
      throw new ActionLogConfigError([{ path: 'logger', message: 'import ActionLogModule.forRoot() in the application' }], WHAT);
    }
    this.logger = logger;
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const spec = this.reflector.get<AuditActionSpec | undefined>(AUDIT_ACTION, context.getHandler());
    if (!spec) return next.handle();
    const req: unknown = context.getType() === 'http' ? context.switchToHttp().getRequest() : context.getArgByIndex(0);
    let result: unknown;
    // Recorded when the handler's result completes, so never for a handler that throws or rejects.
    return next.handle().pipe(
      tap({
        next: (value) => {
          result = value;
        },
        complete: () => {
          this.record(spec, req, result);
        },
      }),
    );
  }

  private record(spec: AuditActionSpec, req: unknown, result: unknown): void {
    try {
      const target = spec.target?.(req as never, result as never) ?? undefined;
      const rest = spec.describe?.(req as never, result as never) ?? {};
      this.logger.record({
        ...rest,
        action: spec.category === undefined ? spec.type : { type: spec.type, category: spec.category },
        ...(target ? { target } : {}),
      });
    } catch (error) {
      this.logger.reportError(error);
    }
  }
}

const fn = (value: unknown) => value === undefined || typeof value === 'function';

/**
 * Records the action `type` when the handler succeeds (its result, or the value its promise resolves to, is
 * sent); nothing when it throws. Needs `ActionLogModule` in the application.
 *
 *   @AuditAction('approve', { category: 'loans', target: (req, loan) => ({ type: 'loan', id: loan.id }) })
 */
export function AuditAction<Req = unknown, Result = unknown>(type: string, options: AuditActionOptions<Req, Result> = {}): MethodDecorator {
  const issues: Array<{ path: string; message: string }> = [];
  if (typeof type !== 'string' || type.length === 0) issues.push({ path: 'type', message: 'must be a non-empty string' });
  if (options.category !== undefined && typeof options.category !== 'string')
    issues.push({ path: 'category', message: 'must be a string' });
  if (!fn(options.target)) issues.push({ path: 'target', message: 'must be a function (req, result) => target' });
  if (!fn(options.describe)) issues.push({ path: 'describe', message: 'must be a function (req, result) => action fields' });
  if (issues.length > 0) throw new ActionLogConfigError(issues, WHAT);
  const spec: AuditActionSpec = { ...(options as AuditActionOptions<never, never>), type };
  return applyDecorators(SetMetadata(AUDIT_ACTION, spec), UseInterceptors(AuditActionInterceptor));
}
