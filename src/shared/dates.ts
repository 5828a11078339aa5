import { z } from 'zod';

/**
 * The moments every store compares alike: years 0000 to 9999. Beyond, SQLite compares ISO 8601 text that no longer
 * sorts by time (`+010000-…`, `-271821-…`) and PostgreSQL refuses timestamps past its own range.
 */
const EARLIEST = Date.parse('0000-01-01T00:00:00.000Z');
/** The last moment every store compares alike (ms since the epoch): the end of the year 9999. */
export const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/** Whether a time (ms since the epoch) lies outside the years every store compares alike. */
function outsideComparableYears(time: number): boolean {
  return time < EARLIEST || time > LATEST;
}

/** What is wrong with a date a trail stores or compares entries with, if anything: invalid, or past those years. */
export function dateProblem(date: Date): string | undefined {
  const time = date.getTime();
  if (Number.isNaN(time)) return 'must be a valid date';
  return outsideComparableYears(time) ? 'must be between the years 0000 and 9999' : undefined;
}

/** A schema's transform of a date as given (a `Date`, ISO text or epoch milliseconds) into one `dateProblem` accepts. */
export function toComparableDate(value: Date | string | number, ctx: z.RefinementCtx): Date {
  const date = value instanceof Date ? value : new Date(value);
  const problem = dateProblem(date);
  if (problem === undefined) return date;
  ctx.addIssue({ code: 'custom', message: problem });
  return z.NEVER;
}

/** A date that a read or a deletion compares entries with: a `Date` or an ISO 8601 string, years 0000 to 9999. */
export const comparableDate = z
  .union([z.date(), z.string()], { error: 'must be a Date or an ISO 8601 string' })
  .transform(toComparableDate);
