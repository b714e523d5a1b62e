/**
 * Schedules end to end: the installed stack's EventBridge Scheduler schedules fire on the sandbox clock.
 * A lease leaked by an execution that no longer runs (a holder entry nobody will release) is freed by the
 * lease reaper within one reaper period, with nothing invoked by hand.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grant, readAdmission } from '../../tasks/shared/leases';
import { type E2E, sleep, startE2E } from './support/harness';

let e: E2E;

beforeAll(async () => {
  e = await startE2E({ timeScale: 0.01 });
});
afterAll(async () => {
  await e?.stop();
});

interface ScheduleView {
  Name: string;
  ScheduleExpression: string;
  Target: { Arn: string; Input?: string };
}

async function scheduleFor(task: string): Promise<ScheduleView> {
  const fn = e.stack.functions[task];
  const list = (await e.sb.context.call('scheduler', 'ListSchedules', {})) as {
    Schedules: { Name: string; Target: { Arn: string } }[];
  };
  const s = list.Schedules.find((x) => x.Target.Arn.endsWith(`:function:${fn}`));
  if (!s) throw new Error(`no schedule targets the ${task} function`);
  return (await e.sb.context.call('scheduler', 'GetSchedule', { Name: s.Name })) as unknown as ScheduleView;
}

describe('schedules', () => {
  it('the reaper frees a leaked lease within one reaper period, on its own', async () => {
    const reaper = await scheduleFor('reap-leases');
    const m = /^rate\((\d+) minutes?\)$/.exec(reaper.ScheduleExpression);
    if (!m) throw new Error(`unexpected reaper schedule ${reaper.ScheduleExpression}`);
    const periodMs = Number(m[1]) * 60_000;

    const table = e.env('LEASES_TABLE');
    const leakedAt = e.sb.clock.now();
    const scopes = [{ id: 'runbook#e2e-leak', cap: 1 }];
    // An execution name that never ran (or ran and was stopped): its slot was never released.
    const holder = 'leaked-0000-execution';
    const holds = async (name: string) => !!(await readAdmission(e.c.ddb, table)).holders[name];
    expect(await grant(e.c.ddb, table, holder, scopes, leakedAt.toISOString())).toBe('granted');
    // the slot is taken: a second holder is refused
    expect(await grant(e.c.ddb, table, 'someone-else', scopes, leakedAt.toISOString())).toBe('full');

    let freedAt: Date | undefined;
    // poll on the emulated clock, up to two periods (the assertion below is one period)
    while (e.sb.clock.now().getTime() - leakedAt.getTime() < 2 * periodMs) {
      if (!(await holds(holder))) {
        freedAt = e.sb.clock.now();
        break;
      }
      await sleep(50);
    }
    expect(freedAt, 'the leaked lease was never freed').toBeDefined();
    // within one reaper period (plus the reaper's own run time on the scaled clock)
    expect((freedAt?.getTime() ?? 0) - leakedAt.getTime()).toBeLessThanOrEqual(periodMs * 1.2);
    // the slot is usable again
    expect(await grant(e.c.ddb, table, 'next-holder', scopes, e.sb.clock.now().toISOString())).toBe(
      'granted',
    );
  });

  it('the sweep schedule carries the installed Config rules as its Input', async () => {
    const sweep = await scheduleFor('sweep');
    expect(sweep.ScheduleExpression).toMatch(/^rate\(/);
    const input = JSON.parse(sweep.Target.Input ?? '{}') as { configRules?: unknown };
    expect(Array.isArray(input.configRules) && input.configRules.length > 0).toBe(true);
  });
});
