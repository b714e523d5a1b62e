/**
 * Abort cleanup (EventBridge: Step Functions' "Step Functions Execution Status Change" of this stack's state
 * machine, statuses ABORTED / TIMED_OUT / FAILED). An execution stopped from outside, timed out, or failed
 * outside a Catch runs none of its own clean-up states, so this task does their work:
 *
 *   1. stops the automation of its runbook wait (StopAutomationExecution Cancel; one that already ended is
 *      a no-op) and deletes its waits (runbook and compliance) from the WAITS table;
 *   2. releases its slot (shared/leases `release`, as the lease reaper does), removes it from every slot
 *      queue, and hands freed slots to the oldest live waiters;
 *   3. records an ABORTED outcome with the reason — only when no outcome exists for the execution (a FAILED
 *      execution whose Catch already ran Record outcome keeps its own) — and tells the outcomes topic and,
 *      when a channel hears ABORTED, the notifications queue (tasks/shared/notifications-enqueue.ts, as
 *      Record outcome does; a failed enqueue is logged and never fails the clean-up).
 *
 * Input  the EventBridge event. Output { ignored } for other machines/statuses, else
 *        { stopped, waits, released, dequeued, granted, recorded }.
 * Every step is idempotent: a redelivered event changes nothing more.
 */

import type { SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { type SSMClient, StopAutomationExecutionCommand } from '@aws-sdk/client-ssm';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { forPlace, type PerPlace, type Place } from '../shared/accounts';
import { RemediationEvent, resourceKeyOf } from '../shared/contracts';
import { queryPages } from '../shared/dynamo-pages';
import { awsCall } from '../shared/errors';
import { readAdmission, release } from '../shared/leases';
import { handOff, leaveQueue } from '../shared/leases-queue';
import { outcomeNotification } from '../shared/notifications';
import { enqueueNotification, type NotifyTarget } from '../shared/notifications-enqueue';
import { putOutcome } from '../shared/outcomes';
import { scrubSecrets } from '../shared/redact';
import { boundedKey } from '../shared/tables';
import { allWaits, deleteWait, waitPlace } from '../shared/waits';

export const EXECUTION_STATUS_CHANGE = 'Step Functions Execution Status Change';
/** Statuses whose execution ran none of its clean-up states (FAILED may have: then its outcome exists). */
export const ABORT_STATUSES = ['ABORTED', 'TIMED_OUT', 'FAILED'] as const;

export const AbortCleanupInput = v.object({
  source: v.literal('aws.states'),
  'detail-type': v.literal(EXECUTION_STATUS_CHANGE),
  time: v.optional(v.string()),
  detail: v.object({
    executionArn: v.pipe(v.string(), v.minLength(1)),
    stateMachineArn: v.pipe(v.string(), v.minLength(1)),
    name: v.pipe(v.string(), v.minLength(1)),
    status: v.string(),
    startDate: v.optional(v.number()),
    stopDate: v.nullish(v.number()),
    input: v.nullish(v.string()),
    error: v.nullish(v.string()),
    cause: v.nullish(v.string()),
  }),
});
export type AbortCleanupInput = v.InferOutput<typeof AbortCleanupInput>;

export interface AbortCleanupDeps {
  ddb: DynamoDBDocumentClient;
  sfn: SFNClient;
  /** SSM of the automation's account-region (a member's through its role; one client: every place). */
  ssm: PerPlace<SSMClient>;
  /** The central account-region (waits written before they named their place). */
  central: Place;
  sns: SNSClient;
  waitsTable: string;
  leasesTable: string;
  queueTable: string;
  outcomesTable: string;
  outcomeTopicArn: string;
  stateMachineArn: string;
  now: () => Date;
  /** The notifications queue (absent or no URL: no Slack / webhook notifications). */
  notify?: NotifyTarget;
}

export type AbortCleanupResult =
  | { ignored: string }
  | {
      stopped: number;
      waits: number;
      released: boolean;
      dequeued: number;
      granted: number;
      recorded: boolean;
    };

type Detail = AbortCleanupInput['detail'];

/** Stops the execution's automations and deletes its waits. */
async function endWaits(deps: AbortCleanupDeps, name: string): Promise<{ stopped: number; waits: number }> {
  const mine = (await allWaits(deps)).waits.filter((w) => w.waiter === name);
  let stopped = 0;
  for (const w of mine) {
    if (w.kind === 'runbook') {
      const id = w.automationExecutionId;
      const ssm = forPlace(deps.ssm, waitPlace(w, deps.central));
      const ok = await awsCall('StopAutomationExecution', () =>
        ssm.send(new StopAutomationExecutionCommand({ AutomationExecutionId: id, Type: 'Cancel' })),
      ).then(
        () => true,
        (err: unknown) => {
          // Already ended (or gone): nothing to stop.
          const ended = ['InvalidAutomationStatusUpdateException', 'AutomationExecutionNotFoundException'];
          if (err instanceof Error && ended.includes(err.name)) return false;
          throw err;
        },
      );
      if (ok) stopped++;
    }
    await deleteWait(deps, w, w.taskToken);
  }
  return { stopped, waits: mine.length };
}

/** Frees the execution's slot and queue places, then hands freed slots on. */
async function freeSlots(deps: AbortCleanupDeps, name: string) {
  const adm = await readAdmission(deps.ddb, deps.leasesTable);
  // Out of the queues first: no pass admits it afterwards, and a waiter counter is only taken back while
  // its grant (if any) is still held (tasks/shared/leases-queue.ts: leaveQueue).
  let dequeued = 0;
  for (const queue of adm.queues) if (await leaveQueue(deps, queue, name)) dequeued++;
  const released = await release(deps.ddb, deps.leasesTable, name, adm.holders[name]?.scopes);
  const { granted } = await handOff(deps);
  return { released, dequeued, granted };
}

/** The remediation event of the execution input (`{ event }`), if it has one. */
function eventOf(detail: Pick<Detail, 'input'>): RemediationEvent | undefined {
  try {
    const parsed = v.safeParse(
      RemediationEvent,
      (JSON.parse(detail.input ?? 'null') as { event?: unknown })?.event,
    );
    return parsed.success ? parsed.output : undefined;
  } catch {
    return undefined; // not JSON
  }
}

/** The resource key from the execution input (`{ event }`), or a key naming the execution. */
export function resourceKeyFor(detail: Pick<Detail, 'input' | 'name'>): string {
  const event = eventOf(detail);
  return event ? resourceKeyOf(event) : `execution#${detail.name}`;
}

async function hasOutcome(deps: AbortCleanupDeps, resourceKey: string, detail: Detail): Promise<boolean> {
  const since = new Date(detail.startDate ?? 0).toISOString();
  for await (const page of queryPages(deps.ddb, 'Query(outcomes)', {
    TableName: deps.outcomesTable,
    KeyConditionExpression: 'resourceKey = :k AND sk >= :since',
    FilterExpression: 'executionName = :n',
    ExpressionAttributeValues: { ':k': boundedKey(resourceKey), ':since': since, ':n': detail.name },
    ConsistentRead: true,
  })) {
    if (page.Items?.length) return true;
  }
  return false;
}

export function abortReason(detail: Pick<Detail, 'status' | 'error' | 'cause'>): string {
  const why = [detail.error, detail.cause].filter(Boolean).join(': ');
  return `execution ${detail.status}${why ? ` (${why})` : ''}; its automation was stopped and its slot released`;
}

async function recordAbort(deps: AbortCleanupDeps, detail: Detail): Promise<boolean> {
  const resourceKey = resourceKeyFor(detail);
  if (await hasOutcome(deps, resourceKey, detail)) return false;
  const recordedAt = deps.now().toISOString();
  // An operator's StopExecution cause is free text: scrubbed like every recorded reason (tasks/shared/redact.ts).
  const reason = scrubSecrets(abortReason(detail)).slice(0, 2000);
  await putOutcome(deps.ddb, deps.outcomesTable, {
    resourceKey,
    executionName: detail.name,
    executionArn: detail.executionArn,
    outcome: 'ABORTED',
    reason,
    recordedAt,
    extra: { executionStatus: detail.status },
  });
  await awsCall('Publish(outcome)', () =>
    deps.sns.send(
      new PublishCommand({
        TopicArn: deps.outcomeTopicArn,
        Subject: `[drift-remediation] ABORTED: ${resourceKey}`.slice(0, 100),
        Message: [
          `Outcome: ABORTED`,
          `Why: ${reason}`,
          `Resource: ${resourceKey}`,
          `Execution: ${detail.executionArn}`,
          `Recorded: ${recordedAt}`,
        ].join('\n'),
        MessageAttributes: { outcome: { DataType: 'String', StringValue: 'ABORTED' } },
      }),
    ),
  );
  await enqueueNotification(deps.notify, abortNotification(detail, resourceKey, reason, recordedAt));
  return true;
}

/** The Slack / webhook notification of the ABORTED outcome (the event's facts when the input names it). */
function abortNotification(detail: Detail, resourceKey: string, reason: string, recordedAt: string) {
  const event = eventOf(detail);
  return outcomeNotification(
    {
      outcome: 'ABORTED',
      reason,
      recordedAt,
      resourceKey,
      execution: { arn: detail.executionArn, name: detail.name },
      ...(event ? { event } : {}),
      remediated: false,
    },
    scrubSecrets,
  );
}

export async function abortCleanup(
  input: AbortCleanupInput,
  deps: AbortCleanupDeps,
): Promise<AbortCleanupResult> {
  const { detail } = input;
  if (detail.stateMachineArn !== deps.stateMachineArn) return { ignored: 'another state machine' };
  if (!(ABORT_STATUSES as readonly string[]).includes(detail.status))
    return { ignored: `status ${detail.status}` };
  const waits = await endWaits(deps, detail.name);
  const slots = await freeSlots(deps, detail.name);
  const recorded = await recordAbort(deps, detail);
  return { ...waits, ...slots, recorded };
}
