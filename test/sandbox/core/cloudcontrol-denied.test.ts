/**
 * Cloud Control as AWS reports a missing handler permission: CreateResource / UpdateResource /
 * DeleteResource need only their own action to be accepted and answer with an IN_PROGRESS ProgressEvent;
 * the resource handler then makes its calls with the caller's session (or the request's RoleArn), each
 * authorized as it is made: a call the caller may not make ends the request FAILED with ErrorCode
 * AccessDenied (GetResourceRequestStatus) naming its action — the calls before it stay made (a group
 * created before its ingress was refused is left, named as the request's Identifier), nothing after it
 * is done — and only the calls a request makes are needed, not the schema's whole handler list.
 * GetResource / ListResources fail at once (AccessDeniedException, "Handler returned status FAILED").
 * A caller without cloudformation:CreateResource itself is refused at once. Real SDK v3 clients signed
 * with role-session credentials the sandbox minted.
 */
import {
  CloudControlClient,
  CreateResourceCommand,
  GetResourceCommand,
  GetResourceRequestStatusCommand,
  ListResourcesCommand,
  type ProgressEvent,
  UpdateResourceCommand,
} from '@aws-sdk/client-cloudcontrol';
import { DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  CreateBucketCommand,
  GetBucketVersioningCommand,
  ListBucketsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { resourceSchema } from '../../../infra/runbook-permissions';
import { cloudControlService } from '../../../sandbox/services/cloudcontrol';
import { ec2Service } from '../../../sandbox/services/ec2';
import { iamService } from '../../../sandbox/services/iam';
import { resourceProviders } from '../../../sandbox/services/providers';
import { s3Service } from '../../../sandbox/services/s3';
import { stsService } from '../../../sandbox/services/sts';
import { withSandbox } from '../helpers';
import { actingAs, failure, role } from './iam-support';

const sb = withSandbox(() => ({
  services: [iamService(), stsService(), s3Service(), ec2Service(), cloudControlService()],
  providers: resourceProviders(),
}));
const ACCOUNT = '000000000000';

const cc = (roleArn: string) => new CloudControlClient(actingAs(sb, roleArn, 'cc'));
const s3 = () => new S3Client({ ...sb.clientConfig, forcePathStyle: true });

async function settle(client: CloudControlClient, token: string | undefined): Promise<ProgressEvent> {
  for (let i = 0; i < 400; i++) {
    const e = (await client.send(new GetResourceRequestStatusCommand({ RequestToken: token }))).ProgressEvent;
    if (e && e.OperationStatus !== 'IN_PROGRESS' && e.OperationStatus !== 'PENDING') return e;
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error('the request did not settle');
}

const CLOUD_CONTROL = {
  Effect: 'Allow',
  Action: [
    'cloudformation:CreateResource',
    'cloudformation:UpdateResource',
    'cloudformation:GetResource',
    'cloudformation:ListResources',
    'cloudformation:GetResourceRequestStatus',
  ],
  Resource: '*',
};

describe('Cloud Control with a missing handler permission', () => {
  it('CreateResource is accepted, then FAILED with ErrorCode AccessDenied; no bucket is created', async () => {
    const caller = await role(sb, 'cc-no-s3', [CLOUD_CONTROL]);
    const client = cc(caller);
    const started = await client.send(
      new CreateResourceCommand({
        TypeName: 'AWS::S3::Bucket',
        DesiredState: JSON.stringify({ BucketName: 'cc-denied' }),
      }),
    );
    expect(started.ProgressEvent?.OperationStatus).toBe('IN_PROGRESS');
    const done = await settle(client, started.ProgressEvent?.RequestToken);
    expect(done).toMatchObject({ OperationStatus: 'FAILED', ErrorCode: 'AccessDenied', Operation: 'CREATE' });
    expect(done.StatusMessage).toMatch(
      new RegExp(
        `^User: arn:aws:sts::${ACCOUNT}:assumed-role/cc-no-s3/cc is not authorized to perform: s3:CreateBucket on resource: \\S+ because no identity-based policy allows the s3:CreateBucket action$`,
      ),
    );
    const buckets = (await s3().send(new ListBucketsCommand({}))).Buckets ?? [];
    expect(buckets.map((b) => b.Name)).not.toContain('cc-denied');
  });

  it('UpdateResource lacking the update handler permission is FAILED with AccessDenied; the bucket is unchanged', async () => {
    await s3().send(new CreateBucketCommand({ Bucket: 'cc-update-denied' }));
    const caller = await role(sb, 'cc-read-only-s3', [
      CLOUD_CONTROL,
      { Effect: 'Allow', Action: ['s3:Get*', 's3:List*'], Resource: '*' },
    ]);
    const client = cc(caller);
    const started = await client.send(
      new UpdateResourceCommand({
        TypeName: 'AWS::S3::Bucket',
        Identifier: 'cc-update-denied',
        PatchDocument: JSON.stringify([
          { op: 'add', path: '/VersioningConfiguration', value: { Status: 'Enabled' } },
        ]),
      }),
    );
    expect(started.ProgressEvent?.OperationStatus).toBe('IN_PROGRESS');
    const done = await settle(client, started.ProgressEvent?.RequestToken);
    expect(done).toMatchObject({ OperationStatus: 'FAILED', ErrorCode: 'AccessDenied', Operation: 'UPDATE' });
    expect(done.StatusMessage).toMatch(/is not authorized to perform: s3:Put\w+ /);
    expect(
      (await s3().send(new GetBucketVersioningCommand({ Bucket: 'cc-update-denied' }))).Status,
    ).toBeUndefined();
  });

  it('a caller without cloudformation:CreateResource is refused at once (AccessDeniedException)', async () => {
    const caller = await role(sb, 'cc-nothing', [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }]);
    const err = await cc(caller)
      .send(
        new CreateResourceCommand({ TypeName: 'AWS::S3::Bucket', DesiredState: '{"BucketName":"cc-never"}' }),
      )
      .then(
        () => undefined,
        (e: Error & { $metadata?: { httpStatusCode?: number } }) => e,
      );
    expect(err?.name).toBe('AccessDeniedException');
    expect(err?.$metadata?.httpStatusCode).toBe(400);
    expect(err?.message).toMatch(/not authorized to perform: cloudformation:CreateResource/);
  });

  it('with the handler permissions the same request succeeds', async () => {
    const caller = await role(sb, 'cc-full', [
      CLOUD_CONTROL,
      { Effect: 'Allow', Action: '*', Resource: '*' },
    ]);
    const client = cc(caller);
    const started = await client.send(
      new CreateResourceCommand({
        TypeName: 'AWS::S3::Bucket',
        DesiredState: JSON.stringify({ BucketName: 'cc-allowed' }),
      }),
    );
    expect((await settle(client, started.ProgressEvent?.RequestToken)).OperationStatus).toBe('SUCCESS');
    const buckets = (await s3().send(new ListBucketsCommand({}))).Buckets ?? [];
    expect(buckets.map((b) => b.Name)).toContain('cc-allowed');
  });
});

/** The calls S3's read handler makes in the sandbox for a bucket: HeadBucket and one Get per configuration. */
const BUCKET_READS = [
  's3:ListBucket',
  's3:GetEncryptionConfiguration',
  's3:GetBucketVersioning',
  's3:GetBucketPublicAccessBlock',
  's3:GetBucketTagging',
];

describe('Cloud Control handlers authorize each call as they make it', () => {
  it('a create denied half-way stops at the denied call: the group is made, its ingress rule is not', async () => {
    const caller = await role(sb, 'cc-sg-no-ingress', [
      CLOUD_CONTROL,
      { Effect: 'Allow', Action: ['ec2:CreateSecurityGroup', 'ec2:DescribeSecurityGroups'], Resource: '*' },
    ]);
    const client = cc(caller);
    const started = await client.send(
      new CreateResourceCommand({
        TypeName: 'AWS::EC2::SecurityGroup',
        DesiredState: JSON.stringify({
          GroupName: 'cc-half-way',
          GroupDescription: 'made before the denied call',
          SecurityGroupIngress: [{ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '10.0.0.0/8' }],
        }),
      }),
    );
    const done = await settle(client, started.ProgressEvent?.RequestToken);
    expect(done).toMatchObject({ OperationStatus: 'FAILED', ErrorCode: 'AccessDenied', Operation: 'CREATE' });
    expect(done.Identifier).toMatch(/^sg-[0-9a-f]+$/);
    expect(done.StatusMessage).toContain(
      `User: arn:aws:sts::${ACCOUNT}:assumed-role/cc-sg-no-ingress/cc is not authorized to perform: ec2:AuthorizeSecurityGroupIngress`,
    );
    const ec2 = new EC2Client(sb.clientConfig);
    const groups = (
      await ec2.send(
        new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['cc-half-way'] }] }),
      )
    ).SecurityGroups;
    expect(groups?.map((g) => g.GroupId)).toEqual([done.Identifier]);
    expect(groups?.[0]?.IpPermissions ?? []).toEqual([]);
  });

  it('an update needs only the calls it makes, not the schema update handler list', async () => {
    await s3().send(new CreateBucketCommand({ Bucket: 'cc-versioning-only' }));
    const caller = await role(sb, 'cc-versioning-only', [
      CLOUD_CONTROL,
      // The model read back carries the bucket's default encryption and public access block, which the
      // update handler puts again; none of the schema's other update permissions (ACLs, lifecycle, …).
      {
        Effect: 'Allow',
        Action: [
          ...BUCKET_READS,
          's3:PutBucketVersioning',
          's3:PutEncryptionConfiguration',
          's3:PutBucketPublicAccessBlock',
        ],
        Resource: '*',
      },
    ]);
    const client = cc(caller);
    const started = await client.send(
      new UpdateResourceCommand({
        TypeName: 'AWS::S3::Bucket',
        Identifier: 'cc-versioning-only',
        PatchDocument: JSON.stringify([
          { op: 'add', path: '/VersioningConfiguration', value: { Status: 'Enabled' } },
        ]),
      }),
    );
    const done = await settle(client, started.ProgressEvent?.RequestToken);
    expect(done.OperationStatus, done.StatusMessage).toBe('SUCCESS');
    // The schema's update handler lists permissions this role does not have.
    const schema = resourceSchema('AWS::S3::Bucket').handlers?.update?.permissions ?? [];
    expect(schema).toContain('s3:PutLifecycleConfiguration');
    expect((await s3().send(new GetBucketVersioningCommand({ Bucket: 'cc-versioning-only' }))).Status).toBe(
      'Enabled',
    );
  });

  it('GetResource lacking one read call is AccessDeniedException naming it; with it the read succeeds', async () => {
    await s3().send(new CreateBucketCommand({ Bucket: 'cc-read' }));
    const partial = await role(sb, 'cc-read-no-tagging', [
      CLOUD_CONTROL,
      { Effect: 'Allow', Action: BUCKET_READS.filter((a) => a !== 's3:GetBucketTagging'), Resource: '*' },
    ]);
    const denied = await failure(
      cc(partial).send(new GetResourceCommand({ TypeName: 'AWS::S3::Bucket', Identifier: 'cc-read' })),
    );
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.status).toBe(400);
    expect(denied.message).toMatch(
      /^AWS::S3::Bucket Handler returned status FAILED: User: \S+ is not authorized to perform: s3:GetBucketTagging .*\(HandlerErrorCode: AccessDenied, RequestToken: [0-9a-f-]{36}\)$/,
    );
    const full = await role(sb, 'cc-read-all', [
      CLOUD_CONTROL,
      { Effect: 'Allow', Action: BUCKET_READS, Resource: '*' },
    ]);
    const read = await cc(full).send(
      new GetResourceCommand({ TypeName: 'AWS::S3::Bucket', Identifier: 'cc-read' }),
    );
    expect(JSON.parse(read.ResourceDescription?.Properties ?? '{}')).toMatchObject({ BucketName: 'cc-read' });
  });

  it('ListResources needs the list call (s3:ListAllMyBuckets), not each resource read', async () => {
    const none = await role(sb, 'cc-list-none', [CLOUD_CONTROL]);
    const denied = await failure(cc(none).send(new ListResourcesCommand({ TypeName: 'AWS::S3::Bucket' })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toMatch(/is not authorized to perform: s3:ListAllMyBuckets /);
    const lister = await role(sb, 'cc-lister', [
      CLOUD_CONTROL,
      { Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' },
    ]);
    const listed = await cc(lister).send(new ListResourcesCommand({ TypeName: 'AWS::S3::Bucket' }));
    expect(listed.ResourceDescriptions?.length).toBeGreaterThan(0);
  });
});

describe('Cloud Control with a RoleArn', () => {
  const BUCKET_WRITER = { Effect: 'Allow', Action: 's3:*', Resource: '*' };

  it('the handler acts as the role: the caller needs iam:PassRole, not the handler permissions', async () => {
    const serviceRole = await role(sb, 'cc-service-role', [BUCKET_WRITER], 'cloudformation.amazonaws.com');
    const caller = await role(sb, 'cc-passer', [
      CLOUD_CONTROL,
      { Effect: 'Allow', Action: 'iam:PassRole', Resource: serviceRole },
    ]);
    const client = cc(caller);
    const started = await client.send(
      new CreateResourceCommand({
        TypeName: 'AWS::S3::Bucket',
        RoleArn: serviceRole,
        DesiredState: JSON.stringify({ BucketName: 'cc-by-role' }),
      }),
    );
    expect((await settle(client, started.ProgressEvent?.RequestToken)).OperationStatus).toBe('SUCCESS');
    const buckets = (await s3().send(new ListBucketsCommand({}))).Buckets ?? [];
    expect(buckets.map((b) => b.Name)).toContain('cc-by-role');
  });

  it('without iam:PassRole the request is refused at once, changing nothing', async () => {
    const serviceRole = await role(sb, 'cc-unpassed-role', [BUCKET_WRITER], 'cloudformation.amazonaws.com');
    const caller = await role(sb, 'cc-no-pass', [CLOUD_CONTROL]);
    const denied = await failure(
      cc(caller).send(
        new CreateResourceCommand({
          TypeName: 'AWS::S3::Bucket',
          RoleArn: serviceRole,
          DesiredState: JSON.stringify({ BucketName: 'cc-never-passed' }),
        }),
      ),
    );
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toMatch(
      /not authorized to perform: iam:PassRole on resource: \S+cc-unpassed-role/,
    );
    const buckets = (await s3().send(new ListBucketsCommand({}))).Buckets ?? [];
    expect(buckets.map((b) => b.Name)).not.toContain('cc-never-passed');
  });

  it('a role that does not trust CloudFormation fails the request with InvalidCredentials, changing nothing', async () => {
    const lambdaRole = await role(sb, 'cc-lambda-role', [BUCKET_WRITER], 'lambda.amazonaws.com');
    const caller = await role(sb, 'cc-passes-lambda-role', [
      CLOUD_CONTROL,
      { Effect: 'Allow', Action: 'iam:PassRole', Resource: lambdaRole },
    ]);
    const client = cc(caller);
    const started = await client.send(
      new CreateResourceCommand({
        TypeName: 'AWS::S3::Bucket',
        RoleArn: lambdaRole,
        DesiredState: JSON.stringify({ BucketName: 'cc-untrusted' }),
      }),
    );
    const done = await settle(client, started.ProgressEvent?.RequestToken);
    expect(done).toMatchObject({ OperationStatus: 'FAILED', ErrorCode: 'InvalidCredentials' });
    expect(done.StatusMessage).toContain(`Role ${lambdaRole} is invalid or cannot be assumed`);
    const buckets = (await s3().send(new ListBucketsCommand({}))).Buckets ?? [];
    expect(buckets.map((b) => b.Name)).not.toContain('cc-untrusted');
  });
});
