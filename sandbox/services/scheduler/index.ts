/**
 * EventBridge Scheduler (in-process: the installer creates the template's AWS::Scheduler::Schedule
 * resources through context.call; no HTTP codec). Schedules fire on the sandbox clock (its time scale):
 * `rate(N unit)` every N units from creation, `at(yyyy-mm-ddThh:mm:ss)` once, `cron(min hour dom month
 * dow year)` in ScheduleExpressionTimezone (AWS's 6-field syntax with ?, L, W, #; evaluated by croner).
 * A firing invokes the target ARN (Lambda, SQS, SNS, Step Functions via sandbox/core/targets) with the
 * target's Input, as the Scheduler's universal/templated targets do, as the target's role: CreateSchedule
 * refuses a role Scheduler cannot assume, and a firing whose role Scheduler can no longer assume fails
 * (`firings`, sandbox log). Timers stop with the sandbox.
 */
import { Cron } from 'croner';
import { authorize, isRoleArn, passRole, rolePrincipal } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import { deliverToArn } from '../../core/targets';
import type { RequestContext, SandboxContext, ServiceModule } from '../../core/types';
import { AwsError } from '../../core/types';
import { serviceAssumeRefusal } from '../sts';

interface Schedule {
  Name: string;
  GroupName: string;
  Arn: string;
  ScheduleExpression: string;
  ScheduleExpressionTimezone?: string;
  State: 'ENABLED' | 'DISABLED';
  Target: { Arn: string; RoleArn?: string; Input?: string };
  createdAt: Date;
}

const UNIT_SECONDS: Record<string, number> = { minute: 60, hour: 3600, day: 86_400 };
const FIELD_MAX = [59, 23, 31, 12, 7, 2199];

/** AWS cron fields → croner's 7-field pattern (seconds first); `5/10` becomes `5-max/10` for croner. */
function cronPattern(fields: string): string {
  const parts = fields.trim().split(/\s+/);
  if (parts.length !== 6)
    throw new Error('cron() takes 6 fields: minutes hours day-of-month month day-of-week year');
  const converted = parts.map((p, i) => p.replace(/^(\d+)\/(\d+)$/, `$1-${FIELD_MAX[i]}/$2`));
  return `0 ${converted.join(' ')}`;
}

/**
 * The first time strictly after `after` at which `expression` fires, or undefined when it never fires
 * again (a past at()). Throws ValidationException for an expression Scheduler would refuse.
 */
export function nextFireTime(
  expression: string,
  after: Date,
  opts: { timezone?: string; createdAt?: Date } = {},
): Date | undefined {
  const invalid = (why: string) =>
    new AwsError('ValidationException', `Invalid Schedule Expression ${expression}. ${why}`);
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (rate) {
    const n = Number(rate[1]);
    const unit = UNIT_SECONDS[(rate[2] ?? '').replace(/s$/, '')] ?? 0;
    if (n < 1 || (n === 1) !== !(rate[2] ?? '').endsWith('s'))
      throw invalid('rate() takes a positive value and a matching unit.');
    const periodMs = n * unit * 1000;
    const start = (opts.createdAt ?? after).getTime();
    const k = Math.floor((after.getTime() - start) / periodMs) + 1;
    return new Date(start + Math.max(1, k) * periodMs);
  }
  const at = /^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$/.exec(expression);
  if (at) {
    // at() is wall time in the schedule's timezone (UTC by default).
    const local = croneAt(at[1] as string, opts.timezone);
    return local.getTime() > after.getTime() ? local : undefined;
  }
  const cron = /^cron\((.+)\)$/.exec(expression);
  if (cron) {
    let job: Cron;
    try {
      job = new Cron(cronPattern(cron[1] as string), {
        paused: true,
        alternativeWeekdays: true,
        timezone: opts.timezone ?? 'UTC',
      });
    } catch (err) {
      throw invalid(err instanceof Error ? err.message : String(err));
    }
    const next = job.nextRun(after);
    job.stop();
    return next ?? undefined;
  }
  throw invalid('Use rate(), cron() or at().');
}

/** The instant of wall time `isoLocal` (no zone) in `timezone`. */
function croneAt(isoLocal: string, timezone = 'UTC'): Date {
  const [date, time] = isoLocal.split('T') as [string, string];
  const [y, mo, d] = date.split('-');
  const [h, mi, s] = time.split(':');
  const job = new Cron(`${Number(s)} ${Number(mi)} ${Number(h)} ${Number(d)} ${Number(mo)} * ${Number(y)}`, {
    paused: true,
    timezone,
  });
  const next = job.nextRun(new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)) - 2 * 86_400_000));
  job.stop();
  if (!next) throw new AwsError('ValidationException', `Invalid Schedule Expression at(${isoLocal}).`);
  return next;
}

function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export interface SchedulerOptions {
  /** Fire schedules on the sandbox clock (default true). False: schedules are stored only. */
  runSchedules?: boolean;
}

export interface SchedulerService extends ServiceModule {
  /** Firings so far (schedule, target, ok), for tests and the CLI. */
  readonly firings: readonly { schedule: string; arn: string; ok: boolean; error?: string }[];
}

type Firing = { schedule: string; arn: string; ok: boolean; error?: string };

const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
/** A schedule's key: its ARN (account-region, group, name), so two accounts' schedules of one name are two. */
const keyOf = (scope: { region: string; accountId: string }, group: string, name: string) =>
  `arn:aws:scheduler:${scope.region}:${scope.accountId}:schedule/${group}/${name}`;

/** A CreateSchedule request as a Schedule (ValidationException for anything Scheduler would refuse). */
function scheduleFrom(input: Record<string, unknown>, ctx: RequestContext): Schedule {
  const name = nonEmpty(input.Name);
  const expression = nonEmpty(input.ScheduleExpression);
  const target = input.Target as Record<string, unknown> | undefined;
  const targetArn = nonEmpty(target?.Arn);
  if (!name || !expression || !targetArn)
    throw new AwsError('ValidationException', 'Name, ScheduleExpression and Target.Arn are required.');
  const group = nonEmpty(input.GroupName) ?? 'default';
  const timezone = nonEmpty(input.ScheduleExpressionTimezone);
  if (timezone && !isTimeZone(timezone))
    throw new AwsError('ValidationException', `Invalid ScheduleExpressionTimezone ${timezone}.`);
  const createdAt = ctx.sandbox.clock.now();
  nextFireTime(expression, createdAt, { ...(timezone ? { timezone } : {}), createdAt }); // validates
  const state = nonEmpty(input.State) ?? 'ENABLED';
  if (state !== 'ENABLED' && state !== 'DISABLED')
    throw new AwsError('ValidationException', `Invalid State ${state}.`);
  return {
    Name: name,
    GroupName: group,
    Arn: `arn:aws:scheduler:${ctx.region}:${ctx.accountId}:schedule/${group}/${name}`,
    ScheduleExpression: expression,
    ...(timezone ? { ScheduleExpressionTimezone: timezone } : {}),
    State: state,
    Target: {
      Arn: targetArn,
      ...(nonEmpty(target?.RoleArn) ? { RoleArn: nonEmpty(target?.RoleArn) } : {}),
      ...(nonEmpty(target?.Input) ? { Input: nonEmpty(target?.Input) } : {}),
    },
    createdAt,
  };
}

const SCHEDULER = 'scheduler.amazonaws.com';

/** What Scheduler names when it assumes a schedule's role: its account and its schedule group's ARN. */
function sourceOf(s: Schedule): Record<string, string> {
  const [, , , region = '', account = ''] = s.Arn.split(':');
  return {
    'aws:SourceAccount': account,
    'aws:SourceArn': `arn:aws:scheduler:${region}:${account}:schedule-group/${s.GroupName}`,
  };
}

/**
 * CreateSchedule passes the target's role to Scheduler (the caller's iam:PassRole) and refuses one Scheduler
 * cannot assume (missing, or its trust policy not admitting scheduler.amazonaws.com with the schedule's
 * account and group as aws:SourceAccount / aws:SourceArn) with AWS's ValidationException.
 */
async function requireScheduleRole(s: Schedule, ctx: RequestContext): Promise<void> {
  const role = s.Target.RoleArn;
  if (!isRoleArn(role)) return;
  const module = serviceModule(ctx.sandbox, 'scheduler');
  if (module) await passRole(ctx.sandbox, ctx.caller, module, role, 'scheduler', ctx.region);
  const why = await serviceAssumeRefusal(ctx.sandbox, role, SCHEDULER, sourceOf(s));
  if (!why) return;
  ctx.sandbox.log(`scheduler: CreateSchedule ${s.Name}: ${why}`);
  throw new AwsError(
    'ValidationException',
    'The execution role you provide must allow AWS EventBridge Scheduler to assume the role.',
  );
}

/** The schedules of one sandbox (every account-region's, by ARN) and their timers on the sandbox clock. */
class ScheduleStore {
  readonly schedules = new Map<string, Schedule>();
  readonly firings: Firing[] = [];
  private readonly timers = new Map<string, AbortController>();
  sandbox: SandboxContext | undefined;

  constructor(private readonly runSchedules: boolean) {}

  private async fire(ctx: SandboxContext, s: Schedule): Promise<void> {
    try {
      // Scheduler assumes the schedule's role (its trust may have changed since CreateSchedule), which must
      // be allowed to invoke a Lambda target (lambda:InvokeFunction).
      const role = s.Target.RoleArn;
      const refusal = role ? await serviceAssumeRefusal(ctx, role, SCHEDULER, sourceOf(s)) : undefined;
      if (refusal) throw new AwsError('AccessDeniedException', refusal);
      const lambda = serviceModule(ctx, 'lambda');
      if (role && lambda && s.Target.Arn.includes(':lambda:')) {
        const caller = rolePrincipal(role, `schedule-${s.Name}`.slice(0, 64));
        await authorize(ctx, caller, lambda, 'Invoke', { FunctionName: s.Target.Arn }, ctx.region);
      }
      await deliverToArn(ctx, s.Target.Arn, s.Target.Input ?? '{}');
      this.firings.push({ schedule: s.Name, arn: s.Target.Arn, ok: true });
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.firings.push({ schedule: s.Name, arn: s.Target.Arn, ok: false, error });
      ctx.log(`scheduler: schedule ${s.Name} → ${s.Target.Arn} failed: ${error}`);
    }
  }

  /** Sleeps until each next firing time and fires while the schedule is the stored one. */
  private async loop(ctx: SandboxContext, s: Schedule, signal: AbortSignal): Promise<void> {
    const k = s.Arn;
    for (;;) {
      const now = ctx.clock.now();
      const next = nextFireTime(s.ScheduleExpression, now, {
        createdAt: s.createdAt,
        ...(s.ScheduleExpressionTimezone ? { timezone: s.ScheduleExpressionTimezone } : {}),
      });
      if (!next) return;
      await ctx.clock.sleep(Math.max((next.getTime() - now.getTime()) / 1000, 0.001), signal);
      if (this.schedules.get(k) !== s) return;
      if (s.State === 'ENABLED') await this.fire(ctx, s);
    }
  }

  disarm(k: string): void {
    this.timers.get(k)?.abort();
    this.timers.delete(k);
  }

  arm(s: Schedule): void {
    const k = s.Arn;
    this.disarm(k);
    const home = this.sandbox;
    if (!this.runSchedules || !home) return;
    // A schedule fires in its own account-region (its ARN's), as its role there.
    const [, , , region = '', account = ''] = s.Arn.split(':');
    const ctx = home.scoped(account, region);
    if (ctx.clock.timeScale === 0) {
      ctx.log(`scheduler: time scale 0 (frozen clock): schedule ${s.Name} does not fire`);
      return;
    }
    const controller = new AbortController();
    this.timers.set(k, controller);
    this.loop(ctx, s, controller.signal).catch(() => undefined);
  }

  stopAll(): void {
    for (const c of this.timers.values()) c.abort();
    this.timers.clear();
  }

  async create(input: Record<string, unknown>, ctx: RequestContext): Promise<Record<string, unknown>> {
    const s = scheduleFrom(input, ctx);
    const k = s.Arn;
    await requireScheduleRole(s, ctx);
    if (this.schedules.has(k))
      throw new AwsError('ConflictException', `Schedule ${s.Name} already exists.`, 409);
    this.schedules.set(k, s);
    this.arm(s);
    return { ScheduleArn: s.Arn };
  }

  get(input: Record<string, unknown>, ctx: RequestContext): Record<string, unknown> {
    const name = nonEmpty(input.Name) ?? '';
    const s = this.schedules.get(keyOf(ctx, nonEmpty(input.GroupName) ?? 'default', name));
    if (!s) throw new AwsError('ResourceNotFoundException', `Schedule ${name} does not exist.`, 404);
    const { createdAt, ...view } = s;
    return { ...view, CreationDate: createdAt };
  }

  delete(input: Record<string, unknown>, ctx: RequestContext): Record<string, unknown> {
    const name = nonEmpty(input.Name) ?? '';
    const k = keyOf(ctx, nonEmpty(input.GroupName) ?? 'default', name);
    if (!this.schedules.delete(k))
      throw new AwsError('ResourceNotFoundException', `Schedule ${name} does not exist.`, 404);
    this.disarm(k);
    return {};
  }
}

export function schedulerService(options: SchedulerOptions = {}): SchedulerService {
  const store = new ScheduleStore(options.runSchedules !== false);
  return {
    serviceName: 'scheduler',
    signingName: 'scheduler',
    protocol: 'restJson1',
    operations: {
      CreateSchedule: (input, ctx) => store.create(input, ctx),
      GetSchedule: (input, ctx) => store.get(input, ctx),
      ListSchedules: (_input, ctx) => ({
        Schedules: [...store.schedules.values()]
          .filter((s) => s.Arn.startsWith(keyOf(ctx, '', '').slice(0, -1)))
          .map((s) => ({
            Name: s.Name,
            GroupName: s.GroupName,
            Arn: s.Arn,
            State: s.State,
            Target: { Arn: s.Target.Arn },
          })),
      }),
      DeleteSchedule: (input, ctx) => store.delete(input, ctx),
    },
    firings: store.firings,
    start(ctx) {
      store.sandbox = ctx;
      for (const s of store.schedules.values()) store.arm(s);
    },
    stop() {
      store.stopAll();
    },
  };
}
