/**
 * The synthesized state machine definition, state by state: names, transitions, payloads, timeouts,
 * Retry/Catch; validated with asl-validator; JSONPath only.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { SUCCESS_OUTCOMES } from '../../tasks/shared/contracts';
import { LAMBDA_SERVICE_ERRORS } from '../../tasks/shared/errors';
import { definitionFromTemplate, stateTasks } from '../../workflows/local';
import {
  ESCALATING_PLAN_ERRORS,
  IDEMPOTENT_TASKS,
  IDEMPOTENT_TIMEOUT_RETRY,
  LAMBDA_TIMEOUT_ERRORS,
  NOT_VERIFIED_ERRORS,
  OUTCOME_STATES,
  PLAN_FAILURE_STATES,
  RUNBOOK_TASK_TIMEOUT_SECONDS,
  SLOT_QUEUE_TIMEOUT,
  STATES,
  TASK_STATES,
  TASK_TIMEOUT_SECONDS,
  THROTTLED_START_RETRY,
  TRANSIENT_RETRY,
} from '../../workflows/remediation';
import { synth } from '../infra/synth';

type State = Record<string, unknown> & { Type: string };
type Validator = (
  definition: unknown,
  opts?: { checkPaths?: boolean; checkArn?: boolean },
) => { isValid: boolean; errorsText: (sep?: string) => string };
const validateAsl = createRequire(import.meta.url)('asl-validator') as Validator;

const { json: template } = synth({ nag: false });
const definition = definitionFromTemplate(template) as unknown as {
  StartAt: string;
  States: Record<string, State>;
};
const states = definition.States;
const S = (name: string): State => {
  const s = states[name];
  if (!s) throw new Error(`no state ${name}`);
  return s;
};
const fnArn = (task: string) => {
  const tasks = stateTasks(definition as never, template);
  const name = Object.keys(tasks).find((n) => tasks[n] === task);
  return String(S(name ?? '').Resource);
};

const retrier = (
  r: typeof TRANSIENT_RETRY | typeof THROTTLED_START_RETRY | typeof IDEMPOTENT_TIMEOUT_RETRY,
) => ({
  ErrorEquals: [...r.errors],
  IntervalSeconds: r.intervalSeconds,
  MaxAttempts: r.maxAttempts,
  BackoffRate: r.backoffRate,
  MaxDelaySeconds: r.maxDelaySeconds,
  JitterStrategy: 'FULL',
});
const EXECUTION = {
  'id.$': '$$.Execution.Id',
  'name.$': '$$.Execution.Name',
  'startTime.$': '$$.Execution.StartTime',
};
const toFailure = { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: STATES.releaseAfterFailure };

/** A Record outcome state for `outcome` whose payload carries the state as `state` (then Succeed or Fail). */
function recordState(outcome: string, state: Record<string, unknown>) {
  return {
    Type: 'Task',
    Resource: fnArn('record-outcome'),
    Parameters: {
      ...state,
      execution: EXECUTION,
      recording: { outcome, 'enteredTime.$': '$$.State.EnteredTime' },
    },
    ResultPath: '$.outcome',
    TimeoutSeconds: TASK_TIMEOUT_SECONDS,
    Retry: [retrier(TRANSIENT_RETRY), retrier(IDEMPOTENT_TIMEOUT_RETRY)],
    Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.recordError', Next: STATES.outcomeNotRecorded }],
    Next: (SUCCESS_OUTCOMES as readonly string[]).includes(outcome) ? STATES.succeeded : STATES.notSucceeded,
  };
}

describe('synthesized definition', () => {
  it('is valid ASL (asl-validator)', () => {
    const r = validateAsl(JSON.parse(JSON.stringify(definition)));
    expect(r.errorsText()).toBe('');
    expect(r.isValid).toBe(true);
  });

  it('is JSONPath only: no JSONata, Arguments, Output, Assign or QueryLanguage anywhere', () => {
    const text = JSON.stringify(definition);
    expect(text).not.toMatch(/"QueryLanguage"/);
    expect(text).not.toMatch(/JSONata/i);
    expect(text).not.toMatch(/\{%/);
    const keys = new Set<string>();
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          keys.add(k);
          walk(x);
        }
    };
    walk(definition);
    for (const banned of ['Arguments', 'Output', 'Assign', 'QueryLanguage', 'Items'])
      expect(keys).not.toContain(banned);
  });

  it('has exactly the designed states, with their types (no state only moves data: no Pass)', () => {
    const expected: Record<string, string> = {
      [STATES.plan]: 'Task',
      [STATES.confirm]: 'Task',
      [STATES.stillNonCompliant]: 'Choice',
      [STATES.detectDrift]: 'Task',
      [STATES.waitDriftDetection]: 'Wait',
      [STATES.checkDrift]: 'Task',
      [STATES.describeDrift]: 'Task',
      [STATES.afterDrift]: 'Choice',
      [STATES.requestApproval]: 'Task',
      [STATES.notifyApprovers]: 'Task',
      [STATES.acquireSlot]: 'Task',
      [STATES.leaveQueue]: 'Task',
      [STATES.startRunbook]: 'Task',
      [STATES.runbookFinished]: 'Choice',
      [STATES.waitRunbookRetry]: 'Wait',
      [STATES.recheckDrift]: 'Task',
      [STATES.driftResolved]: 'Choice',
      [STATES.waitRecheck]: 'Wait',
      [STATES.awaitCompliance]: 'Task',
      [STATES.releaseAfterFailure]: 'Task',
      [STATES.succeeded]: 'Succeed',
      [STATES.notSucceeded]: 'Fail',
      [STATES.outcomeNotRecorded]: 'Fail',
      ...Object.fromEntries(Object.values(OUTCOME_STATES).map((n) => [n, 'Task'])),
      ...Object.fromEntries(Object.values(PLAN_FAILURE_STATES).map((n) => [n, 'Task'])),
    };
    expect(definition.StartAt).toBe(STATES.plan);
    expect(Object.fromEntries(Object.entries(states).map(([n, s]) => [n, s.Type]))).toEqual(expected);
  });

  it('maps every Task state to its task function (through the functions’ metadata)', () => {
    expect(stateTasks(definition as never, template)).toEqual(TASK_STATES);
  });

  it('every task that needs the execution reads it from the context object ($$.Execution), never from the state', () => {
    const text = JSON.stringify(definition);
    expect(text).not.toContain('$.execution');
    const withExecution = Object.entries(states).filter(([, s]) => JSON.stringify(s).includes('"execution"'));
    expect(withExecution.length).toBeGreaterThan(0);
    for (const [name, s] of withExecution) {
      const params = s.Parameters as Record<string, unknown>;
      const payload = (params.Payload ?? params) as Record<string, unknown>;
      expect(payload.execution, name).toEqual(EXECUTION);
    }
  });

  it('Plan remediation: event + execution; its result { event, plan } replaces the state; its failures record the event and error only', () => {
    expect(S(STATES.plan)).toEqual({
      Type: 'Task',
      Resource: fnArn('plan'),
      Parameters: { 'event.$': '$.event', execution: EXECUTION },
      // Nothing else of the execution's input (a StartExecution caller's choice) outlives Plan.
      // No ResultPath: ASL's default `$`, the result replaces the state.
      ResultSelector: { 'event.$': '$.event', 'plan.$': '$.plan' },
      TimeoutSeconds: TASK_TIMEOUT_SECONDS,
      Retry: [retrier(TRANSIENT_RETRY)],
      Catch: [
        {
          ErrorEquals: [...ESCALATING_PLAN_ERRORS],
          ResultPath: '$.error',
          Next: PLAN_FAILURE_STATES.ESCALATED,
        },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: PLAN_FAILURE_STATES.FAILED },
      ],
      Next: STATES.confirm,
    });
    // A Catch adds to the state's input (the execution's), so Plan's failures are recorded from the event
    // and the error alone; no slot can be held yet, so nothing is released.
    for (const [outcome, name] of Object.entries(PLAN_FAILURE_STATES)) {
      expect(S(name)).toEqual(
        recordState(outcome, { state: { 'event.$': '$.event', 'error.$': '$.error' } }),
      );
    }
  });

  it('Confirm non-compliance after every plan, then one Choice: remediate & confirmed → drift; escalate → ESCALATED; else SKIPPED', () => {
    expect(S(STATES.confirm).Parameters).toEqual({
      'event.$': '$.event',
      'plan.$': '$.plan',
      execution: EXECUTION,
    });
    expect(S(STATES.confirm).ResultPath).toBe('$.confirmation');
    expect(S(STATES.stillNonCompliant)).toEqual({
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.plan.decision', StringEquals: 'remediate' },
            { Variable: '$.confirmation.stillNonCompliant', BooleanEquals: true },
            { Variable: '$.confirmation.resourceExists', BooleanEquals: true },
          ],
          Next: STATES.detectDrift,
        },
        { Variable: '$.plan.decision', StringEquals: 'escalate', Next: OUTCOME_STATES.ESCALATED },
      ],
      Default: OUTCOME_STATES.SKIPPED,
    });
  });

  it('drift: Detect (describes a resource itself) → one Choice: not described → Describe → the Choice; in progress → Wait($.drift.waitSeconds) → Check → Describe → the Choice; violates → ESCALATED; plan mode → PLANNED; approval mode picks the path', () => {
    expect(S(STATES.detectDrift).Next).toBe(STATES.afterDrift);
    expect(S(STATES.describeDrift).Next).toBe(STATES.afterDrift);
    expect(S(STATES.afterDrift)).toEqual({
      Type: 'Choice',
      Choices: [
        {
          And: [
            { Variable: '$.drift.mode', StringEquals: 'resource' },
            { Not: { Variable: '$.drift.propertyDifferences', IsPresent: true } },
          ],
          Next: STATES.describeDrift,
        },
        {
          Variable: '$.drift.detectionStatus',
          StringEquals: 'DETECTION_IN_PROGRESS',
          Next: STATES.waitDriftDetection,
        },
        {
          And: [
            { Variable: '$.drift.templateViolatesRule', IsPresent: true },
            { Variable: '$.drift.templateViolatesRule', BooleanEquals: true },
          ],
          Next: OUTCOME_STATES.ESCALATED,
        },
        {
          And: [
            { Variable: '$.plan.mode', IsPresent: true },
            { Variable: '$.plan.mode', StringEquals: 'plan' },
          ],
          Next: OUTCOME_STATES.PLANNED,
        },
        { Variable: '$.plan.approval.required', BooleanEquals: true, Next: STATES.requestApproval },
        { Variable: '$.plan.approval.mode', StringEquals: 'notify-only', Next: STATES.notifyApprovers },
      ],
      Default: STATES.acquireSlot,
    });
    expect(S(STATES.waitDriftDetection)).toEqual({
      Type: 'Wait',
      SecondsPath: '$.drift.waitSeconds',
      Next: STATES.checkDrift,
    });
    expect(S(STATES.checkDrift).Next).toBe(STATES.describeDrift);
  });

  it('Request approval waits for the task token, times out after the approval TTL', () => {
    const s = S(STATES.requestApproval);
    expect(s.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(s.Parameters).toEqual({
      FunctionName: String(S(STATES.notifyApprovers).Resource),
      Payload: {
        'taskToken.$': '$$.Task.Token',
        'event.$': '$.event',
        'plan.$': '$.plan',
        'drift.$': '$.drift',
        execution: EXECUTION,
      },
    });
    expect(s.TimeoutSecondsPath).toBe('$.plan.approval.ttlSeconds');
    expect(s.TimeoutSeconds).toBeUndefined();
    expect(s.ResultPath).toBe('$.approval');
    expect(s.Catch).toEqual([
      { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: OUTCOME_STATES.EXPIRED },
      { ErrorEquals: ['ApprovalRejected'], ResultPath: '$.error', Next: OUTCOME_STATES.REJECTED },
      toFailure,
    ]);
    expect(s.Next).toBe(STATES.acquireSlot);
    // notify-only: a plain invoke of the same function, no token, result discarded
    const n = S(STATES.notifyApprovers);
    expect(String(n.Resource)).toMatch(/^arn:aws:lambda:.*RequestApprovalFunction/);
    expect(n.Parameters).toEqual({
      notifyOnly: true,
      'event.$': '$.event',
      'plan.$': '$.plan',
      'drift.$': '$.drift',
      execution: EXECUTION,
    });
    expect(n.ResultPath).toBeNull();
    expect(n.Next).toBe(STATES.acquireSlot);
  });

  it('slot: Acquire waits by task token in the FIFO slot queue (maxQueueSeconds) → Start runbook; timeout → Leave slot queue → ESCALATED', () => {
    const a = S(STATES.acquireSlot);
    expect(a.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(a.Parameters).toEqual({
      FunctionName: expect.stringMatching(/^arn:aws:lambda:.*AcquireSlotFunction/),
      Payload: {
        'taskToken.$': '$$.Task.Token',
        'plan.$': '$.plan',
        execution: EXECUTION,
        'event.$': '$.event',
      },
    });
    expect(a.TimeoutSecondsPath).toBe('$.plan.concurrency.maxQueueSeconds');
    expect(a.ResultPath).toBe('$.slot');
    expect(a.Retry).toEqual([retrier(TRANSIENT_RETRY), retrier(IDEMPOTENT_TIMEOUT_RETRY)]);
    expect(a.Catch).toEqual([
      { ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: STATES.leaveQueue },
      toFailure,
    ]);
    expect(a.Next).toBe(STATES.startRunbook);
    expect(S(STATES.leaveQueue)).toEqual({
      Type: 'Task',
      Resource: fnArn('release-slot'),
      Parameters: { 'plan.$': '$.plan', execution: EXECUTION, leaving: true },
      ResultSelector: { Error: SLOT_QUEUE_TIMEOUT, 'Cause.$': '$.message' },
      ResultPath: '$.error',
      TimeoutSeconds: TASK_TIMEOUT_SECONDS,
      Retry: [retrier(TRANSIENT_RETRY), retrier(IDEMPOTENT_TIMEOUT_RETRY)],
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.leaveError', Next: OUTCOME_STATES.ESCALATED }],
      Next: OUTCOME_STATES.ESCALATED,
    });
  });

  it('runbook: Start runbook waits by task token (whole state); failed & retryable → wait retryAfter → start; failed → failure path', () => {
    const start = S(STATES.startRunbook);
    expect(start.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(start.Parameters).toEqual({
      FunctionName: expect.stringMatching(/^arn:aws:lambda:.*StartRunbookFunction/),
      Payload: { 'taskToken.$': '$$.Task.Token', 'state.$': '$', execution: EXECUTION },
    });
    expect(start.TimeoutSeconds).toBe(RUNBOOK_TASK_TIMEOUT_SECONDS);
    expect(start.ResultPath).toBe('$.runbook');
    expect(start.Retry).toEqual([retrier(TRANSIENT_RETRY), retrier(THROTTLED_START_RETRY)]);
    expect(start.Catch).toEqual([toFailure]);
    expect(start.Next).toBe(STATES.runbookFinished);
    expect(S(STATES.runbookFinished)).toEqual({
      Type: 'Choice',
      Choices: [
        // no release state: whoever resolved the runbook's wait released the slot before telling it
        { Variable: '$.runbook.phase', StringEquals: 'succeeded', Next: STATES.recheckDrift },
        {
          And: [
            { Variable: '$.runbook.phase', StringEquals: 'failed' },
            { Variable: '$.runbook.retryable', IsPresent: true },
            { Variable: '$.runbook.retryable', BooleanEquals: true },
          ],
          Next: STATES.waitRunbookRetry,
        },
      ],
      Default: STATES.releaseAfterFailure,
    });
    expect(S(STATES.waitRunbookRetry)).toEqual({
      Type: 'Wait',
      SecondsPath: '$.runbook.waitSeconds',
      Next: STATES.startRunbook,
    });
  });

  it('verification: re-check drift; a Config rule waits for COMPLIANT by task token, its timeout → NOT_VERIFIED', () => {
    expect(S(STATES.driftResolved)).toEqual({
      Type: 'Choice',
      Choices: [
        { Variable: '$.verification.status', StringEquals: 'verified', Next: OUTCOME_STATES.VERIFIED },
        { Variable: '$.verification.status', StringEquals: 'failed', Next: OUTCOME_STATES.NOT_VERIFIED },
        { Variable: '$.event.configRuleName', IsPresent: true, Next: STATES.awaitCompliance },
      ],
      Default: STATES.waitRecheck,
    });
    const wait = S(STATES.awaitCompliance);
    expect(wait.Resource).toBe('arn:aws:states:::lambda:invoke.waitForTaskToken');
    expect(wait.Parameters).toEqual({
      FunctionName: expect.stringMatching(/^arn:aws:lambda:.*AwaitComplianceFunction/),
      Payload: {
        'taskToken.$': '$$.Task.Token',
        'event.$': '$.event',
        'plan.$': '$.plan',
        'verification.$': '$.verification',
        execution: EXECUTION,
      },
    });
    expect(wait.TimeoutSecondsPath).toBe('$.plan.verification.timeoutSeconds');
    expect(wait.ResultPath).toBe('$.verification');
    expect(wait.Next).toBe(OUTCOME_STATES.VERIFIED);
    expect(wait.Catch).toEqual([
      { ErrorEquals: [...NOT_VERIFIED_ERRORS], ResultPath: '$.error', Next: OUTCOME_STATES.NOT_VERIFIED },
      toFailure,
    ]);
  });

  it('every outcome is recorded once by its own Record task, then Succeed or Fail', () => {
    for (const [outcome, name] of Object.entries(OUTCOME_STATES))
      expect(S(name)).toEqual(recordState(outcome, { 'state.$': '$' }));
    expect(S(STATES.notSucceeded)).toEqual({
      Type: 'Fail',
      Error: 'RemediationNotSucceeded',
      CausePath: '$.outcome.reason',
    });
  });

  it('the failure path always releases the slot, then records FAILED (even if the release fails)', () => {
    const r = S(STATES.releaseAfterFailure);
    // The whole state (its slot and plan may not exist yet) and the execution beside it.
    expect(r.Parameters).toEqual({ 'state.$': '$', execution: EXECUTION });
    expect(r.ResultPath).toBe('$.slot');
    expect(r.Next).toBe(OUTCOME_STATES.FAILED);
    // Release is idempotent: a starved invocation that timed out is re-run, not given up.
    expect(r.Retry).toEqual([retrier(TRANSIENT_RETRY), retrier(IDEMPOTENT_TIMEOUT_RETRY)]);
    expect(r.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.releaseError', Next: OUTCOME_STATES.FAILED },
    ]);
  });

  it('every other Lambda task, exactly', () => {
    const task = (name: string, extra: Record<string, unknown>) => ({
      Type: 'Task',
      Resource: fnArn(TASK_STATES[name] ?? ''),
      TimeoutSeconds: TASK_TIMEOUT_SECONDS,
      Retry: [retrier(TRANSIENT_RETRY)],
      Catch: [toFailure],
      ...extra,
    });
    const ev = { 'event.$': '$.event' };
    const ex = { execution: EXECUTION };
    const expected: Record<string, Record<string, unknown>> = {
      [STATES.confirm]: task(STATES.confirm, {
        Parameters: { ...ev, 'plan.$': '$.plan', ...ex },
        ResultPath: '$.confirmation',
        Next: STATES.stillNonCompliant,
      }),
      [STATES.detectDrift]: task(STATES.detectDrift, {
        Parameters: { ...ev, 'plan.$': '$.plan', 'confirmation.$': '$.confirmation', ...ex },
        ResultPath: '$.drift',
        Next: STATES.afterDrift,
      }),
      [STATES.checkDrift]: task(STATES.checkDrift, {
        Parameters: { 'drift.$': '$.drift', ...ev, ...ex },
        ResultPath: '$.drift',
        Next: STATES.describeDrift,
      }),
      [STATES.describeDrift]: task(STATES.describeDrift, {
        Parameters: { ...ev, 'drift.$': '$.drift', 'confirmation.$': '$.confirmation', ...ex },
        ResultPath: '$.drift',
        Next: STATES.afterDrift,
      }),
      [STATES.recheckDrift]: task(STATES.recheckDrift, {
        ResultPath: '$.verification',
        Next: STATES.driftResolved,
      }),
    };
    for (const [name, want] of Object.entries(expected)) expect(S(name), name).toEqual(want);
  });

  it('every Task: explicit timeout, Retry only on transient errors, Catch ends in the failure path', () => {
    const allowedRetry = new Set([
      'TransientServiceError',
      ...LAMBDA_SERVICE_ERRORS,
      'Lambda.ClientExecutionTimeoutException',
      'RunbookStartThrottledError',
    ]);
    for (const [name, s] of Object.entries(states)) {
      if (s.Type !== 'Task') continue;
      if (name === STATES.requestApproval)
        expect(s.TimeoutSecondsPath, name).toBe('$.plan.approval.ttlSeconds');
      else if (name === STATES.awaitCompliance)
        expect(s.TimeoutSecondsPath, name).toBe('$.plan.verification.timeoutSeconds');
      else if (name === STATES.acquireSlot)
        expect(s.TimeoutSecondsPath, name).toBe('$.plan.concurrency.maxQueueSeconds');
      else if (name === STATES.startRunbook)
        expect(s.TimeoutSeconds, name).toBe(RUNBOOK_TASK_TIMEOUT_SECONDS);
      else expect(s.TimeoutSeconds, name).toBe(TASK_TIMEOUT_SECONDS);
      const retry = s.Retry as { ErrorEquals: string[]; JitterStrategy: string; MaxDelaySeconds: number }[];
      expect(retry.length, name).toBeGreaterThan(0);
      const idempotent = (IDEMPOTENT_TASKS as readonly string[]).includes(TASK_STATES[name] ?? '');
      for (const r of retry) {
        for (const e of r.ErrorEquals) {
          // a timed-out function is re-run only where a second run changes nothing
          if (idempotent && LAMBDA_TIMEOUT_ERRORS.includes(e)) continue;
          expect(allowedRetry, `${name} retries ${e}`).toContain(e);
        }
        expect(r.JitterStrategy).toBe('FULL');
        expect(r.MaxDelaySeconds).toBeGreaterThan(0);
      }
      const catches = s.Catch as { ErrorEquals: string[]; Next: string }[];
      const last = catches[catches.length - 1];
      expect(last?.ErrorEquals, name).toEqual(['States.ALL']);
      const outcomeStates: string[] = [
        ...Object.values(OUTCOME_STATES),
        ...Object.values(PLAN_FAILURE_STATES),
      ];
      if (outcomeStates.includes(name)) expect(last?.Next).toBe(STATES.outcomeNotRecorded);
      else if (name === STATES.plan) expect(last?.Next).toBe(PLAN_FAILURE_STATES.FAILED);
      else if (name === STATES.leaveQueue) expect(last?.Next).toBe(OUTCOME_STATES.ESCALATED);
      else if (name === STATES.releaseAfterFailure) expect(last?.Next).toBe(OUTCOME_STATES.FAILED);
      else expect(last?.Next, name).toBe(STATES.releaseAfterFailure);
      // payloadResponseOnly: the function ARN is the Resource (state data stays clean), except the token waits
      const tokenWaits: string[] = [
        STATES.requestApproval,
        STATES.acquireSlot,
        STATES.startRunbook,
        STATES.awaitCompliance,
      ];
      if (!tokenWaits.includes(name)) expect(String(s.Resource), name).toMatch(/^arn:aws:lambda:/);
    }
  });

  it('every state is reachable and every path ends in Succeed or Fail', () => {
    const next = (s: State): string[] => [
      ...(typeof s.Next === 'string' ? [s.Next] : []),
      ...(((s.Choices as { Next: string }[] | undefined) ?? []).map((c) => c.Next) as string[]),
      ...(typeof s.Default === 'string' ? [s.Default] : []),
      ...(((s.Catch as { Next: string }[] | undefined) ?? []).map((c) => c.Next) as string[]),
    ];
    const seen = new Set<string>([definition.StartAt]);
    const queue = [definition.StartAt];
    while (queue.length) {
      const n = queue.shift() as string;
      for (const m of next(S(n))) if (!seen.has(m)) seen.add(m) && queue.push(m);
    }
    expect([...seen].sort()).toEqual(Object.keys(states).sort());
    for (const [name, s] of Object.entries(states)) {
      if (s.Type === 'Succeed' || s.Type === 'Fail') continue;
      expect(next(s).length, `${name} has a successor`).toBeGreaterThan(0);
    }
  });
});
