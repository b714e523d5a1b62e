/**
 * Where the burst's Lambda invocations wait: for each task function, how many invocations ran, how long
 * they waited for one of the sandbox's runners (sandbox/core/functions.ts: invocation → handler start)
 * and how long their handler ran (start → answer), in real milliseconds. Read from outside the sandbox:
 * the registry's `invoke` and each function's `invoke` are wrapped, and one invocation's two calls are
 * matched by their payload object (the registry hands its caller's payload to the function as it is).
 */
import type { E2E } from '../e2e/support/harness';
import { percentile } from './stats';

export interface RunnerWaits {
  task: string;
  invocations: number;
  /** Invocation → handler start (waiting for a runner), real ms. */
  queued: { mean: number; p90: number };
  /** Handler start → answer, real ms (includes its lent-runner waits on emulated latencies). */
  ran: { mean: number; p90: number };
}

const summary = (v: readonly number[]) => ({
  mean: v.length ? v.reduce((a, b) => a + b, 0) / v.length : Number.NaN,
  p90: percentile(v, 90),
});

/** Starts timing every task function's invocations; `read()` gives the figures so far, busiest first. */
export function watchRunners(e: E2E): { read: () => RunnerWaits[] } {
  const reg = e.sb.functions;
  const called = new WeakMap<object, number>();
  const byTask = new Map<string, { queued: number[]; ran: number[] }>();
  const original = reg.invoke.bind(reg);
  reg.invoke = (arnOrName, payload, hooks) => {
    if (payload && typeof payload === 'object') called.set(payload, performance.now());
    return original(arnOrName, payload, hooks);
  };
  for (const [task, name] of Object.entries(e.stack.functions)) {
    const fn = reg.get(name);
    if (!fn) continue;
    const times = { queued: [] as number[], ran: [] as number[] };
    byTask.set(task, times);
    const invoke = fn.invoke.bind(fn);
    fn.invoke = async (payload: unknown) => {
      const start = performance.now();
      const at = payload && typeof payload === 'object' ? called.get(payload) : undefined;
      if (at !== undefined) times.queued.push(start - at);
      try {
        return await invoke(payload);
      } finally {
        times.ran.push(performance.now() - start);
      }
    };
  }
  return {
    read: () =>
      [...byTask.entries()]
        .filter(([, t]) => t.ran.length > 0)
        .map(([task, t]) => ({
          task,
          invocations: t.ran.length,
          queued: summary(t.queued),
          ran: summary(t.ran),
        }))
        .sort((a, b) => b.invocations - a.invocations),
  };
}
