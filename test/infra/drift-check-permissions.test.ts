/**
 * The role the CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK rule runs drift detection as: CloudFormation
 * reads every resource of a checked stack with that role's permissions, so it needs the read handler
 * permissions (CloudFormation resource schemas) of every type the in-scope stacks contain — the
 * policy's remediated types plus `runbookScope.stackResourceTypes` — decided by IAM policy simulation.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { readPermissions } from '../../infra/runbook-permissions';
import { loadPolicyFile } from '../../tasks/shared/policy/load';
import { ACCOUNT, decide, REGION, rolePolicies } from './simulation-support';
import { synth } from './synth';

function policyWith(runbookScope: Record<string, unknown>): string {
  const raw = parseYaml(readFileSync('runbooks/policy.yaml', 'utf8')) as Record<string, unknown>;
  raw.runbookScope = { ...(raw.runbookScope as object), ...runbookScope };
  const file = join(mkdtempSync(join(tmpdir(), 'drift-check-')), 'policy.yaml');
  writeFileSync(file, stringify(raw));
  return file;
}

function driftCheckRole(policyFile?: string) {
  const { json } = synth({ nag: false, ...(policyFile ? { remediation: { policyFile } } : {}) });
  const id = Object.keys(json.Resources as object).find((k) => k.includes('StackDriftCheckRole'));
  if (!id) throw new Error('no StackDriftCheckRole');
  return rolePolicies(json, id);
}

const allowedActions = (role: ReturnType<typeof rolePolicies>) =>
  new Set(
    role.identity.flatMap((p) =>
      (p.policy as { Statement: { Effect: string; Action: string | string[] }[] }).Statement.filter(
        (s) => s.Effect === 'Allow',
      ).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])),
    ),
  );

// The shipped policy's role, synthesized once at load (as the other template tests do).
const shipped = driftCheckRole();

describe('stack-drift check role', () => {
  let sized: ReturnType<typeof rolePolicies>;
  beforeAll(() => {
    sized = driftCheckRole(policyWith({ stackResourceTypes: ['AWS::SQS::Queue', 'AWS::DynamoDB::Table'] }));
  }, 120_000);

  it('may read every type the policy remediates the way drift detection does', () => {
    const actions = allowedActions(shipped);
    const types = [
      ...new Set(loadPolicyFile('runbooks/policy.yaml').entries.flatMap((e) => e.resourceTypes)),
    ];
    for (const t of types) for (const a of readPermissions(t)) expect(actions, `${t}: ${a}`).toContain(a);
  });

  it('is sized from runbookScope.stackResourceTypes: stacks with queues and tables drift-check too', async () => {
    const role = sized;
    const queue = `arn:aws:sqs:${REGION}:${ACCOUNT}:app-queue`;
    const table = `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/app-table`;
    expect(await decide(role, { action: 'sqs:GetQueueAttributes', resource: queue })).toBe('Allowed');
    expect(await decide(role, { action: 'dynamodb:DescribeContinuousBackups', resource: table })).toBe(
      'Allowed',
    );
    // Reads only: drift detection never changes what it reads, and neither may its role.
    expect(await decide(role, { action: 'sqs:SetQueueAttributes', resource: queue })).not.toBe('Allowed');
    expect(await decide(role, { action: 'dynamodb:Scan', resource: table })).not.toBe('Allowed');
    // The shipped policy declares no queues: its role cannot read them.
    expect(await decide(shipped, { action: 'sqs:GetQueueAttributes', resource: queue })).not.toBe('Allowed');
  });

  it('a type without a published schema fails synth, naming it', { timeout: 120_000 }, () => {
    expect(() => driftCheckRole(policyWith({ stackResourceTypes: ['AWS::Nope::Thing'] }))).toThrow(
      /no CloudFormation resource schema for AWS::Nope::Thing/,
    );
  });
});
