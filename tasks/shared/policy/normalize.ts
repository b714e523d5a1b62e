/**
 * Validates a parsed policy document and folds the defaults into each entry. An invalid policy throws
 * PolicyError whose message names each bad field (e.g. `remediations[1].approval.mode: Invalid type: Expected ("auto" | …) but received "x"`).
 * No parser here: load.ts reads YAML (infra, CLI), policy-env.ts the bundled JSON (Lambda).
 */

import * as v from 'valibot';
import { PolicyError } from '../errors';
import { checkOverlaps } from './match';
import {
  CHANGE_TRIGGERED_RULES,
  isAwsManagedRunbook,
  isFirstPartyRunbook,
  type NormalizedPolicy,
  PolicyDocument,
  type ResolvedEntry,
} from './schema';

function fieldPath(path: ReadonlyArray<{ readonly key: unknown }> = []): string {
  let out = 'policy';
  for (const { key } of path) out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  return out;
}

function issuesOf(issues: readonly v.BaseIssue<unknown>[]): string[] {
  return issues.map((i) => `${fieldPath(i.path)}: ${i.message}`);
}

export interface NormalizeOptions {
  /** First-party runbook document names available (runbooks/*.yaml basenames); unknown ones are an error. */
  knownRunbooks?: readonly string[];
  /**
   * Problems with an entry naming an AWS-managed runbook (load.ts passes the reviewed table's check,
   * `checkAwsManagedEntry`; synth does, tasks at run time do not — and so do not bundle that table's parser).
   */
  checkAwsManaged?: (at: string, runbook: string, parameters: Readonly<Record<string, unknown>>) => string[];
}

type PolicyDoc = v.InferOutput<typeof PolicyDocument>;
type DocEntry = PolicyDoc['remediations'][number];

/** The problems of one entry on its own (runbook, match, approval, exceptions, parameters). */
function entryProblems(e: DocEntry, at: string, d: PolicyDoc['defaults'], opts: NormalizeOptions): string[] {
  const problems: string[] = [];
  const firstParty = isFirstPartyRunbook(e.runbook);
  if (!firstParty && !isAwsManagedRunbook(e.runbook)) {
    problems.push(
      `${at}.runbook: ${e.runbook} is neither first-party (DriftRemediation-…) nor AWS-managed (AWS-…)`,
    );
  }
  if (firstParty && opts.knownRunbooks && !opts.knownRunbooks.includes(e.runbook)) {
    problems.push(`${at}.runbook: no runbook file runbooks/${e.runbook}.yaml`);
  }
  if (!firstParty && isAwsManagedRunbook(e.runbook) && opts.checkAwsManaged) {
    problems.push(...opts.checkAwsManaged(at, e.runbook, e.parameters));
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
  return problems;
}

/** An entry with the defaults folded in. */
function resolveEntry(e: DocEntry, d: PolicyDoc['defaults']): ResolvedEntry {
  return {
    id: e.id,
    ...(e.description ? { description: e.description } : {}),
    configRules: e.match.configRules,
    resourceTypes: e.match.resourceTypes,
    cloudFormationDrift: e.match.cloudFormationDrift,
    properties: e.match.properties,
    accounts: e.match.accounts,
    ous: e.match.ous,
    regions: e.match.regions,
    ...(e.mode === 'plan' ? { mode: e.mode } : {}),
    runbook: e.runbook,
    firstParty: isFirstPartyRunbook(e.runbook),
    parameters: e.parameters,
    approval: { ...d.approval, ...e.approval },
    concurrency: {
      perRunbook: e.concurrency?.perRunbook ?? d.concurrency.perRunbook,
      global: d.concurrency.global,
      maxQueueSeconds: d.concurrency.maxQueueSeconds,
      ...(d.concurrency.perAccountRegion ? { perAccountRegion: d.concurrency.perAccountRegion } : {}),
    },
    attempts: { ...d.attempts, ...e.attempts },
    loopBreaker: { ...d.loopBreaker, ...e.loopBreaker },
    verification: { ...d.verification, ...e.verification },
    exceptions: e.exceptions,
  };
}

/** The organization section's problems, and entry scopes that could never match an event. */
/** A frequency only on a rule the stack deploys, and never on a managed rule AWS triggers by changes only. */
function configRuleProblems(doc: PolicyDoc): string[] {
  return doc.configRules.flatMap((r, i) => {
    if (!r.maximumExecutionFrequency) return [];
    const at = `policy.configRules[${i}].maximumExecutionFrequency`;
    if (!r.deploy) return [`${at}: only a rule the stack deploys (deploy: true) takes a frequency`];
    if (CHANGE_TRIGGERED_RULES.has(r.sourceIdentifier))
      return [
        `${at}: ${r.sourceIdentifier} is triggered by configuration changes only; AWS refuses a frequency for it`,
      ];
    return [];
  });
}

function organizationProblems(doc: PolicyDoc): string[] {
  const problems: string[] = [];
  const org = doc.organization;
  const seen = new Set<string>();
  for (const [i, m] of (org?.members ?? []).entries()) {
    if (seen.has(m.account))
      problems.push(`policy.organization.members[${i}].account: ${m.account} listed twice`);
    seen.add(m.account);
  }
  const ous = new Set((org?.members ?? []).flatMap((m) => (m.ou ? [m.ou] : [])));
  for (const [i, e] of doc.remediations.entries()) {
    const at = `policy.remediations[${i}].match`;
    const scoped = e.match.accounts.length + e.match.ous.length + e.match.regions.length > 0;
    if (scoped && !org) {
      problems.push(`${at}: accounts / ous / regions need an organization section (policy.organization)`);
      continue;
    }
    for (const ou of e.match.ous) {
      if (!ous.has(ou)) problems.push(`${at}.ous: no member of policy.organization.members is in ${ou}`);
    }
    for (const r of e.match.regions) {
      if (org && !org.regions.includes(r)) {
        problems.push(`${at}.regions: ${r} is not one of policy.organization.regions`);
      }
    }
  }
  return problems;
}

/** Validates a parsed policy document and folds defaults into each entry. */
export function normalizeDocument(raw: unknown, opts: NormalizeOptions = {}): NormalizedPolicy {
  const r = v.safeParse(PolicyDocument, raw);
  if (!r.success) throw new PolicyError(`invalid remediation policy:\n  ${issuesOf(r.issues).join('\n  ')}`);
  const doc = r.output;
  const d = doc.defaults;
  const problems: string[] = [];
  const seen = new Set<string>();
  const entries: ResolvedEntry[] = doc.remediations.map((e, i) => {
    const at = `policy.remediations[${i}]`;
    if (seen.has(e.id)) problems.push(`${at}.id: duplicate id ${e.id}`);
    seen.add(e.id);
    problems.push(...entryProblems(e, at, d, opts));
    return resolveEntry(e, d);
  });
  problems.push(...configRuleProblems(doc));
  problems.push(...organizationProblems(doc));
  // No two entries may be able to match one event (tasks/shared/policy/match.ts).
  problems.push(...checkOverlaps(entries, doc));
  if (problems.length) throw new PolicyError(`invalid remediation policy:\n  ${problems.join('\n  ')}`);
  return {
    version: 1,
    exceptionTag: doc.exceptionTag,
    blastRadius: d.blastRadius,
    globalConcurrency: d.concurrency.global,
    configRules: doc.configRules,
    fastPath: doc.fastPath,
    ...(doc.organization ? { organization: doc.organization } : {}),
    ...(doc.notifications ? { notifications: doc.notifications } : {}),
    runbookScope: {
      ...doc.runbookScope,
      tag: doc.runbookScope.tag ?? { key: doc.scope.tagKey, values: [doc.scope.tagValue ?? '*'] },
    },
    scope: doc.scope,
    entries,
  };
}
