/**
 * CloudFormation provisioning as CloudTrail records it: every call its resource handlers make, for every
 * resource type the sandbox provisions, is an "AWS API Call via CloudTrail" event whose userIdentity is
 * the identity CloudFormation acts as (the stack's caller, or its service role as an AROA…:session
 * principal) with `invokedBy: cloudformation.amazonaws.com` — what the fast path ignores as intended.
 * Read back through a real EventBridge rule and SQS queue with the SDK.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { CreateRoleCommand, GetRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { allServices } from '../../../sandbox/services';
import { resourceProviders } from '../../../sandbox/services/providers';
import { subscribeQueueToEvents } from '../../e2e/support/events-queue';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({
  timeScale: 0.01,
  services: allServices(),
  providers: resourceProviders(),
  cloudTrail: { enabled: true, deliverySeconds: 0 },
}));

/** One resource of every type the sandbox provisions, with the properties that make its handler call more. */
const TEMPLATE = `Resources:
  Sg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: web
      SecurityGroupIngress:
        - { IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 10.0.0.0/8 }
  SshFromOffice:
    Type: AWS::EC2::SecurityGroupIngress
    Properties: { GroupId: !Ref Sg, IpProtocol: tcp, FromPort: 22, ToPort: 22, CidrIp: 0.0.0.0/0 }
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketEncryption:
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: AES256 } }]
      VersioningConfiguration: { Status: Enabled }
      PublicAccessBlockConfiguration:
        { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true }
      Tags: [{ Key: app, Value: web }]
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement: [{ Effect: Allow, Principal: { Service: lambda.amazonaws.com }, Action: sts:AssumeRole }]
      ManagedPolicyArns: [arn:aws:iam::aws:policy/ReadOnlyAccess]
      Policies:
        - PolicyName: logs
          PolicyDocument:
            Version: '2012-10-17'
            Statement: [{ Effect: Allow, Action: logs:PutLogEvents, Resource: '*' }]
  Policy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Version: '2012-10-17'
        Statement: [{ Effect: Allow, Action: s3:GetObject, Resource: '*' }]
      Roles: [!Ref Role]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Runtime: nodejs22.x
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code: { ZipFile: 'exports.handler = async () => 1;' }
`;

/** Per type, the call its creation makes and the one its deletion makes (CloudTrail's eventSource, eventName). */
const CALLS: Record<string, { create: [string, string]; delete?: [string, string] }> = {
  'AWS::EC2::SecurityGroup': {
    create: ['ec2.amazonaws.com', 'CreateSecurityGroup'],
    delete: ['ec2.amazonaws.com', 'DeleteSecurityGroup'],
  },
  'AWS::EC2::SecurityGroupIngress': {
    create: ['ec2.amazonaws.com', 'AuthorizeSecurityGroupIngress'],
    delete: ['ec2.amazonaws.com', 'RevokeSecurityGroupIngress'],
  },
  'AWS::S3::Bucket': {
    create: ['s3.amazonaws.com', 'CreateBucket'],
    delete: ['s3.amazonaws.com', 'DeleteBucket'],
  },
  'AWS::IAM::Role': {
    create: ['iam.amazonaws.com', 'CreateRole'],
    delete: ['iam.amazonaws.com', 'DeleteRole'],
  },
  'AWS::IAM::ManagedPolicy': {
    create: ['iam.amazonaws.com', 'CreatePolicy'],
    delete: ['iam.amazonaws.com', 'DeletePolicy'],
  },
  'AWS::Lambda::Function': {
    create: ['lambda.amazonaws.com', 'CreateFunction'],
    delete: ['lambda.amazonaws.com', 'DeleteFunction'],
  },
};

type Detail = {
  eventSource: string;
  eventName: string;
  sourceIPAddress: string;
  userAgent: string;
  userIdentity: Record<string, unknown> & { invokedBy?: string };
  requestParameters: Record<string, unknown> | null;
};

/** A queue receiving every CloudTrail event of the resource services; `drain` reads what has arrived. */
async function trail(name: string) {
  const sqs = new SQSClient(sb.clientConfig);
  const events = new EventBridgeClient(sb.clientConfig);
  const QueueUrl = await subscribeQueueToEvents(
    { sqs, events, region: sb.sandbox.region, accountId: sb.sandbox.accountId },
    name,
    { 'detail-type': ['AWS API Call via CloudTrail'] },
  );
  const seen: Detail[] = [];
  return async (): Promise<Detail[]> => {
    for (;;) {
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
      const msgs = r.Messages ?? [];
      if (msgs.length === 0) return seen.splice(0);
      for (const m of msgs) seen.push((JSON.parse(String(m.Body)) as { detail: Detail }).detail);
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl,
          Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: String(m.ReceiptHandle) })),
        }),
      );
    }
  };
}

async function settle(cfn: CloudFormationClient, stack: string, want: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const s = await cfn
      .send(new DescribeStacksCommand({ StackName: stack }))
      .then((r) => r.Stacks?.[0]?.StackStatus)
      .catch(() => 'DELETE_COMPLETE');
    if (s === want) return;
    if (s?.includes('FAILED') || s?.includes('ROLLBACK')) throw new Error(`${stack}: ${s}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${stack} never reached ${want}`);
}

const calls = (ds: Detail[]) => new Set(ds.map((d) => `${d.eventSource} ${d.eventName}`));

describe('CloudTrail records of CloudFormation provisioning', () => {
  it('the template covers every resource type the sandbox provisions', () => {
    expect(Object.keys(CALLS).sort()).toEqual(
      resourceProviders()
        .map((p) => p.type)
        .sort(),
    );
    for (const type of Object.keys(CALLS)) expect(TEMPLATE).toContain(`Type: ${type}\n`);
  });

  it("every type's creation and deletion is recorded as the caller, invoked by CloudFormation", async () => {
    const drain = await trail('cfn-trail');
    const cfn = new CloudFormationClient(sb.clientConfig);
    await cfn.send(
      new CreateStackCommand({
        StackName: 'trail',
        TemplateBody: TEMPLATE,
        Capabilities: ['CAPABILITY_IAM'],
      }),
    );
    await settle(cfn, 'trail', 'CREATE_COMPLETE');
    await sb.sandbox.clock.sleep(1);
    const created = await drain();
    for (const { create } of Object.values(CALLS)) expect(calls(created)).toContain(create.join(' '));
    // The property calls: encryption, versioning, public access block, tags, policies attached and put.
    for (const c of [
      's3.amazonaws.com PutBucketEncryption',
      's3.amazonaws.com PutBucketVersioning',
      's3.amazonaws.com PutBucketPublicAccessBlock',
      'iam.amazonaws.com AttachRolePolicy',
      'iam.amazonaws.com PutRolePolicy',
    ])
      expect(calls(created)).toContain(c);
    await cfn.send(new DeleteStackCommand({ StackName: 'trail' }));
    await settle(cfn, 'trail', 'DELETE_COMPLETE');
    await sb.sandbox.clock.sleep(1);
    const deleted = await drain();
    for (const { delete: d } of Object.values(CALLS)) if (d) expect(calls(deleted)).toContain(d.join(' '));
    for (const d of [...created, ...deleted]) {
      expect(d.userIdentity).toMatchObject({
        type: 'IAMUser',
        principalId: expect.stringMatching(/^AIDA[A-Z0-9]{17}$/),
        invokedBy: 'cloudformation.amazonaws.com',
      });
      expect(d.sourceIPAddress).toBe('cloudformation.amazonaws.com');
      expect(d.userAgent).toBe('cloudformation.amazonaws.com');
    }
  });

  it("with a service role, CloudFormation's calls are that role's session: AROA…:AWSCloudFormation, its IAM unique id", async () => {
    const iam = new IAMClient(sb.clientConfig);
    const trust = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: { Service: 'cloudformation.amazonaws.com' }, Action: 'sts:AssumeRole' },
      ],
    };
    await iam.send(
      new CreateRoleCommand({ RoleName: 'cfn-deployer', AssumeRolePolicyDocument: JSON.stringify(trust) }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'cfn-deployer',
        PolicyName: 'all',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
        }),
      }),
    );
    const role = (await iam.send(new GetRoleCommand({ RoleName: 'cfn-deployer' }))).Role;
    const drain = await trail('cfn-role-trail');
    const cfn = new CloudFormationClient(sb.clientConfig);
    await cfn.send(
      new CreateStackCommand({
        StackName: 'trail-role',
        TemplateBody: TEMPLATE,
        RoleARN: role?.Arn,
        Capabilities: ['CAPABILITY_IAM'],
      }),
    );
    await settle(cfn, 'trail-role', 'CREATE_COMPLETE');
    await sb.sandbox.clock.sleep(1);
    const created = await drain();
    expect(calls(created)).toContain('s3.amazonaws.com CreateBucket');
    const account = sb.sandbox.accountId;
    for (const d of created) {
      expect(d.userIdentity).toMatchObject({
        type: 'AssumedRole',
        principalId: `${role?.RoleId}:AWSCloudFormation`,
        arn: `arn:aws:sts::${account}:assumed-role/cfn-deployer/AWSCloudFormation`,
        sessionContext: { sessionIssuer: { type: 'Role', principalId: role?.RoleId, arn: role?.Arn } },
        invokedBy: 'cloudformation.amazonaws.com',
      });
    }
    expect(role?.RoleId).toMatch(/^AROA[A-Z0-9]{17}$/);
  });
});
