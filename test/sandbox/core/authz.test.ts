/**
 * IAM enforcement through real SDK v3 clients signed with role-session credentials the sandbox minted
 * (`credentialsFor`): allowed calls work; a call no policy allows (or one explicitly denied, or one
 * outside the permissions boundary) fails with the protocol's error code and AWS's message naming the
 * principal and the action, and changes nothing. Keys the sandbox did not mint stay the administrator's.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  CreateBucketCommand,
  GetBucketEncryptionCommand,
  PutBucketEncryptionCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { credentialsFor } from '../../../sandbox/core/authz';
import { ec2Service } from '../../../sandbox/services/ec2';
import { iamService } from '../../../sandbox/services/iam';
import { s3Service } from '../../../sandbox/services/s3';
import { snsService } from '../../../sandbox/services/sns';
import { sqsService } from '../../../sandbox/services/sqs';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({
  services: [iamService(), sqsService(), snsService(), ec2Service(), s3Service()],
}));
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';

const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});

async function role(name: string, inline: object, extra: { boundary?: string; managed?: string[] } = {}) {
  const iam = new IAMClient(sb.clientConfig);
  const r = await iam.send(
    new CreateRoleCommand({
      RoleName: name,
      AssumeRolePolicyDocument: TRUST,
      ...(extra.boundary ? { PermissionsBoundary: extra.boundary } : {}),
    }),
  );
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: name,
      PolicyName: 'inline',
      PolicyDocument: JSON.stringify(inline),
    }),
  );
  for (const arn of extra.managed ?? [])
    await iam.send(new AttachRolePolicyCommand({ RoleName: name, PolicyArn: arn }));
  return String(r.Role?.Arn);
}

function as(roleArn: string, session: string) {
  const credentials = credentialsFor(sb.sandbox.context, roleArn, session);
  return { ...sb.clientConfig, credentials };
}

async function failure(p: Promise<unknown>): Promise<{ name: string; message: string; status?: number }> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to be denied');
}

const denial = (session: string, roleName: string, action: string, resource: string) =>
  `User: arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/${session} is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`;

describe('IAM enforcement for role sessions', () => {
  it('SQS and SNS: allowed on the granted resource, AccessDenied / AuthorizationError elsewhere; nothing changes', async () => {
    const admin = new SQSClient(sb.clientConfig);
    const allowedUrl = (await admin.send(new CreateQueueCommand({ QueueName: 'granted' }))).QueueUrl;
    const otherUrl = (await admin.send(new CreateQueueCommand({ QueueName: 'other' }))).QueueUrl;
    const topic = (await new SNSClient(sb.clientConfig).send(new CreateTopicCommand({ Name: 'alerts' })))
      .TopicArn;
    const arn = await role('sender', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: `arn:aws:sqs:${REGION}:${ACCOUNT}:granted` },
      ],
    });
    const sqs = new SQSClient(as(arn, 'task'));
    await sqs.send(new SendMessageCommand({ QueueUrl: allowedUrl, MessageBody: 'ok' }));

    const denied = await failure(sqs.send(new SendMessageCommand({ QueueUrl: otherUrl, MessageBody: 'no' })));
    expect(denied.message).toBe(
      denial('task', 'sender', 'sqs:SendMessage', `arn:aws:sqs:${REGION}:${ACCOUNT}:other`),
    );
    expect(denied.name).toMatch(/^AccessDenied/);
    const left = await admin.send(new ReceiveMessageCommand({ QueueUrl: otherUrl, WaitTimeSeconds: 0 }));
    expect(left.Messages ?? []).toEqual([]);
    expect(sb.sandbox.logs).toContain(
      `iam: AccessDenied: arn:aws:sts::${ACCOUNT}:assumed-role/sender/task is not allowed sqs:SendMessage on arn:aws:sqs:${REGION}:${ACCOUNT}:other (no policy allows it)`,
    );

    const sns = new SNSClient(as(arn, 'task'));
    const snsDenied = await failure(sns.send(new PublishCommand({ TopicArn: topic, Message: 'x' })));
    expect(snsDenied.name).toBe('AuthorizationErrorException');
    expect(snsDenied.status).toBe(403);
    expect(snsDenied.message).toBe(denial('task', 'sender', 'sns:Publish', String(topic)));
  });

  it('EC2 answers UnauthorizedOperation and S3 AccessDenied (403); the group and the bucket are unchanged', async () => {
    const ec2Admin = new EC2Client(sb.clientConfig);
    const { GroupId } = await ec2Admin.send(
      new CreateSecurityGroupCommand({ GroupName: 'web', Description: 'web' }),
    );
    await new S3Client({ ...sb.clientConfig, forcePathStyle: true }).send(
      new CreateBucketCommand({ Bucket: 'reports' }),
    );
    const arn = await role('reader', {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['ec2:DescribeSecurityGroups', 's3:GetEncryptionConfiguration'],
          Resource: '*',
        },
      ],
    });
    const ec2 = new EC2Client(as(arn, 'r'));
    expect(
      (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [String(GroupId)] }))).SecurityGroups,
    ).toHaveLength(1);
    const open = ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId,
        IpProtocol: 'tcp',
        FromPort: 22,
        ToPort: 22,
        CidrIp: '0.0.0.0/0',
      }),
    );
    const ec2Denied = await failure(open);
    expect(ec2Denied.name).toBe('UnauthorizedOperation');
    expect(ec2Denied.message).toContain('You are not authorized to perform this operation.');
    expect(ec2Denied.message).toContain(
      `ec2:AuthorizeSecurityGroupIngress on resource: arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${GroupId}`,
    );
    const group = (await ec2Admin.send(new DescribeSecurityGroupsCommand({ GroupIds: [String(GroupId)] })))
      .SecurityGroups?.[0];
    expect(group?.IpPermissions ?? []).toEqual([]);

    const s3 = new S3Client({ ...as(arn, 'r'), forcePathStyle: true });
    const put = s3.send(
      new PutBucketEncryptionCommand({
        Bucket: 'reports',
        ServerSideEncryptionConfiguration: {
          Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } }],
        },
      }),
    );
    const s3Denied = await failure(put);
    expect(s3Denied.name).toBe('AccessDenied');
    expect(s3Denied.status).toBe(403);
    expect(s3Denied.message).toContain('s3:PutEncryptionConfiguration on resource: "arn:aws:s3:::reports"');
    const enc = await s3.send(new GetBucketEncryptionCommand({ Bucket: 'reports' }));
    expect(
      enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
    ).not.toBe('aws:kms');
  });

  it('an explicit deny wins over an allow; a permissions boundary caps an AWS managed policy', async () => {
    const admin = new SQSClient(sb.clientConfig);
    await admin.send(new CreateQueueCommand({ QueueName: 'kept' }));
    const arn = await role('operator', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: 'sqs:*', Resource: '*' },
        { Effect: 'Deny', Action: 'sqs:DeleteQueue', Resource: '*' },
      ],
    });
    const sqs = new SQSClient(as(arn, 'op'));
    const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: 'kept' }));
    const del = await failure(sqs.send(new DeleteQueueCommand({ QueueUrl })));
    expect(del.message).toContain('sqs:DeleteQueue');
    expect(del.message).toContain('with an explicit deny in an identity-based policy');
    expect((await admin.send(new GetQueueUrlCommand({ QueueName: 'kept' }))).QueueUrl).toBe(QueueUrl);

    const iam = new IAMClient(sb.clientConfig);
    const boundary = await iam.send(
      new CreatePolicyCommand({
        PolicyName: 'only-s3',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
        }),
      }),
    );
    const bounded = await role(
      'bounded',
      {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }],
      },
      {
        boundary: String(boundary.Policy?.Arn),
        managed: ['arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess'],
      },
    );
    const listOnly = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }],
    };
    const unbounded = await role('unbounded', listOnly, {
      managed: ['arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess'],
    });
    await new EC2Client(as(unbounded, 'u')).send(new DescribeSecurityGroupsCommand({}));
    const capped = await failure(new EC2Client(as(bounded, 'b')).send(new DescribeSecurityGroupsCommand({})));
    expect(capped.name).toBe('UnauthorizedOperation');
  });

  it('credentials the sandbox did not mint are the administrator’s', async () => {
    const sqs = new SQSClient(sb.clientConfig);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'admin-owned' }));
    await sqs.send(new DeleteQueueCommand({ QueueUrl }));
  });
});
