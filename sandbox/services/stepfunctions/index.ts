/**
 * Step Functions (awsJson1.0, target AWSStepFunctions): state machines run by aws-local-stepfunctions
 * — the synthesized definition as is — with every Lambda task invoking the real handler in-process
 * (SandboxContext.invokeFunction). Adds what the library lacks: AWS's execution-name idempotency,
 * task tokens (`$$.Task.Token` via the run context; SendTaskSuccess/Failure/Heartbeat resolve the
 * `.waitForTaskToken` task), GetExecutionHistory in AWS's event format, StopExecution, and the
 * sandbox time scale applied to Wait states and retry intervals.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import {
  ExecutionAbortedError,
  ExecutionError,
  ExecutionTimeoutError,
  StateMachine,
  type StateMachineDefinition,
} from 'aws-local-stepfunctions';
import { JSONPath } from 'jsonpath-plus';
import { isRoleArn, type Principal, rolePrincipal, runAs } from '../../core/authz';
import { registerTargetHandler } from '../../core/targets';
import { AwsError, type RequestContext, type SandboxContext, type ServiceModule } from '../../core/types';
import { type EventLog, HistoryRecorder, type TaskInfo } from './history';
import { assertValidName, executionArn, parseExecutionArn, stateMachineArn } from './names';
import { requireMachineRole } from './role';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Status = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED';

interface StateDef {
  Type: string;
  Resource?: string;
  ResultPath?: string | null;
  ResultSelector?: unknown;
  Seconds?: number;
  SecondsPath?: string;
  Timestamp?: string;
  TimestampPath?: string;
  TimeoutSeconds?: number;
  TimeoutSecondsPath?: string;
  Retry?: Array<{ IntervalSeconds?: number }>;
}

interface Machine {
  name: string;
  arn: string;
  definitionString: string;
  states: Record<string, StateDef>;
  roleArn: string;
  type: 'STANDARD' | 'EXPRESS';
  createdAt: Date;
  engine: StateMachine;
  loggingConfiguration?: unknown;
  tracingConfiguration?: unknown;
}

interface Execution {
  arn: string;
  name: string;
  machine: Machine;
  input: string;
  status: Status;
  startDate: Date;
  stopDate?: Date;
  output?: string;
  error?: string;
  cause?: string;
  history: HistoryRecorder;
  abort: () => void;
  /** Task results at their ResultPaths: what a Wait's SecondsPath reads (for the time scale). */
  shadow: Record<string, unknown>;
  /** Settles when the execution has closed and its history is complete. */
  closed: Promise<void>;
  /** Whether `closed` has settled. */
  ended?: boolean;
}

interface PendingToken {
  execution: Execution;
  stateName: string;
  settle: (outcome: { output: unknown } | { error: Error }) => void;
}

const MAX_INPUT_BYTES = 256 * 1024;

function taskToken(): string {
  // Real tokens are long opaque base64 strings; keep the look so nothing relies on a short one.
  return `AQ${randomBytes(180).toString('base64url')}`;
}

function parseJson(text: unknown, code: string, what: string): Json {
  if (typeof text !== 'string') throw new AwsError(code, `${what} must be a JSON string`);
  if (Buffer.byteLength(text) > MAX_INPUT_BYTES) throw new AwsError(code, `${what} exceeds 262144 bytes`);
  try {
    return JSON.parse(text) as Json;
  } catch (err) {
    throw new AwsError(code, `${what} is not valid JSON: ${(err as Error).message}`);
  }
}

function str(input: Record<string, unknown>, key: string, required = true): string {
  const v = input[key];
  if (typeof v === 'string' && v.length > 0) return v;
  if (required)
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value at '${key}' failed to satisfy constraint: Member must not be null`,
    );
  return '';
}

/**
 * `target` with `value` at a simple JSONPath (`$`, `$.a.b`); other paths leave it as it is. Copy-on-write:
 * the objects along the path are copied, never changed, because the history keeps references to them.
 */
function setAtPath(target: Record<string, unknown>, path: string, value: unknown): Record<string, unknown> {
  if (path === '$')
    return value && typeof value === 'object' ? { ...(value as Record<string, unknown>) } : target;
  const m = /^\$((\.[A-Za-z0-9_]+)+)$/.exec(path);
  if (!m?.[1]) return target;
  const set = (obj: Record<string, unknown>, parts: readonly string[]): Record<string, unknown> => {
    const [head, ...rest] = parts as [string, ...string[]];
    if (rest.length === 0) return { ...obj, [head]: value };
    const next = obj[head];
    const child = next && typeof next === 'object' ? (next as Record<string, unknown>) : {};
    return { ...obj, [head]: set(child, rest) };
  };
  return set(target, m[1].slice(1).split('.'));
}

/** An Error whose name is the Lambda errorType and whose message is Lambda's Cause JSON. */
function lambdaError(err: unknown): Error {
  const e = err instanceof Error ? err : new Error(String(err));
  const out = new Error(JSON.stringify({ errorType: e.name, errorMessage: e.message, trace: [] }));
  out.name = e.name;
  return out;
}

/** An execution as DescribeExecution describes it. */
export type ExecutionDescription = ReturnType<typeof describeExecution>;

/**
 * Told of every execution (those already there when it subscribes too) as it starts and once it has
 * closed: an in-process observer (the bench's) that costs the sandbox no API calls.
 */
export type ExecutionListener = (change: 'started' | 'closed', execution: ExecutionDescription) => void;

export interface StepFunctionsService extends ServiceModule {
  /** Resolves when the execution has closed (tests and the demo wait on it). */
  waitForExecution(arn: string): Promise<void>;
  /** Subscribes `listener` to executions starting and closing; the function returned unsubscribes. */
  watchExecutions(listener: ExecutionListener): () => void;
  /** Starts an execution as an EventBridge target does. */
  startExecutionFromTarget(stateMachineArn: string, input: string, sandbox: SandboxContext): Promise<string>;
  /** Stops every running execution (sandbox shutdown). */
  stopAll(): void;
}

type RunContext = {
  Execution: { Id: string; Name: string; RoleArn: string };
  StateMachine: { Id: string; Name: string };
  Task: { Token: string };
  State: { readonly EnteredTime: string };
};

function runContextFor(
  machine: Machine,
  arn: string,
  name: string,
  clock: SandboxContext['clock'],
): RunContext {
  return {
    Execution: { Id: arn, Name: name, RoleArn: machine.roleArn },
    StateMachine: { Id: machine.arn, Name: machine.name },
    Task: { Token: taskToken() },
    // The local engine does not maintain `$$.State`; states read EnteredTime while their input is
    // processed, i.e. on entering the state, so a getter gives the (emulated) entry time.
    State: {
      get EnteredTime() {
        return clock.now().toISOString();
      },
    },
  };
}

function historyFor(machine: Machine, clock: SandboxContext['clock']): HistoryRecorder {
  return new HistoryRecorder(
    (stateName): TaskInfo | undefined => {
      const s = machine.states[stateName];
      return s?.Type === 'Task' && s.Resource
        ? { resource: s.Resource, ...(s.TimeoutSeconds ? { timeoutSeconds: s.TimeoutSeconds } : {}) }
        : undefined;
    },
    machine.roleArn,
    () => clock.now(),
  );
}

/**
 * The value at a reference path (one value: undefined when none, an array when several). jsonpath-plus
 * hands a scalar result of `wrap: false` back by throwing an Error and catching it (a stack trace per
 * query), so the single match is unwrapped here.
 */
function pathValue(path: string, json: unknown): unknown {
  const found = JSONPath({ path, json: json as object, wrap: true }) as unknown[];
  return found.length > 1 ? found : found[0];
}

/**
 * A ResultSelector applied to a task's result, as the engine does before ResultPath: `key.$` fields take the
 * value at their path in the result, nested objects are selected alike, other values are literal. (The
 * shadow must follow a selector that replaces the state, e.g. Plan's `{ event, plan }`, or the paths read
 * from it later — TimeoutSecondsPath, SecondsPath — find nothing.)
 */
function selectResult(selector: unknown, result: unknown): unknown {
  if (!selector || typeof selector !== 'object' || Array.isArray(selector)) return selector;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(selector)) {
    if (key.endsWith('.$') && typeof value === 'string') out[key.slice(0, -2)] = pathValue(value, result);
    else out[key] = selectResult(value, result);
  }
  return out;
}

/** A Wait state's seconds, scaled by the sandbox clock (Timestamp waits: 1 emulated second). */
function scaledWaitMs(s: StateDef, execution: Execution, timeScale: number): number {
  let seconds = s.Seconds;
  if (seconds === undefined && s.SecondsPath) {
    const found = pathValue(s.SecondsPath, execution.shadow);
    seconds = typeof found === 'number' ? found : 1;
  }
  if (seconds === undefined && (s.Timestamp || s.TimestampPath)) seconds = 1;
  return Math.max(0, (seconds ?? 1) * 1000 * timeScale);
}

/** The engine's wait-time and retry-interval overrides: the sandbox time scale (none at scale 1). */
function timeOverrides(machine: Machine, execution: Execution, timeScale: number) {
  const scaled = timeScale !== 1;
  const waitTimeOverrides = new Proxy({} as Record<string, number>, {
    get: (_t, stateName) => {
      if (!scaled || typeof stateName !== 'string') return undefined;
      const s = machine.states[stateName];
      return s?.Type === 'Wait' ? scaledWaitMs(s, execution, timeScale) : undefined;
    },
  });
  const retryIntervalOverrides = new Proxy({} as Record<string, number>, {
    get: (_t, stateName) => {
      if (!scaled || typeof stateName !== 'string') return undefined;
      const s = machine.states[stateName];
      if (!s?.Retry) return undefined;
      return (s.Retry[0]?.IntervalSeconds ?? 1) * 1000 * timeScale;
    },
  });
  return { waitTimeOverrides, retryIntervalOverrides };
}

/** The execution's status, output or error once the engine's run settles (unless stopped before). */
function settleExecution(execution: Execution, result: Promise<unknown>): Promise<void> {
  return result.then(
    (output) => {
      if (execution.status !== 'RUNNING') return;
      execution.status = 'SUCCEEDED';
      execution.output = JSON.stringify(output);
    },
    (err: unknown) => {
      if (execution.status !== 'RUNNING') return;
      if (err instanceof ExecutionAbortedError) execution.status = 'ABORTED';
      else if (err instanceof ExecutionTimeoutError) {
        execution.status = 'TIMED_OUT';
        execution.error = 'States.Timeout';
      } else {
        const cause =
          err instanceof ExecutionError && err.cause instanceof Error ? err.cause : (err as Error);
        execution.status = 'FAILED';
        execution.error = cause.name;
        execution.cause = cause.message;
      }
    },
  );
}

/** Step Functions' "Execution Status Change" event for a closed execution. */
function statusChangeEvent(execution: Execution) {
  return {
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    resources: [execution.arn],
    detail: {
      executionArn: execution.arn,
      stateMachineArn: execution.machine.arn,
      name: execution.name,
      status: execution.status,
      startDate: execution.startDate.getTime(),
      stopDate: (execution.stopDate ?? execution.startDate).getTime(),
      input: execution.input,
      output: execution.output ?? null,
      inputDetails: { included: true },
      outputDetails: execution.output === undefined ? null : { included: true },
      error: execution.error ?? null,
      cause: execution.cause ?? null,
    },
  };
}

function describeExecution(e: Execution) {
  return {
    executionArn: e.arn,
    stateMachineArn: e.machine.arn,
    name: e.name,
    status: e.status,
    startDate: e.startDate,
    ...(e.stopDate ? { stopDate: e.stopDate } : {}),
    input: e.input,
    inputDetails: { included: true },
    ...(e.output !== undefined ? { output: e.output, outputDetails: { included: true } } : {}),
    ...(e.error !== undefined ? { error: e.error } : {}),
    ...(e.cause !== undefined ? { cause: e.cause } : {}),
  };
}

function describeMachine(m: Machine) {
  return {
    stateMachineArn: m.arn,
    name: m.name,
    status: 'ACTIVE',
    definition: m.definitionString,
    roleArn: m.roleArn,
    type: m.type,
    creationDate: m.createdAt,
    ...(m.loggingConfiguration ? { loggingConfiguration: m.loggingConfiguration } : {}),
    ...(m.tracingConfiguration ? { tracingConfiguration: m.tracingConfiguration } : {}),
  };
}

/** maxResults (1–1000, default 100) and the numeric nextToken of the list operations. */
function pageOf(input: Record<string, unknown>): { from: number; max: number } {
  const max =
    typeof input.maxResults === 'number' && input.maxResults > 0 ? Math.min(input.maxResults, 1000) : 100;
  const from = typeof input.nextToken === 'string' ? Number(input.nextToken) || 0 : 0;
  return { from, max };
}

/** A state machine from CreateStateMachine's input (InvalidDefinition when the engine refuses it). */
function machineFrom(
  input: Record<string, unknown>,
  arn: string,
  name: string,
  definitionString: string,
): Machine {
  const definition = parseJson(
    definitionString,
    'InvalidDefinition',
    'definition',
  ) as unknown as StateMachineDefinition;
  let engine: StateMachine;
  try {
    engine = new StateMachine(engineDefinition(definition), { validationOptions: { checkArn: false } });
  } catch (err) {
    throw new AwsError('InvalidDefinition', `Invalid State Machine Definition: '${(err as Error).message}'`);
  }
  return {
    name,
    arn,
    definitionString,
    states: (definition.States ?? {}) as unknown as Record<string, StateDef>,
    roleArn: str(input, 'roleArn', false),
    type: input.type === 'EXPRESS' ? 'EXPRESS' : 'STANDARD',
    createdAt: new Date(),
    engine,
    loggingConfiguration: input.loggingConfiguration,
    tracingConfiguration: input.tracingConfiguration,
  };
}

/**
 * The state machines and executions of one sandbox — every account-region's, by ARN (which names the
 * account and region, so two accounts' machines of one name are two) — and the task tokens executions
 * wait on.
 */
class StepFunctionsStore {
  readonly machines = new Map<string, Machine>();
  readonly executions = new Map<string, Execution>();
  private readonly tokens = new Map<string, PendingToken>();
  /** Tokens that existed but are closed, with why (so late callers get AWS's error, not InvalidToken). */
  private readonly closedTokens = new Map<string, 'done' | 'timedout'>();
  private readonly listeners = new Set<ExecutionListener>();

  /** Subscribes to executions starting and closing, after replaying those there are (the closed ones as closed). */
  watch(listener: ExecutionListener): () => void {
    for (const e of this.executions.values()) {
      listener('started', describeExecution(e));
      if (e.ended) listener('closed', describeExecution(e));
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private tell(change: 'started' | 'closed', e: Execution): void {
    for (const l of this.listeners) l(change, describeExecution(e));
  }

  machineByArn(arn: string): Machine {
    const m = this.machines.get(arn);
    if (!m) throw new AwsError('StateMachineDoesNotExist', `State Machine Does Not Exist: '${arn}'`);
    return m;
  }

  executionByArn(arn: string): Execution {
    const e = this.executions.get(arn);
    if (!e) {
      if (!parseExecutionArn(arn)) throw new AwsError('InvalidArn', `Invalid Arn: '${arn}'`);
      throw new AwsError('ExecutionDoesNotExist', `Execution Does Not Exist: '${arn}'`);
    }
    return e;
  }

  closeTokensOf(execution: Execution, why: 'done' | 'timedout', stateName?: string): void {
    for (const [token, p] of this.tokens) {
      if (p.execution !== execution || (stateName && p.stateName !== stateName)) continue;
      this.tokens.delete(token);
      this.closedTokens.set(token, why);
      p.settle({ error: Object.assign(new Error('task closed'), { name: 'States.TaskClosed' }) });
    }
  }

  /** Stops a running execution (StopExecution, sandbox shutdown): its open task tokens close with it. */
  abortExecution(e: Execution, why: { error?: string; cause?: string } = {}): void {
    if (e.status !== 'RUNNING') return;
    e.status = 'ABORTED';
    if (why.error !== undefined) e.error = why.error;
    if (why.cause !== undefined) e.cause = why.cause;
    e.stopDate = new Date();
    this.closeTokensOf(e, 'done');
    e.abort();
  }

  createMachine(input: Record<string, unknown>, ctx: RequestContext) {
    const name = str(input, 'name');
    assertValidName(name, 'state machine');
    const definitionString = str(input, 'definition');
    const arn = stateMachineArn(ctx.region, ctx.accountId, name);
    const existing = this.machines.get(arn);
    if (existing) {
      if (existing.definitionString === definitionString)
        return { stateMachineArn: arn, creationDate: existing.createdAt };
      throw new AwsError('StateMachineAlreadyExists', `State Machine Already Exists: '${arn}'`);
    }
    const m = machineFrom(input, arn, name, definitionString);
    this.machines.set(arn, m);
    return { stateMachineArn: arn, creationDate: m.createdAt };
  }

  /**
   * A `.waitForTaskToken` Lambda task: invokes the function with the token in its payload, then waits
   * for SendTaskSuccess/Failure — or the state's timeout, in real seconds (an approval's TTL is how long
   * a person has, and the review page tells the approver the same time).
   */
  private async waitForToken(
    execution: Execution,
    run: RunContext,
    sandbox: SandboxContext,
    stateName: string,
    state: StateDef,
    fn: string,
    payload: unknown,
  ) {
    const token = run.Task.Token;
    const waited = new Promise<unknown>((resolve, reject) => {
      this.tokens.set(token, {
        execution,
        stateName,
        settle: (o) => ('output' in o ? resolve(o.output) : reject(o.error)),
      });
    });
    // After a timeout the library has moved on; nobody awaits `waited` any more.
    waited.catch(() => {});
    // A later waitForTaskToken state gets a fresh token.
    run.Task.Token = taskToken();
    try {
      await sandbox.invokeFunction(fn, payload);
    } catch (err) {
      this.tokens.delete(token);
      this.closedTokens.set(token, 'done');
      throw lambdaError(err);
    }
    const timeoutSeconds = taskTimeoutSeconds(state, execution.shadow);
    // A deadline from the data (TimeoutSecondsPath: the approval's TTL) is emulated time, scaled like a Wait
    // state, so it ends when the tasks' clock says the request expired (tasks/shared/clock.ts); a fixed
    // TimeoutSeconds guards against a stuck task and stays real time.
    const scale = state.TimeoutSecondsPath ? sandbox.clock.timeScale : 1;
    return withTimeout(
      waited,
      timeoutSeconds === undefined ? undefined : timeoutSeconds * 1000 * scale,
      () => {
        this.tokens.delete(token);
        this.closedTokens.set(token, 'timedout');
      },
    );
  }

  /** One Task state: a Lambda ARN, or `lambda:invoke` (with or without waiting for a task token). */
  private async runTask(
    execution: Execution,
    run: RunContext,
    sandbox: SandboxContext,
    stateName: string,
    state: StateDef,
    effectiveInput: unknown,
  ) {
    const resource = state.Resource ?? '';
    let result: unknown;
    if (resource.startsWith('arn:aws:lambda:')) {
      result = await invokeWithin(sandbox, resource, effectiveInput, state.TimeoutSeconds);
    } else if (/^arn:aws[a-z-]*:states:::lambda:invoke(\.waitForTaskToken)?$/.test(resource)) {
      const params = (effectiveInput ?? {}) as { FunctionName?: string; Payload?: unknown };
      if (!params.FunctionName)
        throw Object.assign(new Error('FunctionName is required'), { name: 'States.Runtime' });
      if (resource.endsWith('.waitForTaskToken')) {
        result = await this.waitForToken(
          execution,
          run,
          sandbox,
          stateName,
          state,
          params.FunctionName,
          params.Payload,
        );
      } else {
        const payload = await invokeWithin(
          sandbox,
          params.FunctionName,
          params.Payload,
          state.TimeoutSeconds,
        );
        result = { ExecutedVersion: '$LATEST', Payload: payload, StatusCode: 200 };
      }
    } else {
      throw Object.assign(new Error(`The sandbox does not run Task resource ${resource}`), {
        name: 'States.Runtime',
      });
    }
    if (state.ResultPath !== null) {
      const placed = state.ResultSelector === undefined ? result : selectResult(state.ResultSelector, result);
      execution.shadow = setAtPath(execution.shadow, state.ResultPath ?? '$', placed);
    }
    return result;
  }

  /** Records the run's history and settles the execution; when both are done, closes it and says so. */
  private follow(execution: Execution, run: ReturnType<StateMachine['run']>, sandbox: SandboxContext): void {
    const consume = (async () => {
      for await (const e of run.eventLogs as AsyncGenerator<EventLog>) {
        execution.history.record(e);
        if (e.type === 'StateFailed' && e.Error === 'States.Timeout')
          this.closeTokensOf(execution, 'timedout', e.state.name);
      }
    })();
    execution.closed = Promise.all([consume, settleExecution(execution, run.result)]).then(() => {
      execution.stopDate ??= sandbox.clock.now();
      this.closeTokensOf(execution, 'done');
      execution.ended = true;
      this.tell('closed', execution);
      void sandbox.putEvent(statusChangeEvent(execution)).catch(() => {});
    });
  }

  start(machine: Machine, name: string, inputText: string, from: SandboxContext): Execution {
    const input = parseJson(inputText, 'InvalidExecutionInput', 'input');
    // An execution runs in its state machine's account-region (its ARN's), whoever started it.
    const [, , , region = '', account = ''] = machine.arn.split(':');
    const sandbox = from.scoped(account, region);
    const arn = executionArn(sandbox.region, sandbox.accountId, machine.name, name);
    const clock = sandbox.clock;
    const runContext = runContextFor(machine, arn, name, clock);
    const execution: Execution = {
      arn,
      name,
      machine,
      input: inputText,
      status: 'RUNNING',
      startDate: clock.now(),
      history: historyFor(machine, clock),
      abort: () => {},
      shadow: input && typeof input === 'object' && !Array.isArray(input) ? { ...input } : {},
      closed: Promise.resolve(),
    };
    const taskHandlers: Record<string, (i: Json) => Promise<Json>> = {};
    for (const [stateName, state] of Object.entries(machine.states)) {
      if (state.Type === 'Task')
        taskHandlers[stateName] = (i) =>
          // Task integrations are called as the state machine's role (lambda:InvokeFunction is checked).
          runAs(machineCaller(execution.machine.roleArn, execution.name), () =>
            this.runTask(execution, runContext, sandbox, stateName, state, i),
          ) as Promise<Json>;
    }
    const run = machine.engine.run(input, {
      overrides: {
        taskResourceLocalHandlers: taskHandlers,
        ...timeOverrides(machine, execution, clock.timeScale),
      },
      context: runContext,
      noThrowOnAbort: true,
    });
    execution.abort = run.abort;
    this.follow(execution, run, sandbox);
    this.executions.set(arn, execution);
    this.tell('started', execution);
    return execution;
  }

  startExecution(input: Record<string, unknown>, ctx: RequestContext) {
    const machine = this.machineByArn(str(input, 'stateMachineArn'));
    const name = typeof input.name === 'string' ? input.name : randomUUID();
    assertValidName(name);
    const inputText = typeof input.input === 'string' ? input.input : '{}';
    parseJson(inputText, 'InvalidExecutionInput', 'input');
    const [, , , region = '', account = ''] = machine.arn.split(':');
    const arn = executionArn(region, account, machine.name, name);
    const existing = this.executions.get(arn);
    if (existing) {
      // Standard workflows: same name + same input while RUNNING is idempotent; anything else is a conflict.
      if (machine.type === 'STANDARD' && existing.status === 'RUNNING' && existing.input === inputText) {
        return { executionArn: arn, startDate: existing.startDate };
      }
      throw new AwsError('ExecutionAlreadyExists', `Execution Already Exists: '${arn}'`);
    }
    const e = this.start(machine, name, inputText, ctx.sandbox);
    return { executionArn: e.arn, startDate: e.startDate };
  }

  /** The open task a token names; a token of another account's execution is not valid for the caller. */
  pending(tokenValue: unknown, caller: RequestContext): PendingToken {
    if (typeof tokenValue !== 'string' || tokenValue.length < 1 || tokenValue.length > 2048) {
      throw new AwsError('InvalidToken', 'Invalid Token');
    }
    const p = this.tokens.get(tokenValue);
    if (p && p.execution.arn.split(':')[4] !== caller.accountId)
      throw new AwsError('InvalidToken', 'Invalid Token');
    if (p) return p;
    const closed = this.closedTokens.get(tokenValue);
    if (closed === 'timedout') throw new AwsError('TaskTimedOut', 'Task Timed Out');
    if (closed === 'done') throw new AwsError('TaskDoesNotExist', 'Task Does Not Exist');
    throw new AwsError('InvalidToken', 'Invalid Token');
  }

  finishToken(token: string, p: PendingToken, outcome: { output: unknown } | { error: Error }): void {
    this.tokens.delete(token);
    this.closedTokens.set(token, 'done');
    p.settle(outcome);
  }

  stopAll(): void {
    for (const e of this.executions.values()) this.abortExecution(e);
  }
}

function listExecutions(store: StepFunctionsStore, input: Record<string, unknown>) {
  const m = store.machineByArn(str(input, 'stateMachineArn'));
  const filter = typeof input.statusFilter === 'string' ? input.statusFilter : undefined;
  const all = [...store.executions.values()]
    .filter((e) => e.machine === m && (!filter || e.status === filter))
    .sort((a, b) => b.startDate.getTime() - a.startDate.getTime());
  const { from, max } = pageOf(input);
  return {
    executions: all.slice(from, from + max).map((e) => ({
      executionArn: e.arn,
      stateMachineArn: m.arn,
      name: e.name,
      status: e.status,
      startDate: e.startDate,
      ...(e.stopDate ? { stopDate: e.stopDate } : {}),
    })),
    ...(from + max < all.length ? { nextToken: String(from + max) } : {}),
  };
}

function getExecutionHistory(store: StepFunctionsStore, input: Record<string, unknown>) {
  const e = store.executionByArn(str(input, 'executionArn'));
  const { from, max } = pageOf(input);
  const reverse = input.reverseOrder === true;
  const events = e.history.page(from, max, reverse, input.includeExecutionData !== false);
  return { events, ...(from + max < e.history.length ? { nextToken: String(from + max) } : {}) };
}

/** SendTaskSuccess/SendTaskFailure/SendTaskHeartbeat against the store's open tokens. */
function taskTokenOperations(store: StepFunctionsStore): ServiceModule['operations'] {
  return {
    SendTaskSuccess: (input, ctx) => {
      const p = store.pending(input.taskToken, ctx);
      const output = parseJson(input.output, 'InvalidOutput', 'output');
      store.finishToken(input.taskToken as string, p, { output });
      return {};
    },
    SendTaskFailure: (input, ctx) => {
      const p = store.pending(input.taskToken, ctx);
      const err = new Error(typeof input.cause === 'string' ? input.cause : '');
      err.name = typeof input.error === 'string' && input.error ? input.error : 'States.TaskFailed';
      store.finishToken(input.taskToken as string, p, { error: err });
      return {};
    },
    SendTaskHeartbeat: (input, ctx) => {
      store.pending(input.taskToken, ctx);
      return {};
    },
  };
}

/** Whether an ARN belongs to the caller's account-region. */
function inScope(arn: string, ctx: RequestContext): boolean {
  const [, , , region, account] = arn.split(':');
  return region === ctx.region && account === ctx.accountId;
}

function operationsOf(store: StepFunctionsStore): ServiceModule['operations'] {
  return {
    CreateStateMachine: async (input, ctx) => {
      await requireMachineRole(input, ctx);
      return store.createMachine(input, ctx);
    },
    DescribeStateMachine: (input) => describeMachine(store.machineByArn(str(input, 'stateMachineArn'))),
    // The caller's account-region's state machines.
    ListStateMachines: (_input, ctx) => ({
      stateMachines: [...store.machines.values()]
        .filter((m) => inScope(m.arn, ctx))
        .map((m) => ({
          stateMachineArn: m.arn,
          name: m.name,
          type: m.type,
          creationDate: m.createdAt,
        })),
    }),
    DeleteStateMachine: (input) => {
      store.machines.delete(store.machineByArn(str(input, 'stateMachineArn')).arn);
      return {};
    },
    StartExecution: (input, ctx) => store.startExecution(input, ctx),
    DescribeExecution: (input) => describeExecution(store.executionByArn(str(input, 'executionArn'))),
    ListExecutions: (input) => listExecutions(store, input),
    GetExecutionHistory: (input) => getExecutionHistory(store, input),
    StopExecution: (input) => {
      const e = store.executionByArn(str(input, 'executionArn'));
      store.abortExecution(e, {
        ...(typeof input.error === 'string' ? { error: input.error } : {}),
        ...(typeof input.cause === 'string' ? { cause: input.cause } : {}),
      });
      return { stopDate: e.stopDate ?? new Date() };
    },
    ...taskTokenOperations(store),
  };
}

export function stepFunctionsService(): StepFunctionsService {
  const store = new StepFunctionsStore();
  const stopAll = () => store.stopAll();
  return {
    serviceName: 'stepfunctions',
    signingName: 'states',
    protocol: 'awsJson1_0',
    targetPrefix: 'AWSStepFunctions',
    operations: operationsOf(store),
    // EventBridge / SNS deliveries to a state machine ARN start an execution, as AWS's targets do.
    start: (ctx) => {
      registerTargetHandler(ctx, 'states', async (arn, message, sandbox) => {
        store.start(store.machineByArn(arn), randomUUID(), message, sandbox);
      });
    },
    stop: stopAll,
    waitForExecution: async (arn) => {
      await store.executionByArn(arn).closed;
    },
    watchExecutions: (listener) => store.watch(listener),
    startExecutionFromTarget: async (arn, inputText, sandbox) =>
      store.start(store.machineByArn(arn), randomUUID(), inputText, sandbox).arn,
    stopAll,
  };
}

/** Largest TimeoutSeconds the local engine's timers take (Node timers overflow past 2^31-1 ms). */
const ENGINE_MAX_TIMEOUT_SECONDS = 2_147_483;

/** A Task that invokes a Lambda function and takes its answer (no task token). */
function isPlainLambdaTask(state: StateDef): boolean {
  const r = state.Resource ?? '';
  return r.startsWith('arn:aws:lambda:') || /^arn:aws[a-z-]*:states:::lambda:invoke$/.test(r);
}

/**
 * The definition as handed to the engine. aws-local-stepfunctions 3 evaluates TimeoutSecondsPath against
 * the Parameters output instead of the state input (AWS's semantics), so those paths are taken out here and
 * enforced by this emulator from the state input. A plain Lambda task's TimeoutSeconds is enforced here
 * too, from when its function starts running (invokeWithin); nothing else changes.
 */
function engineDefinition(definition: StateMachineDefinition): StateMachineDefinition {
  const copy = JSON.parse(JSON.stringify(definition)) as { States: Record<string, StateDef> };
  for (const state of Object.values(copy.States ?? {})) {
    if (state.Type === 'Task' && state.TimeoutSecondsPath) {
      delete state.TimeoutSecondsPath;
      state.TimeoutSeconds = ENGINE_MAX_TIMEOUT_SECONDS;
    }
    if (state.Type === 'Task' && state.TimeoutSeconds && isPlainLambdaTask(state))
      state.TimeoutSeconds = ENGINE_MAX_TIMEOUT_SECONDS;
  }
  return copy as unknown as StateMachineDefinition;
}

/**
 * Invokes a function for a plain Lambda task. Its TimeoutSeconds is real time from when the handler starts
 * running: the time it waited for one of the sandbox's few runners (sandbox/core/functions.ts) is the
 * sandbox sharing one CPU, not the task's work, and in AWS it would not exist.
 */
async function invokeWithin(
  sandbox: SandboxContext,
  fn: string,
  payload: unknown,
  timeoutSeconds: number | undefined,
): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  let expire: (err: Error) => void = () => {};
  const expired = new Promise<never>((_, reject) => {
    expire = reject;
  });
  const onStart = () => {
    if (timeoutSeconds)
      timer = setTimeout(
        () => expire(Object.assign(new Error('Task timed out'), { name: 'States.Timeout' })),
        timeoutSeconds * 1000,
      );
  };
  const run = sandbox.invokeFunction(fn, payload, { onStart }).catch((err: unknown) => {
    throw lambdaError(err);
  });
  try {
    return await Promise.race([run, expired]);
  } finally {
    clearTimeout(timer);
  }
}

/** A task's timeout: TimeoutSecondsPath read from the state input (as tracked), else TimeoutSeconds. */
function taskTimeoutSeconds(state: StateDef, stateInput: Record<string, unknown>): number | undefined {
  if (state.TimeoutSecondsPath) {
    const v = pathValue(state.TimeoutSecondsPath, stateInput);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw Object.assign(
        new Error(`TimeoutSecondsPath ${state.TimeoutSecondsPath} does not point to a positive integer`),
        {
          name: 'States.Runtime',
        },
      );
    }
    return v;
  }
  return undefined;
}

/** Races `p` against a timer; on expiry runs `onTimeout` and rejects with States.Timeout. */
async function withTimeout<T>(p: Promise<T>, ms: number | undefined, onTimeout: () => void): Promise<T> {
  if (ms === undefined) return p;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onTimeout();
      reject(Object.assign(new Error('Task timed out'), { name: 'States.Timeout' }));
    }, ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The state machine role's session for an execution (none when the role is not a role ARN). */
function machineCaller(roleArn: string, executionName: string): Principal | undefined {
  return isRoleArn(roleArn) ? rolePrincipal(roleArn, executionName) : undefined;
}
