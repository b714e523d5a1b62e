/**
 * The remediation state machine (Standard, JSONPath only), built with the CDK chain API from a map
 * task name → Lambda function. State names are descriptive because operators read them in the console;
 * they are exported (STATES) so tests, the sandbox and dashboards refer to the same strings.
 *
 * State data (see tasks/shared/contracts.ts): `$.event` (input), `$.execution` (set by the first state
 * from the context object), then `$.plan`, `$.confirmation`, `$.drift`, `$.approval`, `$.slot`,
 * `$.runbook`, `$.verification`, `$.error` (any Catch), `$.recording` and `$.outcome`.
 *
 * Payloads: a task whose input slices all exist on every path to it gets exactly its core's input via
 * Parameters. A task whose input has optional slices that may not exist yet (acquire-slot's previous
 * `slot`, recheck-drift's previous `verification`, the failure-path release, record-outcome) gets the
 * whole state: in JSONPath a Parameters path that does not exist fails the state (States.Runtime),
 * while the task schemas ignore keys they do not know.
 *
 * Loops are all bounded by the tasks (drift polls, slot tries, runbook attempts × polls, verification
 * polls); test/workflow/history.test.ts proves the worst case stays under the 25,000-event history cap.
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { Outcome } from '../tasks/shared/contracts';
import { LAMBDA_SERVICE_ERRORS, StatesErrors } from '../tasks/shared/errors';

/** The Lambda-backed steps of the state machine (intake, sweep, reap-leases and the approval endpoint are not in it). */
export const WORKFLOW_TASKS = [
  'plan',
  'confirm-compliance',
  'detect-drift',
  'check-drift',
  'describe-drift',
  'request-approval',
  'acquire-slot',
  'start-runbook',
  'check-runbook',
  'release-slot',
  'recheck-drift',
  'request-reevaluation',
  'check-compliance',
  'record-outcome',
] as const;
export type WorkflowTask = (typeof WORKFLOW_TASKS)[number];

export type WorkflowFunctions = Readonly<Record<WorkflowTask, lambda.IFunction>>;

/** Every state's name. */
export const STATES = {
  start: 'Start remediation',
  plan: 'Plan remediation',
  planDecision: 'Remediate, skip or escalate?',
  confirm: 'Confirm non-compliance',
  stillNonCompliant: 'Still non-compliant?',
  detectDrift: 'Detect drift',
  driftDetectionDone: 'Drift detection complete?',
  waitDriftDetection: 'Wait for drift detection',
  checkDrift: 'Check drift detection',
  describeDrift: 'Describe drift',
  templateViolatesRule: 'Template violates the rule?',
  approvalRequired: 'Approval required?',
  requestApproval: 'Request approval',
  notifyApprovers: 'Notify approvers',
  acquireSlot: 'Acquire remediation slot',
  slotAcquired: 'Slot acquired?',
  waitSlot: 'Wait for remediation slot',
  prepareRunbook: 'Prepare first runbook attempt',
  startRunbook: 'Start runbook',
  waitRunbook: 'Wait for runbook',
  checkRunbook: 'Check runbook',
  runbookFinished: 'Runbook finished?',
  waitRunbookRetry: 'Wait before retrying runbook',
  releaseSlot: 'Release remediation slot',
  recheckDrift: 'Re-check drift',
  driftResolved: 'Drift resolved?',
  waitRecheck: 'Wait before re-checking drift',
  requestReevaluation: 'Request re-evaluation',
  reevaluationRequested: 'Re-evaluation requested?',
  waitReevaluation: 'Wait for re-evaluation',
  checkCompliance: 'Check compliance',
  compliant: 'Compliant?',
  releaseAfterFailure: 'Release remediation slot after failure',
  prepareOutcome: 'Prepare outcome record',
  recordOutcome: 'Record outcome',
  outcomeSucceeded: 'Outcome succeeded?',
  succeeded: 'Remediation succeeded',
  notSucceeded: 'Remediation did not succeed',
  outcomeNotRecorded: 'Outcome could not be recorded',
} as const;

/** The Pass state that chooses each outcome. */
export const OUTCOME_STATES: Readonly<Record<Outcome, string>> = {
  VERIFIED: 'Outcome: VERIFIED',
  SKIPPED: 'Outcome: SKIPPED',
  ESCALATED: 'Outcome: ESCALATED',
  REJECTED: 'Outcome: REJECTED',
  EXPIRED: 'Outcome: EXPIRED',
  FAILED: 'Outcome: FAILED',
  NOT_VERIFIED: 'Outcome: NOT_VERIFIED',
};

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
  [STATES.checkRunbook]: 'check-runbook',
  [STATES.releaseSlot]: 'release-slot',
  [STATES.releaseAfterFailure]: 'release-slot',
  [STATES.recheckDrift]: 'recheck-drift',
  [STATES.requestReevaluation]: 'request-reevaluation',
  [STATES.checkCompliance]: 'check-compliance',
  [STATES.recordOutcome]: 'record-outcome',
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

/** Marks `$.runbook` before the first Start runbook (attempt 0; Start runbook makes it attempt 1). */
export const INITIAL_RUNBOOK_STATE = {
  attempt: 0,
  phase: 'not-started',
  polls: 0,
  maxPolls: 1,
  waitSeconds: 1,
} as const;

const EXECUTION = '$.execution';

function retryProps(r: typeof TRANSIENT_RETRY | typeof THROTTLED_START_RETRY): sfn.RetryProps {
  return {
    errors: [...r.errors],
    interval: Duration.seconds(r.intervalSeconds),
    maxAttempts: r.maxAttempts,
    backoffRate: r.backoffRate,
    maxDelay: Duration.seconds(r.maxDelaySeconds),
    jitterStrategy: sfn.JitterType.FULL,
  };
}

interface TaskOptions {
  /** Core input via Parameters; omitted → the whole state. */
  payload?: Record<string, unknown>;
  resultPath: string;
}

/**
 * Builds the definition inside `scope` (states are constructs; put them in their own scope).
 * Returns the DefinitionBody for `new sfn.StateMachine(..., { definitionBody })`.
 */
export function remediationDefinition(scope: Construct, functions: WorkflowFunctions): sfn.DefinitionBody {
  const s = new Construct(scope, 'States');

  const invoke = (name: string, task: WorkflowTask, o: TaskOptions): tasks.LambdaInvoke => {
    const t = new tasks.LambdaInvoke(s, name, {
      stateName: name,
      lambdaFunction: functions[task],
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      ...(o.payload ? { payload: sfn.TaskInput.fromObject(o.payload) } : {}),
      resultPath: o.resultPath,
      taskTimeout: sfn.Timeout.duration(Duration.seconds(TASK_TIMEOUT_SECONDS)),
    });
    t.addRetry(retryProps(TRANSIENT_RETRY));
    return t;
  };
  const pass = (name: string, props: sfn.PassProps) => new sfn.Pass(s, name, { stateName: name, ...props });
  const wait = (name: string, secondsPath: string) =>
    new sfn.Wait(s, name, { stateName: name, time: sfn.WaitTime.secondsPath(secondsPath) });
  const choice = (name: string) => new sfn.Choice(s, name, { stateName: name });
  const C = sfn.Condition;

  // ── Ending: one recorded outcome on every path ────────────────────────────────────────────
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
  const recordOutcome = invoke(STATES.recordOutcome, 'record-outcome', { resultPath: '$.outcome' });
  recordOutcome.addCatch(outcomeNotRecorded, { errors: [StatesErrors.All], resultPath: '$.recordError' });
  recordOutcome.next(
    choice(STATES.outcomeSucceeded)
      .when(C.booleanEquals('$.outcome.succeeded', true), succeeded)
      .otherwise(notSucceeded),
  );
  // Lifts `$.recording` ({ outcome, enteredTime }) to the top level, where record-outcome reads them.
  const prepareOutcome = pass(STATES.prepareOutcome, {
    parameters: { 'merged.$': 'States.JsonMerge($, $.recording, false)' },
    outputPath: '$.merged',
  }).next(recordOutcome);
  const outcomeState = {} as Record<Outcome, sfn.Pass>;
  for (const [outcome, name] of Object.entries(OUTCOME_STATES) as [Outcome, string][]) {
    const p = pass(name, {
      // EnteredTime of this state is stable across retries of Record outcome: one audit item per execution.
      parameters: { outcome, 'enteredTime.$': '$$.State.EnteredTime' },
      resultPath: '$.recording',
    });
    p.next(prepareOutcome);
    outcomeState[outcome] = p;
  }
  const outcome = (o: Outcome) => outcomeState[o];

  // ── Failure path: always give the slot back (safe with none), then FAILED with $.error ────
  const releaseAfterFailure = invoke(STATES.releaseAfterFailure, 'release-slot', { resultPath: '$.slot' });
  releaseAfterFailure.addCatch(outcome('FAILED'), {
    errors: [StatesErrors.All],
    resultPath: '$.releaseError',
  });
  releaseAfterFailure.next(outcome('FAILED'));
  const onFailure = (t: tasks.LambdaInvoke) =>
    t.addCatch(releaseAfterFailure, { errors: [StatesErrors.All], resultPath: '$.error' });

  // ── Main path ──────────────────────────────────────────────────────────────────────────────
  const start = pass(STATES.start, {
    parameters: {
      'event.$': '$.event',
      execution: {
        'id.$': '$$.Execution.Id',
        'name.$': '$$.Execution.Name',
        'startTime.$': '$$.Execution.StartTime',
      },
    },
  });

  const plan = invoke(STATES.plan, 'plan', {
    payload: { 'event.$': '$.event', 'execution.$': EXECUTION },
    resultPath: '$.plan',
  });
  plan.addCatch(outcome('ESCALATED'), { errors: [...ESCALATING_PLAN_ERRORS], resultPath: '$.error' });
  onFailure(plan);

  const confirm = onFailure(
    invoke(STATES.confirm, 'confirm-compliance', {
      payload: { 'event.$': '$.event', 'plan.$': '$.plan', 'execution.$': EXECUTION },
      resultPath: '$.confirmation',
    }),
  );
  const detectDrift = onFailure(
    invoke(STATES.detectDrift, 'detect-drift', {
      payload: {
        'event.$': '$.event',
        'plan.$': '$.plan',
        'confirmation.$': '$.confirmation',
        'execution.$': EXECUTION,
      },
      resultPath: '$.drift',
    }),
  );
  const checkDrift = onFailure(
    invoke(STATES.checkDrift, 'check-drift', {
      payload: { 'drift.$': '$.drift', 'event.$': '$.event', 'execution.$': EXECUTION },
      resultPath: '$.drift',
    }),
  );
  const describeDrift = onFailure(
    invoke(STATES.describeDrift, 'describe-drift', {
      payload: {
        'event.$': '$.event',
        'drift.$': '$.drift',
        'confirmation.$': '$.confirmation',
        'execution.$': EXECUTION,
      },
      resultPath: '$.drift',
    }),
  );

  const approvalPayload = {
    'event.$': '$.event',
    'plan.$': '$.plan',
    'drift.$': '$.drift',
    'execution.$': EXECUTION,
  };
  const requestApproval = new tasks.LambdaInvoke(s, STATES.requestApproval, {
    stateName: STATES.requestApproval,
    lambdaFunction: functions['request-approval'],
    integrationPattern: sfn.IntegrationPattern.WAIT_FOR_TASK_TOKEN,
    payload: sfn.TaskInput.fromObject({ taskToken: sfn.JsonPath.taskToken, ...approvalPayload }),
    retryOnServiceExceptions: false,
    resultPath: '$.approval',
    taskTimeout: sfn.Timeout.at('$.plan.approval.ttlSeconds'),
  });
  requestApproval.addRetry(retryProps(TRANSIENT_RETRY));
  requestApproval.addCatch(outcome('EXPIRED'), { errors: [StatesErrors.Timeout], resultPath: '$.error' });
  requestApproval.addCatch(outcome('REJECTED'), {
    errors: [StatesErrors.ApprovalRejected],
    resultPath: '$.error',
  });
  onFailure(requestApproval);
  const notifyApprovers = onFailure(
    invoke(STATES.notifyApprovers, 'request-approval', {
      payload: { notifyOnly: true, ...approvalPayload },
      resultPath: sfn.JsonPath.DISCARD,
    }),
  );

  const acquireSlot = onFailure(invoke(STATES.acquireSlot, 'acquire-slot', { resultPath: '$.slot' }));
  const startRunbook = onFailure(
    invoke(STATES.startRunbook, 'start-runbook', {
      payload: {
        'event.$': '$.event',
        'plan.$': '$.plan',
        'drift.$': '$.drift',
        'runbook.$': '$.runbook',
        'execution.$': EXECUTION,
      },
      resultPath: '$.runbook',
    }),
  );
  startRunbook.addRetry(retryProps(THROTTLED_START_RETRY));
  const checkRunbook = onFailure(
    invoke(STATES.checkRunbook, 'check-runbook', {
      payload: { 'plan.$': '$.plan', 'runbook.$': '$.runbook', 'execution.$': EXECUTION },
      resultPath: '$.runbook',
    }),
  );
  const releaseSlot = onFailure(
    invoke(STATES.releaseSlot, 'release-slot', {
      payload: { 'slot.$': '$.slot', 'plan.$': '$.plan', 'execution.$': EXECUTION },
      resultPath: '$.slot',
    }),
  );
  const recheckDrift = onFailure(
    invoke(STATES.recheckDrift, 'recheck-drift', { resultPath: '$.verification' }),
  );
  const requestReevaluation = onFailure(
    invoke(STATES.requestReevaluation, 'request-reevaluation', {
      payload: {
        'event.$': '$.event',
        'plan.$': '$.plan',
        'verification.$': '$.verification',
        'execution.$': EXECUTION,
      },
      resultPath: '$.verification',
    }),
  );
  const checkCompliance = onFailure(
    invoke(STATES.checkCompliance, 'check-compliance', {
      payload: {
        'event.$': '$.event',
        'plan.$': '$.plan',
        'verification.$': '$.verification',
        'execution.$': EXECUTION,
      },
      resultPath: '$.verification',
    }),
  );

  // Verification
  const waitReevaluation = wait(STATES.waitReevaluation, '$.verification.waitSeconds').next(checkCompliance);
  requestReevaluation.next(
    choice(STATES.reevaluationRequested)
      .when(C.stringEquals('$.verification.status', 'failed'), outcome('NOT_VERIFIED'))
      .otherwise(waitReevaluation),
  );
  checkCompliance.next(
    choice(STATES.compliant)
      .when(C.stringEquals('$.verification.status', 'verified'), outcome('VERIFIED'))
      .when(C.stringEquals('$.verification.status', 'failed'), outcome('NOT_VERIFIED'))
      .otherwise(requestReevaluation),
  );
  recheckDrift.next(
    choice(STATES.driftResolved)
      .when(C.stringEquals('$.verification.status', 'verified'), outcome('VERIFIED'))
      .when(C.stringEquals('$.verification.status', 'failed'), outcome('NOT_VERIFIED'))
      .when(C.isPresent('$.event.configRuleName'), requestReevaluation)
      .otherwise(wait(STATES.waitRecheck, '$.verification.waitSeconds').next(recheckDrift)),
  );
  releaseSlot.next(recheckDrift);

  // Runbook attempts
  const waitRunbook = wait(STATES.waitRunbook, '$.runbook.waitSeconds');
  startRunbook.next(waitRunbook);
  waitRunbook.next(checkRunbook);
  checkRunbook.next(
    choice(STATES.runbookFinished)
      .when(C.stringEquals('$.runbook.phase', 'succeeded'), releaseSlot)
      .when(
        C.and(
          C.stringEquals('$.runbook.phase', 'failed'),
          C.isPresent('$.runbook.retryable'),
          C.booleanEquals('$.runbook.retryable', true),
        ),
        wait(STATES.waitRunbookRetry, '$.runbook.waitSeconds').next(startRunbook),
      )
      .when(C.stringEquals('$.runbook.phase', 'failed'), releaseAfterFailure)
      .otherwise(waitRunbook),
  );

  // Slot
  const prepareRunbook = pass(STATES.prepareRunbook, {
    result: sfn.Result.fromObject(INITIAL_RUNBOOK_STATE),
    resultPath: '$.runbook',
  }).next(startRunbook);
  const waitSlot = wait(STATES.waitSlot, '$.slot.waitSeconds');
  acquireSlot.next(
    choice(STATES.slotAcquired)
      .when(C.booleanEquals('$.slot.acquired', true), prepareRunbook)
      .otherwise(waitSlot),
  );
  waitSlot.next(acquireSlot);

  // Approval
  requestApproval.next(acquireSlot);
  notifyApprovers.next(acquireSlot);
  describeDrift.next(
    choice(STATES.templateViolatesRule)
      .when(
        C.and(
          C.isPresent('$.drift.templateViolatesRule'),
          C.booleanEquals('$.drift.templateViolatesRule', true),
        ),
        outcome('ESCALATED'),
      )
      .otherwise(
        choice(STATES.approvalRequired)
          .when(C.booleanEquals('$.plan.approval.required', true), requestApproval)
          .when(C.stringEquals('$.plan.approval.mode', 'notify-only'), notifyApprovers)
          .otherwise(acquireSlot),
      ),
  );

  // Drift detection (stack mode polls)
  const driftDone = choice(STATES.driftDetectionDone);
  detectDrift.next(driftDone);
  driftDone
    .when(
      C.stringEquals('$.drift.detectionStatus', 'DETECTION_IN_PROGRESS'),
      wait(STATES.waitDriftDetection, '$.drift.waitSeconds').next(checkDrift),
    )
    .otherwise(describeDrift);
  checkDrift.next(driftDone);

  // Decide, confirm
  confirm.next(
    choice(STATES.stillNonCompliant)
      .when(
        C.and(
          C.booleanEquals('$.confirmation.stillNonCompliant', true),
          C.booleanEquals('$.confirmation.resourceExists', true),
        ),
        detectDrift,
      )
      .otherwise(outcome('SKIPPED')),
  );
  plan.next(
    choice(STATES.planDecision)
      .when(C.stringEquals('$.plan.decision', 'remediate'), confirm)
      .when(C.stringEquals('$.plan.decision', 'skip'), outcome('SKIPPED'))
      .otherwise(outcome('ESCALATED')),
  );
  start.next(plan);

  return sfn.DefinitionBody.fromChainable(start);
}
