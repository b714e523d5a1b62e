import { describe, expect, it } from 'vitest';
import { nextFireTime } from '../../../sandbox/services/scheduler';

const at = (iso: string) => new Date(iso);
const iso = (d: Date | undefined) => d?.toISOString();

describe('Scheduler expressions', () => {
  it('rate(): every period from creation', () => {
    const createdAt = at('2026-12-07T00:00:10Z');
    expect(iso(nextFireTime('rate(5 minutes)', createdAt, { createdAt }))).toBe('2026-12-07T00:05:10.000Z');
    expect(iso(nextFireTime('rate(5 minutes)', at('2026-12-07T00:05:10Z'), { createdAt }))).toBe(
      '2026-12-07T00:10:10.000Z',
    );
    expect(iso(nextFireTime('rate(1 hour)', createdAt, { createdAt }))).toBe('2026-12-07T01:00:10.000Z');
  });

  it('cron(): AWS 6-field syntax (year, ?, 1=SUN weekdays, L, #, n/step) in the schedule timezone', () => {
    const from = at('2026-12-07T00:00:00Z'); // a Monday
    expect(iso(nextFireTime('cron(0/15 * * * ? *)', from))).toBe('2026-12-07T00:15:00.000Z');
    expect(iso(nextFireTime('cron(0 10 ? * MON *)', from))).toBe('2026-12-07T10:00:00.000Z');
    expect(iso(nextFireTime('cron(0 10 ? * 1 *)', from))).toBe('2026-12-13T10:00:00.000Z'); // 1 = Sunday
    expect(iso(nextFireTime('cron(0 8 L * ? *)', from, { timezone: 'Europe/Paris' }))).toBe(
      '2026-12-31T07:00:00.000Z',
    );
    expect(iso(nextFireTime('cron(0 9 ? * 2#1 2027)', from))).toBe('2027-01-04T09:00:00.000Z');
  });

  it('at(): once, in the schedule timezone; never again once past', () => {
    const from = at('2026-12-07T00:00:00Z');
    expect(iso(nextFireTime('at(2026-12-08T09:30:00)', from))).toBe('2026-12-08T09:30:00.000Z');
    expect(iso(nextFireTime('at(2026-12-08T09:30:00)', from, { timezone: 'America/New_York' }))).toBe(
      '2026-12-08T14:30:00.000Z',
    );
    expect(nextFireTime('at(2026-12-01T00:00:00)', from)).toBeUndefined();
  });

  it('refuses expressions Scheduler refuses', () => {
    const from = at('2026-12-07T00:00:00Z');
    for (const bad of [
      'rate(0 minutes)',
      'rate(5 minute)',
      'rate(1 minutes)',
      'cron(0 10 * * *)',
      'every 5 minutes',
    ]) {
      expect(() => nextFireTime(bad, from), bad).toThrow(
        expect.objectContaining({ code: 'ValidationException' }),
      );
    }
  });
});
