/**
 * EventBridge Scheduler assumes a schedule's target role as `scheduler.amazonaws.com` (with the schedule's
 * account and group as aws:SourceAccount / aws:SourceArn): CreateSchedule refuses a role it cannot assume
 * with AWS's ValidationException and stores nothing, and a firing whose role no longer trusts Scheduler
 * fails (a failed firing, in the sandbox log) without invoking the target. Scheduler has no wire codec here:
 * the calls go through the sandbox's in-process API, as the installer's do.
 */
import { describe, expect, it } from 'vitest';
import { allServices } from '../../../sandbox/services';
import type { SchedulerService } from '../../../sandbox/services/scheduler';
import { recordingFunction, withSandbox } from '../helpers';
import { failure, policy, trustingRole } from './iam-support';

const sb = withSandbox(() => ({ services: allServices(), timeScale: 0.001 }));
const REFUSED = 'The execution role you provide must allow AWS EventBridge Scheduler to assume the role.';
const FN = 'arn:aws:lambda:us-east-1:000000000000:function:scheduled-target';

const schedule = (Name: string, RoleArn: string, State = 'ENABLED') => ({
  Name,
  ScheduleExpression: 'rate(1 minute)',
  FlexibleTimeWindow: { Mode: 'OFF' },
  Target: { Arn: FN, RoleArn, Input: '{"from":"schedule"}' },
  State,
});

const schedules = async () =>
  (
    (await sb.sandbox.context.call('scheduler', 'ListSchedules', {})) as { Schedules: { Name: string }[] }
  ).Schedules.map((s) => s.Name);

async function invokable(name: string, service: string): Promise<string> {
  const arn = await trustingRole(sb.sandbox, name, service);
  await sb.sandbox.context.call('iam', 'PutRolePolicy', {
    RoleName: name,
    PolicyName: 'invoke',
    PolicyDocument: policy({ Effect: 'Allow', Action: 'lambda:InvokeFunction', Resource: FN }),
  });
  return arn;
}

describe('Scheduler assumes a schedule role only where it trusts Scheduler', () => {
  it('refuses at CreateSchedule a role trusting another service or missing, storing nothing', async () => {
    const lambdaRole = await invokable('sched-lambda-trust', 'lambda.amazonaws.com');
    for (const [name, role] of [
      ['wrong-trust', lambdaRole],
      ['missing-role', 'arn:aws:iam::000000000000:role/no-such-role'],
    ] as const) {
      const f = await failure(
        sb.sandbox.context.call('scheduler', 'CreateSchedule', schedule(name, role, 'DISABLED')),
      );
      expect(f).toMatchObject({ name: 'ValidationException', message: REFUSED });
    }
    expect(await schedules()).toEqual([]);
  });

  it('fires as a trusted role; once the role stops trusting Scheduler the firing fails and the target is not invoked', async () => {
    const seen = recordingFunction(sb.sandbox, 'scheduled-target', FN);
    const role = await invokable('sched-role', 'scheduler.amazonaws.com');
    await sb.sandbox.context.call('scheduler', 'CreateSchedule', schedule('every-minute', role));
    const firings = (sb.sandbox.services.get('scheduler') as SchedulerService).firings;
    while (!firings.some((f) => f.schedule === 'every-minute' && f.ok))
      await new Promise((r) => setTimeout(r, 5));
    expect(seen).toContainEqual({ from: 'schedule' });

    await sb.sandbox.context.call('iam', 'UpdateAssumeRolePolicy', {
      RoleName: 'sched-role',
      PolicyDocument: policy({
        Effect: 'Allow',
        Principal: { Service: 'lambda.amazonaws.com' },
        Action: 'sts:AssumeRole',
      }),
    });
    const invoked = seen.length;
    while (!firings.some((f) => f.schedule === 'every-minute' && !f.ok))
      await new Promise((r) => setTimeout(r, 5));
    const failed = firings.find((f) => f.schedule === 'every-minute' && !f.ok);
    expect(failed?.error).toContain(
      `scheduler.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: ${role}`,
    );
    expect(seen.length).toBe(invoked);
    expect(
      sb.sandbox.logs.some((l) => l.includes('scheduler: schedule every-minute') && l.includes('failed')),
    ).toBe(true);
  });
});
