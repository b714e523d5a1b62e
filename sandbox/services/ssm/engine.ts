/**
 * The Automation engine: runs an Automation document's mainSteps asynchronously against the sandbox,
 * on the sandbox clock. The actions themselves are in actions.ts (SUPPORTED_ACTIONS); any other action
 * fails the execution with a message naming it. Step properties: onFailure (Abort, Continue,
 * step:Name), maxAttempts, timeoutSeconds, isEnd, nextStep, isCritical (default true, false when
 * onFailure is Continue).
 */
import { randomUUID } from 'node:crypto';
import { credentialsFor, type Principal, runAs } from '../../core/authz';
import type { SandboxContext } from '../../core/types';
import {
  type ActionResult,
  APPROVE_DEFAULT_SECONDS,
  APPROVE_MAX_SECONDS,
  Cancelled,
  outputStrings,
  type RunState,
  resolverFor,
  runAction,
  type SignalWait,
} from './actions';
import type { AutomationDocument, StepDef } from './document';
import { type CredentialsFor, sandboxDummyCredentials } from './script';
import { type Json, StepFailure } from './values';

export { API_CALL_ATTEMPTS, SUPPORTED_ACTIONS, WAIT_POLL_SECONDS } from './actions';

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
  /** Who the steps' API calls are made as: the AutomationAssumeRole session, else the starter. */
  caller?: Principal;
  /** Why the execution fails before its first step (SSM cannot assume its AutomationAssumeRole). */
  refused?: string;
  abort: AbortController;
  /** Set while an aws:pause or aws:approve step waits for SendAutomationSignal. */
  waiting?: SignalWait;
  /** Settles when the execution has ended. */
  done: Promise<void>;
  markDone: () => void;
}

/** The emulated timeout of a step (undefined: none). aws:executeScript times itself in real seconds. */
function stepTimeout(step: StepDef): number | undefined {
  switch (step.action) {
    case 'aws:executeScript':
      return undefined;
    case 'aws:approve':
      return Math.min(step.timeoutSeconds ?? APPROVE_DEFAULT_SECONDS, APPROVE_MAX_SECONDS);
    case 'aws:waitForAwsResourceProperty':
    case 'aws:pause':
      return step.timeoutSeconds ?? DEFAULT_WAIT_TIMEOUT_SECONDS;
    default:
      return step.timeoutSeconds;
  }
}

async function runWithTimeout(
  state: RunState,
  step: StepDef,
  record: StepRecord,
  parentSignal: AbortSignal,
): Promise<ActionResult> {
  const timeout = stepTimeout(step);
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
    if (err instanceof StepFailure && err.status === 'Cancelled') throw new Cancelled();
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

function newRecord(state: RunState, step: StepDef, parent: StepRecord['ParentStepDetails']): StepRecord {
  const onFailure = step.onFailure ?? 'Abort';
  return {
    StepName: step.name,
    Action: step.action,
    StepExecutionId: randomUUID(),
    StepStatus: 'InProgress',
    ExecutionStartTime: state.sandbox.clock.now(),
    OnFailure: onFailure,
    MaxAttempts: step.maxAttempts ?? 1,
    IsEnd: step.isEnd ?? false,
    IsCritical: step.isCritical ?? onFailure !== 'Continue',
    ...(step.timeoutSeconds !== undefined ? { TimeoutSeconds: step.timeoutSeconds } : {}),
    ...(step.nextStep !== undefined ? { NextStep: step.nextStep } : {}),
    ...(parent ? { ParentStepDetails: parent } : {}),
  };
}

/** Runs a step with its attempts: the result, the last failure, or 'cancelled'. */
async function attempt(
  state: RunState,
  step: StepDef,
  record: StepRecord,
  signal: AbortSignal,
): Promise<{ result: ActionResult } | { failure: StepFailure } | 'cancelled'> {
  let last: StepFailure | undefined;
  for (let i = 1; i <= record.MaxAttempts; i++) {
    try {
      return { result: await runWithTimeout(state, step, record, signal) };
    } catch (err) {
      if (err instanceof Cancelled || signal.aborted) return 'cancelled';
      last =
        err instanceof StepFailure ? err : new StepFailure(err instanceof Error ? err.message : String(err));
    }
  }
  return { failure: last ?? new StepFailure('Step failed') };
}

function recordSuccess(state: RunState, step: StepDef, record: StepRecord, result: ActionResult): void {
  record.StepStatus = 'Success';
  if (!result.outputs) return;
  state.outputs.set(step.name, result.outputs);
  if (Object.keys(result.outputs).length) {
    record.Outputs = Object.fromEntries(
      Object.entries(result.outputs).map(([k, v]) => [k, outputStrings(v)]),
    );
  }
}

function recordFailure(state: RunState, step: StepDef, record: StepRecord, f: StepFailure): void {
  record.StepStatus = f.status === 'TimedOut' ? 'TimedOut' : 'Failed';
  record.FailureMessage = f.message;
  record.FailureDetails = { FailureStage: 'Invocation', FailureType: f.failureType };
  state.sandbox.log(`ssm ${state.exec.id} step ${step.name} ${record.StepStatus}: ${f.message}`);
}

/** Index of the step to run next (steps.length: end), or a failure for a missing target. */
type Next = number | { missing: string };

function nextAfterSuccess(steps: readonly StepDef[], i: number, result: ActionResult): Next {
  const step = steps[i];
  if (!step || step.isEnd) return steps.length;
  const target = result.next ?? step.nextStep;
  if (target === undefined) return i + 1;
  const j = steps.findIndex((s) => s.name === target);
  return j >= 0 ? j : { missing: target };
}

function nextAfterFailure(steps: readonly StepDef[], i: number): number {
  const step = steps[i];
  const onFailure = step?.onFailure ?? 'Abort';
  if (!step || onFailure === 'Abort') return steps.length;
  const target = onFailure.startsWith('step:') ? onFailure.slice(5) : step.isEnd ? undefined : step.nextStep;
  if (onFailure === 'Continue' && step.isEnd) return steps.length;
  if (target === undefined) return i + 1;
  const j = steps.findIndex((s) => s.name === target);
  return j >= 0 ? j : steps.length;
}

async function runSequence(
  state: RunState,
  steps: readonly StepDef[],
  signal: AbortSignal,
  parent?: StepRecord['ParentStepDetails'],
): Promise<SequenceResult> {
  const { exec, sandbox } = state;
  let failure: SequenceResult['failure'];
  let i = 0;
  while (i < steps.length) {
    const step = steps[i];
    if (!step) break;
    if (signal.aborted) return { cancelled: true, ...(failure ? { failure } : {}) };
    const record = newRecord(state, step, parent);
    exec.steps.push(record);
    exec.currentStepName = step.name;
    exec.currentAction = step.action;
    state.onProgress();
    const outcome = await attempt(state, step, record, signal);
    record.ExecutionEndTime = sandbox.clock.now();
    if (outcome === 'cancelled') {
      record.StepStatus = 'Cancelled';
      return { cancelled: true, ...(failure ? { failure } : {}) };
    }
    if ('result' in outcome) {
      recordSuccess(state, step, record, outcome.result);
      const next = nextAfterSuccess(steps, i, outcome.result);
      if (typeof next !== 'number')
        return { failure: { message: `Step ${next.missing} does not exist`, status: 'Failed' } };
      i = next;
      continue;
    }
    const f = outcome.failure;
    recordFailure(state, step, record, f);
    if (record.IsCritical && !failure) {
      const status = f.status === 'TimedOut' ? 'TimedOut' : 'Failed';
      const verb = status === 'TimedOut' ? 'timed out' : 'failed';
      failure = { message: `Step ${step.name} (${step.action}) ${verb}: ${f.message}`, status };
    }
    i = nextAfterFailure(steps, i);
  }
  return failure ? { failure } : {};
}

/** Scripts sign as the automation's role session (credentials minted by the sandbox's IAM), else as the administrator. */
function callerCredentials(exec: Execution, sandbox: SandboxContext): CredentialsFor {
  return async (roleArn, sessionName) => {
    const role = exec.caller?.roleArn ?? roleArn;
    if (!role) return sandboxDummyCredentials(roleArn, sessionName);
    const session = exec.caller?.arn.slice(exec.caller.arn.lastIndexOf('/') + 1) ?? sessionName;
    return credentialsFor(sandbox, role, session);
  };
}

export interface EngineOptions {
  onProgress?: () => void;
  /** Credentials of the automation's role for aws:executeScript (default: callerCredentials, the role session). */
  credentialsFor?: CredentialsFor;
}

function finish(state: RunState, r: SequenceResult): void {
  const { exec } = state;
  if (r.cancelled || exec.abort.signal.aborted) {
    exec.status = 'Cancelled';
  } else if (r.failure) {
    exec.status = r.failure.status;
    exec.failureMessage = r.failure.message;
  } else {
    exec.status = 'Success';
  }
}

/** Runs an execution to its end. Never throws; the execution record carries the outcome. */
export async function runExecution(
  exec: Execution,
  sandbox: SandboxContext,
  options: EngineOptions = {},
): Promise<void> {
  const onProgress = options.onProgress ?? (() => {});
  const state: RunState = {
    exec,
    sandbox,
    outputs: new Map(),
    onProgress,
    credentialsFor: options.credentialsFor ?? callerCredentials(exec, sandbox),
    runSequence: (steps, signal, parent) => runSequence(state, steps, signal, parent),
  };
  exec.status = 'InProgress';
  exec.startTime = sandbox.clock.now();
  onProgress();
  try {
    if (exec.refused) finish(state, { failure: { status: 'Failed', message: exec.refused } });
    else
      finish(
        state,
        await runAs(exec.caller, () => runSequence(state, exec.doc.mainSteps, exec.abort.signal)),
      );
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

/** The notification's date and time formats (made once: an Intl formatter per call was most of its cost). */
const NOTIFICATION_DATE = new Intl.DateTimeFormat('en-US', {
  month: 'short',
  day: 'numeric',
  year: 'numeric',
  timeZone: 'UTC',
});
const NOTIFICATION_TIME = new Intl.DateTimeFormat('en-US', {
  hour: 'numeric',
  minute: '2-digit',
  second: '2-digit',
  timeZone: 'UTC',
});

/** "Nov 29, 2024 7:43:23 PM" (UTC): how the status-change notification writes its times. */
export function notificationTime(d: Date): string {
  return `${NOTIFICATION_DATE.format(d)} ${NOTIFICATION_TIME.format(d)}`;
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
