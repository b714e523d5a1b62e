/**
 * Transient-only runbook re-runs (#12): which automation failures are re-run, and the full-jitter wait
 * before the next attempt.
 */
import { describe, expect, it } from 'vitest';
import type { RunbookState } from '../../../tasks/shared/contracts';
import {
  isTransientFailure,
  RETRY_CAP_SECONDS,
  retryWaitSeconds,
  runbookResult,
} from '../../../tasks/shared/runbook-status';

const attempt = (n: number): RunbookState => ({
  phase: 'running',
  attempt: n,
  documentName: 'DriftRemediation-RevertStackDrift',
  automationExecutionId: `auto-${n}`,
  retryable: false,
  waitSeconds: 1,
});
const budget = { maxAttempts: 3, retryAfterSeconds: 60 };

describe('isTransientFailure', () => {
  it.each([
    ['Failed', 'ThrottlingException: Rate exceeded'],
    [
      'Failed',
      'An error occurred (TooManyRequestsException) when calling the UpdateFunctionConfiguration operation',
    ],
    ['Failed', 'Service Unavailable (Service: Ec2, Status Code: 503)'],
    ['Failed', 'InternalError: We encountered an internal error. Please try again.'],
    ['Failed', 'Step timed out'],
    ['Failed', 'AutomationExecutionLimitExceededException: concurrent executions limit reached'],
    ['TimedOut', undefined],
  ])('%s %s → transient', (status, text) => {
    expect(isTransientFailure(status, text)).toBe(true);
  });
  it.each([
    ['Failed', 'The change set would replace WebSecurityGroup: refused'],
    ['Failed', 'ValidationError: Parameter GroupId failed to satisfy constraint'],
    ['Failed', 'AccessDenied: not authorized to perform iam:DetachRolePolicy'],
    ['Failed', 'InvalidGroup.NotFound: The security group does not exist'],
    ['Failed', undefined],
    ['Cancelled', 'Step timed out'],
  ])('%s %s → deterministic', (status, text) => {
    expect(isTransientFailure(status, text)).toBe(false);
  });
});

describe('runbookResult', () => {
  it('a deterministic failure is not re-run, whatever attempts remain, and keeps the step message', () => {
    const r = runbookResult(attempt(1), 'Failed', 'The change set would replace X: refused', budget);
    expect(r).toMatchObject({ phase: 'failed', retryable: false, waitSeconds: 1 });
    expect(r?.failureMessage).toBe(
      'DriftRemediation-RevertStackDrift attempt 1: Failed: The change set would replace X: refused (not a transient failure: not re-run)',
    );
  });
  it('a transient failure is re-run while attempts remain, classified from the failure details too', () => {
    const details = JSON.stringify({
      FailureType: 'Execution',
      Details: { ErrorCode: ['ThrottlingException'] },
    });
    expect(runbookResult(attempt(2), 'Failed', 'step failed', budget, details, () => 0.5)).toMatchObject({
      retryable: true,
      waitSeconds: 60,
    });
    expect(runbookResult(attempt(3), 'Failed', 'step failed', budget, details)?.retryable).toBe(false);
  });
});

describe('retryWaitSeconds (full jitter)', () => {
  it('is a whole number in [1, min(cap, base × 2^(attempt−1))]', () => {
    expect(retryWaitSeconds(1, 60, () => 0)).toBe(1);
    expect(retryWaitSeconds(1, 60, () => 0.999)).toBe(60);
    expect(retryWaitSeconds(3, 60, () => 0.999)).toBe(240);
    expect(retryWaitSeconds(3, 60, () => 0.5)).toBe(120);
    expect(retryWaitSeconds(20, 3600, () => 0.9999999)).toBe(RETRY_CAP_SECONDS);
  });
  it('spreads waits over the whole range (not a fixed delay)', () => {
    const waits = new Set(Array.from({ length: 200 }, () => retryWaitSeconds(2, 60, Math.random)));
    expect(waits.size).toBeGreaterThan(20);
    for (const w of waits) {
      expect(w).toBeGreaterThanOrEqual(1);
      expect(w).toBeLessThanOrEqual(120);
    }
  });
});
