import { z } from 'zod';
import { DEFAULT_REDACT_HEADERS, DEFAULT_REDACT_KEYS } from './build/sanitize/redactor.js';
import type { ActivityInput } from './capture/activity.js';
import { IDENTIFIER, IDENTIFIER_RULE } from './capture/action/fields.js';
import { type Labels, labelsSchema } from './read/labels.js';
import { resolveKey, type SigningKey } from './build/integrity/checkpoint-keys.js';
import type { CheckpointDocument, UserRef } from './shared/document.js';
import { parseOptions, requireObject } from './shared/parse-options.js';
import type { Store } from './stores/store.js';

/** Options of `createActionLogger`. Every default lives in the schema below. */
export interface ActionLoggerOptions {
  /** Where documents are written (`MemoryStore`, `MongoStore`, `SqlStore` or your own `Store`). */
  store: Store;
  /** Module of `run()` scopes and of standalone changes that name none. Default `"app"`. */
  module?: string;
  /** Changes and actions recorded outside any scope: their own document (`standalone`, default) or `ignore`. */
  outsideContext?: 'standalone' | 'ignore';
  /** Throw capture errors into the caller (ORM hooks, middleware) instead of only reporting them. Default false. */
  strict?: boolean;
  /** `lookup_from` of user references made by the default `describeUser`. Default `"users"`. */
  userModel?: string;
  /** Turns the app's user object into the stored `{ lookup_from, _id, label, email? }`. */
  describeUser?: (user: unknown) => UserRef | null;
  /**
   * What a document the store cannot take costs: `'retry'` (default without `spool`) queues it and retries with
   * backoff, off the request's path, then drops it (entries can be lost); `'spool'` (default with `spool`) keeps it
   * in the spool until stored; `'throw'` stores each request's document before its response is sent, and a
   * transaction's changes before it commits, and fails the request or the transaction when that write fails (see
   * the README, "Failure policy").
   */
  onStoreError?: 'retry' | 'spool' | 'throw';
  /** Called with every error actionlog swallows (store failures, retries, drops). Default: a console warning. */
  onError?: (error: Error) => void;
  /** Documents that start a write as soon as they wait (else `flushIntervalMs` does). Default 100. */
  batchSize?: number;
  /**
   * Most documents in one store call: a write takes everything that waits, up to this many, so that a store slower
   * than the requests gets fewer, larger writes rather than a queue that grows until it drops. Default 10 × batchSize.
   * For a store with a hard limit per call, set it to that limit.
   */
  maxBatchSize?: number;
  /** Longest time a document waits in the queue before a write starts (after the one in progress). Default 1000 ms. */
  flushIntervalMs?: number;
  /** Documents held (queued and being written) before `onQueueFull` applies. Default 10 000. */
  maxQueueSize?: number;
  /** When the queue is full: drop the incoming document (default) or the oldest queued one. Both are counted. */
  onQueueFull?: 'drop-newest' | 'drop-oldest';
  /**
   * Batches written at once while full batches wait behind a write in progress (a slow store); 1 to 16. Default 1.
   * Above 1, batches may be stored in another order than they were recorded. With a spool, always 1.
   */
  concurrentWrites?: number;
  /** A durable spool on local disk: every document is appended to it before its store write; see "Never lose an entry". */
  spool?: SpoolOption;
  /** Retries of a failing store write before its documents are dropped. Default 8. */
  maxRetries?: number;
  /** First retry delay; doubles per retry, with jitter. Default 200 ms. */
  retryDelayMs?: number;
  /** Longest retry delay. Default 30 000 ms. */
  maxRetryDelayMs?: number;
  /** Key fragments whose values are redacted anywhere. Default `DEFAULT_REDACT_KEYS`. */
  redactKeys?: readonly string[];
  /** Header names redacted whole. Default `DEFAULT_REDACT_HEADERS`. */
  redactHeaders?: readonly string[];
  /** Size limits of stored values. */
  limits?: {
    /** Default 65 536. */
    maxBodyBytes?: number;
    /** Default 8192. */
    maxStringLength?: number;
    /** Default 20. */
    maxDepth?: number;
    /** Default 1000. */
    maxArrayLength?: number;
    /** Keys kept of one object; the rest are counted under `"[truncated]"`. Default 1000. */
    maxKeys?: number;
  };
  /** Model logs kept in a request document; the rest go to `model_logs`. Default 1000. */
  maxModelLogsPerRequest?: number;
  /** Documents a store refused kept for `logger.quarantined()`; older ones are let go, still counted. Default 1000. */
  maxQuarantine?: number;
  /** Estimated size past which model logs spill to `model_logs`, far under MongoDB's 16 MiB. Default 8 MiB. */
  maxDocumentBytes?: number;
  /** Write the `action_logs` mirror. Default true. */
  actionLogs?: boolean;
  /** Write the `model_logs` mirror, where changes and record histories are read from. Default true. */
  modelLogs?: boolean;
  /**
   * Keep, beside the full history, the latest action of each (actor, action type), upserted as actions are stored
   * (the newest by `emitted_at` wins, in any order of arrival), for `logger.latestAction()`. Needs `actionLogs`.
   * Default false.
   */
  latestActions?: boolean;
  /** Keep documents this many days: every stored document gets `expires_at` (a TTL index on MongoDB). */
  retentionDays?: number;
  /**
   * Days kept per model (`models: { orders: 365 }`) or per action type (`actionTypes: { login: 7 }`), instead of
   * `retentionDays`, for those changes and actions in their own collections; see the README, "Retention".
   */
  retention?: { models?: Readonly<Record<string, number>>; actionTypes?: Readonly<Record<string, number>> };
  /** Restrict `record()` to these action types (`[A-Za-z0-9_]+` each); any other is refused, naming these. */
  actionTypes?: readonly string[];
  /** Restrict `record()` to these target types (`[A-Za-z0-9_]+` each). */
  targetTypes?: readonly string[];
  /** Display names per language: `{ fr: { action_type: { CREATE: 'Création' }, field: { actor_id: 'Acteur' } } }`; see `export({ lang })`. */
  labels?: Labels;
  /**
   * Limits of `record({ ..., attachments })`, in bytes: per attachment (default 10 MiB) and per request, all its
   * actions together (default 25 MiB). Over either, `record()` rejects with `ActionLogValidationError`.
   */
  attachments?: { maxBytes?: number; maxBytesPerRequest?: number };
  /** Write one activity feed entry per HTTP request, described from the framework's request. */
  activity?: { describe: (req: unknown) => ActivityInput | null | undefined };
  /** Tamper evidence: chain every stored document and sign checkpoints (see the README, "Proving the trail"). */
  integrity?: IntegrityOptions;
}

/** Options of tamper evidence. */
export interface IntegrityOptions {
  /** Signs checkpoints: an Ed25519 private key (`KeyObject` or PEM), or `{ hmac: secret }` (weaker, see the README). */
  key: SigningKey;
  /** A checkpoint after this many stored entries (default 1000)... */
  checkpointEvery?: number;
  /** ...or this long after the first entry not yet in one, in ms (default 60000). */
  checkpointIntervalMs?: number;
  /** Copies each checkpoint elsewhere (a file, an object store, a webhook), so that a rollback of the whole store shows. */
  anchor?: (checkpoint: CheckpointDocument) => unknown;
  /**
   * How long `purge()` and `archive()` wait for `anchor` to take the checkpoint recording a batch before deleting it,
   * in ms (default 30000); past it they reject with `ActionLogAnchorTimeoutError`, that batch not deleted.
   */
  anchorTimeoutMs?: number;
}

/** The `spool` option. */
export interface SpoolOption {
  /** Folder of the spool files (created if missing); several processes may share it, each has its own files. */
  dir: string;
  /** Bytes of spool files past which `policy` applies. Default 256 MiB. */
  maxBytes?: number;
  /** `group` (default): fsync every `fsyncIntervalMs` or `fsyncEvery` documents, whichever comes first; `always`: every write. */
  fsync?: 'group' | 'always';
  /** Default 50 ms. */
  fsyncIntervalMs?: number;
  /** Default 100 documents. */
  fsyncEvery?: number;
  /** When full: `block` (default) holds new documents in memory up to `blockTimeoutMs` for room, then drops them; or drop. */
  policy?: 'block' | 'drop-newest' | 'drop-oldest';
  /** Default 5000 ms. */
  blockTimeoutMs?: number;
}

const MAX_TIMER_MS = 2_147_483_647;
const fn = <T>() => z.custom<T>((v) => typeof v === 'function', { error: 'must be a function' });
const int = (min: number) => z.number({ error: 'must be a number' }).int('must be an integer').min(min, `must be at least ${min}`);
/** A delay a timer waits: past MAX_TIMER_MS, Node fires it at once. */
const delay = (min: number) => int(min).max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS} (the longest a timer waits)`);
const names = z.array(z.string().min(1, 'must not be empty'), { error: 'must be an array of strings' }).readonly();
/** A list of identifiers, checked by the rule `record()` applies to them: a type no entry could have is refused here. */
const identifiers = z
  .array(z.string({ error: 'must be a string' }).regex(IDENTIFIER, IDENTIFIER_RULE), { error: 'must be an array of strings' })
  .min(1, 'must not be empty: nothing could be recorded')
  .readonly();

const days = z.number({ error: 'must be a number of days' }).positive('must be positive');
const retentionSchema = z
  .strictObject(
    {
      models: z.record(z.string().min(1, 'must not be empty'), days, { error: 'must be an object of days per model' }).optional(),
      actionTypes: z
        .record(z.string().regex(IDENTIFIER, IDENTIFIER_RULE), days, {
          // A bad key is reported on the record itself, with the record's message: said by the identifier rule.
          error: (issue) => (issue.code === 'invalid_key' ? IDENTIFIER_RULE : 'must be an object of days per action type'),
        })
        .optional(),
    },
    { error: 'must be { models?, actionTypes? }' },
  )
  .optional();

const STORE_METHODS = ['write', 'append', 'query', 'count', 'facets', 'close'];

function isStore(value: unknown): value is Store {
  if (value === null || typeof value !== 'object') return false;
  const s = value as Record<string, unknown>;
  return STORE_METHODS.every((m) => typeof s[m] === 'function');
}

const optionFields = z.strictObject({
  store: z.custom<Store>(isStore, {
    error: `must be a Store (${STORE_METHODS.join(', ')})`,
  }),
  module: z.string().min(1, 'must not be empty').default('app'),
  outsideContext: z.enum(['standalone', 'ignore'], { error: 'must be "standalone" or "ignore"' }).default('standalone'),
  strict: z.boolean({ error: 'must be a boolean' }).default(false),
  userModel: z.string().min(1, 'must not be empty').default('users'),
  describeUser: fn<(user: unknown) => UserRef | null>().optional(),
  onStoreError: z.enum(['retry', 'spool', 'throw'], { error: 'must be "retry", "spool" or "throw"' }).optional(),
  onError: fn<(error: Error) => void>().optional(),
  batchSize: int(1).default(100),
  maxBatchSize: int(1).optional(),
  flushIntervalMs: delay(0).default(1000),
  maxQueueSize: int(1).default(10_000),
  concurrentWrites: int(1).max(16, 'must be at most 16').default(1),
  onQueueFull: z.enum(['drop-newest', 'drop-oldest'], { error: 'must be "drop-newest" or "drop-oldest"' }).default('drop-newest'),
  spool: z
    .strictObject(
      {
        dir: z.string({ error: 'must be a folder path' }).min(1, 'must not be empty'),
        maxBytes: int(64 * 1024).default(256 * 1024 * 1024),
        fsync: z.enum(['group', 'always'], { error: 'must be "group" or "always"' }).default('group'),
        fsyncIntervalMs: delay(1).default(50),
        fsyncEvery: int(1).default(100),
        policy: z
          .enum(['block', 'drop-newest', 'drop-oldest'], { error: 'must be "block", "drop-newest" or "drop-oldest"' })
          .default('block'),
        blockTimeoutMs: int(0).default(5000),
      },
      { error: 'must be { dir, maxBytes?, fsync?, fsyncIntervalMs?, fsyncEvery?, policy?, blockTimeoutMs? }' },
    )
    .optional(),
  maxRetries: int(0).default(8),
  retryDelayMs: delay(0).default(200),
  maxRetryDelayMs: delay(0).default(30_000),
  maxQuarantine: int(0).default(1000),
  redactKeys: names.default(DEFAULT_REDACT_KEYS),
  redactHeaders: names.default(DEFAULT_REDACT_HEADERS),
  limits: z
    .strictObject({
      maxBodyBytes: int(16).default(64 * 1024),
      maxStringLength: int(16).default(8 * 1024),
      maxDepth: int(1).default(20),
      maxArrayLength: int(1).default(1000),
      maxKeys: int(1).default(1000),
    })
    .prefault({}),
  maxModelLogsPerRequest: int(1).default(1000),
  maxDocumentBytes: int(1024)
    .max(15 * 1024 * 1024, 'must stay under the 16 MiB MongoDB limit')
    .default(8 * 1024 * 1024),
  actionLogs: z.boolean({ error: 'must be a boolean' }).default(true),
  modelLogs: z.boolean({ error: 'must be a boolean' }).default(true),
  latestActions: z.boolean({ error: 'must be a boolean' }).default(false),
  retentionDays: z.number({ error: 'must be a number' }).positive('must be positive').optional(),
  retention: retentionSchema,
  actionTypes: identifiers.optional(),
  targetTypes: identifiers.optional(),
  labels: labelsSchema.optional(),
  attachments: z
    .strictObject({
      maxBytes: int(1).default(10 * 1024 * 1024),
      maxBytesPerRequest: int(1).default(25 * 1024 * 1024),
    })
    .prefault({}),
  activity: z.strictObject({ describe: fn<(req: unknown) => ActivityInput | null | undefined>() }).optional(),
  integrity: z
    .strictObject({
      key: z.unknown().transform((key, ctx) => {
        try {
          return resolveKey(key as SigningKey, 'sign');
        } catch (error) {
          ctx.addIssue({ code: 'custom', message: (error as Error).message });
          return z.NEVER;
        }
      }),
      checkpointEvery: int(1).max(1_000_000, 'must be at most 1000000').default(1000),
      checkpointIntervalMs: int(10).default(60_000),
      anchor: fn<(checkpoint: CheckpointDocument) => unknown>().optional(),
      // A timer's longest delay: a longer one would fire at once.
      anchorTimeoutMs: int(1).max(MAX_TIMER_MS, `must be at most ${MAX_TIMER_MS}`).default(30_000),
    })
    .optional(),
});

/** The fields, and what must hold between them. */
const schema = optionFields.superRefine((o, ctx) => {
  if (o.latestActions && !o.actionLogs) {
    ctx.addIssue({
      code: 'custom',
      path: ['latestActions'],
      message: 'needs actionLogs: true (the latest entries point into action_logs)',
    });
  }
  if (o.latestActions && typeof o.store.latestAction !== 'function') {
    ctx.addIssue({ code: 'custom', path: ['latestActions'], message: 'needs a store with latestAction(): this store cannot keep them' });
  }
  if (o.integrity && (!o.store.writeCheckpoint || !o.store.checkpoints)) {
    ctx.addIssue({ code: 'custom', path: ['integrity'], message: 'needs a store with writeCheckpoint() and checkpoints()' });
  }
  if (o.maxBatchSize !== undefined && o.maxBatchSize < o.batchSize)
    ctx.addIssue({ code: 'custom', path: ['maxBatchSize'], message: `must be at least batchSize (${o.batchSize})` });
  if (o.onStoreError === 'spool' && !o.spool)
    ctx.addIssue({ code: 'custom', path: ['onStoreError'], message: 'is "spool" but no spool is set: add spool: { dir }' });
  if (o.onStoreError !== undefined && o.onStoreError !== 'spool' && o.spool)
    ctx.addIssue({ code: 'custom', path: ['spool'], message: `is set but onStoreError is "${o.onStoreError}": drop one of them` });
  // A retention override for an action type `record()` refuses could never apply: a misconfiguration, said now.
  const allowed = o.actionTypes;
  for (const type of Object.keys(o.retention?.actionTypes ?? {})) {
    if (allowed && !allowed.includes(type)) {
      ctx.addIssue({
        code: 'custom',
        path: ['retention', 'actionTypes', type],
        message: `is not an allowed action type (allowed: ${allowed.join(', ')})`,
      });
    }
  }
});

export type ResolvedOptions = Omit<z.output<typeof schema>, 'maxBatchSize'> & {
  maxBatchSize: number;
  /** The failure policy: the option, or its default (`'spool'` with a spool, else `'retry'`). */
  onStoreError: 'retry' | 'spool' | 'throw';
  /** Whether `outsideContext` was chosen, rather than defaulted. */
  outsideContextGiven: boolean;
};

/** Validates logger options once; an unknown or ill-typed option throws `ActionLogConfigError` naming it. */
export function resolveOptions(options: ActionLoggerOptions): ResolvedOptions {
  requireObject(options, 'at least { store }', 'options');
  const o = parseOptions(schema, options, 'options');
  return Object.assign(o, {
    maxBatchSize: o.maxBatchSize ?? 10 * o.batchSize,
    onStoreError: o.onStoreError ?? (o.spool ? ('spool' as const) : ('retry' as const)),
    outsideContextGiven: options.outsideContext !== undefined,
  });
}
