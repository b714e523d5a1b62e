/**
 * aws:executeScript runs as the automation's AutomationAssumeRole: the Python script's boto3 calls are signed
 * with that role session's credentials (minted by the sandbox IAM), so IAM allows or refuses them as it would
 * any call of the role. A role without `s3:PutBucketVersioning` fails the script step with S3's AccessDenied,
 * naming the role session and the action, and the bucket is unchanged; the same document with a role that has
 * it succeeds.
 */
import { readFileSync } from 'node:fs';
import { CreateBucketCommand, GetBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import {
  type AutomationExecution,
  CreateDocumentCommand,
  SSMClient,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { iamService } from '../../../sandbox/services/iam';
import { s3Service } from '../../../sandbox/services/s3';
import { ssmService } from '../../../sandbox/services/ssm';
import { stsService } from '../../../sandbox/services/sts';
import { role } from '../core/iam-support';
import { withSandbox } from '../helpers';
import { automationIn } from './automation-support';

const sb = withSandbox(() => ({
  services: [ssmService(), s3Service(), iamService(), stsService()],
  timeScale: 0.001,
}));
const FIXTURE = readFileSync('test/sandbox/ssm/fixtures/ScriptEnableBucketVersioning.yaml', 'utf8');

async function run(ssm: SSMClient, roleArn: string, bucket: string): Promise<AutomationExecution> {
  const { AutomationExecutionId } = await ssm.send(
    new StartAutomationExecutionCommand({
      DocumentName: 'Test-ScriptAsRole',
      Parameters: { AutomationAssumeRole: [roleArn], BucketName: [bucket] },
    }),
  );
  return automationIn(ssm, String(AutomationExecutionId));
}

describe('aws:executeScript signs as the automation’s role session', () => {
  it('a role without the script’s action fails the step with AccessDenied; one with it succeeds', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const s3 = new S3Client({ ...sb.clientConfig, forcePathStyle: true });
    await ssm.send(
      new CreateDocumentCommand({ Name: 'Test-ScriptAsRole', Content: FIXTURE, DocumentType: 'Automation' }),
    );
    for (const b of ['script-read-only', 'script-read-write'])
      await s3.send(new CreateBucketCommand({ Bucket: b }));
    const readOnly = await role(
      sb,
      'script-read-only',
      [{ Effect: 'Allow', Action: 's3:GetBucketVersioning', Resource: '*' }],
      'ssm.amazonaws.com',
    );
    const readWrite = await role(
      sb,
      'script-read-write',
      [{ Effect: 'Allow', Action: ['s3:GetBucketVersioning', 's3:PutBucketVersioning'], Resource: '*' }],
      'ssm.amazonaws.com',
    );

    const denied = await run(ssm, readOnly, 'script-read-only');
    expect(denied.AutomationExecutionStatus).toBe('Failed');
    expect(denied.FailureMessage).toMatch(/AccessDenied/);
    expect(denied.FailureMessage).toMatch(
      /assumed-role\/script-read-only\/[^ ]* is not authorized to perform: s3:PutBucketVersioning/,
    );
    const untouched = await s3.send(new GetBucketVersioningCommand({ Bucket: 'script-read-only' }));
    expect(untouched.Status).toBeUndefined();

    const allowed = await run(ssm, readWrite, 'script-read-write');
    expect(allowed.FailureMessage).toBeUndefined();
    expect(allowed.AutomationExecutionStatus).toBe('Success');
    const changed = await s3.send(new GetBucketVersioningCommand({ Bucket: 'script-read-write' }));
    expect(changed.Status).toBe('Enabled');
  }, 120_000);
});
