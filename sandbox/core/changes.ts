/**
 * Change generations: what lets the sandbox's IAM cache what it reads about resources (a stack's ARN and
 * tags, a queue's policy …) without ever answering from stale state. Every operation that may change a
 * resource's existence, name, tags or policy bumps its service's generation when it starts and when it
 * ends (success or failure); a cached read taken at generation g is good while the service is still at g.
 *
 * Resources also change outside their service's operations (CloudFormation provisioning writes a
 * security group through its provider): every ResourceChange a store records bumps the generation of the
 * resource type's service too — unless it is `contentsOnly` (a stack's drift status: a drift detection
 * changes no stack's tags or resources), and CloudFormation bumps its own on every resource status change
 * of a stack (a physical id that joins or leaves it).
 *
 * Which operations count: anything but reads (Describe…, Get…, List…) and the data-plane operations
 * named below, which change a resource's contents (messages, items, rules of a security group, executions)
 * but never its identity, tags or policies. An operation missing from the list only costs cache hits.
 */
import { asService } from './authz';
import type { SandboxContext } from './types';

const READS =
  /^(Describe|Get|List|Head|Lookup|Search|Select|Scan|Query|BatchGet|Simulate|Generate|Estimate|Preview|Validate|Check|Test|Detect|Receive|Filter)/;

/** Writes that change what a resource holds, never whether it exists, its ARN, its tags or its policies. */
const CONTENT_ONLY = new Set([
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'BatchWriteItem',
  'SendMessage',
  'SendMessageBatch',
  'DeleteMessage',
  'DeleteMessageBatch',
  'ChangeMessageVisibility',
  'ChangeMessageVisibilityBatch',
  'Publish',
  'PublishBatch',
  'PutEvents',
  'StartExecution',
  'StartSyncExecution',
  'StopExecution',
  'SendTaskSuccess',
  'SendTaskFailure',
  'SendTaskHeartbeat',
  'StartAutomationExecution',
  'StopAutomationExecution',
  'SendAutomationSignal',
  'PutEvaluations',
  'StartConfigRulesEvaluation',
  'PutObject',
  'Invoke',
  'AuthorizeSecurityGroupIngress',
  'AuthorizeSecurityGroupEgress',
  'RevokeSecurityGroupIngress',
  'RevokeSecurityGroupEgress',
]);

/** Whether `operation` may change a resource's existence, tags or policies (then it bumps the generation). */
export function mayChangeResources(operation: string): boolean {
  return !READS.test(operation) && !CONTENT_ONLY.has(operation);
}

const generations = new WeakMap<SandboxContext, Map<string, number>>();

function table(ctx: SandboxContext): Map<string, number> {
  let t = generations.get(ctx.home);
  if (!t) {
    t = new Map();
    generations.set(ctx.home, t);
  }
  return t;
}

/** The service's change generation (all account-region scopes of one sandbox share it). */
export function changeGeneration(ctx: SandboxContext, service: string): number {
  return table(ctx).get(service) ?? 0;
}

/** Marks a possible change to the service's resources (called as such an operation starts and ends). */
export function noteChange(ctx: SandboxContext, service: string): void {
  const t = table(ctx);
  t.set(service, (t.get(service) ?? 0) + 1);
}

/** The sandbox service name of a CloudFormation resource type (`AWS::EC2::SecurityGroup` → `ec2`). */
export function serviceOfType(resourceType: string): string {
  return (resourceType.split('::')[1] ?? '').toLowerCase();
}

/**
 * A per-sandbox cache whose entries hold while `service`'s change generation stays where it was when they
 * were computed (so an answer is never stale); cleared whole when it reaches `maxEntries`.
 */
export function changeCache<T>(maxEntries: number) {
  const caches = new WeakMap<SandboxContext, Map<string, { generation: number; value: T }>>();
  return (ctx: SandboxContext, service: string, key: string, compute: () => T): T => {
    let cache = caches.get(ctx.home);
    if (!cache) {
      cache = new Map();
      caches.set(ctx.home, cache);
    }
    const generation = changeGeneration(ctx, service);
    const hit = cache.get(key);
    if (hit && hit.generation === generation) return hit.value;
    if (cache.size >= maxEntries) cache.clear();
    const value = compute();
    cache.set(key, { generation, value });
    return value;
  };
}

type Out = Record<string, unknown>;

const readCache = changeCache<Promise<Out>>(20_000);

/**
 * `service`'s `operation` read as the emulated service itself (not authorized), cached per sandbox until
 * the service's change generation moves; a failed read answers `{}` (no such resource). The sandbox's own
 * views of other services' resources: IAM's (a stack's ARN, a resource's tags, a queue's policy) and
 * Config's (the stack a resource belongs to). Callers must not modify the answer (it is shared).
 */
export function cachedRead(
  sandbox: SandboxContext,
  service: string,
  operation: string,
  input: Out,
): Promise<Out> {
  const key = `${sandbox.accountId} ${sandbox.region} ${service} ${operation} ${JSON.stringify(input)}`;
  return readCache(sandbox, service, key, () =>
    asService(() => sandbox.call(service, operation, input)).catch((): Out => ({})),
  );
}
