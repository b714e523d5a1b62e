/**
 * CloudFormation contract tests through real SDK v3 clients against an in-process sandbox: stacks from a
 * YAML template with short-form tags (security group + bucket + role), drift injected through the EC2,
 * S3 and IAM APIs, drift detection with AWS's PropertyDifference format and event, REVERT_DRIFT change
 * sets, and the documented typed errors.
 */
import {
  AlreadyExistsException,
  ChangeSetNotFoundException,
  CloudFormationClient,
  CloudFormationServiceException,
  CreateChangeSetCommand,
  CreateStackCommand,
  DeleteChangeSetCommand,
  DeleteStackCommand,
  DescribeChangeSetCommand,
  type DescribeChangeSetCommandOutput,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStackEventsCommand,
  DescribeStackResourceCommand,
  DescribeStackResourceDriftsCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  DetectStackDriftCommand,
  DetectStackResourceDriftCommand,
  ExecuteChangeSetCommand,
  GetTemplateCommand,
  InsufficientCapabilitiesException,
  InvalidChangeSetStatusException,
  ListChangeSetsCommand,
  ListExportsCommand,
  ListStackResourcesCommand,
  type Stack,
  UpdateStackCommand,
  ValidateTemplateCommand,
} from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { AttachRolePolicyCommand, IAMClient, ListAttachedRolePoliciesCommand } from '@aws-sdk/client-iam';
import { DeleteBucketEncryptionCommand, GetBucketEncryptionCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { BusEvent } from '../../../sandbox/core/types';
import { cloudFormationService } from '../../../sandbox/services/cloudformation';
import { ec2Service } from '../../../sandbox/services/ec2';
import { iamService } from '../../../sandbox/services/iam';
import { resourceProviders } from '../../../sandbox/services/providers';
import { s3Service } from '../../../sandbox/services/s3';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({
  services: [cloudFormationService(), ec2Service(), s3Service(), iamService()],
  providers: resourceProviders(),
}));

const cfn = (): CloudFormationClient => new CloudFormationClient(sb.clientConfig);

const TEMPLATE = `AWSTemplateFormatVersion: '2010-09-09'
Description: web tier
Parameters:
  Env:
    Type: String
    Default: test
    AllowedValues: [test, prod]
  Secret:
    Type: String
    NoEcho: true
    Default: hunter2
Conditions:
  IsProd: !Equals [!Ref Env, prod]
Resources:
  WebSg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: !Sub '\${AWS::StackName} web tier'
      SecurityGroupIngress:
        - IpProtocol: tcp
          FromPort: 443
          ToPort: 443
          CidrIp: 10.0.0.0/8
      Tags:
        - Key: env
          Value: !Ref Env
  Data:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Join ['-', [!Ref 'AWS::StackName', data, !Select [0, !Split [',', 'x,y']]]]
      BucketEncryption:
        ServerSideEncryptionConfiguration:
          - ServerSideEncryptionByDefault:
              SSEAlgorithm: AES256
      VersioningConfiguration: !If [IsProd, { Status: Enabled }, !Ref 'AWS::NoValue']
  Reader:
    Type: AWS::IAM::Role
    DependsOn: Data
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - Effect: Allow
            Principal: { Service: lambda.amazonaws.com }
            Action: sts:AssumeRole
      ManagedPolicyArns:
        - !Sub 'arn:\${AWS::Partition}:iam::aws:policy/ReadOnlyAccess'
Outputs:
  GroupId:
    Value: !GetAtt WebSg.GroupId
    Export:
      Name: !Sub '\${AWS::StackName}-sg'
  BucketName:
    Value: !Ref Data
  RoleArn:
    Value: !GetAtt [Reader, Arn]
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

async function settled(stackName: string): Promise<Stack> {
  return until(`${stackName} to settle`, async () => {
    const s = (await cfn().send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
    return s?.StackStatus && !s.StackStatus.endsWith('_IN_PROGRESS') ? s : undefined;
  });
}

async function changeSetReady(id: string): Promise<DescribeChangeSetCommandOutput> {
  return until('change set', async () => {
    const r = await cfn().send(new DescribeChangeSetCommand({ ChangeSetName: id }));
    return r.Status === 'CREATE_PENDING' || r.Status === 'CREATE_IN_PROGRESS' ? undefined : r;
  });
}

async function detect(stackName: string) {
  const { StackDriftDetectionId } = await cfn().send(new DetectStackDriftCommand({ StackName: stackName }));
  const first = await cfn().send(new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId }));
  const done = await until('drift detection', async () => {
    const s = await cfn().send(new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId }));
    return s.DetectionStatus === 'DETECTION_IN_PROGRESS' ? undefined : s;
  });
  return { id: StackDriftDetectionId, first, done };
}

async function output(stackName: string, key: string): Promise<string> {
  const s = await settled(stackName);
  const v = s.Outputs?.find((o) => o.OutputKey === key)?.OutputValue;
  if (!v) throw new Error(`no output ${key}`);
  return v;
}

describe('CloudFormation stacks', () => {
  it('creates a stack from YAML with short tags, in dependency order, through CREATE_IN_PROGRESS to CREATE_COMPLETE', async () => {
    const { StackId } = await cfn().send(
      new CreateStackCommand({
        StackName: 'web',
        TemplateBody: TEMPLATE,
        Capabilities: ['CAPABILITY_IAM'],
        Tags: [{ Key: 'team', Value: 'a' }],
      }),
    );
    expect(StackId).toMatch(/^arn:aws:cloudformation:us-east-1:000000000000:stack\/web\/[0-9a-f-]{36}$/);
    const stack = await settled('web');
    expect(stack.StackStatus).toBe('CREATE_COMPLETE');
    expect(stack.Parameters).toEqual(
      expect.arrayContaining([
        { ParameterKey: 'Env', ParameterValue: 'test' },
        { ParameterKey: 'Secret', ParameterValue: '****' },
      ]),
    );
    expect(stack.Tags).toEqual([{ Key: 'team', Value: 'a' }]);
    expect(stack.Description).toBe('web tier');
    expect(stack.DriftInformation?.StackDriftStatus).toBe('NOT_CHECKED');
    const bucket = await output('web', 'BucketName');
    expect(bucket).toBe('web-data-x');
    expect(await output('web', 'RoleArn')).toMatch(/^arn:aws:iam::000000000000:role\//);

    const groupId = await output('web', 'GroupId');
    const sg = (
      await new EC2Client(sb.clientConfig).send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }))
    ).SecurityGroups?.[0];
    expect(sg?.Description).toBe('web web tier');
    expect(sg?.IpPermissions?.[0]?.IpRanges?.[0]?.CidrIp).toBe('10.0.0.0/8');

    const events = (await cfn().send(new DescribeStackEventsCommand({ StackName: 'web' }))).StackEvents ?? [];
    const completes = events
      .filter((e) => e.ResourceStatus === 'CREATE_COMPLETE' && e.LogicalResourceId !== 'web')
      .map((e) => e.LogicalResourceId)
      .reverse();
    expect(completes.indexOf('Data')).toBeLessThan(completes.indexOf('Reader'));
    expect(events[0]?.ResourceStatus).toBe('CREATE_COMPLETE');
    expect(events.at(-1)).toMatchObject({
      ResourceStatus: 'CREATE_IN_PROGRESS',
      ResourceStatusReason: 'User Initiated',
    });

    const resources =
      (await cfn().send(new DescribeStackResourcesCommand({ PhysicalResourceId: bucket }))).StackResources ??
      [];
    expect(resources.map((r) => r.LogicalResourceId).sort()).toEqual(['Data', 'Reader', 'WebSg']);
    expect(resources.every((r) => r.StackName === 'web' && r.ResourceStatus === 'CREATE_COMPLETE')).toBe(
      true,
    );
    const one = await cfn().send(
      new DescribeStackResourceCommand({ StackName: 'web', LogicalResourceId: 'WebSg' }),
    );
    expect(one.StackResourceDetail?.PhysicalResourceId).toBe(groupId);
    const list = await cfn().send(new ListStackResourcesCommand({ StackName: StackId }));
    expect(list.StackResourceSummaries).toHaveLength(3);

    const original = await cfn().send(new GetTemplateCommand({ StackName: 'web' }));
    expect(original.TemplateBody).toBe(TEMPLATE);
    const processed = await cfn().send(
      new GetTemplateCommand({ StackName: 'web', TemplateStage: 'Processed' }),
    );
    expect(JSON.parse(processed.TemplateBody ?? '{}').Resources.WebSg.Properties.GroupDescription).toEqual({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub string
      'Fn::Sub': '${AWS::StackName} web tier',
    });
  });

  it('reports IN_SYNC, then exact PropertyDifferences after drift through the EC2, S3 and IAM APIs, and emits the event', async () => {
    const events: BusEvent[] = [];
    const ctx = sb.sandbox.context;
    const original = ctx.putEvent;
    Object.assign(ctx, {
      putEvent: async (e: Parameters<typeof original>[0]) => {
        if (e.source === 'aws.cloudformation') events.push(e as BusEvent);
        await original.call(ctx, e);
      },
    });
    try {
      const clean = await detect('web');

      expect(clean.done).toMatchObject({
        DetectionStatus: 'DETECTION_COMPLETE',
        StackDriftStatus: 'IN_SYNC',
        DriftedStackResourceCount: 0,
      });

      const groupId = await output('web', 'GroupId');
      const bucket = await output('web', 'BucketName');
      const role =
        (
          await cfn().send(
            new DescribeStackResourceCommand({ StackName: 'web', LogicalResourceId: 'Reader' }),
          )
        ).StackResourceDetail?.PhysicalResourceId ?? '';
      await new EC2Client(sb.clientConfig).send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: groupId,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
          ],
        }),
      );
      await new S3Client({ ...sb.clientConfig, forcePathStyle: true }).send(
        new DeleteBucketEncryptionCommand({ Bucket: bucket }),
      );
      await new IAMClient(sb.clientConfig).send(
        new AttachRolePolicyCommand({
          RoleName: role,
          PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
        }),
      );

      const drifted = await detect('web');
      expect(drifted.done).toMatchObject({
        DetectionStatus: 'DETECTION_COMPLETE',
        StackDriftStatus: 'DRIFTED',
        DriftedStackResourceCount: 3,
      });
      const stack = await settled('web');
      expect(stack.DriftInformation?.StackDriftStatus).toBe('DRIFTED');

      const all =
        (
          await cfn().send(
            new DescribeStackResourceDriftsCommand({
              StackName: 'web',
              StackResourceDriftStatusFilters: ['MODIFIED'],
            }),
          )
        ).StackResourceDrifts ?? [];
      const by = (id: string) => all.find((d) => d.LogicalResourceId === id);
      expect(by('WebSg')?.PropertyDifferences).toEqual([
        {
          PropertyPath: '/SecurityGroupIngress/1',
          ExpectedValue: 'null',
          ActualValue: '{"CidrIp":"0.0.0.0/0","FromPort":22,"IpProtocol":"tcp","ToPort":22}',
          DifferenceType: 'ADD',
        },
      ]);
      expect(JSON.parse(by('WebSg')?.ExpectedProperties ?? '{}')).toEqual({
        GroupDescription: 'web web tier',
        SecurityGroupIngress: [{ CidrIp: '10.0.0.0/8', FromPort: 443, IpProtocol: 'tcp', ToPort: 443 }],
        Tags: [{ Key: 'env', Value: 'test' }],
      });
      expect(by('Data')?.PropertyDifferences).toEqual([
        {
          PropertyPath: '/BucketEncryption',
          ExpectedValue:
            '{"ServerSideEncryptionConfiguration":[{"ServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}',
          ActualValue: 'null',
          DifferenceType: 'REMOVE',
        },
      ]);
      expect(by('Reader')?.PropertyDifferences).toEqual([
        {
          PropertyPath: '/ManagedPolicyArns/1',
          ExpectedValue: 'null',
          ActualValue: 'arn:aws:iam::aws:policy/AdministratorAccess',
          DifferenceType: 'ADD',
        },
      ]);
      expect(all.every((d) => d.StackResourceDriftStatus === 'MODIFIED' && d.Timestamp instanceof Date)).toBe(
        true,
      );

      const single = await cfn().send(
        new DetectStackResourceDriftCommand({ StackName: 'web', LogicalResourceId: 'WebSg' }),
      );
      expect(single.StackResourceDrift?.StackResourceDriftStatus).toBe('MODIFIED');
      const inSync = await cfn().send(
        new DescribeStackResourceDriftsCommand({
          StackName: 'web',
          StackResourceDriftStatusFilters: ['IN_SYNC'],
        }),
      );
      expect(inSync.StackResourceDrifts).toEqual([]);

      const completions = events.filter(
        (e) => e['detail-type'] === 'CloudFormation Drift Detection Status Change',
      );
      expect(completions.map((e) => e.detail)).toEqual([
        {
          'stack-id': stack.StackId,
          'stack-drift-detection-id': clean.id,
          'status-details': { 'stack-drift-status': 'IN_SYNC', 'detection-status': 'DETECTION_COMPLETE' },
          'drift-detection-details': { 'drifted-stack-resource-count': 0 },
        },
        {
          'stack-id': stack.StackId,
          'stack-drift-detection-id': drifted.id,
          'status-details': { 'stack-drift-status': 'DRIFTED', 'detection-status': 'DETECTION_COMPLETE' },
          'drift-detection-details': { 'drifted-stack-resource-count': 3 },
        },
      ]);
      expect(completions[0]?.resources).toEqual([stack.StackId]);
    } finally {
      Object.assign(ctx, { putEvent: original });
    }
  });

  it('a REVERT_DRIFT change set restores the drifted resources, after which drift detection is IN_SYNC', async () => {
    const { Id } = await cfn().send(
      new CreateChangeSetCommand({
        StackName: 'web',
        ChangeSetName: 'revert',
        UsePreviousTemplate: true,
        DeploymentMode: 'REVERT_DRIFT',
        Capabilities: ['CAPABILITY_IAM'],
      }),
    );
    if (!Id) throw new Error('no change set id');
    const cs = await changeSetReady(Id);
    expect(cs.StatusReason).toBeUndefined();
    expect(cs).toMatchObject({
      Status: 'CREATE_COMPLETE',
      ExecutionStatus: 'AVAILABLE',
      DeploymentMode: 'REVERT_DRIFT',
      ChangeSetName: 'revert',
    });
    const changes = (cs.Changes ?? []).map((c) => c.ResourceChange);
    expect(
      changes.map((c) => [c?.LogicalResourceId, c?.Action, c?.Replacement, c?.ResourceDriftStatus]).sort(),
    ).toEqual([
      ['Data', 'Modify', 'False', 'MODIFIED'],
      ['Reader', 'Modify', 'False', 'MODIFIED'],
      ['WebSg', 'Modify', 'False', 'MODIFIED'],
    ]);
    const sgTarget = changes.find((c) => c?.LogicalResourceId === 'WebSg')?.Details?.[0]?.Target;
    expect(sgTarget).toMatchObject({
      Attribute: 'Properties',
      Name: 'SecurityGroupIngress',
      RequiresRecreation: 'Never',
      Path: '/Properties/SecurityGroupIngress/1',
      BeforeValue: '{"CidrIp":"0.0.0.0/0","FromPort":22,"IpProtocol":"tcp","ToPort":22}',
      BeforeValueFrom: 'ACTUAL_STATE',
      AfterValueFrom: 'TEMPLATE',
      AttributeChangeType: 'Remove',
    });
    expect(sgTarget?.Drift?.ActualValue).toBe(
      '{"CidrIp":"0.0.0.0/0","FromPort":22,"IpProtocol":"tcp","ToPort":22}',
    );
    const listed = await cfn().send(new ListChangeSetsCommand({ StackName: 'web' }));
    expect(listed.Summaries?.map((s) => s.ChangeSetName)).toEqual(['revert']);

    await cfn().send(new ExecuteChangeSetCommand({ ChangeSetName: Id }));
    const stack = await settled('web');
    expect(stack.StackStatus).toBe('UPDATE_COMPLETE');
    const executed = await cfn().send(new DescribeChangeSetCommand({ ChangeSetName: Id }));
    expect(executed.ExecutionStatus).toBe('EXECUTE_COMPLETE');

    const after = await detect('web');
    expect(after.done).toMatchObject({ StackDriftStatus: 'IN_SYNC', DriftedStackResourceCount: 0 });
    const bucket = await output('web', 'BucketName');
    const enc = await new S3Client({ ...sb.clientConfig, forcePathStyle: true }).send(
      new GetBucketEncryptionCommand({ Bucket: bucket }),
    );
    expect(
      enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
    ).toBe('AES256');
    const role = (
      await cfn().send(new DescribeStackResourceCommand({ StackName: 'web', LogicalResourceId: 'Reader' }))
    ).StackResourceDetail?.PhysicalResourceId;
    const attached = await new IAMClient(sb.clientConfig).send(
      new ListAttachedRolePoliciesCommand({ RoleName: role }),
    );
    expect(attached.AttachedPolicies?.map((p) => p.PolicyArn)).toEqual([
      'arn:aws:iam::aws:policy/ReadOnlyAccess',
    ]);
  });

  it('updates a stack (parameter change) and refuses an update with no changes', async () => {
    await expect(
      cfn().send(
        new UpdateStackCommand({
          StackName: 'web',
          UsePreviousTemplate: true,
          Capabilities: ['CAPABILITY_IAM'],
          Parameters: [{ ParameterKey: 'Env', UsePreviousValue: true }],
          Tags: [{ Key: 'team', Value: 'a' }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'ValidationError', message: 'No updates are to be performed.' });

    await cfn().send(
      new UpdateStackCommand({
        StackName: 'web',
        UsePreviousTemplate: true,
        Capabilities: ['CAPABILITY_IAM'],
        Parameters: [{ ParameterKey: 'Env', ParameterValue: 'prod' }],
        Tags: [{ Key: 'team', Value: 'a' }],
      }),
    );
    const stack = await settled('web');
    expect(stack.StackStatus).toBe('UPDATE_COMPLETE');
    expect(stack.Parameters).toEqual(
      expect.arrayContaining([{ ParameterKey: 'Env', ParameterValue: 'prod' }]),
    );
    const clean = await detect('web');
    expect(clean.done.StackDriftStatus).toBe('IN_SYNC');
  });

  it('exports outputs, resolves Fn::ImportValue in other stacks, and refuses to delete an export in use', async () => {
    const groupId = await output('web', 'GroupId');
    const exportsList = await cfn().send(new ListExportsCommand({}));
    expect(exportsList.Exports).toEqual([
      { ExportingStackId: (await settled('web')).StackId, Name: 'web-sg', Value: groupId },
    ]);
    const importer = `Resources:
  Rule:
    Type: AWS::EC2::SecurityGroupIngress
    Properties:
      GroupId: !ImportValue web-sg
      IpProtocol: tcp
      FromPort: 8443
      ToPort: 8443
      CidrIp: 10.1.0.0/16
`;
    await cfn().send(new CreateStackCommand({ StackName: 'importer', TemplateBody: importer }));
    expect((await settled('importer')).StackStatus).toBe('CREATE_COMPLETE');
    const sg = (
      await new EC2Client(sb.clientConfig).send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }))
    ).SecurityGroups?.[0];
    expect(sg?.IpPermissions?.some((p) => p.FromPort === 8443)).toBe(true);
    await expect(cfn().send(new DeleteStackCommand({ StackName: 'web' }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'Export web-sg cannot be deleted as it is in use by importer',
    });
    await cfn().send(new DeleteStackCommand({ StackName: 'importer' }));
    await until('importer deleted', async () => {
      const r = await cfn()
        .send(new DescribeStacksCommand({}))
        .catch(() => undefined);
      return r && !r.Stacks?.some((st) => st.StackName === 'importer') ? true : undefined;
    });
    const after = (
      await new EC2Client(sb.clientConfig).send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }))
    ).SecurityGroups?.[0];
    expect(after?.IpPermissions?.some((p) => p.FromPort === 8443)).toBe(false);
  });

  it('a failed update rolls back to the previous template and resources (UPDATE_ROLLBACK_COMPLETE)', async () => {
    const before = (
      await cfn().send(new DescribeStackResourcesCommand({ StackName: 'web' }))
    ).StackResources?.map((r) => r.PhysicalResourceId).sort();
    const broken = TEMPLATE.replace(
      'Outputs:',
      `  Extra:
    Type: AWS::SQS::Queue
    DependsOn: WebSg
Outputs:`,
    ).replace('FromPort: 443\n          ToPort: 443', 'FromPort: 444\n          ToPort: 444');
    expect(broken).toContain('FromPort: 444');
    await cfn().send(
      new UpdateStackCommand({
        StackName: 'web',
        TemplateBody: broken,
        Capabilities: ['CAPABILITY_IAM'],
        Tags: [{ Key: 'team', Value: 'a' }],
      }),
    );
    const stack = await settled('web');
    expect(stack.StackStatus).toBe('UPDATE_ROLLBACK_COMPLETE');
    const events = (await cfn().send(new DescribeStackEventsCommand({ StackName: 'web' }))).StackEvents ?? [];
    expect(events.find((e) => e.ResourceStatus === 'UPDATE_ROLLBACK_IN_PROGRESS')?.ResourceStatusReason).toBe(
      'The following resource(s) failed to create: [Extra].',
    );
    const after = (
      await cfn().send(new DescribeStackResourcesCommand({ StackName: 'web' }))
    ).StackResources?.map((r) => r.PhysicalResourceId).sort();
    expect(after).toEqual(before);
    expect((await cfn().send(new GetTemplateCommand({ StackName: 'web' }))).TemplateBody).toBe(TEMPLATE);
    const groupId = await output('web', 'GroupId');
    const sg = (
      await new EC2Client(sb.clientConfig).send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] }))
    ).SecurityGroups?.[0];
    expect(sg?.IpPermissions?.map((p) => p.FromPort)).toEqual([443]);
    expect((await detect('web')).done.StackDriftStatus).toBe('IN_SYNC');
  });

  it('ValidateTemplate reports parameters, the description and the required capability', async () => {
    const v = await cfn().send(new ValidateTemplateCommand({ TemplateBody: TEMPLATE }));
    expect(v.Description).toBe('web tier');
    expect(v.Parameters).toEqual([
      { ParameterKey: 'Env', DefaultValue: 'test', NoEcho: false },
      { ParameterKey: 'Secret', DefaultValue: 'hunter2', NoEcho: true },
    ]);
    expect(v.Capabilities).toEqual(['CAPABILITY_IAM']);
    expect(v.CapabilitiesReason).toBe('The following resource(s) require capabilities: [AWS::IAM::Role]');
  });

  it('returns the documented typed errors', async () => {
    const c = cfn();
    await expect(c.send(new DescribeStacksCommand({ StackName: 'nope' }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'Stack with id nope does not exist',
    });
    await expect(
      c.send(new DescribeStackResourcesCommand({ PhysicalResourceId: 'sg-404' })),
    ).rejects.toMatchObject({ name: 'ValidationError', message: 'Stack for sg-404 does not exist' });
    await expect(
      c.send(
        new CreateStackCommand({
          StackName: 'web',
          TemplateBody: TEMPLATE,
          Capabilities: ['CAPABILITY_IAM'],
        }),
      ),
    ).rejects.toBeInstanceOf(AlreadyExistsException);
    const noCaps = c.send(new CreateStackCommand({ StackName: 'caps', TemplateBody: TEMPLATE }));
    await expect(noCaps).rejects.toBeInstanceOf(InsufficientCapabilitiesException);
    await expect(noCaps).rejects.toMatchObject({ message: 'Requires capabilities : [CAPABILITY_IAM]' });
    await expect(
      c.send(new DescribeChangeSetCommand({ StackName: 'web', ChangeSetName: 'missing' })),
    ).rejects.toBeInstanceOf(ChangeSetNotFoundException);
    await expect(
      c.send(new CreateStackCommand({ StackName: '1bad', TemplateBody: TEMPLATE })),
    ).rejects.toMatchObject({ name: 'ValidationError' });
    await expect(
      c.send(
        new CreateStackCommand({
          StackName: 'badparam',
          TemplateBody: TEMPLATE,
          Capabilities: ['CAPABILITY_IAM'],
          Parameters: [{ ParameterKey: 'Env', ParameterValue: 'qa' }],
        }),
      ),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message: "Parameter 'Env' must be one of AllowedValues",
    });
    await expect(
      c.send(new CreateStackCommand({ StackName: 'nobody', TemplateBody: '{"Resources": {' })),
    ).rejects.toMatchObject({ message: 'Template format error: JSON not well-formed.' });
    const cycle = `Resources:
  A:
    Type: AWS::S3::Bucket
    Properties: { BucketName: !Ref B }
  B:
    Type: AWS::S3::Bucket
    Properties: { BucketName: !Sub '\${A}-b' }
`;
    await expect(c.send(new ValidateTemplateCommand({ TemplateBody: cycle }))).rejects.toMatchObject({
      name: 'ValidationError',
      message: 'Circular dependency between resources: [A, B]',
    });
    const err = await c.send(new DescribeStacksCommand({ StackName: 'nope' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CloudFormationServiceException);
  });

  it('an unsupported resource type fails the stack with the resource status reason and rolls back', async () => {
    const body = JSON.stringify({
      Resources: {
        Ok: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'rollback-ok' } },
        Queue: { Type: 'AWS::SQS::Queue', DependsOn: 'Ok' },
      },
    });
    await cfn().send(new CreateStackCommand({ StackName: 'broken', TemplateBody: body }));
    const stack = await settled('broken');
    expect(stack.StackStatus).toBe('ROLLBACK_COMPLETE');
    const events =
      (await cfn().send(new DescribeStackEventsCommand({ StackName: 'broken' }))).StackEvents ?? [];
    const failed = events.find((e) => e.ResourceStatus === 'CREATE_FAILED');
    expect(failed).toMatchObject({ LogicalResourceId: 'Queue', ResourceType: 'AWS::SQS::Queue' });
    expect(failed?.ResourceStatusReason).toContain('AWS::SQS::Queue is not supported');
    expect(events.find((e) => e.ResourceStatus === 'ROLLBACK_IN_PROGRESS')?.ResourceStatusReason).toBe(
      'The following resource(s) failed to create: [Queue]. Rollback requested by user.',
    );
    expect(events.some((e) => e.LogicalResourceId === 'Ok' && e.ResourceStatus === 'DELETE_COMPLETE')).toBe(
      true,
    );
    await expect(
      cfn().send(new UpdateStackCommand({ StackName: 'broken', TemplateBody: body })),
    ).rejects.toMatchObject({
      name: 'ValidationError',
      message: `Stack:${stack.StackId} is in ROLLBACK_COMPLETE state and can not be updated.`,
    });
  });

  it('change sets: CREATE type, no-change failure, execution status rules, deletion; DeleteStack', async () => {
    const body = `Resources:
  Sg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: cs
`;
    const created = await cfn().send(
      new CreateChangeSetCommand({
        StackName: 'cs',
        ChangeSetName: 'first',
        ChangeSetType: 'CREATE',
        TemplateBody: body,
      }),
    );
    const review = (await cfn().send(new DescribeStacksCommand({ StackName: 'cs' }))).Stacks?.[0];
    expect(review?.StackStatus).toBe('REVIEW_IN_PROGRESS');
    const cs = await changeSetReady(created.Id ?? '');
    expect(cs.Changes?.map((c) => c.ResourceChange?.Action)).toEqual(['Add']);
    await cfn().send(new ExecuteChangeSetCommand({ ChangeSetName: 'first', StackName: 'cs' }));
    expect((await settled('cs')).StackStatus).toBe('CREATE_COMPLETE');
    await expect(
      cfn().send(new ExecuteChangeSetCommand({ ChangeSetName: created.Id })),
    ).rejects.toBeInstanceOf(InvalidChangeSetStatusException);

    const same = await cfn().send(
      new CreateChangeSetCommand({ StackName: 'cs', ChangeSetName: 'same', TemplateBody: body }),
    );
    const failed = await changeSetReady(same.Id ?? '');
    expect(failed).toMatchObject({ Status: 'FAILED', ExecutionStatus: 'UNAVAILABLE' });
    expect(failed.StatusReason).toContain("didn't contain changes");
    await cfn().send(new DeleteChangeSetCommand({ ChangeSetName: same.Id }));
    await expect(cfn().send(new DescribeChangeSetCommand({ ChangeSetName: same.Id }))).rejects.toBeInstanceOf(
      ChangeSetNotFoundException,
    );

    const replace = await cfn().send(
      new CreateChangeSetCommand({
        StackName: 'cs',
        ChangeSetName: 'replace',
        TemplateBody: body.replace('GroupDescription: cs', 'GroupDescription: changed'),
      }),
    );
    const r = await changeSetReady(replace.Id ?? '');
    expect(r.Changes?.[0]?.ResourceChange).toMatchObject({
      Action: 'Modify',
      LogicalResourceId: 'Sg',
      Replacement: 'True',
      Scope: ['Properties'],
      Details: [
        {
          Target: { Attribute: 'Properties', Name: 'GroupDescription', RequiresRecreation: 'Always' },
          Evaluation: 'Static',
          ChangeSource: 'DirectModification',
        },
      ],
    });
    const before = (
      await cfn().send(new DescribeStackResourceCommand({ StackName: 'cs', LogicalResourceId: 'Sg' }))
    ).StackResourceDetail?.PhysicalResourceId;
    await cfn().send(new ExecuteChangeSetCommand({ ChangeSetName: replace.Id }));
    expect((await settled('cs')).StackStatus).toBe('UPDATE_COMPLETE');
    const after = (
      await cfn().send(new DescribeStackResourceCommand({ StackName: 'cs', LogicalResourceId: 'Sg' }))
    ).StackResourceDetail?.PhysicalResourceId;
    expect(after).not.toBe(before);
    const replacedEvents =
      (await cfn().send(new DescribeStackEventsCommand({ StackName: 'cs' }))).StackEvents ?? [];
    const sgEvents = replacedEvents
      .filter((e) => e.LogicalResourceId === 'Sg')
      .slice(0, 5)
      .reverse()
      .map((e) => [
        e.ResourceStatus,
        e.PhysicalResourceId === after ? 'new' : e.PhysicalResourceId === before ? 'old' : '-',
      ]);
    expect(sgEvents).toEqual([
      ['UPDATE_IN_PROGRESS', '-'],
      ['UPDATE_IN_PROGRESS', 'new'],
      ['UPDATE_COMPLETE', 'new'],
      ['DELETE_IN_PROGRESS', 'old'],
      ['DELETE_COMPLETE', 'old'],
    ]);
    const ec2 = new EC2Client(sb.clientConfig);
    await expect(
      ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [before ?? ''] })),
    ).rejects.toMatchObject({ name: 'InvalidGroup.NotFound' });

    const { StackId } = (await cfn().send(new DescribeStacksCommand({ StackName: 'cs' }))).Stacks?.[0] ?? {};
    await cfn().send(new DeleteStackCommand({ StackName: 'cs' }));
    const gone = await until('delete', async () => {
      const s = (await cfn().send(new DescribeStacksCommand({ StackName: StackId }))).Stacks?.[0];
      return s?.StackStatus === 'DELETE_COMPLETE' ? s : undefined;
    });
    expect(gone.DeletionTime).toBeInstanceOf(Date);
    await expect(cfn().send(new DescribeStacksCommand({ StackName: 'cs' }))).rejects.toMatchObject({
      message: 'Stack with id cs does not exist',
    });
    await expect(
      ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [after ?? ''] })),
    ).rejects.toMatchObject({ name: 'InvalidGroup.NotFound' });
  });
});
