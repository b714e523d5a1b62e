/**
 * CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK runs drift detection as the role its `cloudformationRoleArn`
 * names, assumed by `config.amazonaws.com`: with a role that trusts Config and may detect drift the stack
 * is COMPLIANT; a role missing cloudformation:DetectStackDrift, or one that does not trust Config, gives
 * the result AWS gives for a failed drift detection (NON_COMPLIANT with AWS's annotation), names the
 * reason in the sandbox log, and runs no drift detection. Real SDK v3 clients against the sandbox.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import {
  ConfigServiceClient,
  GetComplianceDetailsByResourceCommand,
  PutConfigRuleCommand,
} from '@aws-sdk/client-config-service';
import { describe, expect, it } from 'vitest';
import { allServices } from '../../sandbox/services';
import { resourceProviders } from '../../sandbox/services/providers';
import { role } from './core/iam-support';
import { withSandbox } from './helpers';

const logs: string[] = [];
const sb = withSandbox(() => ({
  timeScale: 0.01,
  services: allServices(),
  providers: resourceProviders(),
  onLog: (line: string) => logs.push(line),
}));

const TEMPLATE = `Resources:
  WebSg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: drift-check web
`;
const DENIED_ANNOTATION =
  'Your stack drift detection operation for the specific stack has failed. Check your existing AWS CloudFormation role permission and add the missing permissions.';

/** What the project's drift-check role may do (infra/constructs/config-rules.ts), less `denied`. */
function driftCheckStatements(denied: string[]): object[] {
  const statements: object[] = [
    {
      Effect: 'Allow',
      Action: [
        'cloudformation:DetectStackDrift',
        'cloudformation:DescribeStacks',
        'cloudformation:DescribeStackResources',
        'cloudformation:DescribeStackDriftDetectionStatus',
        'ec2:DescribeSecurityGroups',
      ],
      Resource: '*',
    },
  ];
  if (denied.length > 0) statements.push({ Effect: 'Deny', Action: denied, Resource: '*' });
  return statements;
}

async function stack(name: string): Promise<string> {
  const cfn = new CloudFormationClient(sb.clientConfig);
  await cfn.send(new CreateStackCommand({ StackName: name, TemplateBody: TEMPLATE }));
  for (let i = 0; i < 2000; i++) {
    const s = (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
    if (s?.StackStatus === 'CREATE_COMPLETE') return s.StackId ?? '';
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`stack ${name} was not created`);
}

/** The rule over one stack, as `roleArn`; resolves to the stack's result once there is one. */
async function checkAs(rule: string, stackId: string, roleArn: string) {
  const config = new ConfigServiceClient(sb.clientConfig);
  await config.send(
    new PutConfigRuleCommand({
      ConfigRule: {
        ConfigRuleName: rule,
        Source: { Owner: 'AWS', SourceIdentifier: 'CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK' },
        Scope: { ComplianceResourceId: stackId, ComplianceResourceTypes: ['AWS::CloudFormation::Stack'] },
        InputParameters: JSON.stringify({ cloudformationRoleArn: roleArn }),
      },
    }),
  );
  for (let i = 0; i < 2000; i++) {
    const out = await config.send(
      new GetComplianceDetailsByResourceCommand({
        ResourceType: 'AWS::CloudFormation::Stack',
        ResourceId: stackId,
      }),
    );
    const r = out.EvaluationResults?.find(
      (e) => e.EvaluationResultIdentifier?.EvaluationResultQualifier?.ConfigRuleName === rule,
    );
    if (r) return r;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`${rule} never evaluated ${stackId}`);
}

async function driftStatus(stackId: string): Promise<string | undefined> {
  const cfn = new CloudFormationClient(sb.clientConfig);
  return (await cfn.send(new DescribeStacksCommand({ StackName: stackId }))).Stacks?.[0]?.DriftInformation
    ?.StackDriftStatus;
}

describe('the stack drift rule as its cloudformationRoleArn', () => {
  it('is COMPLIANT when Config may assume the role and the role may detect drift', async () => {
    const stackId = await stack('drift-check-allowed');
    const roleArn = await role(sb, 'drift-check-allowed', driftCheckStatements([]), 'config.amazonaws.com');
    const result = await checkAs('drift-allowed', stackId, roleArn);
    expect(result.ComplianceType).toBe('COMPLIANT');
    expect(await driftStatus(stackId)).toBe('IN_SYNC');
  });

  it('is NON_COMPLIANT with AWS annotation, and detects nothing, when the role may not DetectStackDrift', async () => {
    const stackId = await stack('drift-check-denied');
    const roleArn = await role(
      sb,
      'drift-check-denied',
      driftCheckStatements(['cloudformation:DetectStackDrift']),
      'config.amazonaws.com',
    );
    const result = await checkAs('drift-denied', stackId, roleArn);
    expect(result).toMatchObject({ ComplianceType: 'NON_COMPLIANT', Annotation: DENIED_ANNOTATION });
    expect(
      logs.some((l) => l.includes('drift-check-denied') && l.includes('cloudformation:DetectStackDrift')),
    ).toBe(true);
    expect(await driftStatus(stackId)).toBe('NOT_CHECKED');
  });

  it('is NON_COMPLIANT, and detects nothing, when the role does not trust config.amazonaws.com', async () => {
    const stackId = await stack('drift-check-untrusted');
    const roleArn = await role(sb, 'drift-check-untrusted', driftCheckStatements([]), 'lambda.amazonaws.com');
    const result = await checkAs('drift-untrusted', stackId, roleArn);
    expect(result).toMatchObject({ ComplianceType: 'NON_COMPLIANT', Annotation: DENIED_ANNOTATION });
    expect(logs.some((l) => l.includes(`cannot assume ${roleArn}`))).toBe(true);
    expect(await driftStatus(stackId)).toBe('NOT_CHECKED');
  });
});
