/**
 * The policy document as the functions read it (POLICY_FILE): JSON, written once per content to a temp
 * dir. infra copies it into the plan and intake bundles (`/var/task/policy.json`); the sandbox points its
 * in-process handlers at the same file. No CDK here, so the sandbox imports it without loading aws-cdk-lib.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePolicyText } from '../tasks/shared/policy/load';

/**
 * The policy file (YAML or JSON) as the JSON document the functions read (POLICY_FILE), written once per
 * content to a temp dir: its path, for TaskFunctionProps and for the sandbox's in-process handlers.
 */
export function bundledPolicyFor(policyFile: string): string {
  return writeBundledPolicy(JSON.stringify(parsePolicyText(readFileSync(policyFile, 'utf8'), policyFile)));
}

/** Writes the policy JSON once per content to a temp dir and returns its path (for TaskFunctionProps). */
export function writeBundledPolicy(policyJson: string): string {
  const hash = createHash('sha256').update(policyJson).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `drift-remediation-policy-${hash}`);
  mkdirSync(dir, { recursive: true });
  const path = join(dir, 'policy.json');
  writeFileSync(path, policyJson);
  return path;
}
