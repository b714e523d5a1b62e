import { AsyncLocalStorage } from 'node:async_hooks';
import type { SandboxContext } from './types';
import { AwsError } from './types';

/**
 * The sandbox's Lambda runtime: functions whose code runs in-process (the remediation task handlers,
 * installed from the synthesized template). EventBridge Lambda targets, SQS event source mappings and the
 * Step Functions `lambda:invoke` integration call them through `invokeFunction`.
 */
export interface SandboxFunction {
  name: string;
  arn: string;
  /** The function's environment (from the template); applied to process.env while it runs is the caller's choice. */
  env: Record<string, string>;
  /** Configured memory (the template's MemorySize): what the console's cost figures price. */
  memoryMb?: number;
  /**
   * The function's cold start (e.g. worker threads loading the handlers), awaited before an invocation
   * takes a runner: like Lambda's init phase, it is not part of the invocation's run time.
   */
  init?(): Promise<void>;
  /**
   * Its place in the runner queue (default 0): when every runner is held, a freed one goes to the waiting
   * invocation of the highest priority, in arrival order within a priority. The installer sets it (the
   * sandbox's own scheduling: AWS gives every invocation its own CPU and has no such queue).
   */
  priority?: number;
  invoke(payload: unknown): Promise<unknown>;
}

/** What an invoker may learn about its invocation. */
export interface InvokeHooks {
  /** Called when the handler starts running (after waiting for a free runner): where a run-time limit starts. */
  onStart?: () => void;
}

/**
 * Handlers running at once. In AWS every invocation has its own CPU; here they all share one event loop,
 * so a thousand interleaved handlers would each take a thousand times their own time and overrun their
 * real-time limits (the function timeout, a Task's TimeoutSeconds) without doing more work. Invocations
 * beyond this wait, first come first served within a function priority (SandboxFunction.priority:
 * higher first), and their limits start when they run.
 * The cap bounds handlers doing work, not handlers waiting: a handler idle in a wait on a service (an
 * emulated call latency, `whileIdle`) lends its runner to the next invocation and takes one again, ahead
 * of invocations not yet started, when the wait ends.
 * SANDBOX_LAMBDA_CONCURRENCY overrides it.
 */
export const DEFAULT_LAMBDA_CONCURRENCY = 8;

function concurrencyFromEnv(): number {
  const n = Number(process.env.SANDBOX_LAMBDA_CONCURRENCY);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_LAMBDA_CONCURRENCY;
}

/** One running invocation's hold on a runner. */
interface Runner {
  registry: FunctionRegistry;
  priority: number;
  /** It holds a runner now (false while it is idle and has lent it). */
  held: boolean;
  /** Waits in progress (whileIdle calls not yet ended). */
  idle: number;
  /** The handler has returned or thrown. */
  done: boolean;
  /** Its request for a runner after a wait, while one is pending. */
  back?: Promise<void> | undefined;
}

const runners = new AsyncLocalStorage<Runner>();

/**
 * Awaits `wait` (time the current handler spends waiting on a service, not working) with its runner lent
 * to the next waiting invocation; when the wait ends the handler takes a runner again before it goes on.
 * Outside a handler invocation it simply awaits `wait`.
 */
export async function whileIdle<T>(wait: () => Promise<T>): Promise<T> {
  const r = runners.getStore();
  if (!r || r.done) return wait();
  if (r.idle++ === 0 && r.held) {
    r.held = false;
    r.registry.release();
  }
  try {
    return await wait();
  } finally {
    if (--r.idle === 0) await resume(r);
  }
}

/** Takes a runner again for `r` after its waits (one request at a time); a handler done by then gives it back. */
async function resume(r: Runner): Promise<void> {
  if (r.done || r.held) return;
  r.back ??= r.registry.acquire(r.priority, true).then(() => {
    r.back = undefined;
    if (r.done) r.registry.release();
    else r.held = true;
  });
  await r.back;
}

/** The invocations of one priority waiting for a runner. */
interface Lane {
  /** Started invocations back from an idle wait: they get the lane's next runner first. */
  resuming: Array<() => void>;
  /** Invocations not yet started, in arrival order. */
  waiting: Array<() => void>;
}

export class FunctionRegistry {
  private readonly byArn = new Map<string, SandboxFunction>();
  private readonly byName = new Map<string, SandboxFunction>();
  private running = 0;
  /** Waiting invocations by priority, highest first. */
  private lanes: Array<{ priority: number } & Lane> = [];

  /** Runners that only prioritized invocations (priority above 0) may take: `reserveRunners`. */
  private reserved = 0;

  constructor(readonly maxConcurrent = concurrencyFromEnv()) {}

  /**
   * Holds `n` of the runners back for prioritized invocations: those of priority 0 (or below) start only
   * while fewer than maxConcurrent − n runners are held (at least one is always theirs), so a prioritized
   * invocation finds a runner free and shares the CPU with fewer handlers.
   */
  reserveRunners(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new Error(`reserved runners must be an integer >= 0, got ${n}`);
    this.reserved = n;
    this.startWaiters();
  }

  /** A bare name keeps naming the function first registered under it (another account's same name does not take it). */
  register(fn: SandboxFunction): void {
    this.byArn.set(fn.arn, fn);
    const named = this.byName.get(fn.name);
    if (!named || named.arn === fn.arn) this.byName.set(fn.name, fn);
  }

  unregister(arnOrName: string): void {
    const fn = this.get(arnOrName);
    if (!fn) return;
    this.byArn.delete(fn.arn);
    if (this.byName.get(fn.name) === fn) this.byName.delete(fn.name);
  }

  /**
   * An ARN (with or without a version/alias qualifier) names the function of that account and region only:
   * a member account's function and a central one of the same name are never confused. A bare name is the
   * function registered under it (callers in an account-region scope pass their scope's ARN instead:
   * SandboxContext.invokeFunction).
   */
  get(arnOrName: string): SandboxFunction | undefined {
    if (!arnOrName.startsWith('arn:')) return this.byName.get(arnOrName);
    const m = /^(arn:[^:]+:lambda:[^:]+:\d{12}:function:[^:]+)(?::[^:]+)?$/.exec(arnOrName);
    return m?.[1] ? this.byArn.get(m[1]) : undefined;
  }

  list(): SandboxFunction[] {
    return [...this.byArn.values()];
  }

  /** Invocations waiting for a runner now (not started, or back from an idle wait). */
  get queued(): number {
    return this.lanes.reduce((n, l) => n + l.waiting.length + l.resuming.length, 0);
  }

  /** Handlers holding a runner now. */
  get active(): number {
    return this.running;
  }

  /**
   * Takes a runner, waiting for one when all it may take are held: behind waiting invocations of a higher
   * priority, ahead of lower ones (`resume`: ahead of its priority's invocations not yet started).
   */
  acquire(priority = 0, resume = false): Promise<void> {
    if (this.running < this.limitFor(priority)) {
      this.running++;
      return Promise.resolve();
    }
    const lane = this.laneOf(priority);
    return new Promise<void>((r) => (resume ? lane.resuming : lane.waiting).push(r));
  }

  /** Gives a runner back: to the highest-priority waiter that may take it, or to the pool. */
  release(): void {
    this.running--;
    this.startWaiters();
  }

  /** Starts waiting invocations, highest priority first, while runners they may take are free. */
  private startWaiters(): void {
    for (const lane of this.lanes) {
      while (this.running < this.limitFor(lane.priority)) {
        const next = lane.resuming.shift() ?? lane.waiting.shift();
        if (!next) break;
        this.running++;
        next();
      }
    }
  }

  private limitFor(priority: number): number {
    return priority > 0 ? this.maxConcurrent : Math.max(1, this.maxConcurrent - this.reserved);
  }

  private laneOf(priority: number): Lane {
    const found = this.lanes.find((l) => l.priority === priority);
    if (found) return found;
    const lane = { priority, resuming: [], waiting: [] };
    this.lanes = [...this.lanes, lane].sort((a, b) => b.priority - a.priority);
    return lane;
  }

  async invoke(arnOrName: string, payload: unknown, hooks: InvokeHooks = {}): Promise<unknown> {
    const fn = this.get(arnOrName);
    if (!fn) throw new AwsError('ResourceNotFoundException', `Function not found: ${arnOrName}`, 404);
    await fn.init?.();
    const priority = fn.priority ?? 0;
    await this.acquire(priority);
    const runner: Runner = { registry: this, priority, held: true, idle: 0, done: false };
    try {
      hooks.onStart?.();
      return await runners.run(runner, () => fn.invoke(payload));
    } finally {
      runner.done = true;
      if (runner.held) this.release();
    }
  }
}

const registries = new WeakMap<SandboxContext, FunctionRegistry>();

/** The function registry of one sandbox. */
export function functionRegistry(ctx: SandboxContext): FunctionRegistry {
  let reg = registries.get(ctx.home);
  if (!reg) {
    reg = new FunctionRegistry();
    registries.set(ctx.home, reg);
  }
  return reg;
}

export function registerFunction(ctx: SandboxContext, fn: SandboxFunction): void {
  functionRegistry(ctx).register(fn);
}

export function invokeFunction(
  ctx: SandboxContext,
  arnOrName: string,
  payload: unknown,
  hooks?: InvokeHooks,
): Promise<unknown> {
  return functionRegistry(ctx).invoke(arnOrName, payload, hooks);
}
