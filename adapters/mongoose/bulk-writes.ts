import type { RequestContext } from 'actionlog';
import { type BulkOp, type BulkTargets, insertedId, opsOf, readTargets, sentDocument } from './bulk-targets.js';
import { idOf } from './model-info.js';
import type { AnyModel, Raw } from './mongoose-types.js';
import { handBulkWriteTo } from './patches.js';
import type { StoredDocuments } from './reads.js';
import type { ChangeRecorder, WriteScope } from './recorder.js';
import { isUnacknowledged } from './write-concern.js';

interface BulkAudit {
  model: AnyModel;
  context: RequestContext | null;
}

/** What the server said of a bulk: its result, or the error (a bulk write error carries the result of what ran). */
interface BulkOutcome {
  ordered: boolean;
  result: Raw | undefined;
  /** Indexes of the operations that failed, when the error tells. */
  failed: Set<number> | undefined;
  error: unknown;
}

function outcomeOf(ordered: boolean, result: Raw | undefined, error: unknown): BulkOutcome {
  const e = error as { result?: Raw; writeErrors?: Array<{ index?: unknown }> } | undefined;
  const failed = e?.writeErrors ? new Set(e.writeErrors.map((w) => Number(w.index))) : undefined;
  return { ordered, result: result ?? e?.result, failed, error };
}

/** Whether operation `i` ran: all did unless the bulk failed; an ordered bulk stops at its first error. */
function ran(outcome: BulkOutcome, i: number): boolean {
  if (outcome.error === undefined) return true;
  if (!outcome.failed) return false;
  if (outcome.failed.has(i)) return false;
  return !outcome.ordered || i < Math.min(...outcome.failed);
}

/**
 * Records `Model.bulkWrite()` and `Model.bulkSave()` (which writes through it): once per document, its state
 * before the bulk and after it, also when some operations failed. What the operations may touch is read before
 * the bulk runs (see `readTargets`), and read back after it with what it inserted and upserted.
 */
export class BulkWrites {
  constructor(
    private readonly recorder: ChangeRecorder,
    private readonly reads: StoredDocuments,
  ) {}

  /** The `bulkWrite` middleware: hands the model and the request's scope to the collection's bulkWrite. */
  before(model: AnyModel, ops: unknown[], options: Raw | undefined): unknown {
    if (!this.recorder.records(model) || isUnacknowledged(options)) return undefined;
    try {
      const audit: BulkAudit = { model, context: this.recorder.logger.current() ?? null };
      return handBulkWriteTo(model, ops, options, audit, (a, cast, clean, write) => this.around(a, cast, clean, write));
    } catch (error) {
      this.recorder.reportError(error);
      return undefined;
    }
  }

  private async around(audit: BulkAudit, raw: Raw[], options: Raw, write: () => Promise<Raw>): Promise<Raw> {
    const ops = opsOf(raw);
    const scope: WriteScope = { context: audit.context, session: options.session ?? null };
    const inserts = ops.every((op) => op.kind === 'insertOne');
    const targets = inserts ? undefined : await this.readTargets(audit.model, ops, scope.session);
    const ordered = options.ordered !== false;
    // Targets that could not be read were reported; the bulk is then not recorded.
    const record = async (outcome: BulkOutcome) => {
      if (targets) await this.recordNet(audit.model, ops, targets, outcome, scope);
      else if (inserts) await this.recordInserts(audit.model, ops, outcome, scope);
    };
    let result: Raw;
    try {
      result = await write();
    } catch (error) {
      await record(outcomeOf(ordered, undefined, error ?? new Error('bulkWrite failed')));
      throw error;
    }
    await record(outcomeOf(ordered, result, undefined));
    return result;
  }

  private async readTargets(model: AnyModel, ops: BulkOp[], session: unknown): Promise<BulkTargets | undefined> {
    try {
      return await readTargets(this.reads, model, ops, { max: this.recorder.maxDocumentsPerQuery, session });
    } catch (error) {
      this.recorder.reportError(error);
      return undefined;
    }
  }

  /** A bulk of inserts only: what was sent is what was stored, for each insert that ran. */
  private async recordInserts(model: AnyModel, ops: BulkOp[], outcome: BulkOutcome, scope: WriteScope): Promise<void> {
    try {
      if (outcome.error !== undefined && !outcome.failed) {
        // Which inserts ran is not known: those now stored are the ones that did (their ids are new).
        const ids = ops.map(insertedId).filter((id) => id !== undefined);
        const stored = await this.reads.read(model, { _id: { $in: ids } }, { session: scope.session });
        for (const doc of stored) this.recorder.record(model, null, doc, 'Created', scope);
        return;
      }
      for (const [i, op] of ops.entries())
        if (ran(outcome, i)) this.recorder.record(model, null, sentDocument(model, op), 'Created', scope);
    } catch (error) {
      this.recorder.reportError(error);
    }
  }

  /** Every document the bulk may have touched, read back: each that changed is recorded once, before to after. */
  private async recordNet(model: AnyModel, ops: BulkOp[], targets: BulkTargets, outcome: BulkOutcome, scope: WriteScope): Promise<void> {
    try {
      const upserted = (outcome.result?.upsertedIds ?? {}) as Record<string, unknown>;
      const touched = new Map<string | null, unknown>();
      for (const [i, op] of ops.entries()) {
        for (const id of targets.ids[i] ?? []) touched.set(id, targets.before.get(id)?._id);
        const added = op.kind === 'insertOne' ? insertedId(op) : upserted[i];
        if (added !== undefined) touched.set(idOf({ _id: added }), added);
        if (targets.overflow.has(i) && ran(outcome, i)) this.recordSummary(model, op, scope);
      }
      const ids = [...touched.values()];
      const after = ids.length > 0 ? await this.reads.read(model, { _id: { $in: ids } }, { session: scope.session }) : [];
      const afterById = new Map(after.map((doc) => [idOf(doc), doc]));
      for (const id of touched.keys()) {
        const before = targets.before.get(id) ?? null;
        const now = afterById.get(id) ?? null;
        if (before || now) this.recorder.record(model, before, now, before ? (now ? 'Updated' : 'Deleted') : 'Created', scope);
      }
    } catch (error) {
      this.recorder.reportError(error);
    }
  }

  private recordSummary(model: AnyModel, op: BulkOp, scope: WriteScope): void {
    const action = op.kind.startsWith('delete') ? 'Deleted' : 'Updated';
    const { filter, update, replacement } = op.args;
    this.recorder.recordSummary(model, action, filter, update ?? replacement ?? null, this.recorder.maxDocumentsPerQuery, scope);
  }
}
