/**
 * The remediation policy for a Lambda: read once per cold start from the file named by POLICY_FILE —
 * the policy document as JSON, which infra bundles next to the handler (`/var/task/policy.json`, see
 * infra/constructs/task-function.ts) and the sandbox writes the same way — validated and normalized.
 * JSON only, on purpose: the YAML parser (~110 KB minified) stays out of the plan and intake bundles.
 * Cached per path, so a process that points POLICY_FILE elsewhere (the in-process sandbox) reads the new file.
 */
import { readFileSync } from 'node:fs';
import { ENV, requireEnv } from './env';
import { PolicyError } from './errors';
import { normalizeDocument } from './policy/normalize';
import { withNamePrefix } from './policy/prefix';
import type { NormalizedPolicy } from './policy/schema';

const cache = new Map<string, NormalizedPolicy>();

/** Reads, validates and normalizes the policy JSON at `path`; PolicyError names the file and the fault. */
export function loadPolicyJson(path: string): NormalizedPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(`cannot read policy file ${path}: ${(err as Error).message}`, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PolicyError(
      `${path}: not valid JSON (POLICY_FILE names the policy as JSON, as infra bundles it): ${(err as Error).message}`,
      { cause: err },
    );
  }
  return normalizeDocument(raw);
}

export function policyFromEnv(env: NodeJS.ProcessEnv = process.env): NormalizedPolicy {
  const path = requireEnv(ENV.POLICY_FILE, env);
  const prefix = env[ENV.NAME_PREFIX] ?? '';
  const key = `${prefix}\n${path}`;
  let policy = cache.get(key);
  if (!policy) {
    policy = withNamePrefix(loadPolicyJson(path), prefix);
    cache.set(key, policy);
  }
  return policy;
}

/** For tests: forget the cached policies. */
export function resetPolicyCache(): void {
  cache.clear();
}
