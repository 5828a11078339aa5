import type { ModelChange } from 'actionlog/adapter-kit';
import type { Document } from 'mongoose';
import { docState } from './model-info.js';
import type { AnyModel, Raw } from './mongoose-types.js';
import { isInSave } from './patches.js';
import { sessionFromStorage, type StoredDocuments } from './reads.js';
import type { ChangeRecorder, WriteScope } from './recorder.js';
import { isUnacknowledged } from './write-concern.js';
import { forgetLoad, type LoadedState, loadedState, loadedWhole, lostInPlace, stateAfter, stateBefore } from './save-states.js';

interface SaveState extends WriteScope {
  /** What is known of the stored state before: Mongoose's record since load, and the stored document when read. Null: new. */
  before: { loaded?: LoadedState; stored?: Raw } | null;
  pathsToSave?: string[];
}

interface SaveOptions {
  session?: unknown;
  pathsToSave?: unknown;
  w?: unknown;
  writeConcern?: { w?: unknown };
}

/** Records `save()`, of documents new and loaded (`bulkSave()` writes through `bulkWrite()`, recorded there). */
export class DocumentWrites {
  private readonly saves = new WeakMap<object, SaveState>();
  private readonly nextActions = new WeakMap<object, ModelChange['action']>();

  constructor(
    private readonly recorder: ChangeRecorder,
    private readonly reads: StoredDocuments,
  ) {}

  /** Synchronous unless the old state must be read: hooks that need no I/O cost no await. */
  beforeSave(doc: Document, options: SaveOptions | undefined): void | Promise<void> {
    try {
      // A save that failed left its state behind.
      this.saves.delete(doc);
      const model = doc.constructor as AnyModel;
      if (!this.recorder.records(model) || !isInSave(doc) || isUnacknowledged(options)) return;
      const state: SaveState = Object.assign(this.recorder.scope(options?.session ?? doc.$session() ?? sessionFromStorage(model)), {
        before: null,
      });
      if (Array.isArray(options?.pathsToSave)) state.pathsToSave = options.pathsToSave as string[];
      if (doc.isNew) {
        this.saves.set(doc, state);
        return;
      }
      // Mongoose's record of initial values gives the old state without a read, unless the document was built by
      // hand, loaded in part, changed in place before it was marked modified, or holds a changed Map.
      const loaded = loadedState(doc);
      state.before = loaded ? { loaded } : {};
      this.saves.set(doc, state);
      if (loaded && loadedWhole(doc) && !lostInPlace(doc, loaded)) return;
      return this.reads.readById(model, doc._id, state.session).then(
        (stored) => {
          if (stored && state.before) state.before.stored = stored;
          else this.saves.delete(doc);
        },
        (error: unknown) => {
          this.saves.delete(doc);
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
    // Saved (by save() or bulkSave()): the defaults it had from loading are stored now.
    forgetLoad(doc);
    const state = this.saves.get(doc);
    const action = this.nextActions.get(doc);
    this.nextActions.delete(doc);
    if (!state) return;
    this.saves.delete(doc);
    this.recorder.guard(() => {
      const model = doc.constructor as AnyModel;
      const current = docState(doc);
      if (!state.before) {
        this.recorder.record(model, null, current, action ?? 'Created', state);
        return;
      }
      const { loaded, stored } = state.before;
      const before = stored ?? (loaded ? stateBefore(current, loaded) : null);
      if (!before) return;
      // Without Mongoose's record (built by hand), what the document holds is what it wrote.
      const after = loaded ? stateAfter(before, current, loaded, state.pathsToSave) : Object.assign({}, before, current);
      this.recorder.record(model, before, after, action ?? 'Updated', state);
    });
  }
}
