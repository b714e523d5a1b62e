/**
 * The clock task code reads. In AWS it is the system clock, the one every AWS service stamps its events and
 * execution histories with. The sandbox runs every handler in one process and emulates AWS on a scaled
 * clock (sandbox/core/clock.ts: `timeScale` 0.01 → an emulated minute passes in 0.6 s), so its services'
 * timestamps run ahead of the system clock; it sets a hook (setClockHook) that answers with the clock of the
 * sandbox whose handler is running, so a task's "now" is on the same clock as the events it handles.
 */
export interface TaskClock {
  now(): Date;
  /** Real milliseconds per clock millisecond: 1 in AWS; the sandbox's time scale there. */
  readonly scale: number;
}

const SYSTEM: TaskClock = { now: () => new Date(), scale: 1 };

let hook: (() => TaskClock | undefined) | undefined;

/** The sandbox's hook (undefined: back to the system clock). */
export function setClockHook(h: (() => TaskClock | undefined) | undefined): void {
  hook = h;
}

/** The clock of the invocation running now. */
export function taskClock(): TaskClock {
  return hook?.() ?? SYSTEM;
}

/** The time now on the task clock. */
export const clockNow = (): Date => taskClock().now();
