/**
 * Acquire remediation slot (`.waitForTaskToken`): it tries to take a slot directly with one conditional
 * update that also requires nobody to wait for its runbook (the queue's waiter counter in the admission
 * item, tasks/shared/leases.ts) and completes its own token. Otherwise (full, or waiters) it joins the
 * slot queue of its runbook, counts itself (that update returns the admission item: no read of its own),
 * then (when its scopes have room) runs a hand-off pass (tasks/shared/leases-queue.ts):
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
import { countWaiter, fits, type Holder, readAdmission, tryGrant, uncountWaiter } from '../shared/leases';
import {
  enqueue,
  handOff,
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
 * An earlier attempt was admitted: tell this attempt's token (the earlier one closed with it), drop any
 * queue item left and take back this attempt's own count of it (`counted`). A hand-off pass that re-told
 * a stale grant may have answered the token first.
 */
async function tellHeld(
  deps: AcquireSlotDeps,
  input: AcquireSlotInput,
  queue: string,
  held: Holder,
  counted: boolean,
): Promise<AcquireSlotResult> {
  const lease: Lease = { acquired: true, scopes: held.scopes, grantedAt: held.grantedAt, queuedSeconds: 0 };
  await tellSelf(deps, input.taskToken, lease).catch((err: unknown) => {
    if (!(err instanceof Error && ENDED_TOKEN_ERRORS.has(err.name))) throw err;
  });
  await removeWaiter(deps, queue, input.execution.name);
  if (counted) await uncountWaiter(deps.ddb, deps.leasesTable, queue, input.execution.name, true);
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
  // Fast path: nobody waits for this runbook (its waiter counter, in the grant's own condition) → take the
  // slot directly (no queue item, no hand-off pass). Refused (full, waiters, or an earlier attempt holds):
  // nothing read here, the count after enqueueing returns the item and tells which.
  if (await tryGrant(deps.ddb, deps.leasesTable, execution.name, scopes, nowIso, { ifNoWaiters: queue })) {
    await tellSelf(deps, taskToken, {
      acquired: true,
      scopes: scopes.map((s) => s.id),
      grantedAt: nowIso,
      queuedSeconds: 0,
    });
    return { queued: false, granted: 1, dead: 0 };
  }
  const created = await enqueue(deps, {
    queue,
    waiter: execution.name,
    position: `${nowIso}#${execution.name}`,
    taskToken,
    executionArn: execution.id,
    scopes,
    enqueuedAt: nowIso,
    expiresAt: queueExpiresAt(now, plan.concurrency.maxQueueSeconds ?? DEFAULT_MAX_QUEUE_SECONDS),
  });
  // Count (and read) after enqueueing: a slot freed before this count is seen by the pass below; one freed
  // after it is handed on by its releaser's pass, which sees the count and reads this waiter (no lost
  // wake-up). Only the attempt that wrote the item counts it (a retry reads instead): never counted twice.
  const { admission: adm, counted } = created
    ? await countWaiter(deps.ddb, deps.leasesTable, queue)
    : { admission: await readAdmission(deps.ddb, deps.leasesTable), counted: false };
  const held = adm.holders[execution.name];
  if (held) return tellHeld(deps, input, queue, held, counted);
  // No room for this runbook's waiters (after the enqueue: a later release sees this waiter): no pass. A
  // unit free for another queue only was seen by its freer's pass or by that queue's own later enqueuer.
  if (!fits(adm, scopes)) return { queued: true, granted: 0, dead: 0 };
  const passed = await handOff(deps, { admission: adm });
  return { queued: true, ...passed };
}
