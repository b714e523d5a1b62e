/**
 * SSM Automation operations: StartAutomationExecution (parameters validated before anything runs;
 * ClientToken: same token + same request → the same execution, different request →
 * IdempotentParameterMismatch), GetAutomationExecution, DescribeAutomationExecutions (Filters),
 * DescribeAutomationStepExecutions, StopAutomationExecution, SendAutomationSignal (aws:pause,
 * aws:approve). An emulated concurrency quota: up to `maxConcurrent` executions run, up to `maxQueued`
 * more wait as Pending, beyond that AutomationExecutionLimitExceededException.
 */
import { randomUUID } from 'node:crypto';
import { AwsError, type RequestContext, type SandboxContext } from '../../core/types';
import type { Signal, SignalSent } from './actions';
import { automationCaller } from './assume-role';
import { validateExecutionParameters } from './document';
import { required, str } from './documents';
import { type Execution, runExecution, type StepRecord, TERMINAL } from './engine';
import type { DocumentVersion, SsmStore } from './store';
import { isRecord, type Json, stringify } from './values';

const CLIENT_TOKEN = /^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$/;
const EXECUTION_ID = /^[a-fA-F0-9-]{36}$/;

function stepView(s: StepRecord): Record<string, unknown> {
  return { ...s };
}

/** What GetAutomationExecution and DescribeAutomationExecutions both report of an execution. */
function metadataView(e: Execution): Record<string, unknown> {
  return {
    AutomationExecutionId: e.id,
    DocumentName: e.documentName,
    DocumentVersion: e.documentVersion,
    AutomationExecutionStatus: e.status,
    ExecutionStartTime: e.startTime ?? e.createdTime,
    ...(e.endTime ? { ExecutionEndTime: e.endTime } : {}),
    ExecutedBy: e.executedBy,
    Outputs: e.outputs,
    Mode: 'Auto',
    ...(e.failureMessage ? { FailureMessage: e.failureMessage } : {}),
    ...(e.currentStepName ? { CurrentStepName: e.currentStepName, CurrentAction: e.currentAction } : {}),
    AutomationType: 'Local',
  };
}

/** GetAutomationExecution: the metadata plus steps and parameters. */
function executionView(e: Execution): Record<string, unknown> {
  return {
    ...metadataView(e),
    StepExecutions: e.steps.map(stepView),
    StepExecutionsTruncated: false,
    Parameters: e.parameterStrings,
  };
}

const FILTER_KEYS = new Set([
  'DocumentNamePrefix',
  'ExecutionStatus',
  'ExecutionId',
  'ParentExecutionId',
  'CurrentAction',
  'StartTimeBefore',
  'StartTimeAfter',
  'AutomationType',
  'TagKey',
  'TargetResourceGroup',
  'AutomationSubtype',
  'OpsItemId',
]);

function matchesFilter(e: Execution, key: string, values: string[]): boolean {
  const start = (e.startTime ?? e.createdTime).getTime();
  switch (key) {
    case 'DocumentNamePrefix':
      return values.some((v) => e.documentName.startsWith(v));
    case 'ExecutionStatus':
      return values.includes(e.status);
    case 'ExecutionId':
      return values.includes(e.id);
    case 'CurrentAction':
      return e.currentAction !== undefined && values.includes(e.currentAction);
    case 'StartTimeBefore':
      return values.some((v) => start <= Date.parse(v));
    case 'StartTimeAfter':
      return values.some((v) => start >= Date.parse(v));
    case 'AutomationType':
      return values.includes('Local');
    default:
      return false;
  }
}

function launch(store: SsmStore, exec: Execution, sandbox: SandboxContext): void {
  store.running++;
  const credentialsFor = store.options.credentialsFor;
  void runExecution(exec, sandbox, credentialsFor ? { credentialsFor } : {}).finally(() => {
    store.running--;
    exec.markDone();
    const next = store.queue.shift();
    if (next) launch(store, next.exec, next.sandbox);
  });
}

/** A replayed ClientToken: the earlier execution's id, or IdempotentParameterMismatch. */
function replayed(store: SsmStore, token: string | undefined, fingerprint: string): string | undefined {
  if (token === undefined) return undefined;
  if (!CLIENT_TOKEN.test(token)) throw new AwsError('ValidationException', 'ClientToken must be a UUID');
  const seen = store.byToken.get(token.toLowerCase());
  if (!seen) return undefined;
  if (seen.fingerprint !== fingerprint) {
    throw new AwsError('IdempotentParameterMismatch', 'ClientToken was used before with a different request');
  }
  return seen.executionId;
}

function refuseUnsupportedModes(input: Record<string, unknown>): void {
  const mode = str(input, 'Mode') ?? 'Auto';
  if (mode !== 'Auto')
    throw new AwsError(
      'InvalidAutomationExecutionParametersException',
      `Mode ${mode} is not supported by the sandbox`,
    );
  if (input.Targets !== undefined || input.TargetLocations !== undefined) {
    throw new AwsError(
      'InvalidAutomationExecutionParametersException',
      'Rate-controlled and multi-account automations are not supported by the sandbox',
    );
  }
}

/** GetAutomationExecution.Parameters: as given (defaults filled in), every value a list of strings. */
function parameterStrings(parameters: Record<string, Json>, given: Record<string, unknown> | undefined) {
  const out: Record<string, string[]> = {};
  for (const [k, val] of Object.entries(parameters)) {
    const g = given?.[k];
    out[k] = Array.isArray(g) ? g.map(String) : Array.isArray(val) ? val.map(stringify) : [stringify(val)];
  }
  return out;
}

function newExecution(
  documentName: string,
  v: DocumentVersion,
  given: Record<string, unknown> | undefined,
  ctx: RequestContext,
): Execution {
  const parameters = validateExecutionParameters(v.doc, given);
  let markDone = (): void => {};
  const done = new Promise<void>((res) => {
    markDone = res;
  });
  return {
    id: randomUUID(),
    documentName,
    documentVersion: v.version,
    doc: v.doc,
    parameters,
    parameterStrings: parameterStrings(parameters, given),
    status: 'Pending',
    createdTime: ctx.sandbox.clock.now(),
    steps: [],
    outputs: {},
    executedBy: `arn:aws:sts::${ctx.accountId}:assumed-role/sandbox/sandbox`,
    abort: new AbortController(),
    done,
    markDone,
  };
}

function startAutomationExecution(store: SsmStore, input: Record<string, unknown>, ctx: RequestContext) {
  const documentName = required(input, 'DocumentName');
  const token = str(input, 'ClientToken');
  const fingerprint = JSON.stringify([
    documentName,
    input.DocumentVersion ?? null,
    input.Parameters ?? {},
    input.Mode ?? 'Auto',
  ]);
  const earlier = replayed(store, token, fingerprint);
  if (earlier) return { AutomationExecutionId: earlier };
  refuseUnsupportedModes(input);
  const d = store.getDocument(documentName, 'AutomationDefinitionNotFoundException');
  const v = store.pickVersion(
    d,
    str(input, 'DocumentVersion'),
    'AutomationDefinitionVersionNotFoundException',
  );
  const exec = newExecution(documentName, v, isRecord(input.Parameters) ? input.Parameters : undefined, ctx);
  if (store.running >= store.maxConcurrent && store.queue.length >= store.maxQueued) {
    throw new AwsError(
      'AutomationExecutionLimitExceededException',
      `The number of simultaneously running Automation executions exceeded the limit (${store.maxConcurrent} running, ${store.maxQueued} queued)`,
    );
  }
  store.executions.set(exec.id, exec);
  if (token !== undefined) store.byToken.set(token.toLowerCase(), { fingerprint, executionId: exec.id });
  return actAs(store, exec, ctx, token);
}

/**
 * Who the steps run as (the caller needs iam:PassRole on an AutomationAssumeRole: a refusal leaves nothing);
 * a role SSM cannot assume fails the execution when it runs.
 */
async function actAs(store: SsmStore, exec: Execution, ctx: RequestContext, token: string | undefined) {
  try {
    const acting = await automationCaller(ctx, exec.doc.assumeRole, exec.parameters, exec.id);
    if (acting.caller) exec.caller = acting.caller;
    if (acting.refused) exec.refused = acting.refused;
  } catch (err) {
    store.executions.delete(exec.id);
    if (token !== undefined) store.byToken.delete(token.toLowerCase());
    throw err;
  }
  if (store.running < store.maxConcurrent) launch(store, exec, ctx.sandbox);
  else store.queue.push({ exec, sandbox: ctx.sandbox });
  return { AutomationExecutionId: exec.id };
}

function describeAutomationExecutions(store: SsmStore, input: Record<string, unknown>) {
  const filters = Array.isArray(input.Filters) ? input.Filters : [];
  const parsed: Array<{ key: string; values: string[] }> = [];
  for (const f of filters) {
    if (!isRecord(f) || typeof f.Key !== 'string' || !FILTER_KEYS.has(f.Key)) {
      throw new AwsError('InvalidFilterKey', `Invalid filter key ${isRecord(f) ? String(f.Key) : ''}`);
    }
    if (!Array.isArray(f.Values) || f.Values.length === 0 || f.Values.length > 10) {
      throw new AwsError('InvalidFilterValue', `Filter ${f.Key} needs 1-10 values`);
    }
    parsed.push({ key: f.Key, values: f.Values.map(String) });
  }
  const all = [...store.executions.values()]
    .filter((e) => parsed.every((p) => matchesFilter(e, p.key, p.values)))
    .sort((a, b) => (b.startTime ?? b.createdTime).getTime() - (a.startTime ?? a.createdTime).getTime());
  const max = typeof input.MaxResults === 'number' ? Math.min(Math.max(input.MaxResults, 1), 50) : 50;
  const offset = typeof input.NextToken === 'string' ? Number.parseInt(input.NextToken, 10) || 0 : 0;
  const page = all.slice(offset, offset + max);
  return {
    AutomationExecutionMetadataList: page.map(metadataView),
    ...(offset + max < all.length ? { NextToken: String(offset + max) } : {}),
  };
}

function stopAutomationExecution(store: SsmStore, input: Record<string, unknown>, ctx: RequestContext) {
  const e = store.getExecution(required(input, 'AutomationExecutionId'));
  if (TERMINAL.has(e.status)) {
    throw new AwsError(
      'InvalidAutomationStatusUpdateException',
      `Automation execution ${e.id} is already ${e.status}`,
    );
  }
  const queued = store.queue.findIndex((q) => q.exec === e);
  if (queued >= 0) {
    store.queue.splice(queued, 1);
    e.status = 'Cancelled';
    e.endTime = ctx.sandbox.clock.now();
    e.markDone();
    return {};
  }
  e.status = 'Cancelling';
  e.abort.abort();
  return {};
}

function sendAutomationSignal(store: SsmStore, input: Record<string, unknown>, ctx: RequestContext) {
  const e = store.getExecution(required(input, 'AutomationExecutionId'));
  const type = required(input, 'SignalType');
  if (!['Approve', 'Reject', 'StartStep', 'StopStep', 'Resume', 'Revoke'].includes(type)) {
    throw new AwsError('ValidationException', `Invalid SignalType ${type}`);
  }
  if (TERMINAL.has(e.status))
    throw new AwsError('InvalidAutomationSignalException', `Automation execution ${e.id} has ended`);
  const waiting = e.waiting;
  if (!waiting || !(waiting.accepts as readonly string[]).includes(type)) {
    throw new AwsError(
      'InvalidAutomationSignalException',
      `Automation execution ${e.id} is not waiting for ${type}`,
    );
  }
  const payload = input.Payload;
  const sent: SignalSent = {
    type: type as Signal,
    ...(ctx.caller ? { from: ctx.caller } : {}),
    ...(payload && typeof payload === 'object' ? { payload: payload as Record<string, unknown> } : {}),
  };
  const refused = waiting.refuse?.(sent);
  if (refused) throw new AwsError('InvalidAutomationSignalException', refused);
  waiting.signal(sent);
  return {};
}

/** The automation operations, by API name. */
export function automationOperations(store: SsmStore) {
  return {
    StartAutomationExecution: (i: Record<string, unknown>, c: RequestContext) =>
      startAutomationExecution(store, i, c),
    GetAutomationExecution: (i: Record<string, unknown>) => {
      const id = required(i, 'AutomationExecutionId');
      if (!EXECUTION_ID.test(id))
        throw new AwsError('ValidationException', 'AutomationExecutionId must be 36 characters');
      return { AutomationExecution: executionView(store.getExecution(id)) };
    },
    DescribeAutomationExecutions: (i: Record<string, unknown>) => describeAutomationExecutions(store, i),
    DescribeAutomationStepExecutions: (i: Record<string, unknown>) => {
      const e = store.getExecution(required(i, 'AutomationExecutionId'));
      return { StepExecutions: (i.ReverseOrder === true ? [...e.steps].reverse() : e.steps).map(stepView) };
    },
    StopAutomationExecution: (i: Record<string, unknown>, c: RequestContext) =>
      stopAutomationExecution(store, i, c),
    SendAutomationSignal: (i: Record<string, unknown>, c: RequestContext) =>
      sendAutomationSignal(store, i, c),
  };
}
