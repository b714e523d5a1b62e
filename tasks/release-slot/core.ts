/**
 * Release remediation slot. Runs after the runbook and on every failure path, so it must never fail
 * because there is nothing to release: it is safe with no `$.slot` at all.
 *
 * Input  { slot?: SlotState-like ({ locks?: string[] }), plan?: { runbook?: { documentName } }, execution: { id, name, startTime } }
 * Output SlotState ($.slot): { acquired: false, locks: [], tries, maxTries, waitSeconds: 1, released: [lock ids actually freed] }
 *
 * Releases every lock in slot.locks, plus the locks this execution could hold according to the plan
 * (the runbook lock and `global`): if Acquire timed out after taking a lease but before returning,
 * `$.slot` does not list it, and releasing it here is better than waiting for the reaper. Each release
 * is conditional on this execution being a holder, so a lock not held is a no-op, never an error.
 * Errors: InvalidInputError (no execution name); TransientServiceError.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { ExecutionRef } from '../shared/execution-ref';
import { releaseLock } from '../shared/leases';
import { GLOBAL_LOCK_ID, runbookLockId } from '../shared/tables';

const LockId = z.string().min(1).max(1024);

export const ReleaseSlotInput = z.object({
  /** Lenient on purpose: whatever Acquire left (or nothing) must not stop the release. */
  slot: z
    .object({
      locks: z.array(LockId).max(10).optional(),
      tries: z.number().int().min(0).optional(),
      maxTries: z.number().int().positive().optional(),
    })
    .optional()
    .catch(undefined),
  plan: z
    .object({ runbook: z.object({ documentName: z.string().min(1) }).optional() })
    .optional()
    .catch(undefined),
  execution: ExecutionRef,
});
export type ReleaseSlotInput = z.infer<typeof ReleaseSlotInput>;

export interface ReleaseSlotDeps {
  ddb: DynamoDBDocumentClient;
  leasesTable: string;
}

export interface ReleaseSlotResult {
  acquired: false;
  locks: string[];
  tries: number;
  maxTries: number;
  waitSeconds: number;
  /** Locks this call actually gave back (empty when nothing was held). */
  released: string[];
}

export async function releaseSlot(
  input: ReleaseSlotInput,
  deps: ReleaseSlotDeps,
): Promise<ReleaseSlotResult> {
  const candidates = new Set<string>(input.slot?.locks ?? []);
  const doc = input.plan?.runbook?.documentName;
  if (doc) {
    candidates.add(runbookLockId(doc));
    candidates.add(GLOBAL_LOCK_ID);
  }
  const released: string[] = [];
  // Global last, mirroring Acquire (runbook first, then global).
  const ordered = [...candidates].sort((a, b) => Number(a === GLOBAL_LOCK_ID) - Number(b === GLOBAL_LOCK_ID));
  for (const lockId of ordered) {
    if (await releaseLock(deps.ddb, deps.leasesTable, lockId, input.execution.name)) released.push(lockId);
  }
  return {
    acquired: false,
    locks: [],
    tries: input.slot?.tries ?? 0,
    maxTries: input.slot?.maxTries ?? 1,
    waitSeconds: 1,
    released,
  };
}
