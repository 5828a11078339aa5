import type { RequestContext } from 'actionlog';
import { idOf, plainOf } from './model-info.js';
import type { AnyModel, Raw } from './mongoose-types.js';
import { handBulkWriteTo } from './patches.js';
import type { StoredDocuments } from './reads.js';
import type { ChangeRecorder, WriteScope } from './recorder.js';

interface BulkAudit {
  model: AnyModel;
  context: RequestContext | null;
}

/**
 * Records `Model.bulkWrite()`: each operation as its single form would be. The targets are read once Mongoose
 * has cast the operations, at its collection, before the bulk runs.
 */
export class BulkWrites {
  constructor(
    private readonly recorder: ChangeRecorder,
    private readonly reads: StoredDocuments,
  ) {}

  /** The `bulkWrite` middleware: hands the model and the request's scope to the collection's bulkWrite. */
  before(model: AnyModel, ops: unknown[], options: Raw | undefined): unknown {
    if (!this.recorder.records(model)) return undefined;
    try {
      const audit: BulkAudit = { model, context: this.recorder.logger.current() ?? null };
      return handBulkWriteTo(model, ops, options, audit, (a, cast, clean, write) => this.around(a, cast, clean, write));
    } catch (error) {
      this.recorder.reportError(error);
      return undefined;
    }
  }

  private async around(audit: BulkAudit, ops: Raw[], options: Raw, write: () => Promise<Raw>): Promise<Raw> {
    const befores = await this.readTargets(audit.model, ops, options.session);
    const result = await write();
    await this.record(audit.model, ops, befores, result, { context: audit.context, session: options.session ?? null });
    return result;
  }

  private async readTargets(model: AnyModel, ops: Raw[], session: unknown): Promise<Array<Raw[] | undefined>> {
    try {
      return await Promise.all(
        ops.map(async (op) => {
          const [kind, args] = Object.entries(op)[0] as [string, Raw];
          if (kind === 'insertOne') return undefined;
          const limit = kind.endsWith('Many') ? this.recorder.maxDocumentsPerQuery + 1 : 1;
          return this.reads.read(model, (args.filter ?? {}) as Raw, { limit, collation: args.collation, session });
        }),
      );
    } catch (error) {
      this.recorder.reportError(error);
      return ops.map(() => undefined);
    }
  }

  private async record(model: AnyModel, ops: Raw[], befores: Array<Raw[] | undefined>, result: Raw, scope: WriteScope): Promise<void> {
    try {
      const upserted = (result.upsertedIds ?? {}) as Record<string, unknown>;
      for (const [index, op] of ops.entries()) {
        const [kind, args] = Object.entries(op)[0] as [string, Raw];
        if (kind === 'insertOne') {
          this.recorder.record(model, null, plainOf(args.document) as Raw, 'Created', scope);
          continue;
        }
        if (upserted[index] !== undefined) {
          const created = await this.reads.readById(model, upserted[index], scope.session);
          if (created) this.recorder.record(model, null, created, 'Created', scope);
          continue;
        }
        const before = befores[index];
        if (!before) continue;
        if (before.length > this.recorder.maxDocumentsPerQuery) {
          const action = kind.startsWith('delete') ? 'Deleted' : 'Updated';
          this.recorder.recordSummary(model, action, args.filter, args.update ?? args.replacement ?? null, before.length - 1, scope);
          continue;
        }
        if (kind.startsWith('delete')) {
          for (const doc of before) this.recorder.record(model, doc, null, 'Deleted', scope);
          continue;
        }
        const afters = await this.reads.statesAfter(model, before, (args.update ?? args.replacement) as Raw, scope.session);
        for (const doc of before) {
          const after = afters.get(idOf(doc));
          if (after) this.recorder.record(model, doc, after, 'Updated', scope);
        }
      }
    } catch (error) {
      this.recorder.reportError(error);
    }
  }
}
