import type { ActionLogger, RequestContext } from 'actionlog';
import { diffObjects, guard, type ModelChange, type ModelSelection } from 'actionlog/adapter-kit';
import { idOf, infoOf, modelOfDoc } from './model-info.js';
import type { AnyModel, Raw } from './mongoose-types.js';
import { recordInSession } from './session-buffer.js';

/** Where a write happened: the request's scope and the session (a change in a transaction waits for its commit). */
export interface WriteScope {
  context: RequestContext | null;
  session: unknown;
}

/** Turns the states of a written document into a model change of its model, recorded now or at its commit. */
export class ChangeRecorder {
  constructor(
    readonly logger: ActionLogger,
    private readonly selection: ModelSelection<AnyModel>,
    /** The schema's own omitted paths (`actionLog: { omit }`). */
    private readonly schemaOmit: readonly string[],
    readonly maxDocumentsPerQuery: number,
  ) {}

  /** Whether writes of this model (or of its base model, for a discriminator) are recorded. */
  records(model: AnyModel): boolean {
    return this.selection.records([model.modelName, (model as { baseModelName?: string }).baseModelName]);
  }

  /** The paths left out of the model's objects, the same array every time; undefined for none. */
  omitFor(model: AnyModel): readonly string[] | undefined {
    return this.selection.omitFor(model, model.modelName, this.schemaOmit);
  }

  /** The scope of a write starting now. */
  scope(session: unknown): WriteScope {
    return { context: this.logger.current() ?? null, session };
  }

  record(queryModel: AnyModel, before: Raw | null, after: Raw | null, action: ModelChange['action'], scope: WriteScope): void {
    const state = after ?? before;
    if (!state) return;
    const changed = diffObjects(before, after);
    // A write that left the document as it was is not a change (one that changed only omitted paths is
    // dropped when the document is built, where omitted paths are taken out).
    if (before && after && changed.length === 0) return;
    const model = modelOfDoc(queryModel, state);
    const omit = this.omitFor(model);
    const info = infoOf(model);
    // Written out, not spread: a spread followed by properties takes V8's slow path (~3 µs here).
    const change: ModelChange = {
      model: info.model,
      model_class_name: info.model_class_name,
      model_namespace: info.model_namespace,
      action,
      model_id: idOf(after ?? before),
      old_object: before,
      new_object: after,
      changed_fields: changed,
      // When the write happened (a change held for its transaction's commit keeps it).
      timestamp: new Date(),
    };
    if (omit) change.omit = omit;
    recordInSession(scope.session, { change, context: scope.context, logger: this.logger });
  }

  /** One entry standing for a query-level write over `maxDocumentsPerQuery` documents. */
  recordSummary(
    model: AnyModel,
    action: ModelChange['action'],
    filter: unknown,
    update: unknown,
    matched: number,
    scope: WriteScope,
  ): void {
    const change: ModelChange = Object.assign({}, infoOf(model), {
      action,
      model_id: null,
      old_object: null,
      new_object: null,
      query: { filter, update, matched },
      truncated: true,
      timestamp: new Date(),
    });
    recordInSession(scope.session, { change, context: scope.context, logger: this.logger });
  }

  /** Runs capture work: an error is reported, and thrown into the application only in strict mode. */
  guard(work: () => void): void {
    guard(this.logger, work);
  }

  reportError(error: unknown): void {
    this.logger.reportError(error);
  }
}
