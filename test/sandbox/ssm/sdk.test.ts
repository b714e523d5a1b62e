/**
 * SSM through the wire: the real SSMClient (awsJson1.1) against the in-process sandbox. Response
 * shapes parse in the SDK (dates, maps, lists), documented errors come back as the SDK's typed
 * exceptions, and a first-party runbook runs end to end against the sandbox's S3.
 */

import { readFileSync } from 'node:fs';
import { CreateBucketCommand, GetBucketVersioningCommand, S3Client } from '@aws-sdk/client-s3';
import {
  AutomationDefinitionNotFoundException,
  CreateDocumentCommand,
  DescribeAutomationExecutionsCommand,
  DescribeDocumentCommand,
  DocumentAlreadyExists,
  GetAutomationExecutionCommand,
  GetDocumentCommand,
  IdempotentParameterMismatch,
  InvalidAutomationExecutionParametersException,
  InvalidDocumentContent,
  ListDocumentsCommand,
  SSMClient,
  StartAutomationExecutionCommand,
  StopAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { s3Service } from '../../../sandbox/services/s3';
import { ssmService } from '../../../sandbox/services/ssm';
import { withSandbox } from '../helpers';
import { automationIn } from './automation-support';

const sb = withSandbox(() => ({ services: [ssmService(), s3Service()], timeScale: 0.001 }));
const ROLE = 'arn:aws:iam::000000000000:role/automation';
const RUNBOOK = 'DriftRemediation-EnableS3BucketVersioning';

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected an error');
}

describe('SSM over the wire with the real SSMClient', () => {
  it('creates, gets, describes and lists a runbook document', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const content = readFileSync(`runbooks/${RUNBOOK}.yaml`, 'utf8');
    const created = await ssm.send(
      new CreateDocumentCommand({
        Name: RUNBOOK,
        Content: content,
        DocumentType: 'Automation',
        DocumentFormat: 'YAML',
      }),
    );
    expect(created.DocumentDescription?.CreatedDate).toBeInstanceOf(Date);
    expect(created.DocumentDescription?.Parameters?.map((p) => p.Name)).toEqual([
      'AutomationAssumeRole',
      'BucketName',
    ]);
    const got = await ssm.send(new GetDocumentCommand({ Name: RUNBOOK }));
    expect(got).toMatchObject({
      Name: RUNBOOK,
      Content: content,
      DocumentType: 'Automation',
      DocumentFormat: 'YAML',
      DocumentVersion: '1',
    });
    const described = await ssm.send(new DescribeDocumentCommand({ Name: RUNBOOK }));
    expect(described.Document).toMatchObject({ Name: RUNBOOK, SchemaVersion: '0.3', Status: 'Active' });
    const listed = await ssm.send(
      new ListDocumentsCommand({ Filters: [{ Key: 'Name', Values: ['DriftRemediation-'] }] }),
    );
    expect(listed.DocumentIdentifiers?.map((d) => d.Name)).toContain(RUNBOOK);

    expect(
      await errorOf(
        ssm.send(new CreateDocumentCommand({ Name: RUNBOOK, Content: content, DocumentType: 'Automation' })),
      ),
    ).toBeInstanceOf(DocumentAlreadyExists);
    expect(
      await errorOf(
        ssm.send(
          new CreateDocumentCommand({
            Name: 'Broken-1',
            Content: "schemaVersion: '0.3'\nmainSteps: 7",
            DocumentType: 'Automation',
          }),
        ),
      ),
    ).toBeInstanceOf(InvalidDocumentContent);
  });

  it('runs the runbook against the sandbox S3 and reports steps, times and outputs', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const s3 = new S3Client({ ...sb.clientConfig, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'ssm-sdk-bucket' }));
    const { AutomationExecutionId: id } = await ssm.send(
      new StartAutomationExecutionCommand({
        DocumentName: RUNBOOK,
        Parameters: { AutomationAssumeRole: [ROLE], BucketName: ['ssm-sdk-bucket'] },
        ClientToken: '6f1f2a8e-3d1b-4c1e-9a55-0d6a4f1f0b01',
      }),
    );
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const e = await automationIn(ssm, id ?? '', ['Success', 'Failed', 'TimedOut', 'Cancelled'], {
      tries: 500,
      everyMs: 5,
    });
    expect(e.AutomationExecutionStatus).toBe('Success');
    expect(e.ExecutionStartTime).toBeInstanceOf(Date);
    expect(e.ExecutionEndTime).toBeInstanceOf(Date);
    expect(e.StepExecutions?.map((s) => [s.StepName, s.StepStatus])).toEqual([
      ['EnableVersioning', 'Success'],
      ['VerifyVersioningEnabled', 'Success'],
    ]);
    expect(e.Parameters).toEqual({ AutomationAssumeRole: [ROLE], BucketName: ['ssm-sdk-bucket'] });
    expect((await s3.send(new GetBucketVersioningCommand({ Bucket: 'ssm-sdk-bucket' }))).Status).toBe(
      'Enabled',
    );

    const again = await ssm.send(
      new StartAutomationExecutionCommand({
        DocumentName: RUNBOOK,
        Parameters: { AutomationAssumeRole: [ROLE], BucketName: ['ssm-sdk-bucket'] },
        ClientToken: '6f1f2a8e-3d1b-4c1e-9a55-0d6a4f1f0b01',
      }),
    );
    expect(again.AutomationExecutionId).toBe(id);

    const listed = await ssm.send(
      new DescribeAutomationExecutionsCommand({
        Filters: [{ Key: 'DocumentNamePrefix', Values: ['DriftRemediation-Enable'] }],
      }),
    );
    expect(listed.AutomationExecutionMetadataList?.[0]).toMatchObject({
      AutomationExecutionId: id,
      AutomationExecutionStatus: 'Success',
    });
    expect(listed.AutomationExecutionMetadataList?.[0]?.ExecutionStartTime).toBeInstanceOf(Date);
  });

  it('a failed verification is a Failed automation with the reason', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const { AutomationExecutionId: id } = await ssm.send(
      new StartAutomationExecutionCommand({
        DocumentName: RUNBOOK,
        Parameters: { AutomationAssumeRole: [ROLE], BucketName: ['no-such-bucket-here'] },
      }),
    );
    const e = await automationIn(ssm, id ?? '', ['Success', 'Failed'], { tries: 500, everyMs: 5 });
    expect(e.AutomationExecutionStatus).toBe('Failed');
    expect(e.FailureMessage).toMatch(/NoSuchBucket/);
  });

  it('durations run on the sandbox clock: a 300-second sleep takes ~300 ms at time scale 0.001, without blocking', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const content =
      "schemaVersion: '0.3'\nmainSteps:\n  - name: Nap\n    action: aws:sleep\n    inputs: { Duration: PT300S }\n";
    await ssm.send(
      new CreateDocumentCommand({ Name: 'Sleep-30', Content: content, DocumentType: 'Automation' }),
    );
    const t0 = Date.now();
    const { AutomationExecutionId: id } = await ssm.send(
      new StartAutomationExecutionCommand({ DocumentName: 'Sleep-30' }),
    );
    const during = await ssm.send(new GetAutomationExecutionCommand({ AutomationExecutionId: id }));
    expect(during.AutomationExecution?.AutomationExecutionStatus).toBe('InProgress');
    expect(during.AutomationExecution?.CurrentStepName).toBe('Nap');
    const e = await automationIn(ssm, id ?? '', ['Success', 'Failed'], { tries: 500, everyMs: 5 });
    const elapsed = Date.now() - t0;
    expect(e.AutomationExecutionStatus).toBe('Success');
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(5000);
  });

  it('documented errors arrive as the SDK typed exceptions', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const bad = await errorOf(
      ssm.send(
        new StartAutomationExecutionCommand({
          DocumentName: RUNBOOK,
          Parameters: { AutomationAssumeRole: [ROLE], BucketName: ['Bad_Bucket!'] },
        }),
      ),
    );
    expect(bad).toBeInstanceOf(InvalidAutomationExecutionParametersException);
    expect(bad.message).toMatch(/BucketName/);
    expect(
      await errorOf(
        ssm.send(new StartAutomationExecutionCommand({ DocumentName: 'DriftRemediation-Missing' })),
      ),
    ).toBeInstanceOf(AutomationDefinitionNotFoundException);
    const token = '6f1f2a8e-3d1b-4c1e-9a55-0d6a4f1f0b02';
    await ssm.send(
      new StartAutomationExecutionCommand({
        DocumentName: RUNBOOK,
        Parameters: { AutomationAssumeRole: [ROLE], BucketName: ['ssm-sdk-bucket'] },
        ClientToken: token,
      }),
    );
    expect(
      await errorOf(
        ssm.send(
          new StartAutomationExecutionCommand({
            DocumentName: RUNBOOK,
            Parameters: { AutomationAssumeRole: [ROLE], BucketName: ['other-bucket'] },
            ClientToken: token,
          }),
        ),
      ),
    ).toBeInstanceOf(IdempotentParameterMismatch);
    const stop = await errorOf(
      ssm.send(
        new StopAutomationExecutionCommand({ AutomationExecutionId: '6f1f2a8e-3d1b-4c1e-9a55-0d6a4f1f0b09' }),
      ),
    );
    expect(stop.name).toBe('AutomationExecutionNotFoundException');
  });
});
