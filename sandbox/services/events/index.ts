/**
 * EventBridge (awsJson1.1, AWSEvents): the default event bus with rules (event patterns), targets
 * (SQS queues, Lambda functions, Step Functions state machines, SNS topics — delivered through
 * sandbox/core/targets; a target's RoleArn as ./roles.ts checks it) and PutEvents. SandboxContext.putEvent publishes here too: that is how the emulated
 * services (Config, SSM, CloudFormation, Step Functions) emit their aws.* events, which PutEvents refuses
 * from callers as AWS does.
 */
import { randomUUID } from 'node:crypto';
import { authorizeService, currentCaller, rolePrincipal, runAs } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import { arnService, deliverToArn, registerTargetHandler, setEventBus } from '../../core/targets';
import type { BusEvent, RequestContext, SandboxContext, ServiceModule } from '../../core/types';
import { AwsError } from '../../core/types';
import { type BusPolicy, busAdmits, busArn, parseBusArn, putPermission, removePermission } from './buses';
import type { JsonObject } from './pattern';
import { InvalidPatternError, matchesPattern, parsePattern } from './pattern';
import { assumeTargetRole, checkTargetRole } from './roles';

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

type Input = Record<string, unknown>;
type Delivery = { rule: string; targetId: string; arn: string; ok: boolean; error?: string };

const validation = (message: string): AwsError => new AwsError('ValidationException', message);

/** EventBridge's timestamp form: ISO 8601 without milliseconds. */
const eventTime = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, 'Z');

function scheduledEvent(sandbox: SandboxContext, rule: Rule): BusEvent {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: sandbox.accountId,
    time: eventTime(sandbox.clock.now()),
    region: sandbox.region,
    resources: [rule.Arn],
    detail: {},
  };
}

function ruleView(r: Rule): Record<string, unknown> {
  return {
    Name: r.Name,
    Arn: r.Arn,
    EventPattern: r.EventPattern,
    ScheduleExpression: r.ScheduleExpression,
    State: r.State,
    Description: r.Description,
    RoleArn: r.RoleArn,
    EventBusName: r.EventBusName,
  };
}

function checkEntryCount(entries: unknown): asserts entries is Input[] {
  if (!Array.isArray(entries) || entries.length === 0) {
    throw validation(
      "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  }
  if (entries.length > 10) {
    throw validation(
      "1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length less than or equal to 10",
    );
  }
}

/** The first fault of a PutEvents entry's Source, DetailType and Detail, or its parsed detail. */
function entryDetail(raw: Input): { code: string; message: string } | { detail: Record<string, unknown> } {
  const required = (what: string) => ({
    code: 'InvalidArgument',
    message: `Parameter ${what} is not valid. Reason: ${what} is a required argument.`,
  });
  const source = str(raw.Source);
  if (!source) return required('Source');
  if (!str(raw.DetailType)) return required('DetailType');
  const detailText = str(raw.Detail);
  if (!detailText) return required('Detail');
  // AWS reserves aws.* for its services' own events: a caller's entry is refused (the others go on).
  // The sandbox's emulated services publish through SandboxContext.putEvent, not through this path.
  if (source.startsWith('aws.'))
    return { code: 'NotAuthorizedForSourceException', message: 'Not authorized for the source.' };
  let detail: unknown;
  try {
    detail = JSON.parse(detailText);
  } catch {
    return { code: 'MalformedDetail', message: 'Detail is malformed.' };
  }
  if (!detail || typeof detail !== 'object' || Array.isArray(detail))
    return { code: 'MalformedDetail', message: 'Detail is malformed.' };
  return { detail: detail as Record<string, unknown> };
}

/** A PutEvents entry as the event on the bus, or the entry's error. */
function entryEvent(
  raw: Input,
  ctx: RequestContext,
): { code: string; message: string } | { event: BusEvent } {
  const checked = entryDetail(raw);
  if (!('detail' in checked)) return checked;
  const bus = str(raw.EventBusName) ?? 'default';
  const busShort = bus.startsWith('arn:') ? bus.split('/').pop() : bus;
  if (busShort !== 'default')
    return { code: 'InvalidArgument', message: `Event bus ${busShort} does not exist.` };
  const time =
    raw.Time === undefined
      ? ctx.sandbox.clock.now()
      : new Date(typeof raw.Time === 'number' ? raw.Time * 1000 : String(raw.Time));
  const event: BusEvent = {
    version: '0',
    id: randomUUID(),
    'detail-type': str(raw.DetailType) ?? '',
    source: str(raw.Source) ?? '',
    account: ctx.accountId,
    time: eventTime(Number.isNaN(time.getTime()) ? ctx.sandbox.clock.now() : time),
    region: ctx.region,
    resources: Array.isArray(raw.Resources) ? raw.Resources.map(String) : [],
    detail: checked.detail,
  };
  return { event };
}

/** A PutRule request as a Rule (keeping an existing rule's targets and, by default, its state). */
function ruleFrom(input: Input, ctx: RequestContext, existing: Rule | undefined): Rule {
  const name = requireString(input, 'Name');
  if (!NAME_RE.test(name)) {
    throw validation(
      `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+`,
    );
  }
  const bus = busName(input);
  const eventPattern = str(input.EventPattern);
  const schedule = str(input.ScheduleExpression);
  if (!eventPattern && !schedule)
    throw validation('Parameter(s) EventPattern or ScheduleExpression must be specified.');
  if (schedule && !/^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$/.test(schedule)) {
    throw validation('Parameter ScheduleExpression is not valid.');
  }
  const pattern = eventPattern ? parsePatternOrThrow(eventPattern) : undefined;
  const state = str(input.State) ?? existing?.State ?? 'ENABLED';
  if (state !== 'ENABLED' && state !== 'DISABLED') {
    throw validation(
      `Value '${state}' at 'state' failed to satisfy constraint: Member must satisfy enum value set: [ENABLED, DISABLED]`,
    );
  }
  return {
    Name: name,
    Arn: `arn:aws:events:${ctx.region}:${ctx.accountId}:rule/${name}`,
    EventBusName: bus,
    EventPattern: eventPattern,
    pattern,
    ScheduleExpression: schedule,
    State: state,
    Description: str(input.Description),
    RoleArn: str(input.RoleArn),
    targets: existing?.targets ?? new Map(),
  };
}

function testEventPattern(input: Input): Record<string, unknown> {
  const pattern = parsePatternOrThrow(requireString(input, 'EventPattern'));
  let event: unknown;
  try {
    event = JSON.parse(requireString(input, 'Event'));
  } catch {
    throw validation('Parameter Event is not valid.');
  }
  const e = event as Record<string, unknown> | null;
  const required = ['id', 'account', 'source', 'time', 'region', 'detail-type'];
  if (!e || typeof e !== 'object' || required.some((k) => typeof e[k] !== 'string')) {
    throw validation(`Parameter Event is not valid. Reason: it must contain ${required.join(', ')}.`);
  }
  return { Result: matchesPattern(pattern, event) };
}

/** Checks one PutTargets entry; a target type the sandbox cannot deliver to is a failed entry, not an error. */
function targetFault(t: Input): Record<string, unknown> | undefined {
  const id = str(t.Id);
  const arn = str(t.Arn);
  if (!id || !NAME_RE.test(id)) {
    throw validation(
      `1 validation error detected: Value '${id ?? ''}' at 'targets.id' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\.\\-_A-Za-z0-9]+`,
    );
  }
  if (!arn?.startsWith('arn:')) {
    throw validation(
      `Parameter ${arn ?? '(none)'} is not valid. Reason: Provided Arn is not in correct format.`,
    );
  }
  const service = arn.split(':')[2];
  if (!['sqs', 'lambda', 'states', 'sns', 'events'].includes(service ?? '')) {
    return {
      TargetId: id,
      ErrorCode: 'ValidationException',
      ErrorMessage: `Target ${arn} is not supported by the sandbox.`,
    };
  }
  if ([t.Input, t.InputPath, t.InputTransformer].filter((x) => x !== undefined).length > 1) {
    throw validation('Only one of Input, InputPath, or InputTransformer must be provided.');
  }
  if (typeof t.Input === 'string') {
    try {
      JSON.parse(t.Input);
    } catch {
      throw validation('Input is not valid JSON.');
    }
  }
  return undefined;
}

async function putTargets(
  rule: Rule,
  targets: unknown,
  ctx: RequestContext,
): Promise<Record<string, unknown>> {
  if (!Array.isArray(targets) || targets.length === 0 || targets.length > 10) {
    throw validation(
      "1 validation error detected: Value at 'targets' failed to satisfy constraint: Member must have length between 1 and 10",
    );
  }
  const entries = targets as Input[];
  const newIds = entries.map((t) => str(t.Id)).filter((id) => id && !rule.targets.has(id));
  if (rule.targets.size + new Set(newIds).size > MAX_TARGETS_PER_RULE) {
    throw new AwsError(
      'LimitExceededException',
      `The requested resource exceeds the maximum number allowed. A rule can have at most ${MAX_TARGETS_PER_RULE} targets.`,
    );
  }
  const failed: Record<string, unknown>[] = [];
  const accepted: Target[] = [];
  for (const t of entries) {
    const fault = targetFault(t);
    if (fault) failed.push(fault);
    else accepted.push(t as unknown as Target);
  }
  // Every target's role is checked before any target is stored: a refused one changes nothing.
  const module = serviceModule(ctx.sandbox, 'events');
  for (const t of accepted) if (module) await checkTargetRole(ctx.sandbox, ctx.caller, module, t, ctx.region);
  for (const t of accepted) rule.targets.set(t.Id, t);
  return { FailedEntryCount: failed.length, FailedEntries: failed };
}

/** ListRules' page of rules by name prefix. */
function listRules(rules: Iterable<Rule>, input: Input): Record<string, unknown> {
  busName(input);
  const prefix = str(input.NamePrefix) ?? '';
  const limit = typeof input.Limit === 'number' ? input.Limit : 100;
  if (limit < 1 || limit > 100) throw validation('Limit must be between 1 and 100.');
  const all = [...rules]
    .filter((r) => r.Name.startsWith(prefix))
    .sort((a, b) => a.Name.localeCompare(b.Name));
  const start = input.NextToken ? Number(Buffer.from(String(input.NextToken), 'base64url').toString()) : 0;
  if (!Number.isInteger(start) || start < 0) throw validation('The NextToken is not valid.');
  const next =
    start + limit < all.length ? Buffer.from(String(start + limit)).toString('base64url') : undefined;
  return { Rules: all.slice(start, start + limit).map(ruleView), NextToken: next };
}

/** What EventBridge does to a target it reaches through the target's resource policy (not through a role). */
const DELIVERY_ACTIONS: Readonly<Record<string, string>> = {
  sqs: 'sqs:SendMessage',
  sns: 'sns:Publish',
  lambda: 'lambda:InvokeFunction',
};

/**
 * EventBridge delivers to a queue, topic or function as `events.amazonaws.com`: the target's resource policy must admit
 * it (aws:SourceArn the rule, aws:SourceAccount the rule's account), or the delivery fails — a failed
 * invocation, as AWS counts it — and the event is not delivered.
 */
async function admitted(sandbox: SandboxContext, rule: Rule, target: Target): Promise<void> {
  const action = DELIVERY_ACTIONS[arnService(target.Arn) ?? ''];
  if (!action) return;
  const context = { 'aws:SourceArn': rule.Arn, 'aws:SourceAccount': sandbox.accountId };
  await authorizeService(sandbox, 'events.amazonaws.com', action, target.Arn, sandbox.region, context);
}

/** The default bus of one account-region: its rules and policy, their schedule timers, the deliveries in flight. */
class EventBus {
  readonly rules = new Map<string, Rule>();
  readonly pending = new Set<Promise<void>>();
  private readonly scheduleTimers = new Map<string, AbortController>();
  policy: BusPolicy | undefined;

  constructor(
    private readonly runSchedules: boolean,
    readonly deliveries: Delivery[],
    readonly sandbox: SandboxContext,
  ) {}

  getRule(name: string, bus: string): Rule {
    const rule = this.rules.get(name);
    if (!rule)
      throw new AwsError('ResourceNotFoundException', `Rule ${name} does not exist on EventBus ${bus}.`);
    return rule;
  }

  private deliver(sandbox: SandboxContext, rule: Rule, target: Target, event: BusEvent): void {
    const record = { rule: rule.Name, targetId: target.Id, arn: target.Arn };
    const p = admitted(sandbox, rule, target)
      .then(() => assumeTargetRole(sandbox, rule.Arn, target.RoleArn, target.Arn))
      .then(() => {
        const payload = targetPayload(target, event);
        // A bus target's delivery carries its role session (the bus policy sees the sender as that role).
        const session = target.RoleArn && arnService(target.Arn) === 'events';
        const via = session ? rolePrincipal(String(target.RoleArn), rule.Name.padEnd(2, '_')) : undefined;
        return runAs(via, () => deliverToArn(sandbox, target.Arn, payload));
      })
      .then(() => {
        this.deliveries.push({ ...record, ok: true });
      })
      .catch((err: unknown) => {
        const message = err instanceof Error ? err.message : String(err);
        this.deliveries.push({ ...record, ok: false, error: message });
        sandbox.log(
          `events: delivery of ${event['detail-type']} to ${target.Arn} (rule ${rule.Name}) failed: ${message}`,
        );
      })
      .finally(() => {
        this.pending.delete(p);
      });
    this.pending.add(p);
  }

  /** To every target of every enabled rule whose pattern matches (or of `only`, unconditionally). */
  dispatch(sandbox: SandboxContext, event: BusEvent, only?: Rule): void {
    for (const rule of only ? [only] : this.rules.values()) {
      if (!only && (rule.State !== 'ENABLED' || !rule.pattern)) continue;
      if (!only && rule.pattern && !matchesPattern(rule.pattern, event)) continue;
      for (const target of rule.targets.values()) this.deliver(sandbox, rule, target, event);
    }
  }

  disarm(name: string): void {
    this.scheduleTimers.get(name)?.abort();
    this.scheduleTimers.delete(name);
  }

  /** (Re)starts the timer of a rate() rule when schedules run on their own. */
  armSchedule(rule: Rule): void {
    this.disarm(rule.Name);
    const sandbox = this.sandbox;
    const seconds = rule.ScheduleExpression ? rateSeconds(rule.ScheduleExpression) : undefined;
    if (!this.runSchedules || !sandbox || seconds === undefined) return;
    const controller = new AbortController();
    this.scheduleTimers.set(rule.Name, controller);
    const loop = async (): Promise<void> => {
      while (!controller.signal.aborted) {
        await sandbox.clock.sleep(Math.max(seconds, 0.001), controller.signal);
        if (this.rules.get(rule.Name) !== rule) return;
        if (rule.State === 'ENABLED') this.dispatch(sandbox, scheduledEvent(sandbox, rule), rule);
      }
    };
    loop().catch(() => undefined);
  }

  stopSchedules(): void {
    for (const c of this.scheduleTimers.values()) c.abort();
    this.scheduleTimers.clear();
  }

  putEvents(input: Input, ctx: RequestContext): Record<string, unknown> {
    const entries = input.Entries;
    checkEntryCount(entries);
    const results: Record<string, unknown>[] = [];
    let failed = 0;
    for (const raw of entries) {
      const r = entryEvent(raw, ctx);
      if ('event' in r) {
        this.dispatch(ctx.sandbox, r.event);
        results.push({ EventId: r.event.id });
      } else {
        failed++;
        results.push({ ErrorCode: r.code, ErrorMessage: r.message });
      }
    }
    return { FailedEntryCount: failed, Entries: results };
  }

  putRule(input: Input, ctx: RequestContext): Record<string, unknown> {
    const rule = ruleFrom(input, ctx, this.rules.get(requireString(input, 'Name')));
    this.rules.set(rule.Name, rule);
    this.armSchedule(rule);
    return { RuleArn: rule.Arn };
  }

  deleteRule(input: Input): Record<string, unknown> {
    const name = requireString(input, 'Name');
    busName(input);
    const rule = this.rules.get(name);
    if (!rule) return {};
    if (rule.targets.size > 0) throw validation("Rule can't be deleted since it has targets.");
    this.rules.delete(name);
    this.disarm(name);
    return {};
  }

  ruleOf(input: Input, key: 'Name' | 'Rule'): Rule {
    return this.getRule(requireString(input, key), busName(input));
  }
}

function removeTargets(rule: Rule, ids: unknown): Record<string, unknown> {
  if (!Array.isArray(ids) || ids.length === 0) {
    throw validation(
      "1 validation error detected: Value at 'ids' failed to satisfy constraint: Member must have length greater than or equal to 1",
    );
  }
  for (const id of ids) rule.targets.delete(String(id));
  return { FailedEntryCount: 0, FailedEntries: [] };
}

/** The buses of one sandbox, one per account-region (made on first use); deliveries are recorded together. */
class Buses {
  private readonly byScope = new Map<SandboxContext, EventBus>();
  readonly deliveries: Delivery[] = [];
  home: SandboxContext | undefined;

  constructor(private readonly runSchedules: boolean) {}

  of(sandbox: SandboxContext): EventBus {
    let bus = this.byScope.get(sandbox);
    if (!bus) {
      bus = new EventBus(this.runSchedules, this.deliveries, sandbox);
      this.byScope.set(sandbox, bus);
    }
    return bus;
  }

  all(): EventBus[] {
    return [...this.byScope.values()];
  }

  /** A rule's target that is another account's (or region's) bus: delivered only if its policy admits the sender. */
  async forward(arn: string, message: string, sender: SandboxContext): Promise<void> {
    const where = parseBusArn(arn);
    if (where?.name !== 'default')
      throw new AwsError('ResourceNotFoundException', `Event bus ${arn} does not exist.`);
    const target = this.of(sender.scoped(where.account, where.region));
    const viaRole = currentCaller()?.roleArn !== undefined;
    if (!(await busAdmits(target.sandbox, target.policy, sender.accountId, viaRole)))
      throw new AwsError(
        'AccessDeniedException',
        `The policy of event bus ${arn} does not allow account ${sender.accountId} to put events on it.`,
      );
    target.dispatch(target.sandbox, JSON.parse(message) as BusEvent);
  }
}

function policyOps(buses: Buses): Record<string, (input: Input, ctx: RequestContext) => unknown> {
  return {
    PutPermission: (input, ctx) => {
      busName(input);
      const bus = buses.of(ctx.sandbox);
      bus.policy = putPermission(ctx.sandbox, bus.policy, input);
      return {};
    },
    RemovePermission: (input, ctx) => {
      busName(input);
      const bus = buses.of(ctx.sandbox);
      bus.policy = removePermission(bus.policy, input);
      return {};
    },
    DescribeEventBus: (input, ctx) => {
      const name = busName({ EventBusName: input.Name });
      const policy = buses.of(ctx.sandbox).policy;
      return { Name: name, Arn: busArn(ctx.sandbox), Policy: policy ? JSON.stringify(policy) : undefined };
    },
  };
}

export function eventsService(options: EventsOptions = {}): EventsService {
  const buses = new Buses(options.runSchedules === true);
  const bus = (ctx: RequestContext) => buses.of(ctx.sandbox);
  const setState = (state: 'ENABLED' | 'DISABLED') => (input: Input, ctx: RequestContext) => {
    bus(ctx).ruleOf(input, 'Name').State = state;
    return {};
  };
  return {
    serviceName: 'events',
    signingName: 'events',
    protocol: 'awsJson1_1',
    targetPrefix: 'AWSEvents',
    operations: {
      PutEvents: (input, ctx) => bus(ctx).putEvents(input, ctx),
      PutRule: (input, ctx) => bus(ctx).putRule(input, ctx),
      DescribeRule: (input, ctx) => ({ ...ruleView(bus(ctx).ruleOf(input, 'Name')), CreatedBy: undefined }),
      ListRules: (input, ctx) => listRules(bus(ctx).rules.values(), input),
      DeleteRule: (input, ctx) => bus(ctx).deleteRule(input),
      TestEventPattern: testEventPattern,
      EnableRule: setState('ENABLED'),
      DisableRule: setState('DISABLED'),
      PutTargets: (input, ctx) => putTargets(bus(ctx).ruleOf(input, 'Rule'), input.Targets, ctx),
      RemoveTargets: (input, ctx) => removeTargets(bus(ctx).ruleOf(input, 'Rule'), input.Ids),
      ListTargetsByRule: (input, ctx) => ({ Targets: [...bus(ctx).ruleOf(input, 'Rule').targets.values()] }),
      ...policyOps(buses),
    },
    deliveries: buses.deliveries,
    start(ctx) {
      buses.home = ctx;
      // An emulated service's event goes to the bus of the account-region it names.
      setEventBus(ctx, async (event) => {
        const scope = ctx.scoped(event.account, event.region);
        buses.of(scope).dispatch(scope, event);
      });
      registerTargetHandler(ctx, 'events', (arn, message, sender) => buses.forward(arn, message, sender));
      for (const b of buses.all()) for (const rule of b.rules.values()) b.armSchedule(rule);
    },
    stop() {
      for (const b of buses.all()) b.stopSchedules();
    },
    async fireSchedule(ruleName) {
      if (!buses.home) throw new Error('events: the sandbox is not started');
      const home = buses.of(buses.home);
      const rule = home.rules.get(ruleName);
      if (!rule?.ScheduleExpression)
        throw new AwsError('ResourceNotFoundException', `Schedule rule ${ruleName} does not exist.`);
      home.dispatch(home.sandbox, scheduledEvent(home.sandbox, rule), rule);
      await this.idle();
    },
    async idle() {
      const pending = () => buses.all().flatMap((b) => [...b.pending]);
      while (pending().length > 0) await Promise.allSettled(pending());
    },
  };
}
