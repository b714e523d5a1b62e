/**
 * Loads, validates and normalizes the remediation policy from YAML or JSON. An invalid policy throws
 * PolicyError whose message names each bad field (e.g. `remediations[1].approval.mode: Invalid type: Expected ("auto" | …) but received "x"`),
 * which is what `cdk synth` prints. Validation and defaults: normalize.ts.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { PolicyError } from '../errors';
import { type AwsManagedTable, checkAwsManagedEntry } from './aws-managed';
import { normalizeDocument } from './normalize';
import type { NormalizedPolicy } from './schema';

export interface LoadOptions {
  /** First-party runbook document names available (runbooks/*.yaml basenames); unknown ones are an error. */
  knownRunbooks?: readonly string[];
  /**
   * The reviewed AWS-managed runbook table (runbooks/aws-managed.yaml): an AWS-managed runbook outside
   * it, or with parameters it does not declare, is an error. Synth passes it; tasks at run time do not.
   */
  awsManaged?: AwsManagedTable;
}

/** Validates a parsed policy document and folds defaults into each entry (normalize.ts). */
export function normalizePolicy(raw: unknown, opts: LoadOptions = {}): NormalizedPolicy {
  const table = opts.awsManaged;
  return normalizeDocument(raw, {
    ...(opts.knownRunbooks ? { knownRunbooks: opts.knownRunbooks } : {}),
    ...(table
      ? { checkAwsManaged: (at, runbook, params) => checkAwsManagedEntry(at, runbook, params, table) }
      : {}),
  });
}

/** Parses YAML or JSON text (YAML is a superset of JSON). */
export function parsePolicyText(text: string, source = 'policy'): unknown {
  try {
    return parseYaml(text);
  } catch (err) {
    throw new PolicyError(`${source}: not valid YAML/JSON: ${(err as Error).message}`, { cause: err });
  }
}

/** Reads and normalizes a policy file. */
export function loadPolicyFile(path: string, opts: LoadOptions = {}): NormalizedPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(`cannot read policy file ${path}: ${(err as Error).message}`, { cause: err });
  }
  return normalizePolicy(parsePolicyText(text, path), opts);
}

/** Finds the entry for an event: see tasks/shared/policy/match.ts. */
export { findEntry } from './match';
