/**
 * The installer's runner priorities (sandbox/install/runner-priority.ts): the task functions a slot
 * hand-off round waits on — the status-change callback (it releases the holder's slot and grants it) and
 * the waiter's Start runbook — are prioritized in the sandbox's runner queue and the rest are not, and the
 * runners reserved for them leave the other functions at least one.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LAMBDA_CONCURRENCY } from '../../sandbox/core/functions';
import { HANDOFF_TASKS, RESERVED_RUNNERS, runnerPriority } from '../../sandbox/install/runner-priority';
import { STATES, TASK_STATES } from '../../workflows/remediation';

describe('runner priorities of the installed task functions', () => {
  it('prioritize the steps of a hand-off round, each a task with a handler, and nothing else', () => {
    const round = ['wait-callback', TASK_STATES[STATES.startRunbook]];
    expect([...HANDOFF_TASKS].sort()).toEqual([...round].sort());
    for (const task of HANDOFF_TASKS) {
      expect(existsSync(`tasks/${task}/handler.ts`)).toBe(true);
      expect(runnerPriority(task)).toBe(1);
    }
    for (const task of [
      'intake',
      'plan',
      'detect-drift',
      'acquire-slot',
      'release-slot',
      'record-outcome',
      'notify',
    ])
      expect(runnerPriority(task)).toBe(0);
  });

  it('reserve fewer runners than the default cap', () => {
    expect(RESERVED_RUNNERS).toBeGreaterThan(0);
    expect(RESERVED_RUNNERS).toBeLessThan(DEFAULT_LAMBDA_CONCURRENCY);
  });
});
