import type { ModelChange } from 'actionlog/adapter-kit';
import type { Document } from 'mongoose';
import { docState, type InitialValues, initialValues, plainOf, stateBefore } from './model-info.js';
import type { AnyModel, Raw } from './mongoose-types.js';
import { sessionFromStorage, type StoredDocuments } from './reads.js';
import type { ChangeRecorder, WriteScope } from './recorder.js';

interface SaveState extends WriteScope {
  /** How to know the old state once saved: Mongoose's own initial values, or a copy taken before. Null: new. */
  before: { initial: InitialValues } | { copy: Raw } | null;
}

/** Records `save()` (documents new and loaded) and `insertMany()`. */
export class DocumentWrites {
  private readonly saves = new WeakMap<object, SaveState>();
  private readonly nextActions = new WeakMap<object, ModelChange['action']>();

  constructor(
    private readonly recorder: ChangeRecorder,
    private readonly reads: StoredDocuments,
  ) {}

  /** Synchronous unless the old state must be read (a document built by hand): hooks that need no I/O cost no await. */
  beforeSave(doc: Document, options: { session?: unknown } | undefined): void | Promise<void> {
    try {
      const model = doc.constructor as AnyModel;
      if (!this.recorder.records(model)) return;
      const isNew = doc.isNew;
      // A loaded document that did not change saves nothing: nothing to remember.
      if (!isNew && !doc.isModified()) return;
      const scope = this.recorder.scope(options?.session ?? doc.$session() ?? sessionFromStorage(model));
      if (isNew) {
        this.saves.set(doc, Object.assign(scope, { before: null }));
        return;
      }
      // Mongoose replaces its record of initial values after saving, so holding it costs no copy. A
      // document that was not loaded (built by hand) has none: its stored state is read instead.
      const initial = initialValues(doc);
      if (initial) {
        this.saves.set(doc, Object.assign(scope, { before: { initial } }));
        return;
      }
      return this.reads.readById(model, doc._id, scope.session).then(
        (stored) => {
          if (stored) this.saves.set(doc, Object.assign(scope, { before: { copy: stored } }));
        },
        (error: unknown) => {
          this.recorder.reportError(error);
        },
      );
    } catch (error) {
      this.recorder.reportError(error);
    }
  }

  /** The next save of `doc` is recorded as this action (a soft delete or restore is an update underneath). */
  nextSaveIs(doc: Document, action: ModelChange['action']): void {
    this.nextActions.set(doc, action);
  }

  afterSave(doc: Document): void {
    const state = this.saves.get(doc);
    const action = this.nextActions.get(doc);
    this.nextActions.delete(doc);
    if (!state) return;
    this.saves.delete(doc);
    this.recorder.guard(() => {
      const model = doc.constructor as AnyModel;
      const after = docState(doc);
      if (!state.before) {
        this.recorder.record(model, null, after, action ?? 'Created', state);
      } else {
        const before = 'initial' in state.before ? stateBefore(after, state.before.initial) : state.before.copy;
        this.recorder.record(model, before, after, action ?? 'Updated', state);
      }
    });
  }

  afterInsertMany(model: AnyModel, docs: unknown): void {
    this.recorder.guard(() => {
      if (!this.recorder.records(model) || !Array.isArray(docs)) return;
      const context = this.recorder.logger.current() ?? null;
      for (const doc of docs as Document[]) {
        const scope = { context, session: (doc as Partial<Document> | null)?.$session?.() ?? sessionFromStorage(model) };
        const raw = typeof (doc as Partial<Document> | null)?.toObject === 'function' ? docState(doc) : (plainOf(doc) as Raw);
        this.recorder.record(model, null, raw, 'Created', scope);
      }
    });
  }
}
