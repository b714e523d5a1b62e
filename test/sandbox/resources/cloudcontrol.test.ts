import {
  CloudControlClient,
  CreateResourceCommand,
  GetResourceCommand,
  GetResourceRequestStatusCommand,
  InvalidRequestException,
  ListResourcesCommand,
  type ProgressEvent,
  RequestTokenNotFoundException,
  ResourceNotFoundException,
  TypeNotFoundException,
  UpdateResourceCommand,
} from '@aws-sdk/client-cloudcontrol';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateBucketCommand, GetBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { cloudControlService } from '../../../sandbox/services/cloudcontrol';
import { ec2Service } from '../../../sandbox/services/ec2';
import { iamService } from '../../../sandbox/services/iam';
import { lambdaService } from '../../../sandbox/services/lambda';
import { resourceProviders } from '../../../sandbox/services/providers';
import { s3Service } from '../../../sandbox/services/s3';
import { trustingRole } from '../core/iam-support';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({
  services: [ec2Service(), s3Service(), iamService(), lambdaService(), cloudControlService()],
  providers: resourceProviders(),
}));

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

async function settle(cc: CloudControlClient, token: string | undefined): Promise<ProgressEvent> {
  for (let i = 0; i < 200; i++) {
    const r = await cc.send(new GetResourceRequestStatusCommand({ RequestToken: token }));
    const e = r.ProgressEvent;
    if (e && e.OperationStatus !== 'IN_PROGRESS' && e.OperationStatus !== 'PENDING') return e;
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error(`request ${token} did not settle`);
}

describe('Cloud Control through CloudControlClient', () => {
  it('reads a security group in template shape and removes an ingress rule with an RFC 6902 patch', async () => {
    const ec2 = new EC2Client(sb.clientConfig);
    const cc = new CloudControlClient(sb.clientConfig);
    const { GroupId } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'cc-web', Description: 'web' }),
    );
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
          { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
        ],
      }),
    );
    const got = await cc.send(
      new GetResourceCommand({ TypeName: 'AWS::EC2::SecurityGroup', Identifier: GroupId }),
    );
    expect(got.ResourceDescription?.Identifier).toBe(GroupId);
    const props = JSON.parse(got.ResourceDescription?.Properties ?? '{}');
    expect(props).toMatchObject({ GroupId, GroupName: 'cc-web', GroupDescription: 'web' });
    expect(props.SecurityGroupIngress).toEqual([
      { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '10.0.0.0/8' },
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '0.0.0.0/0' },
    ]);
    expect(props.SecurityGroupEgress).toEqual([{ IpProtocol: '-1', CidrIp: '0.0.0.0/0' }]);

    const upd = await cc.send(
      new UpdateResourceCommand({
        TypeName: 'AWS::EC2::SecurityGroup',
        Identifier: GroupId,
        PatchDocument: JSON.stringify([{ op: 'remove', path: '/SecurityGroupIngress/1' }]),
      }),
    );
    expect(upd.ProgressEvent).toMatchObject({
      Operation: 'UPDATE',
      OperationStatus: 'IN_PROGRESS',
      Identifier: GroupId,
    });
    expect(upd.ProgressEvent?.EventTime).toBeInstanceOf(Date);
    const done = await settle(cc, upd.ProgressEvent?.RequestToken);
    expect(done.OperationStatus).toBe('SUCCESS');
    const d = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [GroupId ?? ''] }));
    expect(d.SecurityGroups?.[0]?.IpPermissions?.map((p) => p.FromPort)).toEqual([443]);
  });

  it('updates a Lambda function and a bucket by patch; create-only properties fail the request as NotUpdatable', async () => {
    const cc = new CloudControlClient(sb.clientConfig);
    const create = await cc.send(
      new CreateResourceCommand({
        TypeName: 'AWS::Lambda::Function',
        DesiredState: JSON.stringify({
          FunctionName: 'cc-fn',
          Runtime: 'nodejs22.x',
          Handler: 'index.handler',
          Role: await trustingRole(sb.sandbox, 'r'),
          MemorySize: 1024,
          Code: { ZipFile: 'x' },
        }),
      }),
    );
    const created = await settle(cc, create.ProgressEvent?.RequestToken);
    expect(created).toMatchObject({ OperationStatus: 'SUCCESS', Identifier: 'cc-fn' });
    const patched = await cc.send(
      new UpdateResourceCommand({
        TypeName: 'AWS::Lambda::Function',
        Identifier: 'cc-fn',
        PatchDocument: JSON.stringify([
          { op: 'test', path: '/MemorySize', value: 1024 },
          { op: 'replace', path: '/MemorySize', value: 128 },
        ]),
      }),
    );
    expect((await settle(cc, patched.ProgressEvent?.RequestToken)).OperationStatus).toBe('SUCCESS');
    const lambda = new LambdaClient(sb.clientConfig);
    expect(
      (await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'cc-fn' }))).MemorySize,
    ).toBe(128);

    const rename = await cc.send(
      new UpdateResourceCommand({
        TypeName: 'AWS::Lambda::Function',
        Identifier: 'cc-fn',
        PatchDocument: JSON.stringify([{ op: 'replace', path: '/FunctionName', value: 'other' }]),
      }),
    );
    const failed = await settle(cc, rename.ProgressEvent?.RequestToken);
    expect(failed).toMatchObject({ OperationStatus: 'FAILED', ErrorCode: 'NotUpdatable' });

    const s3 = new S3Client({ ...sb.clientConfig, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'cc-bucket' }));
    const v = await cc.send(
      new UpdateResourceCommand({
        TypeName: 'AWS::S3::Bucket',
        Identifier: 'cc-bucket',
        PatchDocument: JSON.stringify([
          { op: 'add', path: '/VersioningConfiguration', value: { Status: 'Enabled' } },
        ]),
      }),
    );
    expect((await settle(cc, v.ProgressEvent?.RequestToken)).OperationStatus).toBe('SUCCESS');
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'cc-bucket' }))).Status).toBe('Enabled');
    const listed = await cc.send(new ListResourcesCommand({ TypeName: 'AWS::S3::Bucket' }));
    expect(listed.ResourceDescriptions?.map((r) => r.Identifier)).toContain('cc-bucket');
  });

  it('answers Cloud Control errors as typed exceptions', async () => {
    const cc = new CloudControlClient(sb.clientConfig);
    expect(
      await errorOf(
        cc.send(new GetResourceCommand({ TypeName: 'AWS::S3::Bucket', Identifier: 'no-such-bucket' })),
      ),
    ).toBeInstanceOf(ResourceNotFoundException);
    expect(
      await errorOf(cc.send(new GetResourceCommand({ TypeName: 'AWS::Foo::Bar', Identifier: 'x' }))),
    ).toBeInstanceOf(TypeNotFoundException);
    const s3 = new S3Client({ ...sb.clientConfig, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'cc-errors' }));
    expect(
      await errorOf(
        cc.send(
          new UpdateResourceCommand({
            TypeName: 'AWS::S3::Bucket',
            Identifier: 'cc-errors',
            PatchDocument: '{"op":1}',
          }),
        ),
      ),
    ).toBeInstanceOf(InvalidRequestException);
    expect(
      await errorOf(
        cc.send(
          new UpdateResourceCommand({
            TypeName: 'AWS::S3::Bucket',
            Identifier: 'cc-errors',
            PatchDocument: JSON.stringify([{ op: 'remove', path: '/NoSuchProperty' }]),
          }),
        ),
      ),
    ).toBeInstanceOf(InvalidRequestException);
    expect(
      await errorOf(cc.send(new GetResourceRequestStatusCommand({ RequestToken: 'nope' }))),
    ).toBeInstanceOf(RequestTokenNotFoundException);
  });
});
