/**
 * `drift-remediation plan`: what would be remediated right now, changing nothing. For each Config rule the
 * policy names (or `--rule`), Config's NON_COMPLIANT resources (GetComplianceDetailsByConfigRule); for each,
 * the policy entry (tasks/shared/policy match), the runbook with its parameters resolved as Start runbook
 * would (tasks/shared/planned.ts) and, for a stack-managed resource, the expected-vs-actual diff of the
 * stack's last drift detection (DescribeStackResources + DescribeStackResourceDrifts through describe-drift's
 * core). Read-only calls only: it starts no drift detection, so a diff is as fresh as the last detection.
 * Against the sandbox by default; with `--aws` / `--profile` against AWS with the user's credentials.
 */
import { CloudFormationClient, DescribeStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import {
  ConfigServiceClient,
  paginateGetComplianceDetailsByConfigRule,
} from '@aws-sdk/client-config-service';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import Table from 'cli-table3';
import { describeDrift } from '../tasks/describe-drift/core';
import { planFrom } from '../tasks/plan/core';
import { type DriftState, type RemediationEvent, resourceKeyOf } from '../tasks/shared/contracts';
import { type PlannedChange, plannedChange } from '../tasks/shared/planned';
import { findEntry, loadPolicyFile } from '../tasks/shared/policy/load';
import type { NormalizedPolicy } from '../tasks/shared/policy/schema';
import { clientConfig } from './remediate';

export interface PlanOptions {
  rule?: string;
  /** Only resources of this account (must be the account of the credentials used). */
  account?: string;
  json?: boolean;
  /** The remediation policy (default runbooks/policy.yaml). */
  policy: string;
  endpoint: string;
  aws?: boolean;
  region?: string;
  profile?: string;
}

export interface PlannedResource {
  rule: string;
  resourceType: string;
  resourceId: string;
  account: string;
  region: string;
  /** The matching policy entry; absent: no entry handles it (nothing would run). */
  policyEntryId?: string;
  mode?: 'remediate' | 'plan';
  /** Where the diff comes from: the resource's stack, or none (not stack-managed: no diff). */
  stack?: { name: string; logicalResourceId: string };
  planned?: PlannedChange;
}

interface Clients {
  config: ConfigServiceClient;
  cloudFormation: CloudFormationClient;
  sts: STSClient;
}

/** The rules to read: `--rule` (which the policy must name) or every rule the policy's entries name. */
export function rulesInScope(policy: NormalizedPolicy, rule: string | undefined): string[] {
  const all = [...new Set(policy.entries.flatMap((e) => e.configRules))].sort();
  if (rule === undefined) return all;
  if (!all.includes(rule))
    throw new Error(`--rule ${rule}: no policy entry names it (policy rules: ${all.join(', ')})`);
  return [rule];
}

/** The drift state of a stack-managed resource from its stack's last detection; undefined when in no stack. */
async function lastDrift(c: Clients, event: RemediationEvent): Promise<DriftState | undefined> {
  let found: { StackName?: string; LogicalResourceId?: string } | undefined;
  try {
    const r = await c.cloudFormation.send(
      new DescribeStackResourcesCommand({ PhysicalResourceId: event.resourceId }),
    );
    found = r.StackResources?.[0];
  } catch (err) {
    if ((err as Error).name === 'ValidationError') return undefined; // not managed by any stack
    throw err;
  }
  if (!found?.StackName || !found.LogicalResourceId) return undefined;
  const drift: DriftState = {
    inStack: true,
    mode: 'resource',
    stackName: found.StackName,
    logicalResourceId: found.LogicalResourceId,
    detectionStatus: 'DETECTION_COMPLETE',
    polls: 0,
    maxPolls: 1,
    waitSeconds: 1,
  };
  return describeDrift({ event, drift }, { cloudFormation: c.cloudFormation, now: () => new Date() });
}

async function planOne(
  c: Clients,
  policy: NormalizedPolicy,
  event: RemediationEvent,
): Promise<PlannedResource> {
  const out: PlannedResource = {
    rule: event.configRuleName ?? '',
    resourceType: event.resourceType,
    resourceId: event.resourceId,
    account: event.awsAccountId,
    region: event.awsRegion,
  };
  const entry = findEntry(policy, event);
  if (!entry) return out;
  const drift = await lastDrift(c, event);
  const plan = planFrom(entry, policy, resourceKeyOf(event));
  const planned = plannedChange({ event, plan: { decision: 'remediate', reason: 'plan', ...plan }, drift });
  return {
    ...out,
    policyEntryId: entry.id,
    mode: entry.mode ?? 'remediate',
    ...(drift?.stackName && drift.logicalResourceId
      ? { stack: { name: drift.stackName, logicalResourceId: drift.logicalResourceId } }
      : {}),
    ...(planned ? { planned } : {}),
  };
}

/** Every NON_COMPLIANT resource of the rules in scope, planned. Read-only. */
export async function planResources(
  o: PlanOptions,
  c: Clients,
  now = new Date(),
): Promise<PlannedResource[]> {
  const policy = loadPolicyFile(o.policy);
  const rules = rulesInScope(policy, o.rule);
  if (o.account !== undefined && !/^\d{12}$/.test(o.account))
    throw new Error(`--account ${o.account} is not a 12-digit account id`);
  const account = (await c.sts.send(new GetCallerIdentityCommand({}))).Account ?? '';
  if (o.account !== undefined && o.account !== account)
    throw new Error(
      `--account ${o.account}: these credentials are of account ${account}; use credentials (--profile) of ${o.account}`,
    );
  const region = await c.config.config.region();
  const out: PlannedResource[] = [];
  for (const rule of rules) {
    const pages = paginateGetComplianceDetailsByConfigRule(
      { client: c.config },
      { ConfigRuleName: rule, ComplianceTypes: ['NON_COMPLIANT'] },
    );
    for await (const page of pages) {
      for (const r of page.EvaluationResults ?? []) {
        const q = r.EvaluationResultIdentifier?.EvaluationResultQualifier;
        if (!q?.ResourceType || !q.ResourceId) continue;
        const event: RemediationEvent = {
          eventId: `plan-${now.getTime()}`,
          source: 'manual',
          configRuleName: rule,
          resourceType: q.ResourceType,
          resourceId: q.ResourceId,
          awsAccountId: account,
          awsRegion: region,
          complianceType: 'NON_COMPLIANT',
          orderingTimestamp: (r.ResultRecordedTime ?? now).toISOString(),
        };
        out.push(await planOne(c, policy, event));
      }
    }
  }
  return out;
}

function diffText(p: PlannedResource): string {
  const d = p.planned?.diff;
  if (!p.stack) return 'not in a stack: no diff';
  if (!d?.propertyDifferences.length)
    return `${d?.driftStatus ?? 'UNKNOWN'} (no differences at the last detection)`;
  return d.propertyDifferences
    .map((x) => `${x.DifferenceType} ${x.PropertyPath}: ${x.ExpectedValue} -> ${x.ActualValue}`)
    .join('\n');
}

function runbookText(p: PlannedResource): string {
  if (!p.planned) return '(no policy entry: nothing would run)';
  const params = p.planned.parameters
    ? Object.entries(p.planned.parameters).map(([k, v]) => `${k}=${v.join(',')}`)
    : [`parameters unresolved: ${p.planned.parametersError ?? ''}`];
  return [`${p.planned.documentName}${p.mode === 'plan' ? ' (entry in plan mode)' : ''}`, ...params].join(
    '\n',
  );
}

export async function plan(o: PlanOptions, log: (line: string) => void = console.log): Promise<void> {
  const cfg = clientConfig(o);
  const c: Clients = {
    config: new ConfigServiceClient(cfg),
    cloudFormation: new CloudFormationClient(cfg),
    sts: new STSClient(cfg),
  };
  try {
    const planned = await planResources(o, c);
    if (o.json) {
      log(JSON.stringify(planned, null, 2));
      return;
    }
    if (!planned.length) {
      log('(no NON_COMPLIANT resources in scope: nothing would be remediated)');
      return;
    }
    const table = new Table({ head: ['rule', 'resource', 'entry', 'runbook and parameters', 'diff'] });
    for (const p of planned)
      table.push([
        p.rule,
        `${p.resourceType}\n${p.resourceId}`,
        p.policyEntryId ?? '-',
        runbookText(p),
        diffText(p),
      ]);
    log(table.toString());
    log(
      `${planned.length} NON_COMPLIANT resource${planned.length === 1 ? '' : 's'}; nothing was changed (diffs are from each stack's last drift detection)`,
    );
  } finally {
    for (const client of Object.values(c)) client.destroy();
  }
}
