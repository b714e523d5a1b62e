/**
 * Loads, validates and normalizes the remediation policy. An invalid policy throws PolicyError whose
 * message names each bad field (e.g. `remediations[1].approval.mode: Invalid option`), which is what
 * `cdk synth` prints.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type * as z from 'zod';
import { PolicyError } from '../errors';
import { type AwsManagedTable, checkAwsManagedEntry } from './aws-managed';
import { checkOverlaps } from './match';
import {
  isAwsManagedRunbook,
  isFirstPartyRunbook,
  type NormalizedPolicy,
  PolicyDocument,
  type ResolvedEntry,
} from './schema';

function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  let out = 'policy';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  return out;
}

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((i) => `${fieldPath(i.path)}: ${i.message}`);
}

export interface LoadOptions {
  /** First-party runbook document names available (runbooks/*.yaml basenames); unknown ones are an error. */
  knownRunbooks?: readonly string[];
  /**
   * The reviewed AWS-managed runbook table (runbooks/aws-managed.yaml): an AWS-managed runbook outside
   * it, or with parameters it does not declare, is an error. Synth passes it; tasks at run time do not.
   */
  awsManaged?: AwsManagedTable;
}

/** Validates a parsed policy document and folds defaults into each entry. */
export function normalizePolicy(raw: unknown, opts: LoadOptions = {}): NormalizedPolicy {
  const r = PolicyDocument.safeParse(raw);
  if (!r.success) throw new PolicyError(`invalid remediation policy:\n  ${issuesOf(r.error).join('\n  ')}`);
  const doc = r.data;
  const problems: string[] = [];
  const d = doc.defaults;
  const seen = new Set<string>();
  const entries: ResolvedEntry[] = doc.remediations.map((e, i) => {
    const at = `policy.remediations[${i}]`;
    if (seen.has(e.id)) problems.push(`${at}.id: duplicate id ${e.id}`);
    seen.add(e.id);
    const firstParty = isFirstPartyRunbook(e.runbook);
    if (!firstParty && !isAwsManagedRunbook(e.runbook)) {
      problems.push(
        `${at}.runbook: ${e.runbook} is neither first-party (DriftRemediation-…) nor AWS-managed (AWS-…)`,
      );
    }
    if (firstParty && opts.knownRunbooks && !opts.knownRunbooks.includes(e.runbook)) {
      problems.push(`${at}.runbook: no runbook file runbooks/${e.runbook}.yaml`);
    }
    if (!firstParty && isAwsManagedRunbook(e.runbook) && opts.awsManaged) {
      problems.push(...checkAwsManagedEntry(at, e.runbook, e.parameters, opts.awsManaged));
    }
    if (e.match.properties.length > 0 && (!e.match.cloudFormationDrift || e.match.configRules.length > 0)) {
      problems.push(
        `${at}.match.properties: only CloudFormation drift events carry drifted properties; set cloudFormationDrift: true and name no configRules`,
      );
    }
    if (e.match.configRules.length === 0 && !e.match.cloudFormationDrift) {
      problems.push(`${at}.match: name at least one config rule or set cloudFormationDrift: true`);
    }
    const approval = { ...d.approval, ...e.approval };
    if (approval.mode === 'required' && approval.approvers.length === 0) {
      problems.push(`${at}.approval.approvers: approval mode "required" needs at least one approver`);
    }
    for (const [j, x] of e.exceptions.entries()) {
      if (Number.isNaN(Date.parse(x.expires))) problems.push(`${at}.exceptions[${j}].expires: not a date`);
    }
    if ('AutomationAssumeRole' in e.parameters) {
      problems.push(`${at}.parameters.AutomationAssumeRole: set by the workflow, remove it`);
    }
    return {
      id: e.id,
      ...(e.description ? { description: e.description } : {}),
      configRules: e.match.configRules,
      resourceTypes: e.match.resourceTypes,
      cloudFormationDrift: e.match.cloudFormationDrift,
      properties: e.match.properties,
      runbook: e.runbook,
      firstParty,
      parameters: e.parameters,
      approval,
      concurrency: {
        perRunbook: e.concurrency?.perRunbook ?? d.concurrency.perRunbook,
        global: d.concurrency.global,
        maxQueueSeconds: d.concurrency.maxQueueSeconds,
      },
      attempts: { ...d.attempts, ...e.attempts },
      loopBreaker: { ...d.loopBreaker, ...e.loopBreaker },
      verification: { ...d.verification, ...e.verification },
      exceptions: e.exceptions,
    };
  });
  // No two entries may be able to match one event (tasks/shared/policy/match.ts).
  problems.push(...checkOverlaps(entries));
  if (problems.length) throw new PolicyError(`invalid remediation policy:\n  ${problems.join('\n  ')}`);
  return {
    version: 1,
    exceptionTag: doc.exceptionTag,
    blastRadius: d.blastRadius,
    globalConcurrency: d.concurrency.global,
    scope: doc.scope,
    configRules: doc.configRules,
    entries,
  };
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
