import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  DeleteSecurityGroupCommand,
  DeleteTagsCommand,
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupEgressCommand,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import {
  BucketAlreadyOwnedByYou,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteBucketEncryptionCommand,
  DeleteBucketTaggingCommand,
  DeletePublicAccessBlockCommand,
  GetBucketEncryptionCommand,
  GetBucketTaggingCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  NoSuchBucket,
  NotFound,
  PutBucketEncryptionCommand,
  PutBucketTaggingCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { ec2Service } from '../../../sandbox/services/ec2';
import { resourceProviders } from '../../../sandbox/services/providers';
import { s3Service } from '../../../sandbox/services/s3';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({
  services: [ec2Service(), s3Service()],
  providers: resourceProviders(),
  region: 'eu-west-1',
}));

async function errorOf(p: Promise<unknown>): Promise<Error & { $metadata?: { httpStatusCode?: number } }> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

describe('EC2 security groups through EC2Client', () => {
  it('creates a group with the default egress rule, adds, describes and revokes ingress', async () => {
    const ec2 = new EC2Client(sb.clientConfig);
    const created = await ec2.send(
      new CreateSecurityGroupCommand({
        GroupName: 'web',
        Description: 'web tier',
        TagSpecifications: [{ ResourceType: 'security-group', Tags: [{ Key: 'app', Value: 'demo' }] }],
      }),
    );
    const id = created.GroupId ?? '';
    expect(id).toMatch(/^sg-[0-9a-f]{17}$/);

    const auth = await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: id,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 22,
            ToPort: 22,
            IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'debug' }],
          },
        ],
      }),
    );
    expect(auth.Return).toBe(true);
    expect(auth.SecurityGroupRules?.[0]).toMatchObject({
      GroupId: id,
      IsEgress: false,
      FromPort: 22,
      CidrIpv4: '0.0.0.0/0',
    });

    // legacy top-level parameters
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: id,
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        CidrIp: '10.0.0.0/8',
      }),
    );

    const described = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }));
    const g = described.SecurityGroups?.[0];
    expect(g?.GroupName).toBe('web');
    expect(g?.VpcId).toMatch(/^vpc-/);
    expect(g?.Tags).toEqual([{ Key: 'app', Value: 'demo' }]);
    expect(g?.IpPermissionsEgress).toEqual([
      {
        IpProtocol: '-1',
        IpRanges: [{ CidrIp: '0.0.0.0/0' }],
        Ipv6Ranges: [],
        PrefixListIds: [],
        UserIdGroupPairs: [],
      },
    ]);
    const ssh = g?.IpPermissions?.find((p) => p.FromPort === 22);
    expect(ssh).toMatchObject({
      IpProtocol: 'tcp',
      ToPort: 22,
      IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'debug' }],
    });
    expect(
      g?.IpPermissions?.some((p) => p.FromPort === 443 && p.IpRanges?.[0]?.CidrIp === '10.0.0.0/8'),
    ).toBe(true);

    const dup = await errorOf(
      ec2.send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId: id,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
          ],
        }),
      ),
    );
    expect(dup.name).toBe('InvalidPermission.Duplicate');

    const byName = await ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'group-name', Values: ['web'] }] }),
    );
    expect(byName.SecurityGroups?.map((x) => x.GroupId)).toEqual([id]);
    const byTag = await ec2.send(
      new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'tag:app', Values: ['demo'] }] }),
    );
    expect(byTag.SecurityGroups?.map((x) => x.GroupId)).toEqual([id]);

    const rules = await ec2.send(
      new DescribeSecurityGroupRulesCommand({ Filters: [{ Name: 'group-id', Values: [id] }] }),
    );
    expect(rules.SecurityGroupRules).toHaveLength(3);

    const revoked = await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: id,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    expect(revoked.Return).toBe(true);
    const after = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }));
    expect(after.SecurityGroups?.[0]?.IpPermissions?.some((p) => p.FromPort === 22)).toBe(false);

    // default VPC: revoking an unknown rule does not fail, it reports the rule as unknown
    const unknown = await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId: id,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    expect(unknown.Return).toBe(false);
    expect(unknown.UnknownIpPermissions?.[0]?.FromPort).toBe(22);

    // by rule id
    const https = rules.SecurityGroupRules?.find((r) => r.FromPort === 443)?.SecurityGroupRuleId ?? '';
    await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId: id, SecurityGroupRuleIds: [https] }));
    const none = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }));
    expect(none.SecurityGroups?.[0]?.IpPermissions).toEqual([]);

    await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: [{ Key: 'owner', Value: 'me' }] }));
    await ec2.send(new DeleteTagsCommand({ Resources: [id], Tags: [{ Key: 'app' }] }));
    const tagged = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }));
    expect(tagged.SecurityGroups?.[0]?.Tags).toEqual([{ Key: 'owner', Value: 'me' }]);

    await ec2.send(new DeleteSecurityGroupCommand({ GroupId: id }));
    const gone = await errorOf(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] })));
    expect(gone.name).toBe('InvalidGroup.NotFound');
  });

  it('answers EC2 error codes the SDK exposes by name', async () => {
    const ec2 = new EC2Client(sb.clientConfig);
    expect((await errorOf(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['nope'] })))).name).toBe(
      'InvalidGroupId.Malformed',
    );
    expect(
      (await errorOf(ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-0123456789abcdef0'] }))))
        .name,
    ).toBe('InvalidGroup.NotFound');
    expect(
      (
        await errorOf(
          ec2.send(
            new CreateSecurityGroupCommand({ GroupName: 'x', Description: undefined as unknown as string }),
          ),
        )
      ).name,
    ).toBe('MissingParameter');
    await ec2.send(new CreateSecurityGroupCommand({ GroupName: 'twice', Description: 'd' }));
    expect(
      (await errorOf(ec2.send(new CreateSecurityGroupCommand({ GroupName: 'twice', Description: 'd' }))))
        .name,
    ).toBe('InvalidGroup.Duplicate');
    expect(
      (
        await errorOf(
          ec2.send(
            new DescribeSecurityGroupsCommand({ Filters: [{ Name: 'no-such-filter', Values: ['x'] }] }),
          ),
        )
      ).name,
    ).toBe('InvalidParameterValue');
    // outside the default VPC, revoking a rule that does not exist fails and revokes nothing
    const other = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'app', Description: 'd', VpcId: 'vpc-0123456789abcdef0' }),
    );
    const egress = await ec2.send(
      new AuthorizeSecurityGroupEgressCommand({
        GroupId: other.GroupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, IpRanges: [{ CidrIp: '10.2.0.0/16' }] },
        ],
      }),
    );
    expect(egress.SecurityGroupRules?.[0]?.IsEgress).toBe(true);
    const notFound = await errorOf(
      ec2.send(
        new RevokeSecurityGroupEgressCommand({
          GroupId: other.GroupId,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 5432, ToPort: 5432, IpRanges: [{ CidrIp: '10.2.0.0/16' }] },
            { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
          ],
        }),
      ),
    );
    expect(notFound.name).toBe('InvalidPermission.NotFound');
    const still = await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [other.GroupId ?? ''] }));
    expect(still.SecurityGroups?.[0]?.IpPermissionsEgress?.map((p) => p.FromPort)).toContain(5432);
  });
});

describe('S3 bucket settings through S3Client', () => {
  it('creates a bucket with default encryption and public access block, then changes every setting', async () => {
    const s3 = new S3Client({ ...sb.clientConfig, forcePathStyle: true });
    await s3.send(
      new CreateBucketCommand({
        Bucket: 'data-bucket',
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    const head = await s3.send(new HeadBucketCommand({ Bucket: 'data-bucket' }));
    expect(head.BucketRegion).toBe('eu-west-1');
    const list = await s3.send(new ListBucketsCommand({}));
    expect(list.Buckets?.map((b) => b.Name)).toContain('data-bucket');
    expect(list.Buckets?.[0]?.CreationDate).toBeInstanceOf(Date);

    const enc = await s3.send(new GetBucketEncryptionCommand({ Bucket: 'data-bucket' }));
    expect(
      enc.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm,
    ).toBe('AES256');
    await s3.send(new DeleteBucketEncryptionCommand({ Bucket: 'data-bucket' }));
    const noEnc = await errorOf(s3.send(new GetBucketEncryptionCommand({ Bucket: 'data-bucket' })));
    expect(noEnc).toBeInstanceOf(S3ServiceException);
    expect(noEnc.name).toBe('ServerSideEncryptionConfigurationNotFoundError');
    await s3.send(
      new PutBucketEncryptionCommand({
        Bucket: 'data-bucket',
        ServerSideEncryptionConfiguration: {
          Rules: [
            {
              ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/data' },
              BucketKeyEnabled: true,
            },
          ],
        },
      }),
    );
    const kms = await s3.send(new GetBucketEncryptionCommand({ Bucket: 'data-bucket' }));
    expect(kms.ServerSideEncryptionConfiguration?.Rules).toEqual([
      {
        ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: 'alias/data' },
        BucketKeyEnabled: true,
      },
    ]);

    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'data-bucket' }))).Status).toBeUndefined();
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: 'data-bucket',
        VersioningConfiguration: { Status: 'Enabled' },
      }),
    );
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'data-bucket' }))).Status).toBe('Enabled');

    const pab = await s3.send(new GetPublicAccessBlockCommand({ Bucket: 'data-bucket' }));
    expect(pab.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
    await s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: 'data-bucket',
        PublicAccessBlockConfiguration: { BlockPublicAcls: false, BlockPublicPolicy: true },
      }),
    );
    const pab2 = await s3.send(new GetPublicAccessBlockCommand({ Bucket: 'data-bucket' }));
    expect(pab2.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: false,
      IgnorePublicAcls: false,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: false,
    });
    await s3.send(new DeletePublicAccessBlockCommand({ Bucket: 'data-bucket' }));
    expect((await errorOf(s3.send(new GetPublicAccessBlockCommand({ Bucket: 'data-bucket' })))).name).toBe(
      'NoSuchPublicAccessBlockConfiguration',
    );

    expect((await errorOf(s3.send(new GetBucketTaggingCommand({ Bucket: 'data-bucket' })))).name).toBe(
      'NoSuchTagSet',
    );
    await s3.send(
      new PutBucketTaggingCommand({
        Bucket: 'data-bucket',
        Tagging: {
          TagSet: [
            { Key: 'app', Value: 'demo' },
            { Key: 'tier', Value: 'data' },
          ],
        },
      }),
    );
    expect((await s3.send(new GetBucketTaggingCommand({ Bucket: 'data-bucket' }))).TagSet).toEqual([
      { Key: 'app', Value: 'demo' },
      { Key: 'tier', Value: 'data' },
    ]);
    await s3.send(new DeleteBucketTaggingCommand({ Bucket: 'data-bucket' }));
    expect((await errorOf(s3.send(new GetBucketTaggingCommand({ Bucket: 'data-bucket' })))).name).toBe(
      'NoSuchTagSet',
    );

    const again = await errorOf(
      s3.send(
        new CreateBucketCommand({
          Bucket: 'data-bucket',
          CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
        }),
      ),
    );
    expect(again).toBeInstanceOf(BucketAlreadyOwnedByYou);

    await s3.send(new DeleteBucketCommand({ Bucket: 'data-bucket' }));
    expect(await errorOf(s3.send(new GetBucketVersioningCommand({ Bucket: 'data-bucket' })))).toBeInstanceOf(
      NoSuchBucket,
    );
    const headGone = await errorOf(s3.send(new HeadBucketCommand({ Bucket: 'data-bucket' })));
    expect(headGone).toBeInstanceOf(NotFound);
  });

  it('rejects invalid settings with S3 error codes', async () => {
    const s3 = new S3Client({ ...sb.clientConfig, forcePathStyle: true });
    expect(
      (
        await errorOf(
          s3.send(
            new CreateBucketCommand({
              Bucket: 'Bad_Name',
              CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
            }),
          ),
        )
      ).name,
    ).toBe('InvalidBucketName');
    await s3.send(
      new CreateBucketCommand({
        Bucket: 'other-bucket',
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    const bad = await errorOf(
      s3.send(
        new PutBucketVersioningCommand({
          Bucket: 'other-bucket',
          VersioningConfiguration: { Status: 'Sometimes' as 'Enabled' },
        }),
      ),
    );
    expect(bad.name).toBe('MalformedXML');
    const wrongRegion = await errorOf(
      s3.send(
        new CreateBucketCommand({
          Bucket: 'third-bucket',
          CreateBucketConfiguration: { LocationConstraint: 'us-west-2' },
        }),
      ),
    );
    expect(wrongRegion.name).toBe('IllegalLocationConstraintException');
  });
});
