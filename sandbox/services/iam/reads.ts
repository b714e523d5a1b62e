/**
 * IAM's own reads of other services (a stack's ARN from its name, a resource's tags, a queue's policy):
 * made as the emulated service itself (not authorized), a failed read answering `{}` (no such resource),
 * and cached per sandbox until the read service's change generation moves (sandbox/core/changes.ts) —
 * without the cache these reads were a quarter of the sandbox's calls per remediation.
 */
import { asService } from '../../core/authz';
import { changeCache } from '../../core/changes';
import type { SandboxContext } from '../../core/types';

type Out = Record<string, unknown>;

const readCache = changeCache<Promise<Out>>(20_000);

/** `service`'s `operation` as IAM sees it; callers must not modify the answer (it is shared). */
export function iamRead(
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
