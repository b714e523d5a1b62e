/**
 * Validation for every task schema: valibot (tree-shakable functions, English messages built in, Standard
 * Schema for Powertools Parser), about 2–6 KB of a bundle where zod's mini build was 19–45 KB
 * (docs/operations.md "Bundles"). Schemas import valibot directly; this module holds what valibot has no
 * exact equivalent for.
 *
 *   import * as v from 'valibot';   v.optional(v.pipe(v.string(), v.minLength(1)))
 *
 * InvalidInputError names each issue as `path: message` (handler.ts `formatIssues`), e.g.
 * `eventId: Invalid length: Expected >=1 but received 0`. Tests and the sandbox may use classic zod for
 * their own schemas.
 */
import * as v from 'valibot';

/** A calendar date `YYYY-MM-DD` that exists (no 2023-02-29). */
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
/** RFC 3339 date-time: `T`, seconds required, any fraction, `Z` or a `±hh:mm` offset. */
const DATE_TIME =
  /^(\d{4}-\d{2}-\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/;

function isCalendarDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  return date.getUTCFullYear() === y && date.getUTCMonth() === mo - 1 && date.getUTCDate() === d;
}

/** An ISO 8601 calendar date, `2024-05-01`. */
export function isoDate() {
  return v.pipe(
    v.string(),
    v.check(isCalendarDate, (i) => `Invalid date: Expected YYYY-MM-DD but received ${i.received}`),
  );
}

/** An RFC 3339 date-time with an offset, `2024-05-01T12:00:00Z`, `2024-05-01T14:00:00.5+02:00`. */
export function isoDateTime() {
  return v.pipe(
    v.string(),
    v.check(
      (s) => isCalendarDate(DATE_TIME.exec(s)?.[1] ?? ''),
      (i) => `Invalid date-time: Expected RFC 3339 like 2024-05-01T12:00:00Z but received ${i.received}`,
    ),
  );
}
