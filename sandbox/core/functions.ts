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
 * beyond this wait, first come first served, and their limits start when they run.
 * SANDBOX_LAMBDA_CONCURRENCY overrides it.
 */
export const DEFAULT_LAMBDA_CONCURRENCY = 8;

function concurrencyFromEnv(): number {
  const n = Number(process.env.SANDBOX_LAMBDA_CONCURRENCY);
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_LAMBDA_CONCURRENCY;
}

export class FunctionRegistry {
  private readonly byArn = new Map<string, SandboxFunction>();
  private readonly byName = new Map<string, SandboxFunction>();
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(readonly maxConcurrent = concurrencyFromEnv()) {}

  register(fn: SandboxFunction): void {
    this.byArn.set(fn.arn, fn);
    this.byName.set(fn.name, fn);
  }

  unregister(arnOrName: string): void {
    const fn = this.get(arnOrName);
    if (!fn) return;
    this.byArn.delete(fn.arn);
    this.byName.delete(fn.name);
  }

  /** By full ARN, ARN with a version/alias qualifier, or function name. */
  get(arnOrName: string): SandboxFunction | undefined {
    const direct = this.byArn.get(arnOrName) ?? this.byName.get(arnOrName);
    if (direct) return direct;
    const m = /^arn:[^:]+:lambda:[^:]*:[^:]*:function:([^:]+)(?::.+)?$/.exec(arnOrName);
    return m?.[1] ? this.byName.get(m[1]) : undefined;
  }

  list(): SandboxFunction[] {
    return [...this.byArn.values()];
  }

  /** Invocations waiting for a runner now. */
  get queued(): number {
    return this.waiting.length;
  }

  async invoke(arnOrName: string, payload: unknown, hooks: InvokeHooks = {}): Promise<unknown> {
    const fn = this.get(arnOrName);
    if (!fn) throw new AwsError('ResourceNotFoundException', `Function not found: ${arnOrName}`, 404);
    if (this.running >= this.maxConcurrent) await new Promise<void>((r) => this.waiting.push(r));
    else this.running++;
    try {
      hooks.onStart?.();
      return await fn.invoke(payload);
    } finally {
      // Hand the runner to the next waiter (the count stays), or give it back.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
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
