/**
 * Record outcome: the one place every execution ends. Writes the audit item, marks an expired
 * approval, tells a human why a remediation did not happen or did not work, and counts the outcome.
 *
 * Input  { outcome: VERIFIED | SKIPPED | ESCALATED | REJECTED | EXPIRED | FAILED | NOT_VERIFIED | PLANNED (chosen by the workflow),
 *          execution: { id, name, startTime }, enteredTime?: ISO ($$.State.EnteredTime),
 *          (the workflow's shape: `{ state: <the whole state>, execution: <$$.Execution>, recording: { outcome,
 *          enteredTime } }`, flattened here)
 *          event?, plan?, confirmation?, drift?, approval?, runbook?, verification?, error?: { Error, Cause } }
 *   Only `outcome` and `execution` are required. The state slices are whatever exists on the path that
 *   led here; a slice that is malformed is ignored (never a reason to lose the outcome).
 *   A retried invocation overwrites the OUTCOMES item it already wrote instead of adding a second one (the loop
 *   breaker counts them): the sort key's time is `enteredTime` when given (`$$.State.EnteredTime` is stable across
 *   retries; aws-local-stepfunctions does not provide it, so it is optional), else the recordedAt of this
 *   execution's earlier item (one Query), else now.
 * Output OutcomeRecord ($.outcome); succeeded = SUCCESS_OUTCOMES.includes(outcome) → Succeed, else Fail.
 *
 * Effects, in order:
 *   1. OUTCOMES item (putOutcome): reason, runbook, attempts, remediated (= a runbook reached Success), approval, error name,
 *      cost (./cost.ts: the execution's history priced; `{ unavailable }` when it cannot be read);
 *      PLANNED (plan mode) also `planned`: the runbook, its resolved parameters and the expected-vs-actual diff.
 *   2. EXPIRED: APPROVALS item `approvalIdFor(execution.id)` PENDING → EXPIRED (task token removed); each approver is
 *      told on APPROVAL_TOPIC_ARN (attributes kind=approval-expired, approver, approvalId) that the request lapsed.
 *      Already decided → left alone, nobody told.
 *   3. Every outcome but VERIFIED, SKIPPED and PLANNED: SNS publish to OUTCOME_TOPIC_ARN (a human is told why not);
 *      escalations by the blast-radius breaker: one aggregated notice per window (tasks/shared/blast-radius.ts).
 *   4. Metric RemediationOutcome (Count, dimension outcome).
 *   5. With `notify` and a channel that hears the outcome: the notification message on the notifications queue
 *      (tasks/shared/notifications*.ts; tasks/notify delivers it). A failed enqueue is logged and counted
 *      (NotificationEnqueueFailed), never a failure of this task.
 * The reason comes from plan.reason, confirmation.reason, the runbook's failure, the verification, the approver's
 * rejection (error.Cause JSON) or the caught error (name + Cause's errorMessage). Texts that look like tokens or
 * secrets are redacted, so no task token or signature ever reaches the table, a message or a log.
 * Errors: InvalidInputError (no outcome / execution: nothing written); TransientServiceError.
 */

import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, type PublishCommandInput, type SNSClient } from '@aws-sdk/client-sns';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { approvalIdFor } from '../shared/approval-id';
import { DecisionRecord } from '../shared/approvals/record';
import { BLAST_NOTICE_KEY, blastNoticeSk, countBlastEscalation } from '../shared/blast-radius';
import {
  ApprovalDecision,
  ApprovalRejection,
  CaughtError,
  ConfirmationResult,
  DriftState,
  liftState,
  Outcome,
  type OutcomeRecord,
  PlanResult,
  RemediationEvent,
  RunbookState,
  resourceKeyOf,
  SUCCESS_OUTCOMES,
  VerificationState,
} from '../shared/contracts';
import { queryPages } from '../shared/dynamo-pages';
import { awsCall, TransientServiceError } from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { outcomeNotification } from '../shared/notifications';
import { enqueueNotification, type NotifyTarget } from '../shared/notifications-enqueue';
import { OUTCOME_RETENTION_DAYS, putOutcome } from '../shared/outcomes';
import { plannedChange } from '../shared/planned';
import { scrubSecrets } from '../shared/redact';
import { isoDateTime } from '../shared/validation';
import { costForOutcome } from './cost';

/**
 * The state the workflow hands over: the whole state in `state`, the execution beside it (liftState), and
 * `outcome` and `enteredTime` in `recording` (the "Outcome: X" state's payload), lifted to the top level here.
 */
function liftRecording(v: unknown): unknown {
  const flat = liftState(v);
  if (!flat || typeof flat !== 'object' || Array.isArray(flat)) return flat;
  const { recording, ...rest } = flat as Record<string, unknown>;
  return recording && typeof recording === 'object' && !Array.isArray(recording)
    ? { ...rest, ...recording }
    : rest;
}

const RecordOutcomeFields = v.object({
  outcome: Outcome,
  execution: ExecutionRef,
  enteredTime: v.fallback(v.optional(isoDateTime()), undefined),
  event: v.fallback(v.optional(RemediationEvent), undefined),
  plan: v.fallback(v.optional(PlanResult), undefined),
  confirmation: v.fallback(v.optional(ConfirmationResult), undefined),
  drift: v.fallback(v.optional(DriftState), undefined),
  approval: v.fallback(v.optional(ApprovalDecision), undefined),
  runbook: v.fallback(v.optional(RunbookState), undefined),
  verification: v.fallback(v.optional(VerificationState), undefined),
  error: v.fallback(v.optional(CaughtError), undefined),
});
export const RecordOutcomeInput = v.pipe(v.unknown(), v.transform(liftRecording), RecordOutcomeFields);
export type RecordOutcomeInput = v.InferOutput<typeof RecordOutcomeInput>;

/** The slice of Powertools Metrics this task uses (a fake in tests). */
export interface OutcomeMetrics {
  singleMetric(): {
    addDimension(name: string, value: string): unknown;
    addMetric(name: string, unit: 'Count', value: number): unknown;
  };
}

export interface RecordOutcomeDeps {
  ddb: DynamoDBDocumentClient;
  sns: SNSClient;
  /** GetExecutionHistory of the execution, for the cost on the record (./cost.ts). */
  sfn: SFNClient;
  /** Real ms per history ms: 1 in AWS, the sandbox's time scale there (TaskClock.scale). */
  durationScale: number;
  outcomesTable: string;
  approvalsTable: string;
  outcomeTopicArn: string;
  approvalTopicArn: string;
  metrics: OutcomeMetrics;
  now: () => Date;
  /** The notifications queue (absent or no URL: no Slack / webhook notifications). */
  notify?: NotifyTarget;
}

/** Outcomes nobody needs to hear about. */
export const QUIET_OUTCOMES: readonly Outcome[] = ['VERIFIED', 'SKIPPED', 'PLANNED'];

const MAX_REASON = 1000;

/** scrubSecrets (tasks/shared/redact.ts), cut to MAX_REASON characters. */
export function scrub(text: string): string {
  return scrubSecrets(text).slice(0, MAX_REASON);
}

interface ParsedCause {
  message?: string | undefined;
  errorType?: string | undefined;
  rejection?: ApprovalRejection | undefined;
}

/** A Catch's Cause: Lambda's JSON { errorType, errorMessage, trace }, an ApprovalRejection, or plain text. */
export function parseCause(cause: string | undefined): ParsedCause {
  if (!cause) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(cause);
  } catch {
    return { message: cause };
  }
  if (!parsed || typeof parsed !== 'object') return { message: typeof parsed === 'string' ? parsed : cause };
  const rejection = v.safeParse(ApprovalRejection, parsed);
  if (rejection.success) return { rejection: rejection.output };
  const o = parsed as Record<string, unknown>;
  const message =
    typeof o.errorMessage === 'string'
      ? o.errorMessage
      : typeof o.message === 'string'
        ? o.message
        : undefined;
  const errorType = typeof o.errorType === 'string' ? o.errorType : undefined;
  return { message: message ?? cause, errorType };
}

function errorText(error: CaughtError | undefined): string | undefined {
  if (!error) return undefined;
  const { message } = parseCause(error.Cause);
  return message ? `${error.Error}: ${message}` : error.Error;
}

function runbookText(runbook: RunbookState | undefined): string {
  if (!runbook?.documentName) return '';
  return ` ${runbook.documentName} (attempt ${runbook.attempt})`;
}

/** The human reason for `outcome`, from whatever state the execution has. */
export function reasonFor(input: RecordOutcomeInput): string {
  const { outcome, plan, confirmation, drift, runbook, verification, error, event } = input;
  const err = errorText(error);
  switch (outcome) {
    case 'VERIFIED':
      return `remediated by${runbookText(runbook) || ' the runbook'} and verified: ${verification?.reason ?? 'verification passed'}`;
    case 'SKIPPED':
      if (confirmation && (!confirmation.stillNonCompliant || !confirmation.resourceExists))
        return confirmation.reason;
      return plan?.reason ?? err ?? 'skipped';
    case 'ESCALATED':
      if (drift?.templateViolatesRule) {
        return `the resource is in sync with its CloudFormation template, yet ${event?.configRuleName ?? 'the rule'} still reports it NON_COMPLIANT: the template itself violates the rule (a remediation would be reverted by the next deployment); fix the template`;
      }
      // The plan said remediate, yet the workflow escalated: the error says why (e.g. SlotQueueTimeout).
      if (err && plan?.decision === 'remediate') return err;
      return plan?.reason ?? err ?? 'escalated to a human';
    case 'REJECTED': {
      const { rejection } = parseCause(error?.Cause);
      if (rejection)
        return `rejected by ${rejection.approver}${rejection.comment ? `: ${rejection.comment}` : ''}`;
      return err ? `rejected: ${err}` : 'rejected by an approver';
    }
    case 'EXPIRED':
      return `no approval decision within ${plan?.approval.ttlSeconds ?? 'the allowed'} seconds; the request expired and nothing was changed`;
    case 'FAILED': {
      if (err && runbook?.phase === 'failed' && runbook.failureMessage)
        return `${err} (last runbook failure: ${runbook.failureMessage})`;
      if (err) return err;
      if (runbook?.phase === 'failed' && runbook.attempt < (plan?.attempts.max ?? runbook.attempt))
        return `runbook failed (${runbook.attempt}/${plan?.attempts.max}): ${runbook.failureMessage ?? runbook.status ?? 'failed'}`;
      if (runbook?.phase === 'failed') {
        return `runbook failed on every attempt (${runbook.attempt}/${plan?.attempts.max ?? runbook.attempt}): ${runbook.failureMessage ?? runbook.status ?? 'failed'}`;
      }
      return 'the remediation failed';
    }
    case 'NOT_VERIFIED':
      return `the runbook${runbookText(runbook)} ran but the fix was not verified: ${verification?.reason ?? err ?? 'verification timed out'}`;
    case 'PLANNED':
      return `${plan?.reason ?? 'plan mode'}; ${drift?.propertyDifferences?.length ?? 0} drifted properties recorded`;
  }
}

function approvalAudit(input: RecordOutcomeInput, approvalId: string): Record<string, unknown> | undefined {
  if (input.approval) {
    const a = input.approval;
    return {
      approvalId: a.approvalId,
      decision: a.decision,
      approver: a.approver,
      decidedAt: a.decidedAt,
      comment: a.comment,
    };
  }
  const { rejection } = parseCause(input.error?.Cause);
  if (input.outcome === 'REJECTED' && rejection) {
    return {
      approvalId: rejection.approvalId,
      decision: 'rejected',
      approver: rejection.approver,
      decidedAt: rejection.decidedAt,
    };
  }
  if (input.outcome === 'EXPIRED') return { approvalId, decision: 'expired' };
  return undefined;
}

/**
 * Where the decision came from (source IP, user agent, comment) lives in the approval item the endpoint
 * wrote; the task output only carries who and when. Copy it into the audit record. A transient read
 * failure is retried by the workflow; any other leaves the audit without those fields (and says so)
 * rather than losing the outcome.
 */
async function withDecisionOrigin(
  deps: RecordOutcomeDeps,
  audit: Record<string, unknown> | undefined,
): Promise<Record<string, unknown> | undefined> {
  if (
    !audit ||
    (audit.decision !== 'approved' && audit.decision !== 'rejected') ||
    typeof audit.approvalId !== 'string'
  ) {
    return audit;
  }
  const approvalId = audit.approvalId;
  try {
    const res = await awsCall('GetItem(approvals decision)', () =>
      deps.ddb.send(
        new GetCommand({
          TableName: deps.approvalsTable,
          Key: { approvalId },
          ProjectionExpression: '#d',
          ExpressionAttributeNames: { '#d': 'decision' },
        }),
      ),
    );
    const d = v.safeParse(DecisionRecord, res.Item?.decision);
    if (!d.success) return { ...audit, originUnavailable: true };
    return {
      ...audit,
      ...(d.output.comment !== undefined && audit.comment === undefined ? { comment: d.output.comment } : {}),
      ...(d.output.sourceIp ? { sourceIp: d.output.sourceIp } : {}),
      ...(d.output.userAgent ? { userAgent: d.output.userAgent } : {}),
    };
  } catch (err) {
    if (err instanceof TransientServiceError) throw err;
    return { ...audit, originUnavailable: true };
  }
}

function isConditionFailed(err: unknown): boolean {
  return (
    err instanceof ConditionalCheckFailedException ||
    (err instanceof Error && err.name === 'ConditionalCheckFailedException')
  );
}

/**
 * PENDING → EXPIRED, dropping the task token. Returns the approvers recorded on the item, or
 * undefined when it was already decided (or never written): then nobody is told it expired.
 */
async function expireApproval(
  deps: RecordOutcomeDeps,
  approvalId: string,
  nowIso: string,
): Promise<string[] | undefined> {
  try {
    const res = await awsCall('UpdateItem(approvals expire)', () =>
      deps.ddb.send(
        new UpdateCommand({
          TableName: deps.approvalsTable,
          Key: { approvalId },
          UpdateExpression: 'SET #status = :expired, #expiredAt = :now REMOVE #taskToken',
          ConditionExpression: '#status = :pending',
          ExpressionAttributeNames: {
            '#status': 'status',
            '#expiredAt': 'expiredAt',
            '#taskToken': 'taskToken',
          },
          ExpressionAttributeValues: { ':expired': 'EXPIRED', ':pending': 'PENDING', ':now': nowIso },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    const approvers = res.Attributes?.approvers;
    return Array.isArray(approvers) ? approvers.filter((a): a is string => typeof a === 'string') : [];
  } catch (err) {
    if (isConditionFailed(err)) return undefined;
    throw err;
  }
}

const RECORDED_BY = 'record-outcome';

/**
 * The recordedAt of an outcome this execution already wrote (a retried invocation after the put
 * succeeded but a later step failed), so the retry overwrites that item instead of adding a second
 * one: the loop breaker counts items. Only items written by this task since the execution started.
 */
async function previousRecordedAt(
  deps: RecordOutcomeDeps,
  resourceKey: string,
  executionName: string,
  startTime: string,
) {
  const startMs = Date.parse(startTime);
  if (Number.isNaN(startMs)) return undefined;
  const pages = queryPages(
    deps.ddb,
    'Query(outcomes)',
    {
      TableName: deps.outcomesTable,
      KeyConditionExpression: '#pk = :key AND #sk >= :start',
      FilterExpression: '#name = :name AND #by = :by',
      ExpressionAttributeNames: {
        '#pk': 'resourceKey',
        '#sk': 'sk',
        '#name': 'executionName',
        '#by': 'recordedBy',
      },
      ExpressionAttributeValues: {
        ':key': resourceKey,
        ':start': new Date(startMs).toISOString(),
        ':name': executionName,
        ':by': RECORDED_BY,
      },
      ConsistentRead: true,
    },
    { maxPages: 10 },
  );
  for await (const page of pages) {
    const found = page.Items?.find((i) => typeof i.recordedAt === 'string');
    if (found) return String(found.recordedAt);
  }
  return undefined;
}

/** SNS subjects: ASCII, no control characters, at most 100 characters. */
function subject(text: string): string {
  return text.replace(/[^\x20-\x7E]/g, '?').slice(0, 100);
}

/** Where the outcome item goes and when: the resource key and the (retry-stable) recordedAt. */
async function outcomeKey(input: RecordOutcomeInput, deps: RecordOutcomeDeps, now: Date) {
  const { execution, event, plan } = input;
  const resourceKey = event ? resourceKeyOf(event) : (plan?.resourceKey ?? `unknown#${execution.name}`);
  const recordedAt = input.enteredTime
    ? new Date(input.enteredTime).toISOString()
    : ((await previousRecordedAt(deps, resourceKey, execution.name, execution.startTime)) ??
      now.toISOString());
  return { resourceKey, recordedAt };
}

/** What every notification and the item share. */
interface Recorded {
  resourceKey: string;
  recordedAt: string;
  reason: string;
  approvalId: string;
  documentName: string | undefined;
  remediated: boolean;
}

async function putOutcomeItem(
  input: RecordOutcomeInput,
  deps: RecordOutcomeDeps,
  r: Recorded,
): Promise<void> {
  const { outcome, execution, event, plan, runbook, verification, error } = input;
  const startedMs = Date.parse(execution.startTime);
  await putOutcome(deps.ddb, deps.outcomesTable, {
    resourceKey: r.resourceKey,
    executionName: execution.name,
    outcome,
    reason: r.reason,
    recordedAt: r.recordedAt,
    executionArn: execution.id,
    ruleName: event?.configRuleName,
    runbook: r.documentName,
    attempts: runbook?.attempt ?? 0,
    remediated: r.remediated,
    approval: await withDecisionOrigin(deps, approvalAudit(input, r.approvalId)),
    durationMs: Number.isNaN(startedMs) ? undefined : Math.max(0, Date.parse(r.recordedAt) - startedMs),
    extra: {
      recordedBy: RECORDED_BY,
      eventId: event?.eventId,
      source: event?.source,
      resourceType: event?.resourceType,
      orderingTimestamp: event?.orderingTimestamp,
      decision: plan?.decision,
      policyEntryId: plan?.policyEntryId,
      automationExecutionId: runbook?.automationExecutionId,
      runbookStatus: runbook?.status,
      driftStatus: verification?.driftStatus,
      compliance: verification?.compliance,
      errorName: error ? scrub(error.Error).slice(0, 256) : undefined,
      cost: await costForOutcome(deps.sfn, execution.id, deps.durationScale),
      planned:
        outcome === 'PLANNED' && event ? plannedChange({ event, plan, drift: input.drift }) : undefined,
    },
  });
}

/**
 * EXPIRED: closes the approval item and tells each approver (one message per approver, shaped like
 * Request approval's, same `approver` attribute for filter policies). Nothing when already decided.
 */
async function notifyExpired(
  input: RecordOutcomeInput,
  deps: RecordOutcomeDeps,
  r: Recorded,
  nowIso: string,
) {
  const recorded = await expireApproval(deps, r.approvalId, nowIso);
  if (!recorded) return;
  const approvers = recorded.length ? recorded : (input.plan?.approval.approvers ?? []);
  const text = [
    `The approval request ${r.approvalId} for ${r.resourceKey} expired without a decision.`,
    `Runbook: ${r.documentName ?? 'n/a'}. Nothing was changed; the approval links no longer work.`,
    approvers.length ? `Approvers: ${approvers.join(', ')}` : '',
    `Execution: ${input.execution.id}`,
  ]
    .filter(Boolean)
    .map(scrub)
    .join('\n');
  for (const approver of approvers.length ? approvers : [undefined]) {
    await awsCall('Publish(approval expired)', () =>
      deps.sns.send(
        new PublishCommand({
          TopicArn: deps.approvalTopicArn,
          Subject: subject(`[drift-remediation] approval expired: ${r.resourceKey}`),
          Message: text,
          MessageAttributes: {
            kind: { DataType: 'String', StringValue: 'approval-expired' },
            approvalId: { DataType: 'String', StringValue: r.approvalId },
            ...(approver ? { approver: { DataType: 'String', StringValue: approver } } : {}),
          },
        }),
      ),
    );
  }
}

/**
 * Whether this outcome is told on the outcomes topic, and the aggregate line of a blast-radius notice. An
 * escalation by the blast-radius breaker is told once per window (the first one counted sends it, saying
 * so); the others are recorded only.
 */
async function noticeFor(
  deps: RecordOutcomeDeps,
  input: RecordOutcomeInput,
  now: Date,
): Promise<{ aggregate?: string } | undefined> {
  const breaker = input.outcome === 'ESCALATED' ? input.plan?.breaker : undefined;
  if (!breaker) return {};
  const expiresAt = Math.floor(now.getTime() / 1000) + OUTCOME_RETENTION_DAYS * 86_400;
  const counted = await countBlastEscalation(
    deps.ddb,
    deps.outcomesTable,
    breaker.windowStart,
    input.execution.name,
    expiresAt,
  );
  if (!counted.notifier) return undefined;
  return {
    aggregate: `Blast-radius breaker: the budget of ${breaker.max} remediations for the window from ${breaker.windowStart} is spent. This is the only notice for this window: every further remediation in it is escalated and recorded without a message of its own (outcomes table: reason "blast-radius breaker"; item ${BLAST_NOTICE_KEY} / ${blastNoticeSk(breaker.windowStart)} counts them).`,
  };
}

/** The outcome message on the outcome topic (not for QUIET_OUTCOMES; blast-radius escalations once per window). */
async function publishOutcome(
  input: RecordOutcomeInput,
  deps: RecordOutcomeDeps,
  r: Recorded,
  now: Date,
): Promise<void> {
  const notice = await noticeFor(deps, input, now);
  if (!notice) return;
  const { outcome, event, runbook, execution } = input;
  const message: PublishCommandInput = {
    TopicArn: deps.outcomeTopicArn,
    Subject: subject(
      `[drift-remediation] ${outcome}: ${event ? `${event.resourceType} ${event.resourceId}` : r.resourceKey}`,
    ),
    Message: [
      `Outcome: ${outcome}`,
      `Why: ${r.reason}`,
      `Resource: ${r.resourceKey}`,
      event ? `Account: ${event.awsAccountId}, region: ${event.awsRegion}` : '',
      event?.configRuleName ? `Config rule: ${event.configRuleName}` : '',
      r.documentName ? `Runbook: ${r.documentName}${runbook ? ` (attempts: ${runbook.attempt})` : ''}` : '',
      runbook?.automationExecutionId ? `Automation execution: ${runbook.automationExecutionId}` : '',
      `Remediated: ${r.remediated ? 'yes (the runbook ran to Success)' : 'no'}`,
      `Execution: ${execution.id}`,
      `Recorded: ${r.recordedAt}`,
      notice.aggregate ?? '',
    ]
      .filter(Boolean)
      .map(scrub)
      .join('\n'),
    MessageAttributes: {
      outcome: { DataType: 'String', StringValue: outcome },
      // For subscription filter policies per account or region (a member's owners get their own).
      ...(event
        ? {
            account: { DataType: 'String', StringValue: event.awsAccountId },
            region: { DataType: 'String', StringValue: event.awsRegion },
          }
        : {}),
    },
  };
  await awsCall('Publish(outcome)', () => deps.sns.send(new PublishCommand(message)));
}

function approvalFacts(a: Record<string, unknown>) {
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  return { decision: str(a.decision) ?? 'unknown', approver: str(a.approver), decidedAt: str(a.decidedAt) };
}

/** The Slack / webhook notification of this outcome (tasks/shared/notifications.ts). */
function notificationOf(input: RecordOutcomeInput, r: Recorded) {
  const { outcome, execution, event, runbook } = input;
  const approval = approvalAudit(input, r.approvalId);
  return outcomeNotification(
    {
      outcome,
      reason: r.reason,
      recordedAt: r.recordedAt,
      resourceKey: r.resourceKey,
      execution: { arn: execution.id, name: execution.name },
      ...(event ? { event } : {}),
      ...(r.documentName
        ? {
            runbook: {
              documentName: r.documentName,
              attempts: runbook?.attempt ?? 0,
              automationExecutionId: runbook?.automationExecutionId,
            },
          }
        : {}),
      remediated: r.remediated,
      ...(approval ? { approval: approvalFacts(approval) } : {}),
      ...(input.drift?.propertyDifferences ? { differences: input.drift.propertyDifferences } : {}),
    },
    scrubSecrets,
  );
}

export async function recordOutcome(
  input: RecordOutcomeInput,
  deps: RecordOutcomeDeps,
): Promise<OutcomeRecord> {
  const { outcome, execution, plan, runbook } = input;
  const now = deps.now();
  const r: Recorded = {
    ...(await outcomeKey(input, deps, now)),
    reason: scrub(reasonFor(input)),
    approvalId: approvalIdFor(execution.id),
    documentName: runbook?.documentName ?? plan?.runbook?.documentName,
    remediated: runbook?.phase === 'succeeded',
  };
  await putOutcomeItem(input, deps, r);
  if (outcome === 'EXPIRED') await notifyExpired(input, deps, r, now.toISOString());
  if (!QUIET_OUTCOMES.includes(outcome)) await publishOutcome(input, deps, r, now);

  const metric = deps.metrics.singleMetric();
  metric.addDimension('outcome', outcome);
  metric.addMetric('RemediationOutcome', 'Count', 1);
  await enqueueNotification(deps.notify, notificationOf(input, r));

  return {
    outcome,
    reason: r.reason,
    resourceKey: r.resourceKey,
    executionId: execution.id,
    recordedAt: r.recordedAt,
    succeeded: SUCCESS_OUTCOMES.includes(outcome),
  };
}
