/**
 * aws:executeScript end to end: a first-party document whose Python step changes an S3 bucket through
 * boto3 against the sandbox (real Python 3 + boto3, endpoint injected), with the real SDK v3 clients
 * for everything else. The return value reaches the outputs by Selector; an exception, a PowerShell
 * runtime and a timeout fail the step with SSM's messages.
 */
import { readFileSync } from 'node:fs';
import { CreateBucketCommand, GetBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateDocumentCommand, SSMClient, StartAutomationExecutionCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { s3Service } from '../../../sandbox/services/s3';
import { ssmService } from '../../../sandbox/services/ssm';
import { withSandbox } from '../helpers';
import { automationIn } from './automation-support';

const sb = withSandbox(() => ({ services: [ssmService(), s3Service()], timeScale: 0.001 }));
const FIXTURE = readFileSync('test/sandbox/ssm/fixtures/ScriptEnableBucketVersioning.yaml', 'utf8');

async function run(ssm: SSMClient, name: string, parameters: Record<string, string[]>) {
  const { AutomationExecutionId } = await ssm.send(
    new StartAutomationExecutionCommand({ DocumentName: name, Parameters: parameters }),
  );
  if (!AutomationExecutionId) throw new Error('no execution id');
  return automationIn(ssm, AutomationExecutionId);
}

/** The fixture with its script step changed: another runtime, or `body` (one unindented line) first in the handler. */
function variant(runtime: string, body?: string): string {
  let text = FIXTURE.replace('Runtime: python3.11', `Runtime: ${runtime}`);
  if (body)
    text = text
      .replace('timeoutSeconds: 120', 'timeoutSeconds: 1')
      .replace('if events["Fail"] == "raise":', `${body}\n            if events["Fail"] == "raise":`);
  return text;
}

describe('aws:executeScript (Python) against the sandbox', () => {
  it('changes a bucket through boto3; the return value reaches the outputs by Selector', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const s3 = new S3Client({ ...sb.clientConfig, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'script-target' }));
    await ssm.send(
      new CreateDocumentCommand({
        Name: 'Test-ScriptVersioning',
        Content: FIXTURE,
        DocumentType: 'Automation',
      }),
    );

    const e = await run(ssm, 'Test-ScriptVersioning', { BucketName: ['script-target'] });

    expect(e.FailureMessage).toBeUndefined();
    expect(e.AutomationExecutionStatus).toBe('Success');
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'script-target' }))).Status).toBe(
      'Enabled',
    );
    expect(e.Outputs?.['EnableVersioning.Status']).toEqual(['Enabled']);
    const step = e.StepExecutions?.[0];
    expect(step?.Outputs?.Status).toEqual(['Enabled']);
    expect(JSON.parse(step?.Outputs?.OutputPayload?.[0] ?? '{}')).toEqual({
      Payload: { Status: 'Enabled', Execution: e.AutomationExecutionId },
    });
  }, 90_000);

  it('an exception in the handler fails the step with the exception and SSM’s message, changing nothing', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const s3 = new S3Client({ ...sb.clientConfig, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'script-untouched' }));
    await ssm.send(
      new CreateDocumentCommand({ Name: 'Test-ScriptRaise', Content: FIXTURE, DocumentType: 'Automation' }),
    );

    const e = await run(ssm, 'Test-ScriptRaise', { BucketName: ['script-untouched'], Fail: ['raise'] });

    expect(e.AutomationExecutionStatus).toBe('Failed');
    expect(e.FailureMessage).toMatch(
      /^Step EnableVersioning \(aws:executeScript\) failed: Step fails when it is Execute\/Cancelling action\. Traceback[\s\S]*ValueError: refusing bucket script-untouched[\s\S]*Please refer to Automation Service Troubleshooting Guide/,
    );
    expect(
      (await s3.send(new GetBucketVersioningCommand({ Bucket: 'script-untouched' }))).Status,
    ).toBeUndefined();
  }, 90_000);

  it('a PowerShell runtime fails that automation with a message naming it', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    await ssm.send(
      new CreateDocumentCommand({
        Name: 'Test-ScriptPwsh',
        Content: variant('PowerShell 7.4'),
        DocumentType: 'Automation',
      }),
    );
    const e = await run(ssm, 'Test-ScriptPwsh', { BucketName: ['script-target'] });
    expect(e.AutomationExecutionStatus).toBe('Failed');
    expect(e.FailureMessage).toMatch(/Runtime PowerShell 7\.4 is not supported by the sandbox/);
  }, 90_000);

  it('a script running past timeoutSeconds ends TimedOut', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    await ssm.send(
      new CreateDocumentCommand({
        Name: 'Test-ScriptSlow',
        Content: variant('python3.10', 'import time; time.sleep(30)'),
        DocumentType: 'Automation',
      }),
    );
    const e = await run(ssm, 'Test-ScriptSlow', { BucketName: ['script-target'] });
    expect(e.AutomationExecutionStatus).toBe('TimedOut');
    expect(e.StepExecutions?.[0]?.FailureMessage).toBe('Step timed out after 1 seconds');
  }, 90_000);
});
