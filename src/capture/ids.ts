import { newUuid } from '../shared/uuid.js';

/** A request id actionlog accepts from outside: 1-128 characters of `[A-Za-z0-9._:-]`. */
export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A valid incoming request id (≤ 128 chars of `[A-Za-z0-9._:-]`), or a new uuid v4. */
export function resolveRequestId(header: string | string[] | undefined): string {
  const value = first(header)?.trim();
  return value && REQUEST_ID.test(value) ? value : newUuid();
}

/** The trace id of a valid W3C `traceparent` header, or undefined. */
export function traceIdOf(header: string | string[] | undefined): string | undefined {
  const match = TRACEPARENT.exec(first(header)?.trim().toLowerCase() ?? '');
  if (!match) return undefined;
  const [, version, traceId = '', parentId = ''] = match;
  if (version === 'ff' || /^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return traceId;
}

/** The correlation id of a request: an explicit correlation header wins over the `traceparent` trace id. */
export function correlationIdOf(
  correlationHeader: string | string[] | undefined,
  traceparent: string | string[] | undefined,
): string | undefined {
  const explicit = first(correlationHeader)?.trim();
  if (explicit && REQUEST_ID.test(explicit)) return explicit;
  return traceIdOf(traceparent);
}
