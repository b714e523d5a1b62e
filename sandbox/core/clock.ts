import type { Clock } from './types';

/**
 * Scaled time. Emulated durations are multiplied by `timeScale` to get real time: 0.01 makes a 30 s
 * runbook take 300 ms; 1 runs at real speed. `now()` advances at the emulated rate from the moment the
 * clock was created, so timestamps stay consistent with the (compressed) durations.
 */
export function createClock(timeScale = 1, start: Date = new Date()): Clock {
  if (!Number.isFinite(timeScale) || timeScale < 0)
    throw new Error(`timeScale must be a number >= 0, got ${timeScale}`);
  const realStart = Date.now();
  const emulatedStart = start.getTime();
  return {
    timeScale,
    now(): Date {
      const realElapsed = Date.now() - realStart;
      const emulatedElapsed = timeScale === 0 ? 0 : realElapsed / timeScale;
      return new Date(emulatedStart + emulatedElapsed);
    },
    sleep(seconds: number, signal?: AbortSignal): Promise<void> {
      const ms = Math.max(0, seconds * 1000 * timeScale);
      return sleepMs(ms, signal);
    },
  };
}

/** Real-time sleep that rejects with the signal's reason when aborted. */
export function sleepMs(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason ?? new Error('aborted'));
      return;
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason ?? new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
