/**
 * IAM's own reads of other services (a stack's ARN from its name, a resource's tags, a queue's policy):
 * made as the emulated service itself (not authorized), a failed read answering `{}` (no such resource),
 * and cached per sandbox until the read service's change generation moves (sandbox/core/changes.ts) —
 * without the cache these reads were a quarter of the sandbox's calls per remediation.
 */
import { asService } from '../../core/authz';
import { changeGeneration } from '../../core/changes';
import type { SandboxContext } from '../../core/types';

type Out = Record<string, unknown>;

interface Cached {
  generation: number;
  out: Promise<Out>;
}

const caches = new WeakMap<SandboxContext, Map<string, Cached>>();
const MAX_ENTRIES = 20_000;

/** `service`'s `operation` as IAM sees it; callers must not modify the answer (it is shared). */
export function iamRead(
  sandbox: SandboxContext,
  service: string,
  operation: string,
  input: Out,
): Promise<Out> {
  let cache = caches.get(sandbox.home);
  if (!cache) {
    cache = new Map();
    caches.set(sandbox.home, cache);
  }
  const key = `${sandbox.accountId} ${sandbox.region} ${service} ${operation} ${JSON.stringify(input)}`;
  const generation = changeGeneration(sandbox, service);
  const hit = cache.get(key);
  if (hit && hit.generation === generation) return hit.out;
  if (cache.size >= MAX_ENTRIES) cache.clear();
  const out = asService(() => sandbox.call(service, operation, input)).catch((): Out => ({}));
  cache.set(key, { generation, out });
  return out;
}
