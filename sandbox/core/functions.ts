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
  invoke(payload: unknown): Promise<unknown>;
}

export class FunctionRegistry {
  private readonly byArn = new Map<string, SandboxFunction>();
  private readonly byName = new Map<string, SandboxFunction>();

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

  async invoke(arnOrName: string, payload: unknown): Promise<unknown> {
    const fn = this.get(arnOrName);
    if (!fn) throw new AwsError('ResourceNotFoundException', `Function not found: ${arnOrName}`, 404);
    return fn.invoke(payload);
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

export function invokeFunction(ctx: SandboxContext, arnOrName: string, payload: unknown): Promise<unknown> {
  return functionRegistry(ctx).invoke(arnOrName, payload);
}
