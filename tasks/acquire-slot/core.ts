/**
 * Acquire remediation slot (`.waitForTaskToken`): when nobody waits for its runbook it tries to take a
 * slot directly (one conditional update) and completes its own token. Otherwise (or when full) it joins the
 * slot queue of its runbook, then (when its scopes have room) runs a hand-off pass (tasks/shared/leases-queue.ts):
 * when a slot is free and nobody older waits, that pass admits this execution; otherwise the token stays queued until a
 * release, the reaper or another Acquire hands a slot over. The state's timeout is the policy's
 * `concurrency.maxQueueSeconds`; the workflow then leaves the queue (Release remediation slot) and escalates.
 *
 * Input  { taskToken, plan: PlanResult (runbook required), execution: { id, name, startTime },
 *          event?: { awsAccountId, awsRegion } (the resource's place, for concurrency.perAccountRegion; absent:
 *          the account and region of the execution's own ARN, i.e. the stack's) }
 * Output (of the Lambda; the state's output is the lease sent to the token, `$.slot`):
 *   { queued: boolean (false: already a holder, told at once), granted, dead } — counts only, never the token.
 * Errors: InvalidInputError (no runbook in the plan, decision not remediate: nothing changed); TransientServiceError.
 * Idempotent: a retried invocation keeps its queue position (and gets its new token told at once if an
 * earlier attempt was already admitted).
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import { SendTaskSuccessCommand } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { PlanResult } from '../shared/contracts';
import { awsCall, ENDED_TOKEN_ERRORS, InvalidInputError } from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { fits, type Holder, noteQueue, readAdmission, tryGrant } from '../shared/leases';
import {
  enqueue,
  handOff,
  headsOf,
  type Lease,
  queueExpiresAt,
  type ResourcePlace,
  removeWaiter,
  scopesFor,
} from '../shared/leases-queue';
import { DEFAULT_MAX_QUEUE_SECONDS } from '../shared/policy/schema';

export const AcquireSlotInput = v.object({
  taskToken: v.pipe(v.string(), v.minLength(1), v.maxLength(4096)),
  plan: PlanResult,
  execution: ExecutionRef,
  /** Only where the resource lives is read; the rest of the event is not this task's business. */
  event: v.optional(
    v.object({
      awsAccountId: v.optional(v.pipe(v.string(), v.minLength(1))),
      awsRegion: v.optional(v.pipe(v.string(), v.minLength(1))),
    }),
  ),
});
export type AcquireSlotInput = v.InferOutput<typeof AcquireSlotInput>;

export interface AcquireSlotDeps {
  ddb: DynamoDBDocumentClient;
  sfn: SFNClient;
  leasesTable: string;
  queueTable: string;
  now: () => Date;
}

export interface AcquireSlotResult {
  queued: boolean;
  granted: number;
  dead: number;
}

/** The resource's account and region: the event's, else the execution ARN's (the stack's own). */
export function placeOf(input: Pick<AcquireSlotInput, 'event' | 'execution'>): ResourcePlace {
  // arn:aws:states:<region>:<account>:execution:<machine>:<name>
  const [, , , arnRegion = '', arnAccount = ''] = input.execution.id.split(':');
  return {
    accountId: input.event?.awsAccountId ?? arnAccount,
    region: input.event?.awsRegion ?? arnRegion,
  };
}

/** Completes this execution's own token with its lease. */
async function tellSelf(deps: AcquireSlotDeps, taskToken: string, lease: Lease): Promise<void> {
  await awsCall('SendTaskSuccess(slot)', () =>
    deps.sfn.send(new SendTaskSuccessCommand({ taskToken, output: JSON.stringify(lease) })),
  );
}

/**
 * An earlier attempt was admitted: tell this attempt's token (the earlier one closed with it) and drop
 * any queue item left. A hand-off pass that re-told a stale grant may have answered the token first.
 */
async function tellHeld(
  deps: AcquireSlotDeps,
  input: AcquireSlotInput,
  queue: string,
  held: Holder,
): Promise<AcquireSlotResult> {
  const lease: Lease = { acquired: true, scopes: held.scopes, grantedAt: held.grantedAt, queuedSeconds: 0 };
  await tellSelf(deps, input.taskToken, lease).catch((err: unknown) => {
    if (!(err instanceof Error && ENDED_TOKEN_ERRORS.has(err.name))) throw err;
  });
  await removeWaiter(deps, queue, input.execution.name);
  return { queued: false, granted: 1, dead: 0 };
}

export async function acquireSlot(
  input: AcquireSlotInput,
  deps: AcquireSlotDeps,
): Promise<AcquireSlotResult> {
  const { plan, execution, taskToken } = input;
  if (plan.decision !== 'remediate' || !plan.runbook) {
    throw new InvalidInputError('acquire-slot: the plan does not remediate with a runbook', [
      `plan.decision: ${plan.decision}`,
      ...(plan.runbook ? [] : ['plan.runbook: missing']),
    ]);
  }
  const scopes = scopesFor({ ...plan, runbook: plan.runbook }, placeOf(input));
  const queue = scopes[0]?.id as string;
  const now = deps.now();
  const nowIso = now.toISOString();
  // Fast path: nobody waits for this runbook → take the slot directly (no queue item, no hand-off pass).
  // Refused (full, or an earlier attempt holds): nothing read here, the read after enqueueing tells which.
  if (
    (await headsOf(deps, queue)).length === 0 &&
    (await tryGrant(deps.ddb, deps.leasesTable, execution.name, scopes, nowIso))
  ) {
    await tellSelf(deps, taskToken, {
      acquired: true,
      scopes: scopes.map((s) => s.id),
      grantedAt: nowIso,
      queuedSeconds: 0,
    });
    return { queued: false, granted: 1, dead: 0 };
  }
  await enqueue(deps, {
    queue,
    waiter: execution.name,
    position: `${nowIso}#${execution.name}`,
    taskToken,
    executionArn: execution.id,
    scopes,
    enqueuedAt: nowIso,
    expiresAt: queueExpiresAt(now, plan.concurrency.maxQueueSeconds ?? DEFAULT_MAX_QUEUE_SECONDS),
  });
  // Read after enqueueing: a slot freed before this read is seen by the pass below; one freed after it is
  // handed on by its releaser's pass, which sees this waiter (no lost wake-up).
  const adm = await readAdmission(deps.ddb, deps.leasesTable);
  const held = adm.holders[execution.name];
  if (held) return tellHeld(deps, input, queue, held);
  if (!adm.queues.includes(queue)) {
    await noteQueue(deps.ddb, deps.leasesTable, queue);
    adm.queues = [...adm.queues, queue].sort();
  }
  // No room for this runbook's waiters (after the enqueue: a later release sees this waiter): no pass. A
  // unit free for another queue only was seen by its freer's pass or by that queue's own later enqueuer.
  if (!fits(adm, scopes)) return { queued: true, granted: 0, dead: 0 };
  const passed = await handOff(deps, { admission: adm });
  return { queued: true, ...passed };
}
