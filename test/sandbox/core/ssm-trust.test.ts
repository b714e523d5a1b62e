/**
 * SSM Automation assumes a document's AutomationAssumeRole as `ssm.amazonaws.com`: the role must exist and
 * its trust policy admit SSM with the execution's account and ARN (aws:SourceAccount / aws:SourceArn). A role
 * that does not is no refusal at StartAutomationExecution — the execution fails before its first step with
 * AWS's "The defined assume role is unable to be assumed.", nothing changed, the reason in the sandbox log.
 */
import { CreateBucketCommand, GetBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import {
  CreateDocumentCommand,
  GetAutomationExecutionCommand,
  SSMClient,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { iamService } from '../../../sandbox/services/iam';
import { s3Service } from '../../../sandbox/services/s3';
import { ssmService } from '../../../sandbox/services/ssm';
import { stsService } from '../../../sandbox/services/sts';
import { withSandbox } from '../helpers';
import { role } from './iam-support';

const ACCOUNT = '000000000000';
const sb = withSandbox(() => ({
  services: [ssmService(), s3Service(), iamService(), stsService()],
  timeScale: 0.001,
}));
const ENABLE_VERSIONING = {
  Effect: 'Allow',
  Action: ['s3:PutBucketVersioning', 's3:GetBucketVersioning'],
  Resource: '*',
};
const DOCUMENT = JSON.stringify({
  schemaVersion: '0.3',
  assumeRole: '{{ AutomationAssumeRole }}',
  parameters: { AutomationAssumeRole: { type: 'String' }, BucketName: { type: 'String' } },
  mainSteps: [
    {
      name: 'enable',
      action: 'aws:executeAwsApi',
      inputs: {
        Service: 's3',
        Api: 'PutBucketVersioning',
        Bucket: '{{ BucketName }}',
        VersioningConfiguration: { Status: 'Enabled' },
      },
    },
  ],
});

async function run(ssm: SSMClient, roleArn: string, bucket: string) {
  const { AutomationExecutionId } = await ssm.send(
    new StartAutomationExecutionCommand({
      DocumentName: 'Team-EnableVersioning',
      Parameters: { AutomationAssumeRole: [roleArn], BucketName: [bucket] },
    }),
  );
  for (let i = 0; i < 400; i++) {
    const out = await ssm.send(new GetAutomationExecutionCommand({ AutomationExecutionId }));
    const e = out.AutomationExecution;
    if (e && ['Success', 'Failed', 'TimedOut', 'Cancelled'].includes(e.AutomationExecutionStatus ?? ''))
      return e;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`automation ${AutomationExecutionId} did not end`);
}

async function versioning(s3: S3Client, bucket: string) {
  return (await s3.send(new GetBucketVersioningCommand({ Bucket: bucket }))).Status;
}

describe('SSM Automation assumes the AutomationAssumeRole only where it trusts SSM', () => {
  it('runs as a role trusting ssm.amazonaws.com; fails a role that trusts another service or is missing', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const s3 = new S3Client({ ...sb.clientConfig, forcePathStyle: true });
    await ssm.send(
      new CreateDocumentCommand({
        Name: 'Team-EnableVersioning',
        Content: DOCUMENT,
        DocumentType: 'Automation',
      }),
    );
    for (const b of ['trusted-bucket', 'lambda-role-bucket', 'missing-role-bucket'])
      await s3.send(new CreateBucketCommand({ Bucket: b }));
    const trusted = await role(sb, 'ssm-automation', [ENABLE_VERSIONING], 'ssm.amazonaws.com');
    const lambdaRole = await role(sb, 'lambda-only', [ENABLE_VERSIONING], 'lambda.amazonaws.com');

    const ok = await run(ssm, trusted, 'trusted-bucket');
    expect(ok.AutomationExecutionStatus).toBe('Success');
    expect(await versioning(s3, 'trusted-bucket')).toBe('Enabled');

    for (const [roleArn, bucket] of [
      [lambdaRole, 'lambda-role-bucket'],
      [`arn:aws:iam::${ACCOUNT}:role/no-such-role`, 'missing-role-bucket'],
    ] as const) {
      const failed = await run(ssm, roleArn, bucket);
      expect(failed.AutomationExecutionStatus).toBe('Failed');
      expect(failed.FailureMessage).toBe('The defined assume role is unable to be assumed.');
      expect(failed.StepExecutions).toEqual([]);
      expect(await versioning(s3, bucket)).toBeUndefined();
      expect(sb.sandbox.logs.some((l) => l.includes(`cannot assume ${roleArn}`))).toBe(true);
    }
  });

  it('evaluates the trust policy with the execution as aws:SourceArn and the account as aws:SourceAccount', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const s3 = new S3Client({ ...sb.clientConfig, forcePathStyle: true });
    const iamTrust = (account: string) => ({
      StringEquals: { 'aws:SourceAccount': account },
      ArnLike: { 'aws:SourceArn': `arn:aws:ssm:us-east-1:${account}:automation-execution/*` },
    });
    for (const [name, account] of [
      ['ssm-this-account', ACCOUNT],
      ['ssm-other-account', '999999999999'],
    ] as const) {
      await s3.send(new CreateBucketCommand({ Bucket: `${name}-bucket` }));
      const arn = await role(sb, name, [ENABLE_VERSIONING], 'ssm.amazonaws.com');
      await sb.sandbox.context.call('iam', 'UpdateAssumeRolePolicy', {
        RoleName: name,
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { Service: 'ssm.amazonaws.com' },
              Action: 'sts:AssumeRole',
              Condition: iamTrust(account),
            },
          ],
        }),
      });
      const e = await run(ssm, arn, `${name}-bucket`);
      expect(e.AutomationExecutionStatus).toBe(account === ACCOUNT ? 'Success' : 'Failed');
    }
  });
});
