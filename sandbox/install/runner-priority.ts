/**
 * Which task functions the sandbox's runner queue serves first (SandboxFunction.priority,
 * sandbox/core/functions.ts). The sandbox runs a few handlers at once on shared CPU; under a burst every
 * other execution's work (intake of compliance events, drift detection, re-checks, outcomes, notices)
 * queues for the same runners. The steps of a slot hand-off round are what the burst's makespan waits
 * on — the runbook's status-change callback (which releases the holder's slot and grants it to the next
 * waiter: tasks/shared/leases-release.ts) and the waiter's Start runbook — so they take a free runner
 * before anything else, and
 * RESERVED_RUNNERS of the runners are theirs alone: a round's step finds one free and shares the CPU with
 * fewer handlers (measured in `npm run bench -- --only burst`, docs/operations.md). In AWS each
 * invocation has its own CPU and there is no such queue (the stack sets no reserved concurrency:
 * docs/architecture.md, the Lambda row).
 */
export const HANDOFF_TASKS: ReadonlySet<string> = new Set(['wait-callback', 'start-runbook']);

/**
 * Runners held back for the hand-off steps: 3, not one per step. wait-callback carries the round's release
 * and grant and also completes every Config verification wait at the same priority, so under a burst two
 * reserved runners were shared by the rounds and the verifications (n = 200: a round 2.75 s mean with 2,
 * 1.45 s with 3; docs/operations.md).
 */
export const RESERVED_RUNNERS = 3;

/** A task function's runner priority: 1 for the hand-off steps, 0 (the default) for the rest. */
export function runnerPriority(task: string): number {
  return HANDOFF_TASKS.has(task) ? 1 : 0;
}
