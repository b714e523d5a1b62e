/**
 * S3 as one namespace across accounts and regions, and cross-account access to a bucket: a bucket name is
 * taken partition-wide (another account's name is BucketAlreadyExists, an owned one BucketAlreadyOwnedByYou
 * outside us-east-1's legacy answer), a request signed for another region than the bucket's is a 301
 * PermanentRedirect that SDK v3 follows with `followRegionRedirects`, and a caller from another account needs
 * its own identity policy AND the bucket policy (a denied call changes nothing). Real SDK v3 clients.
 */
import {
  CreateBucketCommand,
  DeleteBucketPolicyCommand,
  GetBucketLocationCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { credentialsFor } from '../../../sandbox/core/authz';
import { iamService } from '../../../sandbox/services/iam';
import { s3Service } from '../../../sandbox/services/s3';
import { withSandbox } from '../helpers';
import { failure, policy, role } from './iam-support';

const A = '111111111111';
const B = '222222222222';
const sb = withSandbox(() => ({
  services: [iamService(), s3Service()],
  accountId: A,
  region: 'us-east-1',
}));

/** A 12-digit access key is that account's administrator. */
const s3As = (
  credentials: { accessKeyId: string; secretAccessKey: string },
  region = 'us-east-1',
  follow = false,
) =>
  new S3Client({
    endpoint: sb.endpoint,
    region,
    credentials,
    maxAttempts: 1,
    forcePathStyle: true,
    followRegionRedirects: follow,
  });
const adminOf = (account: string, region = 'us-east-1') =>
  s3As({ accessKeyId: account, secretAccessKey: 'x' }, region);

/** A role in `account` (its administrator creates it) with `statements` as its inline policy; its client. */
async function roleIn(
  account: string,
  name: string,
  statements: object[],
): Promise<{ arn: string; s3: S3Client }> {
  const arn = await role(sb, name, statements, 'lambda.amazonaws.com', account);
  return { arn, s3: s3As(credentialsFor(sb.sandbox.context, arn, 'task')) };
}

const tags = async (bucket: string) =>
  (await adminOf(A).send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet;

describe('S3 bucket names', () => {
  it('are one namespace: another account gets BucketAlreadyExists, the owner BucketAlreadyOwnedByYou', async () => {
    await adminOf(A).send(new CreateBucketCommand({ Bucket: 'shared-name' }));
    const taken = await failure(adminOf(B).send(new CreateBucketCommand({ Bucket: 'shared-name' })));
    expect(taken).toMatchObject({ name: 'BucketAlreadyExists', status: 409 });
    expect(taken.message).toMatch(/bucket namespace is shared by all users/);
    const takenElsewhere = await failure(
      adminOf(B, 'eu-west-1').send(
        new CreateBucketCommand({
          Bucket: 'shared-name',
          CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
        }),
      ),
    );
    expect(takenElsewhere).toMatchObject({ name: 'BucketAlreadyExists', status: 409 });
    // The owner again: us-east-1's legacy 200; from another region, BucketAlreadyOwnedByYou.
    await adminOf(A).send(new CreateBucketCommand({ Bucket: 'shared-name' }));
    const owned = await failure(
      adminOf(A, 'eu-west-1').send(
        new CreateBucketCommand({
          Bucket: 'shared-name',
          CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
        }),
      ),
    );
    expect(owned).toMatchObject({ name: 'BucketAlreadyOwnedByYou', status: 409 });
    // ListBuckets: the account's own buckets in every region, never another account's.
    await adminOf(A, 'eu-west-1').send(
      new CreateBucketCommand({
        Bucket: 'a-in-europe',
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    const listed = (await adminOf(A).send(new ListBucketsCommand({}))).Buckets?.map((b) => [
      b.Name,
      b.BucketRegion,
    ]);
    expect(listed).toEqual(
      expect.arrayContaining([
        ['shared-name', 'us-east-1'],
        ['a-in-europe', 'eu-west-1'],
      ]),
    );
    expect((await adminOf(B).send(new ListBucketsCommand({}))).Buckets ?? []).toEqual([]);
  });

  it('a request signed for another region is a 301 PermanentRedirect, which followRegionRedirects follows', async () => {
    await adminOf(A, 'eu-west-1').send(
      new CreateBucketCommand({
        Bucket: 'in-eu',
        CreateBucketConfiguration: { LocationConstraint: 'eu-west-1' },
      }),
    );
    await adminOf(A, 'eu-west-1').send(
      new PutBucketTaggingCommand({ Bucket: 'in-eu', Tagging: { TagSet: [{ Key: 'k', Value: 'v' }] } }),
    );
    const redirected = await failure(adminOf(A).send(new GetBucketTaggingCommand({ Bucket: 'in-eu' })));
    expect(redirected).toMatchObject({ name: 'PermanentRedirect', status: 301 });
    const following = s3As({ accessKeyId: A, secretAccessKey: 'x' }, 'us-east-1', true);
    expect((await following.send(new GetBucketTaggingCommand({ Bucket: 'in-eu' }))).TagSet).toEqual([
      { Key: 'k', Value: 'v' },
    ]);
    expect((await following.send(new HeadBucketCommand({ Bucket: 'in-eu' }))).BucketRegion).toBe('eu-west-1');
    // GetBucketLocation answers from any region: it is how a client finds the bucket.
    expect(
      (await adminOf(A).send(new GetBucketLocationCommand({ Bucket: 'in-eu' }))).LocationConstraint,
    ).toBe('eu-west-1');
  });
});

describe('a bucket of account A, read from account B', () => {
  it("needs B's identity policy and A's bucket policy; either missing is AccessDenied and changes nothing", async () => {
    const bucket = 'a-shared-data';
    const bucketArn = `arn:aws:s3:::${bucket}`;
    await adminOf(A).send(new CreateBucketCommand({ Bucket: bucket }));
    await adminOf(A).send(
      new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [{ Key: 'team', Value: 'a' }] } }),
    );
    const reader = await roleIn(B, 'xacct-reader', [
      { Effect: 'Allow', Action: ['s3:GetBucketTagging', 's3:PutBucketTagging'], Resource: bucketArn },
    ]);
    const stranger = await roleIn(B, 'xacct-stranger', []);

    // No bucket policy: B's identity policy alone does not reach A's bucket.
    const alone = await failure(reader.s3.send(new GetBucketTaggingCommand({ Bucket: bucket })));
    expect(alone).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(alone.message).toContain(
      `User: arn:aws:sts::${B}:assumed-role/xacct-reader/task is not authorized`,
    );
    expect(alone.message).toContain(`s3:GetBucketTagging on resource: "${bucketArn}"`);
    // Nor does B's administrator.
    expect(await failure(adminOf(B).send(new GetBucketTaggingCommand({ Bucket: bucket })))).toMatchObject({
      name: 'AccessDenied',
    });

    // A's bucket policy grants B's reader read only.
    await adminOf(A).send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: policy({
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${B}:role/xacct-reader` },
          Action: 's3:GetBucketTagging',
          Resource: bucketArn,
        }),
      }),
    );
    expect((await reader.s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet).toEqual([
      { Key: 'team', Value: 'a' },
    ]);
    // What the bucket policy does not grant stays refused although B's identity allows it; nothing changes.
    const write = await failure(
      reader.s3.send(
        new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [{ Key: 'team', Value: 'b' }] } }),
      ),
    );
    expect(write).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(await tags(bucket)).toEqual([{ Key: 'team', Value: 'a' }]);

    // The bucket policy itself is the owner's: another account gets 405 even where IAM allows it.
    await adminOf(A).send(
      new PutBucketPolicyCommand({
        Bucket: bucket,
        Policy: policy({
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${B}:root` },
          Action: ['s3:GetBucketTagging', 's3:GetBucketPolicy', 's3:DeleteBucketPolicy'],
          Resource: bucketArn,
        }),
      }),
    );
    const foreignPolicy = await failure(adminOf(B).send(new GetBucketPolicyCommand({ Bucket: bucket })));
    expect(foreignPolicy).toMatchObject({ name: 'MethodNotAllowed', status: 405 });
    await failure(adminOf(B).send(new DeleteBucketPolicyCommand({ Bucket: bucket })));
    expect((await adminOf(A).send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy).toContain(
      `${B}:root`,
    );
    // The account-wide grant admits B's administrator, and B's reader (its own policy allows it).
    expect((await adminOf(B).send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet).toHaveLength(1);
    expect((await reader.s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet).toHaveLength(1);
    // A role of B that the grant covers but whose own policies allow nothing: refused.
    expect(await failure(stranger.s3.send(new GetBucketTaggingCommand({ Bucket: bucket })))).toMatchObject({
      name: 'AccessDenied',
    });
  });
});
