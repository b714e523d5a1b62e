/**
 * The remediation policy for a Lambda: read once per cold start from the file named by POLICY_FILE
 * (the raw YAML/JSON policy document bundled with the function), validated and normalized. Cached per
 * path, so a process that points POLICY_FILE elsewhere (the in-process sandbox) reads the new file.
 */
import { ENV, requireEnv } from './env';
import { loadPolicyFile } from './policy/load';
import type { NormalizedPolicy } from './policy/schema';

const cache = new Map<string, NormalizedPolicy>();

export function policyFromEnv(env: NodeJS.ProcessEnv = process.env): NormalizedPolicy {
  const path = requireEnv(ENV.POLICY_FILE, env);
  let policy = cache.get(path);
  if (!policy) {
    policy = loadPolicyFile(path);
    cache.set(path, policy);
  }
  return policy;
}

/** For tests: forget the cached policies. */
export function resetPolicyCache(): void {
  cache.clear();
}
