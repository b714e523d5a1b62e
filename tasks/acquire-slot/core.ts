/**
 * Acquire remediation slot. A leased semaphore in the LEASES table: first the runbook's lock
 * (`runbook#<document>`, limit plan.concurrency.perRunbook), then the `global` lock (limit
 * plan.concurrency.global). When the global lock is full the runbook lock is given back, so a
 * waiting execution never holds half a slot.
 *
 * Input  { plan: PlanResult (runbook required), slot?: SlotState (the previous try), execution: { id, name, startTime } }
 * Output SlotState ($.slot)
 *   acquired → { acquired: true, locks: [runbook lock, 'global'], tries, maxTries, waitSeconds: 1 }
 *   full     → { acquired: false, locks: [], tries: tries + 1, maxTries, waitSeconds } where waitSeconds is a
 *              full-jitter wait in [5, min(60, 5·2^tries)] for the Wait state (SecondsPath $.slot.waitSeconds).
 * Errors: SlotUnavailableError when the try that just failed was try number maxTries;
 *         InvalidInputError (no runbook in the plan, decision not remediate); TransientServiceError.
 * Idempotent: the holder key is the execution name, so a retried invocation whose entry already
 * exists counts as acquired and never takes a second unit.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { PlanResult, SlotState } from '../shared/contracts';
import { InvalidInputError, SlotUnavailableError } from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { acquireLock, releaseLock } from '../shared/leases';
import { GLOBAL_LOCK_ID, runbookLockId } from '../shared/tables';

export const DEFAULT_MAX_TRIES = 20;
export const MIN_WAIT_SECONDS = 5;
export const MAX_WAIT_SECONDS = 60;

export const AcquireSlotInput = z.object({
  plan: PlanResult,
  slot: SlotState.optional(),
  execution: ExecutionRef,
});
export type AcquireSlotInput = z.infer<typeof AcquireSlotInput>;

export interface AcquireSlotDeps {
  ddb: DynamoDBDocumentClient;
  leasesTable: string;
  /** Tries before SlotUnavailableError (default DEFAULT_MAX_TRIES). */
  maxTries?: number;
  now: () => Date;
  /** [0, 1); Math.random in production, fixed in tests. */
  random?: () => number;
}

/** Full-jitter wait before try number `tries + 1`: uniform in [5, min(60, 5·2^tries)], an integer. */
export function slotWaitSeconds(tries: number, random: () => number = Math.random): number {
  const ceiling = Math.min(MAX_WAIT_SECONDS, MIN_WAIT_SECONDS * 2 ** Math.min(Math.max(0, tries), 16));
  const span = ceiling - MIN_WAIT_SECONDS;
  const r = Math.min(Math.max(random(), 0), 0.999_999);
  return MIN_WAIT_SECONDS + Math.floor(r * (span + 1));
}

export async function acquireSlot(input: AcquireSlotInput, deps: AcquireSlotDeps): Promise<SlotState> {
  const { plan, execution } = input;
  if (plan.decision !== 'remediate' || !plan.runbook) {
    throw new InvalidInputError('acquire-slot: the plan does not remediate with a runbook', [
      `plan.decision: ${plan.decision}`,
      ...(plan.runbook ? [] : ['plan.runbook: missing']),
    ]);
  }
  const maxTries = input.slot?.maxTries ?? deps.maxTries ?? DEFAULT_MAX_TRIES;
  const tries = input.slot?.tries ?? 0;
  const holder = execution.name;
  const nowIso = deps.now().toISOString();
  const runbookLock = runbookLockId(plan.runbook.documentName);

  const first = await acquireLock(
    deps.ddb,
    deps.leasesTable,
    runbookLock,
    holder,
    plan.concurrency.perRunbook,
    nowIso,
  );
  if (first !== 'full') {
    const second = await acquireLock(
      deps.ddb,
      deps.leasesTable,
      GLOBAL_LOCK_ID,
      holder,
      plan.concurrency.global,
      nowIso,
    );
    if (second !== 'full') {
      return {
        acquired: true,
        locks: [runbookLock, GLOBAL_LOCK_ID],
        tries: tries + 1,
        maxTries,
        waitSeconds: 1,
      };
    }
    // Global cap reached: do not sit on a runbook unit while waiting.
    await releaseLock(deps.ddb, deps.leasesTable, runbookLock, holder);
  }

  const next = tries + 1;
  if (next >= maxTries) {
    throw new SlotUnavailableError(
      `no remediation slot for ${plan.runbook.documentName} after ${next} tries (${first === 'full' ? 'runbook' : 'global'} limit reached)`,
      { tries: next, maxTries, lock: first === 'full' ? runbookLock : GLOBAL_LOCK_ID },
    );
  }
  return {
    acquired: false,
    locks: [],
    tries: next,
    maxTries,
    waitSeconds: slotWaitSeconds(tries, deps.random),
  };
}
