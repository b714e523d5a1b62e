/**
 * The remediation state machine (Standard, JSONPath only), built with the CDK chain API from a map
 * task name → Lambda function. State names are descriptive because operators read them in the console;
 * they are exported (STATES) so tests, the sandbox and dashboards refer to the same strings.
 *
 * State data (see tasks/shared/contracts.ts): `$.event` (input), then `$.plan`, `$.confirmation`,
 * `$.drift`, `$.approval`, `$.slot`, `$.runbook`, `$.verification`, `$.error` (any Catch) and `$.outcome`.
 * Plan remediation's result replaces the state with `{ event, plan }` (the event as validated): nothing else
 * of the execution's input survives it (buildPlanAndConfirm).
 * The execution (id, name, start time) is not copied into the state: a task that needs it gets `execution`
 * from the context object (`$$.Execution`) in its Parameters, so the workflow starts with Plan (no Pass).
 *
 * Payloads: a task whose input slices all exist on every path to it gets exactly its core's input via
 * Parameters. A task whose input has optional slices that may not exist yet (Start runbook's previous
 * `runbook`, recheck-drift's previous `verification`, the failure-path release, record-outcome) gets the
 * whole state (`state.$: $`, and `execution` beside it; liftState in tasks/shared/contracts.ts): in
 * JSONPath a Parameters path that does not exist fails the state (States.Runtime), while the task schemas
 * ignore keys they do not know.
 *
 * Waiting: a remediation slot, the runbook's end and Config's COMPLIANT result come by task token (Acquire
 * remediation slot, Start runbook and Wait for compliance are `.waitForTaskToken` tasks; the runbook's wait is
 * completed by tasks/wait-callback on the AWS event or by tasks/reconcile-waits, the fallback for lost events,
 * which first release the holder's slot and hand it to the oldest waiter of a FIFO queue — so there is no
 * release state after a successful runbook; the failure path, Leave slot queue, abort clean-up and the lease
 * reaper release too). Stack drift detection keeps bounded polling,
 * its waits sized so the lag stays ≤ 10 % of the detection time. No state only moves data.
 *
 * Loops are all bounded (drift polls, runbook attempts, CloudFormation-only verification
 * polls); test/workflow/history.test.ts proves the worst case stays under the 25,000-event history cap.
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { RECONCILE_PERIOD_SECONDS } from '../tasks/reconcile-waits/core';
import { type Outcome, SUCCESS_OUTCOMES } from '../tasks/shared/contracts';
import { LAMBDA_SERVICE_ERRORS, StatesErrors } from '../tasks/shared/errors';
import { RUNBOOK_ATTEMPT_TIMEOUT_SECONDS } from '../tasks/shared/runbook-status';
import { OUTCOME_STATES, PLAN_FAILURE_STATES, type PlanFailureOutcome, STATES } from './state-names';

/**
 * The Lambda-backed steps of the state machine (intake, sweep, reap-leases, the approval endpoint, the
 * event callback wait-callback and the reconciler reconcile-waits are not in it).
 */
export const WORKFLOW_TASKS = [
  'plan',
  'confirm-compliance',
  'detect-drift',
  'check-drift',
  'describe-drift',
  'request-approval',
  'acquire-slot',
  'start-runbook',
  'release-slot',
  'recheck-drift',
  'await-compliance',
  'record-outcome',
] as const;
export type WorkflowTask = (typeof WORKFLOW_TASKS)[number];

export type WorkflowFunctions = Readonly<Record<WorkflowTask, lambda.IFunction>>;

export { OUTCOME_STATES, PLAN_FAILURE_STATES, STATES } from './state-names';

/** Task state name → the Lambda task it invokes (Notify approvers reuses request-approval). */
export const TASK_STATES: Readonly<Record<string, WorkflowTask>> = {
  [STATES.plan]: 'plan',
  [STATES.confirm]: 'confirm-compliance',
  [STATES.detectDrift]: 'detect-drift',
  [STATES.checkDrift]: 'check-drift',
  [STATES.describeDrift]: 'describe-drift',
  [STATES.requestApproval]: 'request-approval',
  [STATES.notifyApprovers]: 'request-approval',
  [STATES.acquireSlot]: 'acquire-slot',
  [STATES.startRunbook]: 'start-runbook',
  [STATES.leaveQueue]: 'release-slot',
  [STATES.releaseAfterFailure]: 'release-slot',
  [STATES.recheckDrift]: 'recheck-drift',
  [STATES.awaitCompliance]: 'await-compliance',
  ...Object.fromEntries(
    [...Object.values(OUTCOME_STATES), ...Object.values(PLAN_FAILURE_STATES)].map((name) => [
      name,
      'record-outcome' as const,
    ]),
  ),
};

/** Lambda functions' own timeout (infra/ uses it), and each Task's TimeoutSeconds (a little longer). */
export const FUNCTION_TIMEOUT_SECONDS = 30;
export const TASK_TIMEOUT_SECONDS = 45;

/** Errors retried on every task: our transient error and Lambda's own service errors (as CDK lists them, plus throttling). */
export const TRANSIENT_ERRORS: readonly string[] = [
  'TransientServiceError',
  ...LAMBDA_SERVICE_ERRORS,
  'Lambda.ClientExecutionTimeoutException',
];
export const TRANSIENT_RETRY = {
  errors: TRANSIENT_ERRORS,
  intervalSeconds: 2,
  maxAttempts: 3,
  backoffRate: 2,
  maxDelaySeconds: 20,
} as const;
/**
 * A Lambda that ran out of time: the handler's own early timeout (middy's `TimeoutError`, thrown just before
 * Lambda would kill it), Lambda's `Sandbox.Timedout`, or `Lambda.Unknown` (timeouts and out-of-memory, as Step
 * Functions reports them). Retried only on tasks that are idempotent (Acquire, Release and Record: every write
 * is conditional or overwrites itself), so a function starved under a burst is re-run, not a FAILED remediation.
 */
export const LAMBDA_TIMEOUT_ERRORS: readonly string[] = [
  'TimeoutError',
  'Sandbox.Timedout',
  'Lambda.Unknown',
];
/** Tasks whose every write is conditional or overwrites itself: a timed-out invocation is safe to run again. */
export const IDEMPOTENT_TASKS: readonly WorkflowTask[] = ['acquire-slot', 'release-slot', 'record-outcome'];
export const IDEMPOTENT_TIMEOUT_RETRY = {
  errors: LAMBDA_TIMEOUT_ERRORS,
  intervalSeconds: 1,
  maxAttempts: 3,
  backoffRate: 2,
  maxDelaySeconds: 10,
} as const;
/** Start runbook only: SSM throttling / automation concurrency quota. */
export const THROTTLED_START_RETRY = {
  errors: ['RunbookStartThrottledError'],
  intervalSeconds: 5,
  maxAttempts: 4,
  backoffRate: 2,
  maxDelaySeconds: 60,
} as const;

/** Plan's fail-closed error: the exceptions could not be read, so a human decides (ESCALATED). */
export const ESCALATING_PLAN_ERRORS: readonly string[] = ['ExceptionsUnavailableError'];

/**
 * Start runbook's task timeout: an attempt's time budget plus two reconcile periods. The reconciler stops
 * an automation at its budget and fails the wait first; this is the backstop should it not run.
 */
export const RUNBOOK_TASK_TIMEOUT_SECONDS = RUNBOOK_ATTEMPT_TIMEOUT_SECONDS + 2 * RECONCILE_PERIOD_SECONDS;

/** Errors of Wait for compliance that end NOT_VERIFIED (timeout by Step Functions or the reconciler; no rule). */
export const NOT_VERIFIED_ERRORS: readonly string[] = [
  StatesErrors.Timeout,
  'VerificationTimeoutError',
  'VerificationUnavailableError',
];

/** The execution's reference from the context object (tasks/shared/execution-ref.ts), in each task's Parameters. */
const EXECUTION = {
  'id.$': '$$.Execution.Id',
  'name.$': '$$.Execution.Name',
  'startTime.$': '$$.Execution.StartTime',
} as const;

function retryProps(
  r: typeof TRANSIENT_RETRY | typeof THROTTLED_START_RETRY | typeof IDEMPOTENT_TIMEOUT_RETRY,
): sfn.RetryProps {
  return {
    errors: [...r.errors],
    interval: Duration.seconds(r.intervalSeconds),
    maxAttempts: r.maxAttempts,
    backoffRate: r.backoffRate,
    maxDelay: Duration.seconds(r.maxDelaySeconds),
    jitterStrategy: sfn.JitterType.FULL,
  };
}

export interface TaskOptions {
  /** Core input via Parameters; omitted → the whole state. */
  payload?: Record<string, unknown>;
  /** ResultSelector (reshapes the task's result before ResultPath). */
  resultSelector?: Record<string, unknown>;
  /**
   * Where the result goes; omitted → it replaces the whole state (ASL's default, `$`; left out rather than
   * written as `$`, which aws-local-stepfunctions 3 would store under a key named `$`).
   */
  resultPath?: string;
}

/** State factories in one scope: every phase builder makes its states with these. */
export interface StateFactory {
  readonly scope: Construct;
  readonly functions: WorkflowFunctions;
  /** A Lambda task (payload response only, task timeout, transient retry). */
  invoke(name: string, task: WorkflowTask, o: TaskOptions): tasks.LambdaInvoke;
  /** A Wait whose seconds come from `secondsPath`. */
  wait(name: string, secondsPath: string): sfn.Wait;
  choice(name: string): sfn.Choice;
}

/** The factories plus the shared ends every phase continues to: the outcomes and the failure path. */
export interface Builder extends StateFactory {
  /** The Task state that records outcome `o`. */
  outcome(o: Outcome): sfn.State;
  /** The Task state that records outcome `o` after Plan itself failed (the event and the error only). */
  planFailed(o: PlanFailureOutcome): sfn.State;
  /** The failure path's entry (release the slot, then FAILED). */
  readonly failure: sfn.State;
  /** Adds the catch-all to the failure path, with the error in `$.error`; returns `t`. */
  onFailure<T extends sfn.TaskStateBase>(t: T): T;
}

const C = sfn.Condition;

function stateFactory(scope: Construct, functions: WorkflowFunctions): StateFactory {
  const s = new Construct(scope, 'States');
  return {
    scope: s,
    functions,
    invoke: (name, task, o) => {
      const t = new tasks.LambdaInvoke(s, name, {
        stateName: name,
        lambdaFunction: functions[task],
        payloadResponseOnly: true,
        retryOnServiceExceptions: false,
        ...(o.payload ? { payload: sfn.TaskInput.fromObject(o.payload) } : {}),
        ...(o.resultSelector ? { resultSelector: o.resultSelector } : {}),
        ...(o.resultPath ? { resultPath: o.resultPath } : {}),
        taskTimeout: sfn.Timeout.duration(Duration.seconds(TASK_TIMEOUT_SECONDS)),
      });
      t.addRetry(retryProps(TRANSIENT_RETRY));
      if (IDEMPOTENT_TASKS.includes(task)) t.addRetry(retryProps(IDEMPOTENT_TIMEOUT_RETRY));
      return t;
    },
    wait: (name, secondsPath) =>
      new sfn.Wait(s, name, { stateName: name, time: sfn.WaitTime.secondsPath(secondsPath) }),
    choice: (name) => new sfn.Choice(s, name, { stateName: name }),
  };
}

/**
 * Ending: one recorded outcome on every path. Each outcome has its own Record task ("Outcome: X", the
 * outcome in its payload), then Succeed (SUCCESS_OUTCOMES) or Fail: no Pass or Choice spent around it.
 * Plan's own failures have theirs (PLAN_FAILURE_STATES), given the event and the error only.
 */
function buildEnding(f: StateFactory): {
  outcomes: Record<Outcome, sfn.State>;
  planFailed: Record<PlanFailureOutcome, sfn.State>;
} {
  const s = f.scope;
  const succeeded = new sfn.Succeed(s, STATES.succeeded, { stateName: STATES.succeeded });
  const notSucceeded = new sfn.Fail(s, STATES.notSucceeded, {
    stateName: STATES.notSucceeded,
    error: 'RemediationNotSucceeded',
    causePath: '$.outcome.reason',
  });
  const outcomeNotRecorded = new sfn.Fail(s, STATES.outcomeNotRecorded, {
    stateName: STATES.outcomeNotRecorded,
    error: 'OutcomeNotRecorded',
    cause: 'Record outcome failed after its retries; see the execution history',
  });
  // EnteredTime of a Record state is stable across its retries: one audit item per execution.
  const record = (name: string, outcome: Outcome, state: string | Record<string, string>) => {
    const t = f.invoke(name, 'record-outcome', {
      payload: {
        [typeof state === 'string' ? 'state.$' : 'state']: state,
        execution: EXECUTION,
        recording: { outcome, 'enteredTime.$': '$$.State.EnteredTime' },
      },
      resultPath: '$.outcome',
    });
    t.addCatch(outcomeNotRecorded, { errors: [StatesErrors.All], resultPath: '$.recordError' });
    t.next(SUCCESS_OUTCOMES.includes(outcome) ? succeeded : notSucceeded);
    return t;
  };
  const outcomes = {} as Record<Outcome, sfn.State>;
  // The whole state: its slices differ by path.
  for (const [outcome, name] of Object.entries(OUTCOME_STATES) as [Outcome, string][])
    outcomes[outcome] = record(name, outcome, '$');
  const planFailed = {} as Record<PlanFailureOutcome, sfn.State>;
  for (const [outcome, name] of Object.entries(PLAN_FAILURE_STATES) as [PlanFailureOutcome, string][])
    planFailed[outcome] = record(name, outcome, { 'event.$': '$.event', 'error.$': '$.error' });
  return { outcomes, planFailed };
}

/** Failure path: always give the slot back (safe with none), then FAILED with `$.error`. */
function buildFailurePath(f: StateFactory, failed: sfn.IChainable): sfn.State {
  const releaseAfterFailure = f.invoke(STATES.releaseAfterFailure, 'release-slot', {
    payload: { 'state.$': '$', execution: EXECUTION },
    resultPath: '$.slot',
  });
  releaseAfterFailure.addCatch(failed, { errors: [StatesErrors.All], resultPath: '$.releaseError' });
  releaseAfterFailure.next(failed);
  return releaseAfterFailure;
}

function builder(scope: Construct, functions: WorkflowFunctions): Builder {
  const f = stateFactory(scope, functions);
  const { outcomes, planFailed } = buildEnding(f);
  const failure = buildFailurePath(f, outcomes.FAILED);
  return {
    ...f,
    outcome: (o) => outcomes[o],
    planFailed: (o) => planFailed[o],
    failure,
    onFailure: (t) => {
      t.addCatch(failure, { errors: [StatesErrors.All], resultPath: '$.error' });
      return t;
    },
  };
}

/**
 * Verification: re-check drift; for a Config rule, wait by task token for its COMPLIANT result (bounded by
 * the policy's verification timeout → NOT_VERIFIED); without one, poll CloudFormation drift. Entry: Re-check drift.
 */
function buildVerification(b: Builder): sfn.State {
  const recheckDrift = b.onFailure(
    b.invoke(STATES.recheckDrift, 'recheck-drift', { resultPath: '$.verification' }),
  );
  const awaitCompliance = new tasks.LambdaInvoke(b.scope, STATES.awaitCompliance, {
    stateName: STATES.awaitCompliance,
    lambdaFunction: b.functions['await-compliance'],
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: sfn.TaskInput.fromObject({
      taskToken: sfn.JsonPath.taskToken,
      'event.$': '$.event',
      'plan.$': '$.plan',
      'verification.$': '$.verification',
      execution: EXECUTION,
    }),
    retryOnServiceExceptions: false,
    resultPath: '$.verification',
    taskTimeout: sfn.Timeout.at('$.plan.verification.timeoutSeconds'),
  });
  awaitCompliance.addRetry(retryProps(TRANSIENT_RETRY));
  awaitCompliance.addCatch(b.outcome('NOT_VERIFIED'), {
    errors: [...NOT_VERIFIED_ERRORS],
    resultPath: '$.error',
  });
  b.onFailure(awaitCompliance);
  awaitCompliance.next(b.outcome('VERIFIED'));
  recheckDrift.next(
    b
      .choice(STATES.driftResolved)
      .when(C.stringEquals('$.verification.status', 'verified'), b.outcome('VERIFIED'))
      .when(C.stringEquals('$.verification.status', 'failed'), b.outcome('NOT_VERIFIED'))
      .when(C.isPresent('$.event.configRuleName'), awaitCompliance)
      .otherwise(b.wait(STATES.waitRecheck, '$.verification.waitSeconds').next(recheckDrift)),
  );
  return recheckDrift;
}

/**
 * Runbook attempts: Start runbook starts the automation and waits by task token for its end; a retryable
 * failure waits retryAfterSeconds and re-attempts. Entry: Start runbook.
 */
function buildRunbook(b: Builder, onSucceeded: sfn.IChainable): sfn.State {
  // The whole state: `$.runbook` (the previous attempt) exists only on re-attempts; the execution beside it.
  const startRunbook = new tasks.LambdaInvoke(b.scope, STATES.startRunbook, {
    stateName: STATES.startRunbook,
    lambdaFunction: b.functions['start-runbook'],
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: sfn.TaskInput.fromObject({
      taskToken: sfn.JsonPath.taskToken,
      'state.$': '$',
      execution: EXECUTION,
    }),
    retryOnServiceExceptions: false,
    resultPath: '$.runbook',
    taskTimeout: sfn.Timeout.duration(Duration.seconds(RUNBOOK_TASK_TIMEOUT_SECONDS)),
  });
  startRunbook.addRetry(retryProps(TRANSIENT_RETRY));
  startRunbook.addRetry(retryProps(THROTTLED_START_RETRY));
  b.onFailure(startRunbook);
  startRunbook.next(
    b
      .choice(STATES.runbookFinished)
      .when(C.stringEquals('$.runbook.phase', 'succeeded'), onSucceeded)
      .when(
        C.and(
          C.stringEquals('$.runbook.phase', 'failed'),
          C.isPresent('$.runbook.retryable'),
          C.booleanEquals('$.runbook.retryable', true),
        ),
        b.wait(STATES.waitRunbookRetry, '$.runbook.waitSeconds').next(startRunbook),
      )
      .otherwise(b.failure),
  );
  return startRunbook;
}

/** The error Leave slot queue puts in `$.error` (its Cause says which runbook and how long). */
export const SLOT_QUEUE_TIMEOUT = 'SlotQueueTimeout';

/**
 * Slot admission: Acquire remediation slot joins the runbook's FIFO slot queue and waits by task token for
 * a slot (given at once when free). Waiting longer than the policy's concurrency.maxQueueSeconds → Leave
 * slot queue (no waiter left behind; a grant that raced the timeout is given back) → ESCALATED.
 * Entry: Acquire remediation slot.
 */
function buildSlotAcquire(b: Builder, runbook: sfn.IChainable): sfn.State {
  const acquireSlot = new tasks.LambdaInvoke(b.scope, STATES.acquireSlot, {
    stateName: STATES.acquireSlot,
    lambdaFunction: b.functions['acquire-slot'],
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: sfn.TaskInput.fromObject({
      taskToken: sfn.JsonPath.taskToken,
      'plan.$': '$.plan',
      execution: EXECUTION,
      'event.$': '$.event',
    }),
    retryOnServiceExceptions: false,
    resultPath: '$.slot',
    taskTimeout: sfn.Timeout.at('$.plan.concurrency.maxQueueSeconds'),
  });
  acquireSlot.addRetry(retryProps(TRANSIENT_RETRY));
  // Its own Lambda timing out (not the queue wait's States.Timeout): a retry keeps its queue place.
  acquireSlot.addRetry(retryProps(IDEMPOTENT_TIMEOUT_RETRY));
  const leaveQueue = b.invoke(STATES.leaveQueue, 'release-slot', {
    payload: { 'plan.$': '$.plan', execution: EXECUTION, leaving: true },
    resultSelector: { Error: SLOT_QUEUE_TIMEOUT, 'Cause.$': '$.message' },
    resultPath: '$.error',
  });
  // Could not leave: the hand-off skips a waiter whose execution ended, and the reaper removes it.
  leaveQueue.addCatch(b.outcome('ESCALATED'), { errors: [StatesErrors.All], resultPath: '$.leaveError' });
  leaveQueue.next(b.outcome('ESCALATED'));
  acquireSlot.addCatch(leaveQueue, { errors: [StatesErrors.Timeout], resultPath: '$.error' });
  b.onFailure(acquireSlot);
  acquireSlot.next(runbook);
  return acquireSlot;
}

/** Approval: required → wait for a decision; notify-only → notify; then `onApproved`. */
function buildApproval(
  b: Builder,
  onApproved: sfn.IChainable,
): { requestApproval: sfn.State; notifyApprovers: sfn.State } {
  const approvalPayload = {
    'event.$': '$.event',
    'plan.$': '$.plan',
    'drift.$': '$.drift',
    execution: EXECUTION,
  };
  const requestApproval = new tasks.LambdaInvoke(b.scope, STATES.requestApproval, {
    stateName: STATES.requestApproval,
    lambdaFunction: b.functions['request-approval'],
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: sfn.TaskInput.fromObject({ taskToken: sfn.JsonPath.taskToken, ...approvalPayload }),
    retryOnServiceExceptions: false,
    resultPath: '$.approval',
    taskTimeout: sfn.Timeout.at('$.plan.approval.ttlSeconds'),
  });
  requestApproval.addRetry(retryProps(TRANSIENT_RETRY));
  requestApproval.addCatch(b.outcome('EXPIRED'), { errors: [StatesErrors.Timeout], resultPath: '$.error' });
  requestApproval.addCatch(b.outcome('REJECTED'), {
    errors: [StatesErrors.ApprovalRejected],
    resultPath: '$.error',
  });
  b.onFailure(requestApproval);
  const notifyApprovers = b.onFailure(
    b.invoke(STATES.notifyApprovers, 'request-approval', {
      payload: { notifyOnly: true, ...approvalPayload },
      resultPath: sfn.JsonPath.DISCARD,
    }),
  );
  requestApproval.next(onApproved);
  notifyApprovers.next(onApproved);
  return { requestApproval, notifyApprovers };
}

/**
 * Drift detection, then one Choice for everything decided from the drift (Detect drift describes a
 * resource's drift itself; a stack's is described once its detection ended): stack detection still running →
 * wait (sized by detect/check-drift), check, describe; the template itself violates the rule →
 * ESCALATED; plan mode (`$.plan.mode` = plan) → PLANNED; approval required → Request approval; notify-only → Notify approvers; else `onDrift`.
 * Entry: Detect drift.
 */
function buildDriftDetection(
  b: Builder,
  approval: { requestApproval: sfn.State; notifyApprovers: sfn.State },
  onDrift: sfn.IChainable,
): sfn.State {
  const detectDrift = b.onFailure(
    b.invoke(STATES.detectDrift, 'detect-drift', {
      payload: {
        'event.$': '$.event',
        'plan.$': '$.plan',
        'confirmation.$': '$.confirmation',
        execution: EXECUTION,
      },
      resultPath: '$.drift',
    }),
  );
  const checkDrift = b.onFailure(
    b.invoke(STATES.checkDrift, 'check-drift', {
      payload: { 'drift.$': '$.drift', 'event.$': '$.event', execution: EXECUTION },
      resultPath: '$.drift',
    }),
  );
  // Returns the drift unchanged while a stack detection is still in progress.
  const describeDrift = b.onFailure(
    b.invoke(STATES.describeDrift, 'describe-drift', {
      payload: {
        'event.$': '$.event',
        'drift.$': '$.drift',
        'confirmation.$': '$.confirmation',
        execution: EXECUTION,
      },
      resultPath: '$.drift',
    }),
  );
  // Detect drift describes a resource's drift itself, and a stack detection it starts is still running:
  // straight to the Choice. Describe drift runs after Check drift detection, once a stack detection ended.
  checkDrift.next(describeDrift);
  const afterDrift = b
    .choice(STATES.afterDrift)
    // A resource's drift Detect drift could not describe from its own result: Describe drift reads it.
    .when(
      C.and(C.stringEquals('$.drift.mode', 'resource'), C.not(C.isPresent('$.drift.propertyDifferences'))),
      describeDrift,
    )
    .when(
      C.stringEquals('$.drift.detectionStatus', 'DETECTION_IN_PROGRESS'),
      b.wait(STATES.waitDriftDetection, '$.drift.waitSeconds').next(checkDrift),
    )
    .when(
      C.and(
        C.isPresent('$.drift.templateViolatesRule'),
        C.booleanEquals('$.drift.templateViolatesRule', true),
      ),
      b.outcome('ESCALATED'),
    )
    // Plan mode: the drift is described; record what would run (PLANNED) instead of approving or running it.
    .when(C.and(C.isPresent('$.plan.mode'), C.stringEquals('$.plan.mode', 'plan')), b.outcome('PLANNED'))
    .when(C.booleanEquals('$.plan.approval.required', true), approval.requestApproval)
    .when(C.stringEquals('$.plan.approval.mode', 'notify-only'), approval.notifyApprovers)
    .otherwise(onDrift);
  detectDrift.next(afterDrift);
  describeDrift.next(afterDrift);
  return detectDrift;
}

/**
 * Plan (remediate / skip / escalate), confirm the resource is still non-compliant. Entry: Plan remediation.
 *
 * The execution's input is whatever a StartExecution caller sent: keys beside `event` (`approval`,
 * `runbook`, `verification`, …) would stay in the state and, on a path that never runs the step owning
 * one, reach Record outcome as if that step had run. So Plan's result *replaces* the state: it returns the
 * event as its schema validated it and the plan (ResultSelector keeps exactly those two; no ResultPath, so they replace the state),
 * and from there the state holds only what the workflow produced. Plan's own failures go to
 * PLAN_FAILURE_STATES, which take the event and the error alone (a Catch adds to the input). No state is spent.
 */
function buildPlanAndConfirm(b: Builder, onConfirmed: sfn.IChainable): sfn.State {
  const plan = b.invoke(STATES.plan, 'plan', {
    payload: { 'event.$': '$.event', execution: EXECUTION },
    resultSelector: { 'event.$': '$.event', 'plan.$': '$.plan' },
    // no resultPath: the result replaces the state
  });
  plan.addCatch(b.planFailed('ESCALATED'), { errors: [...ESCALATING_PLAN_ERRORS], resultPath: '$.error' });
  plan.addCatch(b.planFailed('FAILED'), { errors: [StatesErrors.All], resultPath: '$.error' });
  // Confirm runs after every plan (for skip / escalate it calls nothing and says so): one Choice decides.
  const confirm = b.onFailure(
    b.invoke(STATES.confirm, 'confirm-compliance', {
      payload: { 'event.$': '$.event', 'plan.$': '$.plan', execution: EXECUTION },
      resultPath: '$.confirmation',
    }),
  );
  confirm.next(
    b
      .choice(STATES.stillNonCompliant)
      .when(
        C.and(
          C.stringEquals('$.plan.decision', 'remediate'),
          C.booleanEquals('$.confirmation.stillNonCompliant', true),
          C.booleanEquals('$.confirmation.resourceExists', true),
        ),
        onConfirmed,
      )
      .when(C.stringEquals('$.plan.decision', 'escalate'), b.outcome('ESCALATED'))
      .otherwise(b.outcome('SKIPPED')),
  );
  plan.next(confirm);
  return plan;
}

/**
 * Builds the definition inside `scope` (states are constructs; put them in their own scope), phase by
 * phase from the end back to the start, each phase given the state it continues to.
 * Returns the DefinitionBody for `new sfn.StateMachine(..., { definitionBody })`.
 */
export function remediationDefinition(scope: Construct, functions: WorkflowFunctions): sfn.DefinitionBody {
  const b = builder(scope, functions);
  const verification = buildVerification(b);
  // No release state after a successful runbook: whoever resolved the runbook's wait released the slot
  // before telling the execution (tasks/shared/leases-release.ts).
  const runbook = buildRunbook(b, verification);
  const acquire = buildSlotAcquire(b, runbook);
  const approval = buildApproval(b, acquire);
  const drift = buildDriftDetection(b, approval, acquire);
  return sfn.DefinitionBody.fromChainable(buildPlanAndConfirm(b, drift));
}
