/**
 * The remediation policy for a Lambda: read once per cold start from the file named by POLICY_FILE
 * (the raw YAML/JSON policy document bundled with the function), validated and normalized.
 */
import { ENV, requireEnv } from './env';
import { loadPolicyFile } from './policy/load';
import type { NormalizedPolicy } from './policy/schema';

let cached: NormalizedPolicy | undefined;

export function policyFromEnv(env: NodeJS.ProcessEnv = process.env): NormalizedPolicy {
  cached ??= loadPolicyFile(requireEnv(ENV.POLICY_FILE, env));
  return cached;
}

/** For tests: forget the cached policy. */
export function resetPolicyCache(): void {
  cached = undefined;
}
