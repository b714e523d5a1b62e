/**
 * Every Lambda task in one typed table: the env keys its handler reads, its memory, whether its bundle
 * carries the policy, and its least-privilege grants on the other constructs.
 *
 * Adding a task function:
 *   1. write `tasks/<name>/handler.ts` (thin handler over `core.ts`);
 *   2. add `<name>` to its host's task list — WORKFLOW_TASKS (workflows/remediation.ts) for a state
 *      machine step, which the Workflow construct turns into functions by itself; otherwise
 *      HOSTED_TASKS below plus one `new TaskFunction(this, '<name>', …)` line in the hosting construct;
 *   3. add its entry to TASKS — one line: `'<name>': { env: [ENV.X], grant: (fn, r) => r.storage.tables.x.grantReadData(fn) },`
 *      (TypeScript refuses to compile until every task has one).
 */
import { ENV } from '../../tasks/shared/env';
import { SLOT_QUEUE } from '../../tasks/shared/tables';
import { WORKFLOW_TASKS } from '../../workflows/remediation';
import type { Approvals } from './approvals';
import { allow, allowOnStacks } from './iam';
import type { Intake } from './intake';
import type { Notifications } from './notifications';
import type { Runbooks } from './runbooks';
import type { Storage } from './storage';
import type { TaskFunction } from './task-function';
import type { Workflow } from './workflow';

/** Tasks outside the state machine, hosted by Intake, Schedules, Approvals and Callbacks. */
export const HOSTED_TASKS = [
  'intake',
  'fast-path',
  'sweep',
  'reap-leases',
  'approval-endpoint',
  'manual-start',
  'wait-callback',
  'reconcile-waits',
  'abort-cleanup',
  'notify',
] as const;
/** Every Lambda: the workflow's tasks plus the ones outside the state machine. */
export const ALL_TASKS = [...WORKFLOW_TASKS, ...HOSTED_TASKS] as const;
export type TaskName = (typeof ALL_TASKS)[number];
export type EnvKey = (typeof ENV)[keyof typeof ENV];

/** What a task's grants can reach: the constructs, typed (no lookups by string). */
export interface TaskWiring {
  readonly storage: Storage;
  readonly approvals: Approvals;
  readonly runbooks: Runbooks;
  readonly workflow: Workflow;
  readonly intake: Intake;
  readonly notifications: Notifications;
}

export interface TaskSpec {
  /** Env keys the handler reads; values come from DriftRemediation.environment (one value per key). */
  readonly env: readonly EnvKey[];
  /**
   * Lambda memory in MB.
   * @default 256
   */
  readonly memorySize?: number;
  /**
   * Copy the normalized policy JSON into the bundle (ENV.POLICY_FILE points at it).
   * @default false
   */
  readonly bundlesPolicy?: boolean;
  /** Least-privilege grants of the task's role (its log group and X-Ray come with TaskFunction). */
  readonly grant: (fn: TaskFunction, r: TaskWiring) => void;
}

const COMPLIANCE_BY_RESOURCE = ['config:GetComplianceDetailsByResource'];
const DRIFT_STATUS = ['cloudformation:DescribeStackDriftDetectionStatus'];
const DETECT_DRIFT = [
  'cloudformation:DescribeStackResources',
  'cloudformation:DetectStackResourceDrift',
  'cloudformation:DetectStackDrift',
];

/** Drift detection on the stack named by each event, the status read, and reads of the resource. */
function grantDriftDetection(fn: TaskFunction, r: TaskWiring): void {
  allowOnStacks(fn.taskRole, DETECT_DRIFT);
  allow(fn.taskRole, DRIFT_STATUS, ['*']);
  r.runbooks.grantResourceRead(fn.taskRole);
}

/** The slot admission item, the slot queue, and telling a queued execution (by its token) it holds a slot. */
function grantSlotQueue(fn: TaskFunction, r: TaskWiring): void {
  r.storage.tables.leases.grantReadWriteData(fn);
  const queue = r.storage.tables.slotQueue;
  // Waiters are written and deleted by key and read oldest-first through the one index (no index/* wildcard).
  allow(fn.taskRole, ['dynamodb:UpdateItem', 'dynamodb:DeleteItem'], [queue.tableArn]);
  allow(fn.taskRole, ['dynamodb:Query'], [`${queue.tableArn}/index/${SLOT_QUEUE.positionIndex}`]);
  // Both tables use the stack's one key, which the leases grant above already covers.
  r.workflow.grantTaskResponses(fn.taskRole);
}

/**
 * The outcome table by its primary key only: `actions` on the table and none on its audit indexes (no
 * index/* wildcard; only the audit CLI, with the operator's credentials, queries those), and the key.
 */
function grantOutcomes(fn: TaskFunction, r: TaskWiring, actions: string[]): void {
  allow(fn.taskRole, actions, [r.storage.tables.outcomes.tableArn]);
  if (actions.every((a) => a === 'dynamodb:Query')) r.storage.key.grantDecrypt(fn);
  else r.storage.key.grantEncryptDecrypt(fn);
}

/** Plan on the ordering table: both break-glass items in one BatchGetItem; the blast-radius window's GetItem and UpdateItem. */
const PLAN_ORDERING = ['dynamodb:BatchGetItem', 'dynamodb:GetItem', 'dynamodb:UpdateItem'];

// biome-ignore format: one task per line reads as a table
export const TASKS: { readonly [T in TaskName]: TaskSpec } = {
  // plan: exceptions (break-glass, tags), loop breaker (outcomes), blast radius (ordering; Config's resource counts for maxPercent)
  plan: { env: [ENV.ORDERING_TABLE, ENV.OUTCOMES_TABLE, ENV.POLICY_FILE, ENV.NAME_PREFIX], bundlesPolicy: true, grant: (fn, r) => { allow(fn.taskRole, PLAN_ORDERING, [r.storage.tables.ordering.tableArn]); r.storage.key.grantEncryptDecrypt(fn); grantOutcomes(fn, r, ['dynamodb:Query']); r.runbooks.grantResourceRead(fn.taskRole); allow(fn.taskRole, ['config:GetDiscoveredResourceCounts'], ['*']); } },
  'confirm-compliance': { env: [], grant: (fn, r) => { allow(fn.taskRole, COMPLIANCE_BY_RESOURCE, ['*']); r.runbooks.grantResourceRead(fn.taskRole); } },
  'detect-drift': { env: [], grant: grantDriftDetection },
  'check-drift': { env: [], grant: (fn) => allow(fn.taskRole, DRIFT_STATUS, ['*']) },
  'describe-drift': { env: [], grant: (fn) => allowOnStacks(fn.taskRole, ['cloudformation:DescribeStackResourceDrifts']) },
  // request-approval: the approval item, each approver's personal link (topic), the channels' approval.requested message (notifications queue)
  'request-approval': { env: [ENV.APPROVALS_TABLE, ENV.APPROVAL_TOPIC_ARN, ENV.APPROVAL_BASE_URL, ENV.SIGNING_SECRET_ARN, ENV.AUTOMATION_ASSUME_ROLE_ARN, ENV.NOTIFY_QUEUE_URL, ENV.NOTIFY_OUTCOMES], grant: (fn, r) => { r.storage.tables.approvals.grantReadWriteData(fn); r.approvals.topic.grantPublish(fn); r.approvals.signingSecret.grantRead(fn); r.notifications.queue.grantSendMessages(fn); } },
  // acquire-slot / release-slot / reap-leases: admission item (leases), the slot queue, and the queued tokens' SendTaskSuccess
  'acquire-slot': { env: [ENV.LEASES_TABLE, ENV.SLOT_QUEUE_TABLE], grant: grantSlotQueue },
  // start-runbook: starts the attempt, registers its token, reads the automation once (ended before registration?: releases the slot like wait-callback)
  'start-runbook': { env: [ENV.AUTOMATION_ASSUME_ROLE_ARN, ENV.WAITS_TABLE, ENV.LEASES_TABLE, ENV.SLOT_QUEUE_TABLE], grant: (fn, r) => { r.runbooks.grantStart(fn); r.runbooks.grantExecutionControl(fn.taskRole); r.storage.tables.waits.grantReadWriteData(fn); grantSlotQueue(fn, r); } },
  'release-slot': { env: [ENV.LEASES_TABLE, ENV.SLOT_QUEUE_TABLE], grant: grantSlotQueue },
  'recheck-drift': { env: [], grant: grantDriftDetection },
  // await-compliance: coalesced re-evaluation (ordering), registers its token, reads compliance once
  'await-compliance': { env: [ENV.ORDERING_TABLE, ENV.WAITS_TABLE], grant: (fn, r) => { allow(fn.taskRole, ['config:StartConfigRulesEvaluation', ...COMPLIANCE_BY_RESOURCE], ['*']); r.storage.tables.ordering.grantReadWriteData(fn); r.storage.tables.waits.grantReadWriteData(fn); r.workflow.grantTaskResponses(fn.taskRole); } },
  // record-outcome: the audit item (with the execution's cost from its history), expired approvals, the outcome topic, the notifications queue
  'record-outcome': { env: [ENV.OUTCOMES_TABLE, ENV.APPROVALS_TABLE, ENV.OUTCOME_TOPIC_ARN, ENV.APPROVAL_TOPIC_ARN, ENV.NOTIFY_QUEUE_URL, ENV.NOTIFY_OUTCOMES], grant: (fn, r) => { grantOutcomes(fn, r, ['dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem']); r.storage.tables.approvals.grantReadWriteData(fn); r.workflow.outcomeTopic.grantPublish(fn); r.approvals.topic.grantPublish(fn); r.workflow.grantExecutionHistory(fn.taskRole, 'the cost stored on the outcome record'); r.notifications.queue.grantSendMessages(fn); } },
  // intake: starts executions; drops (invalid, older, no entry, already running) are SKIPPED outcomes;
  // at most one running execution per resource and rule, so it looks at the previous one.
  intake: { env: [ENV.STATE_MACHINE_ARN, ENV.ORDERING_TABLE, ENV.OUTCOMES_TABLE, ENV.POLICY_FILE, ENV.NAME_PREFIX], memorySize: 512, bundlesPolicy: true, grant: (fn, r) => { r.workflow.stateMachine.grantStartExecution(fn); r.storage.tables.ordering.grantReadWriteData(fn); grantOutcomes(fn, r, ['dynamodb:PutItem']); r.workflow.grantDescribeExecutions(fn.taskRole, "is the resource's previous execution still running"); allowOnStacks(fn.taskRole, ['cloudformation:DescribeStackResourceDrifts', 'cloudformation:DescribeStackResources']); allow(fn.taskRole, ['config:ListDiscoveredResources'], ['*']); } },
  // fast-path: CloudTrail calls → the resource read (Cloud Control) and judged at once, drift detection on its stack; real drifts to the intake queue, the rest SKIPPED outcomes
  'fast-path': { env: [ENV.INTAKE_QUEUE_URL, ENV.OUTCOMES_TABLE, ENV.POLICY_FILE, ENV.NAME_PREFIX, ENV.FAST_PATH_OWN_ROLES], bundlesPolicy: true, grant: (fn, r) => { r.intake.queue.grantSendMessages(fn); grantOutcomes(fn, r, ['dynamodb:PutItem']); allowOnStacks(fn.taskRole, ['cloudformation:DescribeStackResources', 'cloudformation:DescribeStacks', 'cloudformation:DetectStackResourceDrift']); r.runbooks.grantResourceRead(fn.taskRole); } },
  sweep: { env: [ENV.INTAKE_QUEUE_URL, ENV.CONFIG_RULES], grant: (fn, r) => { allow(fn.taskRole, ['config:GetComplianceDetailsByConfigRule'], ['*']); r.intake.queue.grantSendMessages(fn); } },
  'reap-leases': { env: [ENV.LEASES_TABLE, ENV.SLOT_QUEUE_TABLE, ENV.STATE_MACHINE_ARN], grant: (fn, r) => { grantSlotQueue(fn, r); r.workflow.grantDescribeExecutions(fn.taskRole, 'lease holders and queued waiters'); r.workflow.grantListExecutions(fn.taskRole); } },
  // wait-callback: SSM / Config events complete waits (a failed automation's step message: GetAutomationExecution); a runbook's end releases its slot and hands it on (leases, slot queue)
  'wait-callback': { env: [ENV.WAITS_TABLE, ENV.LEASES_TABLE, ENV.SLOT_QUEUE_TABLE], grant: (fn, r) => { r.storage.tables.waits.grantReadWriteData(fn); r.runbooks.grantExecutionControl(fn.taskRole); grantSlotQueue(fn, r); } },
  // reconcile-waits: every waiting token against SSM / Config; stops an automation past its deadline; releases an ended runbook's slot as wait-callback does
  'reconcile-waits': { env: [ENV.WAITS_TABLE, ENV.ORDERING_TABLE, ENV.LEASES_TABLE, ENV.SLOT_QUEUE_TABLE], grant: (fn, r) => { r.storage.tables.waits.grantReadWriteData(fn); r.storage.tables.ordering.grantReadWriteData(fn); r.runbooks.grantExecutionControl(fn.taskRole); allow(fn.taskRole, ['config:StartConfigRulesEvaluation', ...COMPLIANCE_BY_RESOURCE], ['*']); grantSlotQueue(fn, r); } },
  // abort-cleanup: an ended execution's automation (stop), waits, slot and queue places, and its ABORTED outcome (+ notification)
  'abort-cleanup': { env: [ENV.WAITS_TABLE, ENV.LEASES_TABLE, ENV.SLOT_QUEUE_TABLE, ENV.OUTCOMES_TABLE, ENV.OUTCOME_TOPIC_ARN, ENV.STATE_MACHINE_ARN, ENV.NOTIFY_QUEUE_URL, ENV.NOTIFY_OUTCOMES], grant: (fn, r) => { r.storage.tables.waits.grantReadWriteData(fn); r.runbooks.grantExecutionControl(fn.taskRole); grantSlotQueue(fn, r); grantOutcomes(fn, r, ['dynamodb:Query', 'dynamodb:PutItem']); r.workflow.outcomeTopic.grantPublish(fn); r.notifications.queue.grantSendMessages(fn); } },
  // notify: the notifications queue (its event source) → Slack / signed webhooks; delivery marks and failures next to the outcomes
  notify: { env: [ENV.OUTCOMES_TABLE, ENV.POLICY_FILE, ENV.NAME_PREFIX], bundlesPolicy: true, grant: (fn, r) => { grantOutcomes(fn, r, ['dynamodb:GetItem', 'dynamodb:PutItem']); r.notifications.grantChannelSecrets(fn.taskRole); } },
  // manual-start: the authenticated entry (Function URL, AWS_IAM) signs the requester with the approval secret and sends to the intake queue; no StartExecution
  'manual-start': { env: [ENV.INTAKE_QUEUE_URL, ENV.SIGNING_SECRET_ARN], grant: (fn, r) => { r.intake.queue.grantSendMessages(fn); r.approvals.signingSecret.grantRead(fn); } },
  'approval-endpoint': { env: [ENV.APPROVALS_TABLE, ENV.SIGNING_SECRET_ARN], memorySize: 512, grant: (fn, r) => { r.storage.tables.approvals.grantReadWriteData(fn); r.approvals.signingSecret.grantRead(fn); r.workflow.grantTaskResponses(fn.taskRole); } },
};

/** Which env keys each function gets (from TASKS). */
export const TASK_ENV: Readonly<Record<TaskName, readonly EnvKey[]>> = Object.fromEntries(
  ALL_TASKS.map((t) => [t, TASKS[t].env]),
) as Record<TaskName, readonly EnvKey[]>;
