/**
 * tasks/shared/validation.ts: the date and date-time checks valibot has no exact equivalent for accept and
 * refuse what zod's `iso.date()` / `iso.datetime({ offset: true })` did before the task schemas moved to
 * valibot (classic zod stays a dependency of the sandbox, so the two are compared here directly).
 */
import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { isoDate, isoDateTime } from '../../tasks/shared/validation';

const DATE_TIMES = [
  '2024-05-01T12:00:00Z',
  '2024-05-01T12:00:00.123Z',
  '2024-05-01T12:00:00.123456789Z',
  '2024-05-01T14:00:00+02:00',
  '2024-05-01T14:00:00.5-11:30',
  '2024-02-29T00:00:00Z',
  '2000-02-29T23:59:59Z',
  // refused
  '2023-02-29T00:00:00Z',
  '1900-02-29T00:00:00Z',
  '2024-04-31T00:00:00Z',
  '2024-13-01T00:00:00Z',
  '2024-05-01T24:00:00Z',
  '2024-05-01T12:00Z',
  '2024-05-01T12:00:00',
  '2024-05-01 12:00:00Z',
  '2024-05-01T12:00:00+0200',
  '2024-05-01T12:00:00+02',
  '2024-05-01T12:00:00,5Z',
  '2024-05-01T12:00:00.Z',
  '2024-05-01',
  '',
];
const DATES = [
  '2024-05-01',
  '2024-02-29',
  '2000-02-29',
  '2023-02-29',
  '2100-02-29',
  '2024-06-31',
  '2024-5-01',
  '24-05-01',
  '2024-05-01T00:00:00Z',
];

describe('validation: ISO dates and date-times as zod checked them', () => {
  it.each(DATE_TIMES)('date-time %j', (s) => {
    expect(v.is(isoDateTime(), s)).toBe(z.iso.datetime({ offset: true }).safeParse(s).success);
  });

  it.each(DATES)('date %j', (s) => {
    expect(v.is(isoDate(), s)).toBe(z.iso.date().safeParse(s).success);
  });

  it('accepts the usual forms and names the problem otherwise', () => {
    expect(v.is(isoDateTime(), '2024-05-01T12:00:00.123Z')).toBe(true);
    expect(v.is(isoDate(), '2024-02-29')).toBe(true);
    const bad = v.safeParse(v.object({ at: isoDateTime() }), { at: '2023-02-29T00:00:00Z' });
    expect(bad.issues?.map((i) => `${v.getDotPath(i)}: ${i.message}`)).toEqual([
      'at: Invalid date-time: Expected RFC 3339 like 2024-05-01T12:00:00Z but received "2023-02-29T00:00:00Z"',
    ]);
    expect(v.safeParse(isoDate(), 7).issues?.[0]?.message).toBe(
      'Invalid type: Expected string but received 7',
    );
  });
});
