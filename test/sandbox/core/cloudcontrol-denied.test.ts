/**
 * Cloud Control as AWS reports a missing handler permission: CreateResource / UpdateResource /
 * DeleteResource need only their own action to be accepted and answer with an IN_PROGRESS ProgressEvent;
 * the resource handler then runs with the caller's credentials, and a handler permission the caller lacks
 * ends the request FAILED with ErrorCode AccessDenied (GetResourceRequestStatus), changing nothing. A
 * caller without cloudformation:CreateResource itself is refused at once. Real SDK v3 clients signed with
 * role-session credentials the sandbox minted.
 */
import {
  CloudControlClient,
  CreateResourceCommand,
  GetResourceRequestStatusCommand,
  type ProgressEvent,
  UpdateResourceCommand,
} from '@aws-sdk/client-cloudcontrol';
import {
  CreateBucketCommand,
  GetBucketVersioningCommand,
  ListBucketsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { cloudControlService } from '../../../sandbox/services/cloudcontrol';
import { iamService } from '../../../sandbox/services/iam';
import { resourceProviders } from '../../../sandbox/services/providers';
import { s3Service } from '../../../sandbox/services/s3';
import { withSandbox } from '../helpers';
import { actingAs, role } from './iam-support';

const sb = withSandbox(() => ({
  services: [iamService(), s3Service(), cloudControlService()],
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
