/**
 * Giving a slot back and handing it to the oldest live waiter, wherever a holder's use of it ends:
 *
 *   - where the runbook ends (releaseForRunbook): whoever resolves a runbook wait — tasks/wait-callback on the
 *     SSM status-change event, tasks/reconcile-waits on the fallback, Start runbook when the automation had
 *     already ended — releases before it sends the holder's token. The lease is what caps concurrent
 *     automations and the automation has ended, so the slot is free: the next waiter is admitted in the same
 *     invocation instead of after the holder's own Release state (one Lambda and its queueing later). Only an
 *     attempt that ends the execution's runbook work releases (succeeded, or failed with no re-attempt): a
 *     retryable failure keeps the slot for the next attempt.
 *   - on the workflow's failure path and Leave slot queue (tasks/release-slot), abort clean-up and the reaper.
 *
 * Release before send: once the execution moves past its runbook it holds no slot (the workflow has no
 * release state after a successful runbook). A resolver that crashes between the release and the send is
 * re-run (EventBridge's retries, then the reconciler: the wait item is deleted only after the send); its
 * release then finds nothing held and changes nothing, and — when its send reaches the token (the crashed
 * resolver never sent) — a hand-off pass from a fresh read hands on a unit the crashed pass may have left
 * free. A token already answered means that resolver got past its hand-off: a duplicate delivery (or two
 * resolvers of one wait at once) costs no read. Every write is conditional (tasks/shared/leases.ts): a second release
 * of the same lease changes nothing, no grant goes over a cap, a dead waiter is skipped.
 */
import type { RunbookState } from './contracts';
import { releaseAndRead } from './leases';
import { type HandOffResult, handOff, type QueueDeps } from './leases-queue';
import { type Completion, completeWait, type RunbookWait, type WaitsDeps } from './waits';

export interface SlotRelease extends HandOffResult {
  /** The holder held a slot and gave it back (false: it held none, e.g. released already). */
  released: boolean;
}

/**
 * How many waiters one holder's freed units can admit: every waiter needs a global unit, so either the
 * global scope was full (one waiter) or each newly fitting waiter takes a freed unit of another scope
 * (runbook, account-region). Units freed by others are handed on by their own freers' passes (or taken by
 * the Acquire that sees them after enqueueing), so granting more would only race those passes. Scopes not
 * known (read from the item): no bound.
 */
export function newlyFitting(scopes: readonly string[] | undefined): number | undefined {
  return scopes ? Math.max(1, scopes.length - 1) : undefined;
}

/**
 * Gives back `holder`'s units (its lease's `scopes`; read from the admission item when not given), then
 * hands them on starting from the item as the release left it (no read).
 */
export async function releaseAndHandOff(
  deps: QueueDeps,
  holder: string,
  scopes?: readonly string[],
): Promise<SlotRelease> {
  const after = await releaseAndRead(deps.ddb, deps.leasesTable, holder, scopes);
  if (!after) return { released: false, granted: 0, dead: 0 };
  const passed = await handOff(deps, { admission: after, maxGrants: newlyFitting(scopes) });
  return { released: true, ...passed };
}

/** True when the attempt ends the execution's runbook work: succeeded, or failed with no re-attempt. */
export function endsRunbookWork(result: Pick<RunbookState, 'phase' | 'retryable'>): boolean {
  return result.phase === 'succeeded' || (result.phase === 'failed' && result.retryable !== true);
}

/**
 * Where the runbook ends: releases the waiting execution's slot (the scopes of its lease when the wait
 * recorded them) and hands it on, when `result` ends its runbook work. `recover`: the wait names a lease
 * but nothing is held — an earlier resolver of the same wait released it (and may have crashed before its
 * hand-off), or abort clean-up did; the caller runs a recovery pass if its send shows that resolver never
 * got as far (completeRunbookWait).
 */
export async function releaseForRunbook(
  deps: QueueDeps,
  wait: Pick<RunbookWait, 'waiter' | 'slotScopes'>,
  result: Pick<RunbookState, 'phase' | 'retryable'>,
): Promise<(SlotRelease & { recover: boolean }) | undefined> {
  if (!endsRunbookWork(result)) return undefined;
  const out = await releaseAndHandOff(deps, wait.waiter, wait.slotScopes);
  return { ...out, recover: !out.released && wait.slotScopes !== undefined };
}

/**
 * Completes a runbook wait with the attempt's result: the slot is released (and handed on) first. When
 * another resolver had released it, a hand-off pass from a fresh read (of the queues whose waiter counter
 * says they have waiters) follows the send only if the send reached the token: a resolver sends after
 * its hand-off, so a token already answered (`ended`) means that pass ran — or abort clean-up's, which
 * ends the execution after its own pass. Its release and the read are the recovery of a crash between a
 * release and its hand-off; a duplicate delivery costs no read.
 */
export async function completeRunbookWait(
  deps: WaitsDeps & QueueDeps,
  wait: RunbookWait,
  result: RunbookState,
): Promise<Completion> {
  const released = await releaseForRunbook(deps, wait, result);
  const completion = await completeWait(deps, wait, { output: result });
  if (released?.recover && completion === 'sent') await handOff(deps, { everyQueue: false });
  return completion;
}
