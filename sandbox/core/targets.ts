import type { BusEvent, SandboxContext } from './types';
import { AwsError } from './types';

/**
 * Delivery to an ARN (EventBridge targets, SNS subscriptions): each service that can be a target registers
 * a handler for its ARN service segment (`sqs`, `lambda`, `states`, `sns`). The lead's Step Functions
 * module registers `states` (startExecutionFromTarget); SQS and Lambda are registered by the sandbox.
 */
export type TargetHandler = (arn: string, message: string, ctx: SandboxContext) => Promise<void>;

const handlers = new WeakMap<SandboxContext, Map<string, TargetHandler>>();

function table(ctx: SandboxContext): Map<string, TargetHandler> {
  let t = handlers.get(ctx.home);
  if (!t) {
    t = new Map();
    handlers.set(ctx.home, t);
  }
  return t;
}

export function registerTargetHandler(ctx: SandboxContext, arnService: string, handler: TargetHandler): void {
  table(ctx).set(arnService, handler);
}

export function arnService(arn: string): string | undefined {
  const parts = arn.split(':');
  return parts[0] === 'arn' ? parts[2] : undefined;
}

/** Delivers `message` (a string: the event JSON or the SNS message) to the resource `arn`. */
export async function deliverToArn(ctx: SandboxContext, arn: string, message: string): Promise<void> {
  const service = arnService(arn);
  const handler = service ? table(ctx).get(service) : undefined;
  if (!handler) throw new AwsError('ValidationException', `No sandbox delivery for target ${arn}`);
  await handler(arn, message, ctx);
}

/** The default event bus's in-process entry point (set by the EventBridge module at start). */
export type EventBusHandler = (event: BusEvent) => Promise<void>;
const buses = new WeakMap<SandboxContext, EventBusHandler>();

export function setEventBus(ctx: SandboxContext, handler: EventBusHandler): void {
  buses.set(ctx.home, handler);
}

export function eventBus(ctx: SandboxContext): EventBusHandler | undefined {
  return buses.get(ctx.home);
}
