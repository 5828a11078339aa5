import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AttachmentMeta } from '../../shared/document.js';
import type { ValidationIssue } from '../../shared/errors.js';
import { fromZodIssues } from '../../shared/zod-issues.js';
import { newUuid } from '../../shared/uuid.js';
import { identifier, text } from './fields.js';

/** Bytes given to `record()`: a Buffer (or any Uint8Array), or a readable stream (anything async-iterable of chunks). */
export type AttachmentData = Uint8Array | NodeJS.ReadableStream | AsyncIterable<Uint8Array | string>;

/** One attachment of `record({ ..., attachments })`, as Auditize's log model has it. */
export interface AttachmentInput {
  /** A file name: `invoice.pdf`. */
  name: string;
  /** What it is to the application (`[A-Za-z0-9_]+`): `invoice`, `screenshot`. */
  type: string;
  /** `application/pdf`. */
  mime_type: string;
  /** Read to its end when recorded (a stream over the limits is destroyed, and the action refused). */
  data: AttachmentData;
}

/** Limits of the `attachments` option. */
export interface AttachmentLimits {
  /** Largest attachment, in bytes. */
  maxBytes: number;
  /** Largest sum of the attachments of one request (or run, or standalone action), in bytes. */
  maxBytesPerRequest: number;
}

/** An attachment read and checked: its entry's metadata and its bytes, waiting for the writer. */
export interface CapturedAttachment extends AttachmentMeta {
  data: Buffer;
}

/** Attachments one action may have. */
export const MAX_ATTACHMENTS = 100;

const MIME = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[^"]*"|[^;\s]*))*$/;

const isBytes = (value: unknown): value is Uint8Array => value instanceof Uint8Array;
const isStream = (value: unknown): value is AsyncIterable<unknown> =>
  value !== null &&
  typeof value === 'object' &&
  typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function';

const attachmentSchema = z.strictObject({
  name: text,
  type: identifier('an attachment type'),
  mime_type: z
    .string({ error: (i) => (i.input === undefined ? 'is required' : 'must be a string') })
    .max(255, 'must be at most 255 characters')
    .regex(MIME, 'must be a MIME type (type/subtype, with optional parameters)'),
  data: z.custom<AttachmentData>((v) => isBytes(v) || isStream(v), {
    error: (i) => (i.input === undefined ? 'is required' : 'must be a Buffer, a Uint8Array or a readable stream'),
  }),
});

const attachmentsSchema = z
  .array(attachmentSchema, { error: 'must be a list of { name, type, mime_type, data }' })
  .max(MAX_ATTACHMENTS, `must hold at most ${MAX_ATTACHMENTS} attachments`);

type Given = z.output<typeof attachmentSchema>;
export type AttachmentsParse = { success: true; given: Given[] } | { success: false; issues: ValidationIssue[] };

/** Checks the attachments of an action (their bytes are read later, by `readAttachments`). */
export function parseAttachments(input: unknown): AttachmentsParse {
  const parsed = attachmentsSchema.safeParse(input);
  if (parsed.success) return { success: true, given: parsed.data };
  return { success: false, issues: fromZodIssues(parsed.error.issues, attachmentsSchema, ['attachments']) };
}

/** Lets go of every stream of `input` (an action refused before its attachments were read), so none stays open. */
export function releaseStreams(input: unknown): void {
  if (!Array.isArray(input)) return;
  for (const item of input) {
    const data = (item as { data?: unknown } | null)?.data;
    if (isStream(data)) destroy(data);
  }
}

function destroy(stream: AsyncIterable<unknown>): void {
  const s = stream as { destroy?: () => void; cancel?: () => Promise<void> };
  if (typeof s.destroy === 'function') s.destroy();
  else if (typeof s.cancel === 'function') s.cancel().catch(() => undefined);
}

/**
 * Bytes of attachments counted per scope (a request, a run, or the document of a standalone action), so that all
 * the attachments one request records stay under `maxBytesPerRequest`, whatever the number of `record()` calls.
 */
export class AttachmentBudget {
  private readonly used = new WeakMap<object, number>();

  constructor(private readonly limits: AttachmentLimits) {}

  /**
   * Reads the bytes of `given` (streams to their end), checking each attachment against `maxBytes` and the scope
   * against `maxBytesPerRequest` while reading; over either, the streams are destroyed, the bytes counted for the
   * scope given back, and the issues returned naming `attachments.<i>.data`.
   */
  async read(
    given: Given[],
    scope: object,
  ): Promise<{ success: true; attachments: CapturedAttachment[] } | { success: false; issues: ValidationIssue[] }> {
    let taken = 0;
    const take = (n: number): 'ok' | 'request' => {
      const used = this.used.get(scope) ?? 0;
      if (used + n > this.limits.maxBytesPerRequest) return 'request';
      this.used.set(scope, used + n);
      taken += n;
      return 'ok';
    };
    const attachments: CapturedAttachment[] = [];
    for (const [i, item] of given.entries()) {
      const read = await this.readOne(item.data, take);
      if (typeof read === 'string') {
        for (const rest of given.slice(i + 1)) if (isStream(rest.data)) destroy(rest.data);
        this.used.set(scope, (this.used.get(scope) ?? 0) - taken);
        return { success: false, issues: [{ path: `attachments.${i}.data`, message: this.overMessage(read) }] };
      }
      const meta = { id: newUuid(), name: item.name, type: item.type, mime_type: item.mime_type };
      attachments.push({ ...meta, size: read.length, sha256: createHash('sha256').update(read).digest('hex'), data: read });
    }
    return { success: true, attachments };
  }

  private overMessage(over: 'attachment' | 'request' | 'failed'): string {
    if (over === 'attachment') return `is larger than attachments.maxBytes (${this.limits.maxBytes} bytes)`;
    if (over === 'request')
      return `takes the request's attachments over attachments.maxBytesPerRequest (${this.limits.maxBytesPerRequest} bytes)`;
    return 'could not be read (the stream failed)';
  }

  /** The bytes of one attachment (a copy: the caller may reuse its Buffer; `concat` copies a stream's), or why they were refused. */
  private async readOne(
    data: AttachmentData,
    take: (n: number) => 'ok' | 'request',
  ): Promise<Buffer | 'attachment' | 'request' | 'failed'> {
    if (isBytes(data)) {
      if (data.byteLength > this.limits.maxBytes) return 'attachment';
      const taken = take(data.byteLength);
      return taken === 'ok' ? Buffer.from(data) : taken;
    }
    const stream = data as AsyncIterable<Uint8Array | string>;
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of stream) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        size += bytes.length;
        // Checked per chunk: an endless or huge stream is cut off at the limit, never read whole.
        const taken = size > this.limits.maxBytes ? 'attachment' : take(bytes.length);
        if (taken !== 'ok') {
          destroy(stream);
          return taken;
        }
        chunks.push(bytes);
      }
    } catch {
      return 'failed';
    }
    return Buffer.concat(chunks, size);
  }
}
