/**
 * Helpers shared by the verification tasks (recheck-drift, request-reevaluation, check-compliance).
 * The verification budget is the plan's: at most plan.verification.maxPolls checks, with adaptive
 * waits that never exceed plan.verification.intervalSeconds, so the whole loop stays within
 * plan.verification.timeoutSeconds.
 */
import type { PlanResult, VerificationState } from './contracts';
import { nextWaitSeconds } from './polling';

/** Wait before check number `polls + 1`: 5 s (or the interval, if shorter), doubling up to the interval. */
export function verificationWaitSeconds(polls: number, plan: Pick<PlanResult, 'verification'>): number {
  const interval = plan.verification.intervalSeconds;
  return nextWaitSeconds(polls, { initialSeconds: Math.min(5, interval), factor: 2, maxSeconds: interval });
}

/** The verification state a task starts from: the previous one, or a fresh one begun at `now`. */
export function verificationBase(
  previous: VerificationState | undefined,
  plan: Pick<PlanResult, 'verification'>,
  now: Date,
): VerificationState {
  return {
    status: 'pending',
    polls: 0,
    maxPolls: plan.verification.maxPolls,
    waitSeconds: verificationWaitSeconds(0, plan),
    ...previous,
    startedAt: previous?.startedAt ?? now.toISOString(),
  };
}
