import { z } from 'zod';

/**
 * The moments every store compares alike: years 0000 to 9999. Beyond, SQLite compares ISO 8601 text that no longer
 * sorts by time (`+010000-…`, `-271821-…`) and PostgreSQL refuses timestamps past its own range.
 */
const EARLIEST = Date.parse('0000-01-01T00:00:00.000Z');
const LATEST = Date.parse('9999-12-31T23:59:59.999Z');

/** Whether a time (ms since the epoch) lies outside the years every store compares alike. */
export function outsideComparableYears(time: number): boolean {
  return time < EARLIEST || time > LATEST;
}

/** What a stored or compared date outside them is told. */
export const COMPARABLE_YEARS = 'must be between the years 0000 and 9999';

/** A date that a read or a deletion compares entries with: a `Date` or an ISO 8601 string, years 0000 to 9999. */
export const comparableDate = z.union([z.date(), z.string()], { error: 'must be a Date or an ISO 8601 string' }).transform((value, ctx) => {
  const date = value instanceof Date ? value : new Date(value);
  const time = date.getTime();
  if (Number.isNaN(time)) {
    ctx.addIssue({ code: 'custom', message: 'must be a valid date' });
    return z.NEVER;
  }
  if (outsideComparableYears(time)) {
    ctx.addIssue({ code: 'custom', message: COMPARABLE_YEARS });
    return z.NEVER;
  }
  return date;
});
