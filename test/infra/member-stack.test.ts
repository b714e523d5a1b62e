/**
 * Organization scale (#13) in the templates: the member stack (trust, least privilege, forwarding) and the
 * central stack's organization bus and AssumeRole grants. Synth runs cdk-nag on both stacks: any
 * unacknowledged finding fails it.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { buildApp, MEMBER_STACK_NAME, STACK_NAME } from '../../infra/app';

type Statement = {
  Effect: string;
  Action: string | string[];
  Resource?: unknown;
  Condition?: unknown;
  Principal?: unknown;
};
const list = (a: string | string[]) => (Array.isArray(a) ? a : [a]);

function orgPolicyFile(): string {
  const doc = parse(readFileSync('runbooks/policy.yaml', 'utf8')) as Record<string, unknown>;
  doc.organization = {
    id: 'o-a1b2c3d4e5',
    regions: ['us-east-1', 'us-west-2'],
    members: [{ account: '222222222222' }, { account: '333333333333', paused: true }],
  };
  const file = join(mkdtempSync(join(tmpdir(), 'org-policy-')), 'policy.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

function templates(policyFile?: string, context: Record<string, unknown> = {}) {
  const { app } = buildApp({
    context: { 'aws:cdk:bundling-stacks': [], ...context },
    ...(policyFile ? { remediation: { policyFile } } : {}),
  });
  const assembly = app.synth();
  const t = (name: string) =>
    assembly.getStackByName(name).template as {
      Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
    };
  return { central: t(STACK_NAME), member: t(MEMBER_STACK_NAME) };
}

const roleNamed = (tpl: ReturnType<typeof templates>['member'], name: string) =>
  Object.entries(tpl.Resources).find(
    ([, r]) => r.Type === 'AWS::IAM::Role' && r.Properties.RoleName === name,
  );

function allowedActions(tpl: ReturnType<typeof templates>['member'], roleId: string): string[] {
  return Object.values(tpl.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .filter((r) => JSON.stringify(r.Properties.Roles).includes(roleId))
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
    .filter((s) => s.Effect === 'Allow')
    .flatMap((s) => list(s.Action));
}

describe('member stack', () => {
  const { member } = templates();

  it('the member execution role trusts only the central stack roles of the organization', () => {
    const found = roleNamed(member, 'DriftRemediationMember');
    expect(found).toBeDefined();
    const doc = found?.[1].Properties.AssumeRolePolicyDocument as { Statement: Statement[] } | undefined;
    const trust = doc?.Statement ?? [];
    expect(trust).toHaveLength(1);
    const [s] = trust;
    expect(JSON.stringify(s?.Principal)).toContain('CentralAccountId');
    expect(s?.Condition).toEqual({
      ArnLike: { 'aws:PrincipalArn': expect.objectContaining({ 'Fn::Join': expect.anything() }) },
      StringEquals: { 'aws:PrincipalOrgID': { Ref: 'OrganizationId' } },
    });
    expect(JSON.stringify(s?.Condition)).toContain(`:role/${STACK_NAME}-*`);
  });

  it('the member execution role reads, detects drift and starts runbooks, and changes nothing itself', () => {
    const [id] = roleNamed(member, 'DriftRemediationMember') ?? [''];
    const actions = allowedActions(member, id);
    expect(actions).toEqual(
      expect.arrayContaining([
        'cloudformation:DetectStackResourceDrift',
        'config:GetComplianceDetailsByResource',
        'ssm:StartAutomationExecution',
        'iam:PassRole',
      ]),
    );
    const changing = actions.filter(
      (a) =>
        !/^[a-z0-9-]+:(Get|Describe|List|Detect|BatchGet|Head)/.test(a) &&
        ![
          'ssm:StartAutomationExecution',
          'ssm:StopAutomationExecution',
          'iam:PassRole',
          'config:StartConfigRulesEvaluation',
        ].includes(a),
    );
    expect(changing).toEqual([]);
  });

  it('SSM runs the runbooks as the member automation role, assumable by SSM only', () => {
    const found = roleNamed(member, 'DriftRemediationMember-Automation');
    expect(found?.[1].Properties.Path).toBe('/drift-remediation/');
    const trust = JSON.stringify(found?.[1].Properties.AssumeRolePolicyDocument);
    expect(trust).toContain('ssm.amazonaws.com');
    expect(trust).not.toContain('CentralAccountId');
  });

  it('forwards Config, stack drift, automation status and fast-path CloudTrail events to the central bus', () => {
    const rules = Object.values(member.Resources).filter((r) => r.Type === 'AWS::Events::Rule');
    const sources = rules.flatMap((r) => (r.Properties.EventPattern as { source: string[] }).source);
    expect(sources).toEqual(
      expect.arrayContaining(['aws.config', 'aws.cloudformation', 'aws.ssm', 'aws.ec2']),
    );
    for (const r of rules)
      expect(JSON.stringify(r.Properties.Targets)).toContain('drift-remediation-organization');
    const patterns = JSON.stringify(rules.map((r) => r.Properties.EventPattern));
    expect(patterns).toContain('AWS API Call via CloudTrail');
  });

  it("deploys the policy's deploy: true Config rules, the same set as the central stack's", () => {
    const { central } = templates();
    const ruleNames = (tpl: typeof member) =>
      Object.values(tpl.Resources)
        .filter((r) => r.Type === 'AWS::Config::ConfigRule')
        .map((r) => ({
          name: r.Properties.ConfigRuleName,
          source: r.Properties.Source,
          scope: r.Properties.Scope,
        }))
        .sort((a, b) => String(a.name).localeCompare(String(b.name)));
    const doc = parse(readFileSync('runbooks/policy.yaml', 'utf8')) as {
      configRules: { name: string; deploy?: boolean }[];
    };
    const deployed = doc.configRules
      .filter((r) => r.deploy === true)
      .map((r) => r.name)
      .sort();
    expect(deployed.length).toBeGreaterThan(0);
    expect(ruleNames(member).map((r) => r.name)).toEqual(deployed);
    expect(ruleNames(member)).toEqual(ruleNames(central));
  });

  it('leaves the Config rules out with -c memberConfigRules=false', () => {
    const { member: bare } = templates(undefined, { memberConfigRules: 'false' });
    expect(Object.values(bare.Resources).filter((r) => r.Type === 'AWS::Config::ConfigRule')).toEqual([]);
    expect(roleNamed(bare, 'DriftRemediationMember')).toBeDefined();
  });
});

function assumeStatements(tpl: ReturnType<typeof templates>['central']): Statement[] {
  return Object.values(tpl.Resources)
    .filter((r) => r.Type === 'AWS::IAM::Policy')
    .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement)
    .filter((s) => list(s.Action).includes('sts:AssumeRole'));
}

describe('central stack with an organization', () => {
  const { central } = templates(orgPolicyFile());
  const tpl = Template.fromJSON(central as unknown as Record<string, unknown>);

  it('has a bus whose policy admits only the organization, forwarding to the default bus', () => {
    tpl.hasResourceProperties('AWS::Events::EventBus', { Name: 'drift-remediation-organization' });
    const policies = JSON.stringify(tpl.findResources('AWS::Events::EventBusPolicy'));
    expect(policies).toContain('"aws:PrincipalOrgID":"o-a1b2c3d4e5"');
  });

  it('lets the member tasks assume exactly the listed members’ role', () => {
    const assume = assumeStatements(central);
    expect(assume.length).toBeGreaterThan(0);
    for (const s of assume) {
      const arns = JSON.stringify(s.Resource);
      expect(arns).toContain(':iam::222222222222:role/DriftRemediationMember');
      expect(arns).toContain(':iam::333333333333:role/DriftRemediationMember');
      expect(arns).not.toContain('*');
    }
  });

  it('without an organization section nothing may assume a role and no bus is made', () => {
    const { central: single } = templates();
    expect(assumeStatements(single)).toEqual([]);
    expect(JSON.stringify(single)).not.toContain('drift-remediation-organization');
  });
});
