/**
 * The task clock in the sandbox (tasks/shared/clock.ts): every handler invocation runs with the clock of the
 * sandbox that invoked it, the emulated clock its services stamp events and histories with. Per invocation
 * (AsyncLocalStorage), so sandboxes in one process keep their own clocks.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { setClockHook, type TaskClock } from '../../tasks/shared/clock';
import type { Clock } from '../core/types';

const invocationClock = new AsyncLocalStorage<TaskClock>();

/** Runs one handler invocation on `clock`. */
export function runOnClock<T>(clock: Clock, fn: () => T): T {
  return invocationClock.run({ now: () => clock.now(), scale: clock.timeScale }, fn);
}

/** Points the task clock at the running invocation's sandbox clock (idempotent). */
export function installTaskClock(): void {
  setClockHook(() => invocationClock.getStore());
}
