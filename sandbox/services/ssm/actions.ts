/**
 * The Automation actions the sandbox engine runs, one function each, by action name (ACTIONS):
 * aws:executeAwsApi, aws:assertAwsResourceProperty, aws:waitForAwsResourceProperty, aws:branch,
 * aws:sleep, aws:pause, aws:approve, aws:loop and aws:executeScript (Python, script.ts). Every AWS call
 * goes through SandboxContext.call with SDK-shaped input, on the sandbox clock.
 */
import type { Principal } from '../../core/authz';
import { AwsError, type SandboxContext } from '../../core/types';
import { loopSteps, type StepDef } from './document';
import type { Execution, StepRecord } from './engine';
import { type CredentialsFor, runPythonScript } from './script';
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

/** Emulated seconds between polls of aws:waitForAwsResourceProperty. */
export const WAIT_POLL_SECONDS = 5;

export class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

export function outputStrings(value: Json): string[] {
  if (Array.isArray(value)) return value.map(stringify);
  return [stringify(value)];
}

export interface RunState {
  exec: Execution;
  sandbox: SandboxContext;
  /** Step outputs by step name. */
  outputs: Map<string, Record<string, Json>>;
  onProgress: () => void;
  /** Credentials of the automation's role for aws:executeScript (see script.ts). */
  credentialsFor: CredentialsFor;
  /** Runs nested steps (aws:loop): the engine's sequence runner. */
  runSequence: (
    steps: readonly StepDef[],
    signal: AbortSignal,
    parent: StepRecord['ParentStepDetails'],
  ) => Promise<{ failure?: { message: string; status: 'Failed' | 'TimedOut' }; cancelled?: boolean }>;
}

export function resolverFor(state: RunState): Resolver {
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

export function throwIfAborted(signal: AbortSignal): void {
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

export interface ActionResult {
  outputs?: Record<string, Json>;
  next?: string;
}

interface ActionCall {
  state: RunState;
  step: StepDef;
  record: StepRecord;
  signal: AbortSignal;
  /** The step's inputs, interpolated (aws:branch and aws:loop interpolate their parts themselves). */
  inputs: Json;
}

type ActionRunner = (call: ActionCall) => Promise<ActionResult>;

function selectOutputs(step: StepDef, response: Json): Record<string, Json> {
  const outputs: Record<string, Json> = {};
  for (const o of step.outputs ?? []) {
    const value = convertOutput(
      select(response, o.Selector),
      (o.Type ?? 'String') as OutputType,
      `Output ${o.Name}`,
    );
    if (value !== undefined) outputs[o.Name] = value;
  }
  return outputs;
}

async function executeAwsApi({ state, step, inputs, signal }: ActionCall): Promise<ActionResult> {
  const { response } = await callApi(state, inputs, signal);
  return { outputs: selectOutputs(step, response) };
}

async function assertProperty({ state, inputs, signal }: ActionCall): Promise<ActionResult> {
  const { response } = await callApi(state, inputs, signal);
  const r = checkAssertion(response, inputs);
  if (!r.ok) throw new StepFailure(`Assertion failed: ${r.message}`, 'Verification');
  return {};
}

async function waitForProperty({ state, inputs, signal }: ActionCall): Promise<ActionResult> {
  for (;;) {
    throwIfAborted(signal);
    const { response } = await callApi(state, inputs, signal);
    if (checkAssertion(response, inputs).ok) return {};
    await sleepFor(state, WAIT_POLL_SECONDS, signal);
  }
}

async function branch({ state, inputs }: ActionCall): Promise<ActionResult> {
  const resolve = resolverFor(state);
  const choices = isRecord(inputs) && Array.isArray(inputs.Choices) ? inputs.Choices : [];
  for (const choice of choices) {
    if (!isRecord(choice) || typeof choice.NextStep !== 'string') continue;
    const { NextStep, ...cond } = choice;
    if (evaluateCondition(cond, resolve)) return { next: NextStep };
  }
  if (isRecord(inputs) && typeof inputs.Default === 'string') return { next: inputs.Default };
  throw new StepFailure('No branch choice matched and the step has no Default');
}

async function sleep({ state, inputs, signal }: ActionCall): Promise<ActionResult> {
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

export type Signal = 'Approve' | 'Reject' | 'Resume';

/** A signal as SendAutomationSignal received it: its type, who sent it and its Payload. */
export interface SignalSent {
  readonly type: Signal;
  /** The caller (undefined: the emulated service itself, in process). */
  readonly from?: Principal;
  readonly payload?: Readonly<Record<string, unknown>>;
}

/** What a waiting step takes: the signal types, why a sender is refused (undefined: admitted), the hand-in. */
export interface SignalWait {
  readonly accepts: readonly Signal[];
  readonly refuse?: (sent: SignalSent) => string | undefined;
  readonly signal: (sent: SignalSent) => void;
}

/**
 * Waits in status Waiting until `accept` returns a decision for a signal (SendAutomationSignal) or the
 * automation is stopped. `accepts` names the signals this wait takes; `refuse` turns a sender away before
 * anything is counted (SendAutomationSignal fails with its reason).
 */
async function waitForSignals<T>(
  { state, record, signal }: ActionCall,
  accepts: readonly Signal[],
  accept: (s: SignalSent) => T | undefined,
  refuse?: SignalWait['refuse'],
): Promise<T> {
  const { exec } = state;
  record.StepStatus = 'Waiting';
  exec.status = 'Waiting';
  state.onProgress();
  try {
    return await new Promise<T>((resolve, reject) => {
      if (signal.aborted) reject(new Cancelled());
      signal.addEventListener('abort', () => reject(new Cancelled()), { once: true });
      exec.waiting = {
        accepts,
        ...(refuse ? { refuse } : {}),
        signal: (s) => {
          try {
            const decided = accept(s);
            if (decided !== undefined) resolve(decided);
          } catch (err) {
            reject(err);
          }
        },
      };
    });
  } finally {
    delete exec.waiting;
    if (exec.status === 'Waiting') exec.status = 'InProgress';
    record.StepStatus = 'InProgress';
  }
}

async function pause(call: ActionCall): Promise<ActionResult> {
  await waitForSignals(call, ['Approve', 'Resume', 'Reject'], ({ type }) => {
    if (type === 'Reject') throw new StepFailure('The automation was rejected while paused');
    return true;
  });
  return {};
}

/** aws:approve's maximum timeout (30 days); its default is 7 days. */
export const APPROVE_MAX_SECONDS = 30 * 24 * 3600;
export const APPROVE_DEFAULT_SECONDS = 7 * 24 * 3600;

/**
 * Which of `approvers` (an aws:approve step's Approvers) `principal` is, as SSM matches them: an IAM user
 * name or user ARN names that user, a role ARN any session of the role, an assumed-role ARN that session.
 * Undefined: not an approver (the emulated service itself, with no caller, is none either).
 */
export function approverOf(approvers: readonly string[], principal: Principal | undefined, account: string) {
  if (!principal) return undefined;
  return approvers.find(
    (a) =>
      a === principal.arn ||
      (principal.roleArn !== undefined && a === principal.roleArn) ||
      (!a.startsWith('arn:') && principal.arn === `arn:aws:iam::${account}:user/${a}`),
  );
}

/**
 * aws:approve: waits for MinRequiredApprovals Approve signals from distinct Approvers (default 1); one
 * Reject fails the step. A signal from a principal who is not an approver is refused (SendAutomationSignal
 * fails, nothing counted); an approver's second Approve counts once. Outputs ApprovalStatus and
 * ApproverDecisions (each with the approver's ARN, the decision, its time and the signal's Comment).
 */
async function approve(call: ActionCall): Promise<ActionResult> {
  const { inputs } = call;
  if (!isRecord(inputs) || !Array.isArray(inputs.Approvers) || inputs.Approvers.length === 0) {
    throw new StepFailure('aws:approve needs Approvers (1 to 10 IAM users, roles or ARNs)');
  }
  if (inputs.Approvers.length > 10) throw new StepFailure('aws:approve allows at most 10 Approvers');
  const approvers = inputs.Approvers.map(String);
  const min = inputs.MinRequiredApprovals ?? 1;
  if (typeof min !== 'number' || !Number.isInteger(min) || min < 1 || min > approvers.length) {
    throw new StepFailure(
      `MinRequiredApprovals must be an integer from 1 to the number of Approvers, got ${JSON.stringify(min)}`,
    );
  }
  const account = call.state.sandbox.accountId;
  const decided = new Map<string, Record<string, Json>>();
  const at = () => call.state.sandbox.clock.now().toISOString();
  const refuse = ({ from }: SignalSent) =>
    approverOf(approvers, from, account)
      ? undefined
      : `${from?.arn ?? 'The caller'} is not an approver of this automation step`;
  await waitForSignals(
    call,
    ['Approve', 'Reject'],
    ({ type, from, payload }) => {
      const approver = approverOf(approvers, from, account) ?? '';
      if (type === 'Approve' && decided.has(approver)) return undefined;
      const comment = payload?.Comment;
      decided.set(approver, {
        Approver: from?.arn ?? approver,
        Decision: type === 'Reject' ? 'Rejected' : 'Approved',
        DecisionTime: at(),
        ...(Array.isArray(comment) && comment[0] !== undefined ? { Comment: String(comment[0]) } : {}),
      });
      if (type === 'Reject') throw new StepFailure('The approval request was rejected');
      return decided.size >= min ? true : undefined;
    },
    refuse,
  );
  return { outputs: { ApprovalStatus: 'Approved', ApproverDecisions: [...decided.values()] } };
}

async function executeScript({ state, step, inputs, signal }: ActionCall): Promise<ActionResult> {
  const { exec, sandbox } = state;
  const resolve = resolverFor(state);
  const role = exec.doc.assumeRole ? stringify(interpolate(exec.doc.assumeRole, resolve)) : undefined;
  const response = await runPythonScript({
    inputs,
    timeoutSeconds: step.timeoutSeconds,
    context: {
      'automation:EXECUTION_ID': exec.id,
      'global:ACCOUNT_ID': sandbox.accountId,
      'global:REGION': sandbox.region,
    },
    endpoint: sandbox.endpoint,
    region: sandbox.region,
    credentials: await state.credentialsFor(role || undefined, `Automation-${exec.id}`),
    signal,
    log: (line) => sandbox.log(line),
  });
  return { outputs: { OutputPayload: JSON.stringify(response), ...selectOutputs(step, response) } };
}

async function loop({ state, step, record, signal }: ActionCall): Promise<ActionResult> {
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
  while (!(iterators && iteration >= iterators.length) && iteration < max) {
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
    const r = await state.runSequence(nested, signal, parent);
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

/** The actions the sandbox runs. Any other action fails its automation with a message naming it. */
const ACTIONS: Readonly<Record<string, ActionRunner>> = {
  'aws:executeAwsApi': executeAwsApi,
  'aws:assertAwsResourceProperty': assertProperty,
  'aws:waitForAwsResourceProperty': waitForProperty,
  'aws:branch': branch,
  'aws:sleep': sleep,
  'aws:pause': pause,
  'aws:approve': approve,
  'aws:loop': loop,
  'aws:executeScript': executeScript,
};
export const SUPPORTED_ACTIONS: readonly string[] = Object.keys(ACTIONS);

/** Runs one step's action. */
export async function runAction(
  state: RunState,
  step: StepDef,
  record: StepRecord,
  signal: AbortSignal,
): Promise<ActionResult> {
  const run = ACTIONS[step.action];
  if (!run) {
    throw new StepFailure(
      `Action ${step.action} is not supported by the sandbox Automation engine (supported: ${SUPPORTED_ACTIONS.join(', ')})`,
    );
  }
  const raw = toJson(step.inputs ?? {});
  const selfInterpolating = step.action === 'aws:branch' || step.action === 'aws:loop';
  const inputs = selfInterpolating ? raw : interpolate(raw, resolverFor(state));
  if (isRecord(inputs) && step.action !== 'aws:loop') {
    record.Inputs = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, JSON.stringify(v)]));
  }
  return run({ state, step, record, signal, inputs });
}
