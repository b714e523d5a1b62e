import { describe, expect, it } from 'vitest';
import { fleetDays, summarize } from '../../../sandbox/console/fleet';

const sg = (id: string) => `123456789012/eu-west-1/AWS::EC2::SecurityGroup/${id}`;

describe('fleet view summary', () => {
  it('counts outcomes and sums the stored cost per day; items without a cost are not priced', () => {
    const s = summarize([
      {
        resourceKey: sg('a'),
        outcome: 'VERIFIED',
        recordedAt: '2026-12-06T10:00:00Z',
        cost: { usd: { total: 0.0004 } },
      },
      {
        resourceKey: sg('b'),
        outcome: 'VERIFIED',
        recordedAt: '2026-12-06T11:00:00Z',
        cost: { usd: { total: 0.0002 } },
      },
      { resourceKey: sg('c'), outcome: 'ABORTED', recordedAt: '2026-12-07T01:00:00Z' },
      {
        resourceKey: sg('c'),
        outcome: 'SKIPPED',
        recordedAt: '2026-12-07T02:00:00Z',
        cost: { usd: { total: 0.0001 } },
      },
    ]);
    expect(s.days).toEqual([
      { day: '2026-12-06', outcomes: { VERIFIED: 2 }, costUsd: 0.0006, costed: 2 },
      { day: '2026-12-07', outcomes: { ABORTED: 1, SKIPPED: 1 }, costUsd: 0.0001, costed: 1 },
    ]);
  });

  it('flapping counts remediations per resource; an escalation waits only while it is the newest outcome', () => {
    const s = summarize([
      { resourceKey: sg('a'), outcome: 'VERIFIED', remediated: true, recordedAt: '2026-12-07T03:00:00Z' },
      {
        resourceKey: sg('a'),
        outcome: 'ESCALATED',
        reason: 'loop breaker',
        recordedAt: '2026-12-07T02:00:00Z',
      },
      { resourceKey: sg('a'), outcome: 'VERIFIED', remediated: true, recordedAt: '2026-12-07T01:00:00Z' },
      { resourceKey: sg('b'), outcome: 'VERIFIED', remediated: true, recordedAt: '2026-12-07T01:00:00Z' },
      {
        resourceKey: sg('b'),
        outcome: 'ESCALATED',
        reason: 'template violates the rule',
        recordedAt: '2026-12-07T04:00:00Z',
        executionName: 'x-b',
      },
    ]);
    expect(s.flapping).toEqual([
      { resourceKey: sg('a'), remediations: 2 },
      { resourceKey: sg('b'), remediations: 1 },
    ]);
    expect(s.escalations).toEqual([
      {
        resourceKey: sg('b'),
        reason: 'template violates the rule',
        recordedAt: '2026-12-07T04:00:00Z',
        executionName: 'x-b',
      },
    ]);
  });

  it('reads FLEET_DAYS UTC days back from now, newest first', () => {
    const days = fleetDays(new Date('2026-12-07T00:30:00Z'), 3);
    expect(days).toEqual(['2026-12-07', '2026-12-06', '2026-12-05']);
  });
});
