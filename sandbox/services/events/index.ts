/**
 * EventBridge (awsJson1.1, AWSEvents): the default event bus with rules (event patterns), targets
 * (SQS queues, Lambda functions, Step Functions state machines, SNS topics — delivered through
 * sandbox/core/targets) and PutEvents. SandboxContext.putEvent publishes here too: that is how the emulated
 * services (Config, SSM, CloudFormation, Step Functions) emit their aws.* events, which PutEvents refuses
 * from callers as AWS does.
 */
import { randomUUID } from 'node:crypto';
import { deliverToArn, setEventBus } from '../../core/targets';
import type { BusEvent, RequestContext, SandboxContext, ServiceModule } from '../../core/types';
import { AwsError } from '../../core/types';
import type { JsonObject } from './pattern';
import { InvalidPatternError, matchesPattern, parsePattern } from './pattern';

interface Target {
  Id: string;
  Arn: string;
  RoleArn?: string;
  Input?: string;
  InputPath?: string;
  InputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: string };
  SqsParameters?: { MessageGroupId?: string };
  DeadLetterConfig?: { Arn?: string };
  RetryPolicy?: { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
}

interface Rule {
  Name: string;
  Arn: string;
  EventBusName: string;
  EventPattern?: string;
  pattern?: JsonObject;
  ScheduleExpression?: string;
  State: 'ENABLED' | 'DISABLED';
  Description?: string;
  RoleArn?: string;
  targets: Map<string, Target>;
}

const NAME_RE = /^[.\-_A-Za-z0-9]{1,64}$/;
const MAX_TARGETS_PER_RULE = 5;

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function requireString(input: Record<string, unknown>, key: string): string {
  const v = input[key];
  if (typeof v !== 'string' || v === '') {
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value at '${key.charAt(0).toLowerCase()}${key.slice(1)}' failed to satisfy constraint: Member must not be null`,
    );
  }
  return v;
}

function busName(input: Record<string, unknown>): string {
  const raw = str(input.EventBusName) ?? 'default';
  const name = raw.startsWith('arn:') ? (raw.split('/').pop() ?? raw) : raw;
  if (name !== 'default')
    throw new AwsError('ResourceNotFoundException', `Event bus ${name} does not exist.`);
  return name;
}

/** `$.detail.a.b` / `$.detail['x-y']` → value; only the dotted/bracket subset EventBridge paths use. */
export function readPath(obj: unknown, path: string): unknown {
  if (path === '$') return obj;
  if (!path.startsWith('$')) return undefined;
  const parts: string[] = [];
  const re = /\.([^.[\]]+)|\[['"]?([^'"\]]+)['"]?\]/g;
  for (let m = re.exec(path.slice(1)); m; m = re.exec(path.slice(1))) parts.push((m[1] ?? m[2]) as string);
  let cur: unknown = obj;
  for (const p of parts) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = Array.isArray(cur) ? cur[Number(p)] : (cur as Record<string, unknown>)[p];
  }
  return cur;
}

/**
 * InputTemplate rendering: a placeholder inside a JSON string literal inserts the raw (escaped) value; one
 * outside a string inserts the value as JSON (a string value becomes a quoted string), as EventBridge does.
 */
export function renderTemplate(
  template: string,
  lookup: (key: string) => { found: boolean; value: unknown },
): string {
  const isJson = /^\s*[[{"]/.test(template);
  let out = '';
  let inString = false;
  for (let i = 0; i < template.length; i++) {
    const c = template[i] as string;
    if (c === '\\' && inString) {
      out += c + (template[i + 1] ?? '');
      i++;
      continue;
    }
    if (c === '"') inString = !inString;
    if (c === '<') {
      const m = /^<([A-Za-z0-9_.-]+)>/.exec(template.slice(i));
      const key = m?.[1];
      const hit = key === undefined ? undefined : lookup(key);
      if (m && hit?.found) {
        const v = hit.value;
        if (!isJson) out += typeof v === 'string' ? v : JSON.stringify(v ?? null);
        else if (inString)
          out += (
            typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(JSON.stringify(v ?? null))
          ).slice(1, -1);
        else out += JSON.stringify(v ?? null);
        i += m[0].length - 1;
        continue;
      }
    }
    out += c;
  }
  return out;
}

/** The string a target receives for `event`: the event, Input, InputPath or InputTransformer. */
export function targetPayload(target: Target, event: BusEvent): string {
  if (target.Input !== undefined) return target.Input;
  if (target.InputPath) return JSON.stringify(readPath(event, target.InputPath) ?? null);
  const t = target.InputTransformer;
  if (t) {
    const values: Record<string, unknown> = {};
    for (const [k, p] of Object.entries(t.InputPathsMap ?? {})) values[k] = readPath(event, p);
    return renderTemplate(t.InputTemplate, (key) => {
      if (key === 'aws.events.event' || key === 'aws.events.event.json') return { found: true, value: event };
      if (Object.hasOwn(values, key)) return { found: true, value: values[key] };
      return { found: false, value: undefined };
    });
  }
  return JSON.stringify(event);
}

export interface EventsService extends ServiceModule {
  /** Resolves when every delivery started so far has finished (tests, demo). */
  idle(): Promise<void>;
  /** Events delivered so far, by rule name (for the CLI and tests). */
  readonly deliveries: readonly {
    rule: string;
    targetId: string;
    arn: string;
    ok: boolean;
    error?: string;
  }[];
  /** Fires a schedule rule now (a "Scheduled Event" to its targets), whether or not schedules run on their own. */
  fireSchedule(ruleName: string): Promise<void>;
}

export interface EventsOptions {
  /**
   * Run `rate(...)` schedule rules on the sandbox clock (default false: schedule rules are stored and can be
   * fired with fireSchedule). cron() expressions are never run on their own.
   */
  runSchedules?: boolean;
}

/** Emulated seconds of a `rate(N unit)` expression, or undefined for cron(). */
export function rateSeconds(expression: string): number | undefined {
  const m = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression);
  if (!m) return undefined;
  const unit = m[2]?.startsWith('minute') ? 60 : m[2]?.startsWith('hour') ? 3600 : 86_400;
  return Number(m[1]) * unit;
}

/** Parses an event pattern, answering a bad one with EventBridge's InvalidEventPatternException. */
function parsePatternOrThrow(text: string): JsonObject {
  try {
    return parsePattern(text);
  } catch (err) {
    if (err instanceof InvalidPatternError) {
      throw new AwsError(
        'InvalidEventPatternException',
        `Event pattern is not valid. Reason: ${err.message}`,
      );
    }
    throw err;
  }
}

export function eventsService(options: EventsOptions = {}): EventsService {
  const rules = new Map<string, Rule>();
  const pending = new Set<Promise<void>>();
  const deliveries: { rule: string; targetId: string; arn: string; ok: boolean; error?: string }[] = [];

  const getRule = (name: string, bus: string): Rule => {
    const rule = rules.get(name);
    if (!rule)
      throw new AwsError('ResourceNotFoundException', `Rule ${name} does not exist on EventBus ${bus}.`);
    return rule;
  };

  let sandboxCtx: SandboxContext | undefined;
  const scheduleTimers = new Map<string, AbortController>();

  const dispatch = (sandbox: SandboxContext, event: BusEvent, only?: Rule): void => {
    for (const rule of only ? [only] : rules.values()) {
      if (!only && (rule.State !== 'ENABLED' || !rule.pattern)) continue;
      if (!only && rule.pattern && !matchesPattern(rule.pattern, event)) continue;
      for (const target of rule.targets.values()) {
        const payload = targetPayload(target, event);
        const p = deliverToArn(sandbox, target.Arn, payload)
          .then(() => {
            deliveries.push({ rule: rule.Name, targetId: target.Id, arn: target.Arn, ok: true });
          })
          .catch((err: unknown) => {
            const message = err instanceof Error ? err.message : String(err);
            deliveries.push({
              rule: rule.Name,
              targetId: target.Id,
              arn: target.Arn,
              ok: false,
              error: message,
            });
            sandbox.log(
              `events: delivery of ${event['detail-type']} to ${target.Arn} (rule ${rule.Name}) failed: ${message}`,
            );
          })
          .finally(() => {
            pending.delete(p);
          });
        pending.add(p);
      }
    }
  };

  const scheduledEvent = (sandbox: SandboxContext, rule: Rule): BusEvent => ({
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: sandbox.accountId,
    time: sandbox.clock
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z'),
    region: sandbox.region,
    resources: [rule.Arn],
    detail: {},
  });

  /** (Re)starts the timer of a rate() rule when schedules run on their own. */
  const armSchedule = (rule: Rule): void => {
    scheduleTimers.get(rule.Name)?.abort();
    scheduleTimers.delete(rule.Name);
    const sandbox = sandboxCtx;
    const seconds = rule.ScheduleExpression ? rateSeconds(rule.ScheduleExpression) : undefined;
    if (!options.runSchedules || !sandbox || seconds === undefined) return;
    const controller = new AbortController();
    scheduleTimers.set(rule.Name, controller);
    const loop = async (): Promise<void> => {
      while (!controller.signal.aborted) {
        await sandbox.clock.sleep(Math.max(seconds, 0.001), controller.signal);
        const current = rules.get(rule.Name);
        if (current !== rule) return;
        if (rule.State === 'ENABLED') dispatch(sandbox, scheduledEvent(sandbox, rule), rule);
      }
    };
    loop().catch(() => undefined);
  };

  const ruleView = (r: Rule): Record<string, unknown> => ({
    Name: r.Name,
    Arn: r.Arn,
    EventPattern: r.EventPattern,
    ScheduleExpression: r.ScheduleExpression,
    State: r.State,
    Description: r.Description,
    RoleArn: r.RoleArn,
    EventBusName: r.EventBusName,
  });

  const putEvents = (input: Record<string, unknown>, ctx: RequestContext): Record<string, unknown> => {
    const entries = input.Entries;
    if (!Array.isArray(entries) || entries.length === 0) {
      throw new AwsError(
        'ValidationException',
        "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    }
    if (entries.length > 10) {
      throw new AwsError(
        'ValidationException',
        "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10",
      );
    }
    const results: Record<string, unknown>[] = [];
    let failed = 0;
    for (const raw of entries as Record<string, unknown>[]) {
      const source = str(raw.Source);
      const detailType = str(raw.DetailType);
      const detailText = str(raw.Detail);
      const fail = (code: string, message: string): void => {
        failed++;
        results.push({ ErrorCode: code, ErrorMessage: message });
      };
      if (!source) {
        fail('InvalidArgument', 'Parameter Source is not valid. Reason: Source is a required argument.');
        continue;
      }
      if (!detailType) {
        fail(
          'InvalidArgument',
          'Parameter DetailType is not valid. Reason: DetailType is a required argument.',
        );
        continue;
      }
      if (!detailText) {
        fail('InvalidArgument', 'Parameter Detail is not valid. Reason: Detail is a required argument.');
        continue;
      }
      if (source.startsWith('aws.')) {
        // AWS reserves aws.* for its services' own events: a caller's entry is refused (the others go on).
        // The sandbox's emulated services publish through SandboxContext.putEvent, not through this path.
        fail('NotAuthorizedForSourceException', 'Not authorized for the source.');
        continue;
      }
      let detail: unknown;
      try {
        detail = JSON.parse(detailText);
      } catch {
        fail('MalformedDetail', 'Detail is malformed.');
        continue;
      }
      if (!detail || typeof detail !== 'object' || Array.isArray(detail)) {
        fail('MalformedDetail', 'Detail is malformed.');
        continue;
      }
      const bus = str(raw.EventBusName) ?? 'default';
      const busShort = bus.startsWith('arn:') ? bus.split('/').pop() : bus;
      if (busShort !== 'default') {
        fail('InvalidArgument', `Event bus ${busShort} does not exist.`);
        continue;
      }
      const time =
        raw.Time === undefined
          ? ctx.sandbox.clock.now()
          : new Date(typeof raw.Time === 'number' ? raw.Time * 1000 : String(raw.Time));
      const event: BusEvent = {
        version: '0',
        id: randomUUID(),
        'detail-type': detailType,
        source,
        account: ctx.accountId,
        time: (Number.isNaN(time.getTime()) ? ctx.sandbox.clock.now() : time)
          .toISOString()
          .replace(/\.\d{3}Z$/, 'Z'),
        region: ctx.region,
        resources: Array.isArray(raw.Resources) ? raw.Resources.map(String) : [],
        detail: detail as Record<string, unknown>,
      };
      dispatch(ctx.sandbox, event);
      results.push({ EventId: event.id });
    }
    return { FailedEntryCount: failed, Entries: results };
  };

  const putRule = (input: Record<string, unknown>, ctx: RequestContext): Record<string, unknown> => {
    const name = requireString(input, 'Name');
    if (!NAME_RE.test(name)) {
      throw new AwsError(
        'ValidationException',
        `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+`,
      );
    }
    const bus = busName(input);
    const eventPattern = str(input.EventPattern);
    const schedule = str(input.ScheduleExpression);
    if (!eventPattern && !schedule) {
      throw new AwsError(
        'ValidationException',
        'Parameter(s) EventPattern or ScheduleExpression must be specified.',
      );
    }
    if (schedule && !/^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$/.test(schedule)) {
      throw new AwsError('ValidationException', 'Parameter ScheduleExpression is not valid.');
    }
    const pattern = eventPattern ? parsePatternOrThrow(eventPattern) : undefined;
    const state = str(input.State) ?? rules.get(name)?.State ?? 'ENABLED';
    if (state !== 'ENABLED' && state !== 'DISABLED') {
      throw new AwsError(
        'ValidationException',
        `Value '${state}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]`,
      );
    }
    const arn = `arn:aws:events:${ctx.region}:${ctx.accountId}:rule/${name}`;
    const existing = rules.get(name);
    const rule: Rule = {
      Name: name,
      Arn: arn,
      EventBusName: bus,
      EventPattern: eventPattern,
      pattern,
      ScheduleExpression: schedule,
      State: state,
      Description: str(input.Description),
      RoleArn: str(input.RoleArn),
      targets: existing?.targets ?? new Map(),
    };
    rules.set(name, rule);
    armSchedule(rule);
    return { RuleArn: arn };
  };

  const setState =
    (state: 'ENABLED' | 'DISABLED') =>
    (input: Record<string, unknown>): Record<string, unknown> => {
      const name = requireString(input, 'Name');
      getRule(name, busName(input)).State = state;
      return {};
    };

  const operations: ServiceModule['operations'] = {
    PutEvents: putEvents,
    PutRule: putRule,
    DescribeRule(input) {
      const name = requireString(input, 'Name');
      const bus = busName(input);
      return { ...ruleView(getRule(name, bus)), CreatedBy: undefined };
    },
    ListRules(input) {
      busName(input);
      const prefix = str(input.NamePrefix) ?? '';
      const limit = typeof input.Limit === 'number' ? input.Limit : 100;
      if (limit < 1 || limit > 100)
        throw new AwsError('ValidationException', 'Limit must be between 1 and 100.');
      const all = [...rules.values()]
        .filter((r) => r.Name.startsWith(prefix))
        .sort((a, b) => a.Name.localeCompare(b.Name));
      const start = input.NextToken
        ? Number(Buffer.from(String(input.NextToken), 'base64url').toString())
        : 0;
      if (!Number.isInteger(start) || start < 0)
        throw new AwsError('ValidationException', 'The NextToken is not valid.');
      const page = all.slice(start, start + limit);
      const next =
        start + limit < all.length ? Buffer.from(String(start + limit)).toString('base64url') : undefined;
      return { Rules: page.map(ruleView), NextToken: next };
    },
    DeleteRule(input) {
      const name = requireString(input, 'Name');
      busName(input);
      const rule = rules.get(name);
      if (!rule) return {};
      if (rule.targets.size > 0)
        throw new AwsError('ValidationException', "Rule can't be deleted since it has targets.");
      rules.delete(name);
      scheduleTimers.get(name)?.abort();
      scheduleTimers.delete(name);
      return {};
    },
    TestEventPattern(input) {
      const patternText = requireString(input, 'EventPattern');
      const eventText = requireString(input, 'Event');
      const pattern = parsePatternOrThrow(patternText);
      let event: unknown;
      try {
        event = JSON.parse(eventText);
      } catch {
        throw new AwsError('ValidationException', 'Parameter Event is not valid.');
      }
      const e = event as Record<string, unknown> | null;
      const required = ['id', 'account', 'source', 'time', 'region', 'detail-type'];
      if (!e || typeof e !== 'object' || required.some((k) => typeof e[k] !== 'string')) {
        throw new AwsError(
          'ValidationException',
          `Parameter Event is not valid. Reason: it must contain ${required.join(', ')}.`,
        );
      }
      return { Result: matchesPattern(pattern, event) };
    },
    EnableRule: setState('ENABLED'),
    DisableRule: setState('DISABLED'),
    PutTargets(input) {
      const name = requireString(input, 'Rule');
      const rule = getRule(name, busName(input));
      const targets = input.Targets;
      if (!Array.isArray(targets) || targets.length === 0 || targets.length > 10) {
        throw new AwsError(
          'ValidationException',
          "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 10",
        );
      }
      const failed: Record<string, unknown>[] = [];
      const newIds = (targets as Record<string, unknown>[])
        .map((t) => str(t.Id))
        .filter((id) => id && !rule.targets.has(id));
      if (rule.targets.size + new Set(newIds).size > MAX_TARGETS_PER_RULE) {
        throw new AwsError(
          'LimitExceededException',
          `The requested resource exceeds the maximum number allowed. A rule can have at most ${MAX_TARGETS_PER_RULE} targets.`,
        );
      }
      for (const t of targets as Record<string, unknown>[]) {
        const id = str(t.Id);
        const arn = str(t.Arn);
        if (!id || !NAME_RE.test(id)) {
          throw new AwsError(
            'ValidationException',
            `1 validation error detected: Value '${id ?? ''}' at 'targets.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+`,
          );
        }
        if (!arn?.startsWith('arn:')) {
          throw new AwsError(
            'ValidationException',
            `Parameter ${arn ?? '(none)'} is not valid. Reason: Provided Arn is not in correct format.`,
          );
        }
        const service = arn.split(':')[2];
        if (!['sqs', 'lambda', 'states', 'sns', 'events'].includes(service ?? '')) {
          failed.push({
            TargetId: id,
            ErrorCode: 'ValidationException',
            ErrorMessage: `Target ${arn} is not supported by the sandbox.`,
          });
          continue;
        }
        const sets = [t.Input, t.InputPath, t.InputTransformer].filter((x) => x !== undefined).length;
        if (sets > 1) {
          throw new AwsError(
            'ValidationException',
            'Only one of Input, InputPath, or InputTransformer must be provided.',
          );
        }
        if (typeof t.Input === 'string') {
          try {
            JSON.parse(t.Input);
          } catch {
            throw new AwsError('ValidationException', 'Input is not valid JSON.');
          }
        }
        rule.targets.set(id, t as unknown as Target);
      }
      return { FailedEntryCount: failed.length, FailedEntries: failed };
    },
    RemoveTargets(input) {
      const name = requireString(input, 'Rule');
      const rule = getRule(name, busName(input));
      const ids = input.Ids;
      if (!Array.isArray(ids) || ids.length === 0) {
        throw new AwsError(
          'ValidationException',
          "1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must have length greater than or equal to 1",
        );
      }
      for (const id of ids) rule.targets.delete(String(id));
      return { FailedEntryCount: 0, FailedEntries: [] };
    },
    ListTargetsByRule(input) {
      const name = requireString(input, 'Rule');
      const rule = getRule(name, busName(input));
      return { Targets: [...rule.targets.values()] };
    },
  };

  return {
    serviceName: 'events',
    signingName: 'events',
    protocol: 'awsJson1_1',
    targetPrefix: 'AWSEvents',
    operations,
    deliveries,
    start(ctx) {
      sandboxCtx = ctx;
      setEventBus(ctx, async (event) => {
        dispatch(ctx, event);
      });
      for (const rule of rules.values()) armSchedule(rule);
    },
    stop() {
      for (const c of scheduleTimers.values()) c.abort();
      scheduleTimers.clear();
    },
    async fireSchedule(ruleName) {
      const rule = rules.get(ruleName);
      if (!rule?.ScheduleExpression)
        throw new AwsError('ResourceNotFoundException', `Schedule rule ${ruleName} does not exist.`);
      if (!sandboxCtx) throw new Error('events: the sandbox is not started');
      dispatch(sandboxCtx, scheduledEvent(sandboxCtx, rule), rule);
      await this.idle();
    },
    async idle() {
      while (pending.size > 0) await Promise.allSettled([...pending]);
    },
  };
}
