/**
 * The Automation engine: runs an Automation document's mainSteps asynchronously against the sandbox
 * (every AWS call goes through SandboxContext.call with SDK-shaped input), on the sandbox clock.
 *
 * Actions: aws:executeAwsApi, aws:assertAwsResourceProperty, aws:waitForAwsResourceProperty,
 * aws:branch, aws:sleep, aws:pause, aws:loop. Step properties: onFailure (Abort, Continue, step:Name),
 * maxAttempts, timeoutSeconds, isEnd, nextStep, isCritical (default true, false when onFailure is
 * Continue). Any other action fails the execution with a message naming it.
 */
import { randomUUID } from 'node:crypto';
import { AwsError, type SandboxContext } from '../../core/types';
import { type AutomationDocument, loopSteps, type StepDef } from './document';
import {
  assertionValues,
  convertOutput,
  evaluateCondition,
  interpolate,
  isRecord,
  type Json,
  type OutputType,
  parseDuration,
  type Resolver,
  StepFailure,
  select,
  stringify,
  toJson,
} from './values';

export type ExecutionStatus =
  | 'Pending'
  | 'InProgress'
  | 'Waiting'
  | 'Success'
  | 'TimedOut'
  | 'Cancelling'
  | 'Cancelled'
  | 'Failed';
export type StepStatus =
  | 'Pending'
  | 'InProgress'
  | 'Waiting'
  | 'Success'
  | 'TimedOut'
  | 'Cancelled'
  | 'Failed';

export const TERMINAL: ReadonlySet<ExecutionStatus> = new Set(['Success', 'TimedOut', 'Cancelled', 'Failed']);

export const SUPPORTED_ACTIONS = [
  'aws:executeAwsApi',
  'aws:assertAwsResourceProperty',
  'aws:waitForAwsResourceProperty',
  'aws:branch',
  'aws:sleep',
  'aws:pause',
  'aws:loop',
] as const;

/** Emulated seconds between polls of aws:waitForAwsResourceProperty. */
export const WAIT_POLL_SECONDS = 5;
/** Default timeout of aws:waitForAwsResourceProperty when the step sets none (aws:pause waits until signalled or stopped). */
export const DEFAULT_WAIT_TIMEOUT_SECONDS = 3600;

export interface StepRecord {
  StepName: string;
  Action: string;
  StepExecutionId: string;
  StepStatus: StepStatus;
  ExecutionStartTime?: Date;
  ExecutionEndTime?: Date;
  Inputs?: Record<string, string>;
  Outputs?: Record<string, string[]>;
  FailureMessage?: string;
  FailureDetails?: { FailureStage: string; FailureType: string; Details?: Record<string, string[]> };
  OnFailure: string;
  MaxAttempts: number;
  TimeoutSeconds?: number;
  IsEnd: boolean;
  NextStep?: string;
  IsCritical: boolean;
  ParentStepDetails?: {
    StepExecutionId: string;
    StepName: string;
    Action: string;
    Iteration: number;
    IteratorValue?: string;
  };
}

export interface Execution {
  id: string;
  documentName: string;
  documentVersion: string;
  doc: AutomationDocument;
  parameters: Record<string, Json>;
  /** As given to StartAutomationExecution (defaults filled in), for GetAutomationExecution.Parameters. */
  parameterStrings: Record<string, string[]>;
  status: ExecutionStatus;
  createdTime: Date;
  startTime?: Date;
  endTime?: Date;
  steps: StepRecord[];
  outputs: Record<string, string[]>;
  failureMessage?: string;
  currentStepName?: string;
  currentAction?: string;
  executedBy: string;
  abort: AbortController;
  /** Set while an aws:pause step waits: resolves with the signal that ended it. */
  pauseWaiter?: (signal: 'Resume' | 'Reject') => void;
  /** Settles when the execution has ended. */
  done: Promise<void>;
  markDone: () => void;
}

class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

function outputStrings(value: Json): string[] {
  if (Array.isArray(value)) return value.map(stringify);
  return [stringify(value)];
}

interface RunState {
  exec: Execution;
  sandbox: SandboxContext;
  /** Step outputs by step name. */
  outputs: Map<string, Record<string, Json>>;
  onProgress: () => void;
}

function resolverFor(state: RunState): Resolver {
  const { exec, sandbox } = state;
  return (name) => {
    if (name === 'automation:EXECUTION_ID') return exec.id;
    if (name === 'global:ACCOUNT_ID') return sandbox.accountId;
    if (name === 'global:REGION') return sandbox.region;
    if (name === 'global:AWS_PARTITION') return 'aws';
    if (name === 'global:DATE') return sandbox.clock.now().toISOString().slice(0, 10);
    if (name === 'global:DATE_TIME') {
      const iso = sandbox.clock.now().toISOString();
      return `${iso.slice(0, 10)}_${iso.slice(11, 19).replaceAll(':', '.')}`;
    }
    const dot = name.indexOf('.');
    if (dot > 0) return state.outputs.get(name.slice(0, dot))?.[name.slice(dot + 1)];
    return exec.parameters[name];
  };
}

function awsErrorMessage(err: unknown, api: string): string {
  if (err instanceof AwsError)
    return `An error occurred (${err.code}) when calling the ${api} operation: ${err.message}`;
  const e = err instanceof Error ? err : new Error(String(err));
  return `An error occurred (${e.name}) when calling the ${api} operation: ${e.message}`;
}

/** Error codes boto3 (which real SSM uses for aws:executeAwsApi) retries as throttling. */
const THROTTLING = new Set([
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'RequestThrottledException',
  'TooManyRequestsException',
  'ProvisionedThroughputExceededException',
  'TransactionInProgressException',
  'RequestLimitExceeded',
  'BandwidthLimitExceeded',
  'LimitExceededException',
  'RequestThrottled',
  'SlowDown',
  'PriorRequestNotComplete',
  'EC2ThrottledException',
]);
/** Attempts per API call (boto3's legacy retry mode: 1 + 4 retries) for throttling and 5xx errors. */
export const API_CALL_ATTEMPTS = 5;

function isRetryable(err: unknown): boolean {
  if (err instanceof AwsError) return THROTTLING.has(err.code) || err.statusCode >= 500;
  return err instanceof Error && THROTTLING.has(err.name);
}

async function callApi(
  state: RunState,
  inputs: Json,
  signal: AbortSignal,
): Promise<{ response: Json; api: string; service: string }> {
  if (!isRecord(inputs)) throw new StepFailure('Step inputs must be a map');
  const { Service, Api, PropertySelector: _p, DesiredValues: _d, ...rest } = inputs;
  if (typeof Service !== 'string' || typeof Api !== 'string')
    throw new StepFailure('Inputs Service and Api are required');
  for (let attempt = 1; ; attempt++) {
    try {
      const response = await state.sandbox.call(Service.toLowerCase(), Api, rest as Record<string, unknown>);
      return { response: toJson(response), api: Api, service: Service };
    } catch (err) {
      if (attempt >= API_CALL_ATTEMPTS || !isRetryable(err)) {
        throw new StepFailure(awsErrorMessage(err, Api), 'Invocation');
      }
      // Exponential backoff with jitter on the sandbox clock: about 0.1, 0.2, 0.4, 0.8 s.
      await sleepFor(state, 0.05 * 2 ** attempt * (0.5 + Math.random() / 2), signal);
    }
  }
}

function checkAssertion(response: Json, inputs: Json): { ok: boolean; message: string } {
  if (!isRecord(inputs)) throw new StepFailure('Step inputs must be a map');
  const { PropertySelector, DesiredValues } = inputs;
  if (typeof PropertySelector !== 'string') throw new StepFailure('Input PropertySelector is required');
  if (!Array.isArray(DesiredValues) || DesiredValues.length === 0)
    throw new StepFailure('Input DesiredValues (a list) is required');
  const desired = DesiredValues.map(stringify);
  const actual = assertionValues(select(response, PropertySelector));
  const ok = actual.length > 0 && actual.every((v) => desired.includes(v));
  const shown = actual.length ? JSON.stringify(actual) : 'nothing';
  return {
    ok,
    message: `Property ${PropertySelector} is ${shown}; expected one of ${JSON.stringify(desired)}`,
  };
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new Cancelled();
}

async function sleepFor(state: RunState, seconds: number, signal: AbortSignal): Promise<void> {
  try {
    await state.sandbox.clock.sleep(seconds, signal);
  } catch {
    throwIfAborted(signal);
    throw new StepFailure('sleep interrupted');
  }
}

interface ActionResult {
  outputs?: Record<string, Json>;
  next?: string;
}

async function runAction(
  state: RunState,
  step: StepDef,
  record: StepRecord,
  signal: AbortSignal,
): Promise<ActionResult> {
  const resolve = resolverFor(state);
  // aws:branch and aws:loop interpolate their parts themselves (conditions, nested steps).
  const inputs: Json =
    step.action === 'aws:branch' || step.action === 'aws:loop'
      ? toJson(step.inputs ?? {})
      : interpolate(toJson(step.inputs ?? {}), resolve);
  if (isRecord(inputs) && step.action !== 'aws:loop') {
    record.Inputs = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, JSON.stringify(v)]));
  }
  switch (step.action) {
    case 'aws:executeAwsApi': {
      const { response } = await callApi(state, inputs, signal);
      const outputs: Record<string, Json> = {};
      for (const o of step.outputs ?? []) {
        const value = convertOutput(
          select(response, o.Selector),
          (o.Type ?? 'String') as OutputType,
          `Output ${o.Name}`,
        );
        if (value !== undefined) outputs[o.Name] = value;
      }
      return { outputs };
    }
    case 'aws:assertAwsResourceProperty': {
      const { response } = await callApi(state, inputs, signal);
      const r = checkAssertion(response, inputs);
      if (!r.ok) throw new StepFailure(`Assertion failed: ${r.message}`, 'Verification');
      return {};
    }
    case 'aws:waitForAwsResourceProperty': {
      for (;;) {
        throwIfAborted(signal);
        const { response } = await callApi(state, inputs, signal);
        if (checkAssertion(response, inputs).ok) return {};
        await sleepFor(state, WAIT_POLL_SECONDS, signal);
      }
    }
    case 'aws:branch': {
      const choices = isRecord(inputs) && Array.isArray(inputs.Choices) ? inputs.Choices : [];
      for (const choice of choices) {
        if (!isRecord(choice) || typeof choice.NextStep !== 'string') continue;
        const { NextStep, ...cond } = choice;
        if (evaluateCondition(cond, resolve)) return { next: NextStep };
      }
      if (isRecord(inputs) && typeof inputs.Default === 'string') return { next: inputs.Default };
      throw new StepFailure('No branch choice matched and the step has no Default');
    }
    case 'aws:sleep': {
      if (!isRecord(inputs)) throw new StepFailure('aws:sleep needs Duration or Timestamp');
      let seconds: number;
      if (typeof inputs.Duration === 'string') seconds = parseDuration(inputs.Duration);
      else if (typeof inputs.Timestamp === 'string') {
        const at = Date.parse(inputs.Timestamp);
        if (Number.isNaN(at)) throw new StepFailure(`Invalid Timestamp ${inputs.Timestamp}`);
        seconds = Math.max(0, (at - state.sandbox.clock.now().getTime()) / 1000);
      } else throw new StepFailure('aws:sleep needs Duration or Timestamp');
      await sleepFor(state, seconds, signal);
      return {};
    }
    case 'aws:pause': {
      const { exec } = state;
      const signalled = new Promise<'Resume' | 'Reject'>((res) => {
        exec.pauseWaiter = res;
      });
      record.StepStatus = 'Waiting';
      exec.status = 'Waiting';
      state.onProgress();
      const aborted = new Promise<never>((_res, rej) => {
        if (signal.aborted) rej(new Cancelled());
        signal.addEventListener('abort', () => rej(new Cancelled()), { once: true });
      });
      aborted.catch(() => {});
      try {
        const s = await Promise.race([signalled, aborted]);
        if (s === 'Reject') throw new StepFailure('The automation was rejected while paused');
        return {};
      } finally {
        delete exec.pauseWaiter;
        if (exec.status === 'Waiting') exec.status = 'InProgress';
        record.StepStatus = 'InProgress';
      }
    }
    case 'aws:loop':
      return runLoop(state, step, record, signal);
    default:
      throw new StepFailure(
        `Action ${step.action} is not supported by the sandbox Automation engine (supported: ${SUPPORTED_ACTIONS.join(', ')})`,
      );
  }
}

async function runLoop(
  state: RunState,
  step: StepDef,
  record: StepRecord,
  signal: AbortSignal,
): Promise<ActionResult> {
  const resolve = resolverFor(state);
  const raw = step.inputs ?? {};
  const nested = loopSteps(step);
  const max = typeof raw.MaxIterations === 'number' ? Math.min(raw.MaxIterations, 100) : 100;
  let iterators: Json[] | undefined;
  if (raw.Iterators !== undefined) {
    const v = interpolate(toJson(raw.Iterators), resolve);
    if (!Array.isArray(v)) throw new StepFailure('aws:loop Iterators must be a list');
    if (v.length > 100) throw new StepFailure('aws:loop allows at most 100 iterators');
    iterators = v;
  } else if (raw.LoopCondition === undefined) {
    throw new StepFailure('aws:loop needs Iterators or LoopCondition');
  }
  record.Inputs = Object.fromEntries(
    Object.entries(raw)
      .filter(([k]) => k !== 'Steps')
      .map(([k, v]) => [k, JSON.stringify(k === 'Iterators' && iterators ? iterators : toJson(v))]),
  );
  let iteration = 0;
  for (;;) {
    if (iterators && iteration >= iterators.length) break;
    if (iteration >= max) break;
    throwIfAborted(signal);
    const current: Record<string, Json> = { CurrentIteration: iteration + 1 };
    if (iterators) current.CurrentIteratorValue = iterators[iteration] ?? null;
    state.outputs.set(step.name, current);
    const parent = {
      StepExecutionId: record.StepExecutionId,
      StepName: step.name,
      Action: step.action,
      Iteration: iteration,
      ...(iterators ? { IteratorValue: stringify(iterators[iteration] ?? null) } : {}),
    };
    const r = await runSequence(state, nested, signal, parent);
    if (r.failure)
      throw new StepFailure(
        `Loop iteration ${iteration + 1} failed: ${r.failure.message}`,
        'Unknown',
        r.failure.status,
      );
    iteration++;
    if (!iterators && !evaluateCondition(raw.LoopCondition, resolve)) break;
  }
  return {
    outputs: {
      CurrentIteration: iteration,
      ...(iterators ? { CurrentIteratorValue: iterators.at(-1) ?? null } : {}),
    },
  };
}

async function runWithTimeout(
  state: RunState,
  step: StepDef,
  record: StepRecord,
  parentSignal: AbortSignal,
): Promise<ActionResult> {
  const defaultTimeout =
    step.action === 'aws:waitForAwsResourceProperty' || step.action === 'aws:pause'
      ? DEFAULT_WAIT_TIMEOUT_SECONDS
      : undefined;
  const timeout = step.timeoutSeconds ?? defaultTimeout;
  const stepAbort = new AbortController();
  const onParentAbort = (): void => stepAbort.abort();
  parentSignal.addEventListener('abort', onParentAbort, { once: true });
  const timerAbort = new AbortController();
  try {
    const action = runAction(state, step, record, stepAbort.signal);
    if (timeout === undefined) return await action;
    const timer = state.sandbox.clock.sleep(timeout, timerAbort.signal).then(
      () => {
        stepAbort.abort();
        throw new StepFailure(`Step timed out after ${timeout} seconds`, 'Unknown', 'TimedOut');
      },
      () => new Promise<never>(() => {}),
    );
    return await Promise.race([action, timer]);
  } catch (err) {
    if (err instanceof Cancelled && !parentSignal.aborted && stepAbort.signal.aborted) {
      throw new StepFailure(`Step timed out after ${timeout} seconds`, 'Unknown', 'TimedOut');
    }
    throw err;
  } finally {
    timerAbort.abort();
    parentSignal.removeEventListener('abort', onParentAbort);
  }
}

interface SequenceResult {
  /** The first critical failure, if any. */
  failure?: { message: string; status: 'Failed' | 'TimedOut' };
  cancelled?: boolean;
}

async function runSequence(
  state: RunState,
  steps: readonly StepDef[],
  signal: AbortSignal,
  parent?: StepRecord['ParentStepDetails'],
): Promise<SequenceResult> {
  const { exec, sandbox } = state;
  const index = new Map(steps.map((s, i) => [s.name, i]));
  let failure: SequenceResult['failure'];
  let i = 0;
  while (i < steps.length) {
    const step = steps[i];
    if (!step) break;
    if (signal.aborted) return { cancelled: true, ...(failure ? { failure } : {}) };
    const onFailure = step.onFailure ?? 'Abort';
    const record: StepRecord = {
      StepName: step.name,
      Action: step.action,
      StepExecutionId: randomUUID(),
      StepStatus: 'InProgress',
      ExecutionStartTime: sandbox.clock.now(),
      OnFailure: onFailure,
      MaxAttempts: step.maxAttempts ?? 1,
      IsEnd: step.isEnd ?? false,
      IsCritical: step.isCritical ?? onFailure !== 'Continue',
      ...(step.timeoutSeconds !== undefined ? { TimeoutSeconds: step.timeoutSeconds } : {}),
      ...(step.nextStep !== undefined ? { NextStep: step.nextStep } : {}),
      ...(parent ? { ParentStepDetails: parent } : {}),
    };
    exec.steps.push(record);
    exec.currentStepName = step.name;
    exec.currentAction = step.action;
    state.onProgress();

    let result: ActionResult | undefined;
    let lastFailure: StepFailure | undefined;
    for (let attempt = 1; attempt <= record.MaxAttempts; attempt++) {
      try {
        result = await runWithTimeout(state, step, record, signal);
        lastFailure = undefined;
        break;
      } catch (err) {
        if (err instanceof Cancelled || signal.aborted) {
          record.StepStatus = 'Cancelled';
          record.ExecutionEndTime = sandbox.clock.now();
          return { cancelled: true, ...(failure ? { failure } : {}) };
        }
        lastFailure =
          err instanceof StepFailure
            ? err
            : new StepFailure(err instanceof Error ? err.message : String(err));
      }
    }
    record.ExecutionEndTime = sandbox.clock.now();
    if (result && !lastFailure) {
      record.StepStatus = 'Success';
      if (result.outputs) {
        state.outputs.set(step.name, result.outputs);
        if (Object.keys(result.outputs).length) {
          record.Outputs = Object.fromEntries(
            Object.entries(result.outputs).map(([k, v]) => [k, outputStrings(v)]),
          );
        }
      }
      if (step.isEnd) break;
      const next = result.next ?? step.nextStep;
      if (next !== undefined) {
        const j = index.get(next);
        if (j === undefined) return { failure: { message: `Step ${next} does not exist`, status: 'Failed' } };
        i = j;
      } else i++;
      continue;
    }
    const f = lastFailure ?? new StepFailure('Step failed');
    record.StepStatus = f.status === 'TimedOut' ? 'TimedOut' : 'Failed';
    record.FailureMessage = f.message;
    record.FailureDetails = { FailureStage: 'Invocation', FailureType: f.failureType };
    sandbox.log(`ssm ${exec.id} step ${step.name} ${record.StepStatus}: ${f.message}`);
    if (record.IsCritical && !failure) {
      failure = {
        message: `Step ${step.name} (${step.action}) ${f.status === 'TimedOut' ? 'timed out' : 'failed'}: ${f.message}`,
        status: f.status === 'TimedOut' ? 'TimedOut' : 'Failed',
      };
    }
    if (onFailure === 'Abort') break;
    if (onFailure.startsWith('step:')) {
      const j = index.get(onFailure.slice(5));
      if (j === undefined) break;
      i = j;
      continue;
    }
    // Continue
    if (step.isEnd) break;
    if (step.nextStep !== undefined) {
      const j = index.get(step.nextStep);
      if (j === undefined) break;
      i = j;
    } else i++;
  }
  return failure ? { failure } : {};
}

/** Runs an execution to its end. Never throws; the execution record carries the outcome. */
export async function runExecution(
  exec: Execution,
  sandbox: SandboxContext,
  onProgress: () => void = () => {},
): Promise<void> {
  const state: RunState = { exec, sandbox, outputs: new Map(), onProgress };
  exec.status = 'InProgress';
  exec.startTime = sandbox.clock.now();
  onProgress();
  try {
    const r = await runSequence(state, exec.doc.mainSteps, exec.abort.signal);
    if (r.cancelled || exec.abort.signal.aborted) {
      exec.status = 'Cancelled';
    } else if (r.failure) {
      exec.status = r.failure.status;
      exec.failureMessage = r.failure.message;
    } else {
      exec.status = 'Success';
    }
  } catch (err) {
    exec.status = 'Failed';
    exec.failureMessage = `Internal error: ${err instanceof Error ? err.message : String(err)}`;
  }
  const resolve = resolverFor(state);
  for (const name of exec.doc.outputs ?? []) {
    const v = resolve(name);
    if (v !== undefined) exec.outputs[name] = outputStrings(v);
  }
  exec.endTime = sandbox.clock.now();
  delete exec.currentStepName;
  delete exec.currentAction;
  sandbox.log(
    `ssm automation ${exec.id} (${exec.documentName}) ${exec.status}${exec.failureMessage ? `: ${exec.failureMessage}` : ''}`,
  );
  onProgress();
  await sandbox.putEvent(automationStatusChangeEvent(exec, sandbox)).catch((err: unknown) => {
    sandbox.log(`ssm: status-change event for ${exec.id} not published: ${String(err)}`);
  });
}

/** "Nov 29, 2024 7:43:23 PM" (UTC): how the status-change notification writes its times. */
function notificationTime(d: Date): string {
  const date = d.toLocaleDateString('en-US', {
    month: 'short',
    day: 'numeric',
    year: 'numeric',
    timeZone: 'UTC',
  });
  const time = d.toLocaleTimeString('en-US', {
    hour: 'numeric',
    minute: '2-digit',
    second: '2-digit',
    timeZone: 'UTC',
  });
  return `${date} ${time}`;
}

/**
 * AWS's "EC2 Automation Execution Status-change Notification" (source aws.ssm) for an execution that
 * reached a terminal status: resources = the execution and definition ARNs; detail = ExecutionId,
 * Definition, DefinitionVersion, Status, StartTime, EndTime, Time (duration in ms), ExecutedBy.
 */
export function automationStatusChangeEvent(exec: Execution, sandbox: SandboxContext) {
  const arn = (kind: string, name: string) =>
    `arn:aws:ssm:${sandbox.region}:${sandbox.accountId}:${kind}/${name}`;
  const start = exec.startTime ?? exec.createdTime;
  const end = exec.endTime ?? sandbox.clock.now();
  return {
    source: 'aws.ssm',
    'detail-type': 'EC2 Automation Execution Status-change Notification',
    resources: [
      arn('automation-execution', exec.id),
      arn('automation-definition', `${exec.documentName}:${exec.documentVersion}`),
    ],
    detail: {
      ExecutionId: exec.id,
      Definition: exec.documentName,
      DefinitionVersion: Number(exec.documentVersion) || 1,
      Status: exec.status,
      StartTime: notificationTime(start),
      EndTime: notificationTime(end),
      Time: end.getTime() - start.getTime(),
      ExecutedBy: exec.executedBy,
    },
  };
}
