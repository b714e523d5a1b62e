/**
 * Release remediation slot. Runs on every failure path and as "Leave slot queue" when the wait for a slot
 * timed out; it must never fail because there is nothing to release (safe with no `$.slot` and no plan at
 * all). After a runbook that ends the execution's runbook work the slot was already released by whoever
 * resolved the runbook's wait (tasks/shared/leases-release.ts): here that release is a no-op.
 *
 * Input  { slot?: { scopes?: string[] }, plan?: { runbook?: { documentName }, concurrency?: { maxQueueSeconds? } },
 *          execution: { id, name, startTime }, leaving?: true (the queue wait timed out) }; the failure path sends
 *          `{ state: <the whole state>, execution }` (its slot and plan may not exist), lifted by liftState.
 * Output { acquired: false, scopes: [], released, left, granted, dead, message }
 *   released: this execution held a slot and gave it back; left: it was still queued and is no longer;
 *   granted / dead: what the hand-off pass that follows a release did; message: one line for the outcome
 *   (Leave slot queue puts it in `$.error.Cause`).
 *
 * Order: leave the queue first (so no hand-off can admit this execution afterwards), then give back the
 * units the admission item lists for it (a grant that raced the timeout included), then hand the freed
 * slot to the oldest waiter (as many admissions as one holder's units can make room for), starting from
 * the admission item the release's own UpdateItem returned.
 * Every step is conditional: a retry is harmless.
 * Errors: InvalidInputError (no execution name); TransientServiceError.
 */
import type { SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { liftState } from '../shared/contracts';
import { ExecutionRef } from '../shared/execution-ref';
import { leaveQueue } from '../shared/leases-queue';
import { releaseAndHandOff } from '../shared/leases-release';
import { runbookScope } from '../shared/tables';

const ReleaseSlotFields = v.object({
  /** Lenient on purpose: whatever Acquire left (or nothing) must not stop the release. */
  slot: v.fallback(
    v.optional(
      v.object({
        acquired: v.optional(v.boolean()),
        scopes: v.optional(v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.maxLength(10))),
      }),
    ),
    undefined,
  ),
  plan: v.fallback(
    v.optional(
      v.object({
        runbook: v.optional(v.object({ documentName: v.pipe(v.string(), v.minLength(1)) })),
        concurrency: v.optional(
          v.object({ maxQueueSeconds: v.optional(v.pipe(v.number(), v.safeInteger(), v.gtValue(0))) }),
        ),
      }),
    ),
    undefined,
  ),
  execution: ExecutionRef,
  leaving: v.optional(v.literal(true)),
});
export const ReleaseSlotInput = v.pipe(v.unknown(), v.transform(liftState), ReleaseSlotFields);
export type ReleaseSlotInput = v.InferOutput<typeof ReleaseSlotInput>;

export interface ReleaseSlotDeps {
  ddb: DynamoDBDocumentClient;
  sfn: SFNClient;
  leasesTable: string;
  queueTable: string;
  now: () => Date;
}

export interface ReleaseSlotResult {
  acquired: false;
  scopes: string[];
  released: boolean;
  left: boolean;
  granted: number;
  dead: number;
  message: string;
}

function messageFor(input: ReleaseSlotInput, released: boolean, left: boolean): string {
  const doc = input.plan?.runbook?.documentName ?? 'its runbook';
  if (input.leaving) {
    const limit = input.plan?.concurrency?.maxQueueSeconds;
    return `no remediation slot for ${doc} within ${limit ?? 'the allowed'} seconds (concurrency.maxQueueSeconds); left the slot queue and escalated to a human: raise concurrency.perRunbook / global or maxQueueSeconds, or look for remediations that hold their slots`;
  }
  if (released) return `released the remediation slot for ${doc}`;
  return left ? `left the slot queue for ${doc}` : 'held no remediation slot';
}

export async function releaseSlot(
  input: ReleaseSlotInput,
  deps: ReleaseSlotDeps,
): Promise<ReleaseSlotResult> {
  const name = input.execution.name;
  const doc = input.plan?.runbook?.documentName;
  const left = doc && input.slot?.acquired !== true ? await leaveQueue(deps, runbookScope(doc), name) : false;
  // An admitted execution's lease names its scopes (the admission item's entry lists the same): no read.
  const leased = input.slot?.acquired === true && input.slot.scopes?.length ? input.slot.scopes : undefined;
  // The release returns the admission item as it left it: the hand-off starts from that, no read.
  const { released, granted, dead } = await releaseAndHandOff(deps, name, leased);
  return {
    acquired: false,
    scopes: [],
    released,
    left,
    granted,
    dead,
    message: messageFor(input, released, left),
  };
}
