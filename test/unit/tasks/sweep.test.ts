import 'aws-sdk-client-mock-vitest/extend';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import {
  ConfigServiceClient,
  type EvaluationResult,
  GetComplianceDetailsByConfigRuleCommand,
} from '@aws-sdk/client-config-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { beforeEach, describe, expect, it } from 'vitest';
import { processMessage } from '../../../tasks/intake/core';
import { RemediationEvent } from '../../../tasks/shared/contracts';
import { InvalidInputError, TransientServiceError } from '../../../tasks/shared/errors';
import { executionName } from '../../../tasks/shared/execution-name';
import { parseRuleList, SWEEP_SOURCE, type SweepDeps, sweep } from '../../../tasks/sweep/core';
import { accountOf, handler } from '../../../tasks/sweep/handler';
import { ACCOUNT, awsError, configEvent, REGION, testPolicy } from './fixtures/core-tasks';

const config = mockClient(ConfigServiceClient);
const sqs = mockClient(SQSClient);
const QUEUE = `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/drift-remediation-intake`;
const NOW = new Date('2026-11-23T12:00:00Z');

const deps = (o: Partial<SweepDeps> = {}): SweepDeps => ({
  config: new ConfigServiceClient({ region: REGION }),
  sqs: new SQSClient({ region: REGION }),
  queueUrl: QUEUE,
  configRules: ['restricted-ssh', 's3-bucket-versioning-enabled'],
  accountId: ACCOUNT,
  region: REGION,
  now: () => NOW,
  ...o,
});

function result(
  rule: string,
  id: string,
  type = 'AWS::EC2::SecurityGroup',
  at = '2026-11-23T10:00:00.000Z',
): EvaluationResult {
  return {
    EvaluationResultIdentifier: {
      EvaluationResultQualifier: { ConfigRuleName: rule, ResourceType: type, ResourceId: id },
      OrderingTimestamp: new Date(at),
    },
    ComplianceType: 'NON_COMPLIANT',
    ResultRecordedTime: new Date('2026-11-23T10:00:01Z'),
  };
}
const sgs = (n: number, offset = 0) =>
  Array.from({ length: n }, (_, i) =>
    result('restricted-ssh', `sg-${(offset + i).toString(16).padStart(17, '0')}`),
  );

const sentBodies = () =>
  sqs
    .commandCalls(SendMessageBatchCommand)
    .flatMap((c) => (c.args[0].input.Entries ?? []).map((e) => JSON.parse(e.MessageBody ?? '{}')));

beforeEach(() => {
  config.reset();
  sqs.reset();
  sqs.on(SendMessageBatchCommand).callsFake((input: { Entries: Array<{ Id: string }> }) => ({
    Successful: input.Entries.map((e) => ({ Id: e.Id, MessageId: `m-${e.Id}`, MD5OfMessageBody: 'x' })),
    Failed: [],
  }));
});

describe('sweep', () => {
  it('pages through every rule and sends sweep envelopes, 10 per batch', async () => {
    config
      .on(GetComplianceDetailsByConfigRuleCommand, { ConfigRuleName: 'restricted-ssh' })
      .resolvesOnce({ EvaluationResults: sgs(8), NextToken: 'p2' })
      .resolvesOnce({ EvaluationResults: sgs(4, 8) });
    config
      .on(GetComplianceDetailsByConfigRuleCommand, { ConfigRuleName: 's3-bucket-versioning-enabled' })
      .resolves({
        EvaluationResults: [result('s3-bucket-versioning-enabled', 'my-bucket', 'AWS::S3::Bucket')],
      });

    const r = await sweep({}, deps());
    expect(r).toEqual({ rules: 2, found: 13, sent: 13, failed: 0, missingRules: [] });
    expect(config).toHaveReceivedCommandWith(GetComplianceDetailsByConfigRuleCommand, {
      ConfigRuleName: 'restricted-ssh',
      ComplianceTypes: ['NON_COMPLIANT'],
    });
    expect(config).toHaveReceivedCommandWith(GetComplianceDetailsByConfigRuleCommand, { NextToken: 'p2' });
    const calls = sqs.commandCalls(SendMessageBatchCommand);
    expect(calls.map((c) => c.args[0].input.Entries?.length)).toEqual([10, 3]);
    expect(calls[0]?.args[0].input.QueueUrl).toBe(QUEUE);
    const bodies = sentBodies();
    for (const b of bodies) {
      expect(b.source).toBe(SWEEP_SOURCE);
      expect(v.safeParse(RemediationEvent, b.detail).success).toBe(true);
    }
    expect(bodies[12].detail).toEqual({
      eventId: expect.stringMatching(/^sweep-s3-bucket-versio-Bucket-\d{12}-[a-z0-9]+-[0-9a-f]{26}$/),
      source: 'sweep',
      configRuleName: 's3-bucket-versioning-enabled',
      resourceType: 'AWS::S3::Bucket',
      resourceId: 'my-bucket',
      awsAccountId: ACCOUNT,
      awsRegion: REGION,
      complianceType: 'NON_COMPLIANT',
      orderingTimestamp: '2026-11-23T10:00:00.000Z',
    });
  });

  it('a sweep re-find goes through intake to the same execution name as the original Config event', async () => {
    config
      .on(GetComplianceDetailsByConfigRuleCommand)
      .resolves({ EvaluationResults: [result('restricted-ssh', configEvent().resourceId)] });
    await sweep({ configRules: ['restricted-ssh'] }, deps());
    const body = sqs.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.Entries?.[0]?.MessageBody ?? '';

    const sfn = mockClient(SFNClient);
    const ddbDoc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: REGION }));
    const ddb = mockClient(ddbDoc);
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x', startDate: NOW });
    sfn
      .on(DescribeExecutionCommand)
      .rejects(Object.assign(new Error('none'), { name: 'ExecutionDoesNotExist' }));
    ddb.on(PutCommand).resolves({});
    ddb.on(GetCommand).resolves({});
    const [outcome] = await processMessage(body, 'm-1', {
      sfn: new SFNClient({ region: REGION }),
      config: new ConfigServiceClient({ region: REGION }),
      ddb: ddbDoc,
      cloudFormation: new CloudFormationClient({ region: REGION }),
      policy: testPolicy(),
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:sm',
      orderingTable: 'ordering',
      outcomesTable: 'outcomes',
      now: () => NOW,
    });
    expect(outcome).toMatchObject({ status: 'started', executionName: executionName(configEvent()) });
    sfn.restore();
    ddb.restore();
  });

  it('retries entries that failed for a service reason; counts sender faults as failed without retrying', async () => {
    config.on(GetComplianceDetailsByConfigRuleCommand).resolves({ EvaluationResults: sgs(3) });
    sqs
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: '0', MessageId: 'a', MD5OfMessageBody: 'x' }],
        Failed: [
          { Id: '1', SenderFault: false, Code: 'InternalError' },
          { Id: '2', SenderFault: true, Code: 'InvalidMessageContents' },
        ],
      })
      .resolves({ Successful: [{ Id: '1', MessageId: 'b', MD5OfMessageBody: 'x' }], Failed: [] });
    const r = await sweep({ configRules: ['restricted-ssh'] }, deps());
    expect(r).toMatchObject({ found: 3, sent: 2, failed: 1 });
    expect(sqs).toHaveReceivedCommandTimes(SendMessageBatchCommand, 2);
    expect(sqs.commandCalls(SendMessageBatchCommand)[1]?.args[0].input.Entries?.map((e) => e.Id)).toEqual([
      '1',
    ]);
  });

  it('entries still failing after the last attempt → TransientServiceError (the sweep is safe to rerun)', async () => {
    config.on(GetComplianceDetailsByConfigRuleCommand).resolves({ EvaluationResults: sgs(1) });
    sqs
      .on(SendMessageBatchCommand)
      .resolves({ Successful: [], Failed: [{ Id: '0', SenderFault: false, Code: 'ServiceUnavailable' }] });
    await expect(
      sweep({ configRules: ['restricted-ssh'] }, deps({ maxSendAttempts: 2 })),
    ).rejects.toBeInstanceOf(TransientServiceError);
    expect(sqs).toHaveReceivedCommandTimes(SendMessageBatchCommand, 2);
  });

  it('a rule that does not exist is reported and the others still swept', async () => {
    config
      .on(GetComplianceDetailsByConfigRuleCommand, { ConfigRuleName: 'restricted-ssh' })
      .rejects(awsError('NoSuchConfigRuleException'));
    config
      .on(GetComplianceDetailsByConfigRuleCommand, { ConfigRuleName: 's3-bucket-versioning-enabled' })
      .resolves({
        EvaluationResults: [result('s3-bucket-versioning-enabled', 'my-bucket', 'AWS::S3::Bucket')],
      });
    const r = await sweep({}, deps());
    expect(r).toEqual({ rules: 2, found: 1, sent: 1, failed: 0, missingRules: ['restricted-ssh'] });
  });

  it('Config throttling → TransientServiceError; nothing found → nothing sent', async () => {
    config.on(GetComplianceDetailsByConfigRuleCommand).rejects(awsError('ThrottlingException'));
    await expect(sweep({}, deps())).rejects.toMatchObject({ name: 'TransientServiceError' });
    config.on(GetComplianceDetailsByConfigRuleCommand).resolves({ EvaluationResults: [] });
    expect(await sweep({}, deps())).toEqual({ rules: 2, found: 0, sent: 0, failed: 0, missingRules: [] });
    expect(sqs).not.toHaveReceivedCommand(SendMessageBatchCommand);
  });

  it('results missing their qualifier or timestamp are ignored', async () => {
    config.on(GetComplianceDetailsByConfigRuleCommand).resolves({
      EvaluationResults: [
        { ComplianceType: 'NON_COMPLIANT' },
        {
          ...result('restricted-ssh', 'sg-0123456789abcdef0'),
          ResultRecordedTime: undefined,
          EvaluationResultIdentifier: {
            EvaluationResultQualifier: {
              ConfigRuleName: 'restricted-ssh',
              ResourceType: 'AWS::EC2::SecurityGroup',
              ResourceId: 'sg-0123456789abcdef0',
            },
          },
        },
      ],
    });
    expect((await sweep({ configRules: ['restricted-ssh'] }, deps())).found).toBe(0);
  });

  it('handler: an invalid rule name in the input → InvalidInputError, nothing sent', async () => {
    await expect(handler({ configRules: ['no spaces allowed'] })).rejects.toBeInstanceOf(InvalidInputError);
    expect(config).not.toHaveReceivedCommand(GetComplianceDetailsByConfigRuleCommand);
    expect(sqs).not.toHaveReceivedCommand(SendMessageBatchCommand);
  });
});

describe('sweep helpers', () => {
  it('parses CONFIG_RULES', () => {
    expect(parseRuleList(' a, b ,c  d ')).toEqual(['a', 'b', 'c', 'd']);
    expect(parseRuleList(undefined)).toEqual([]);
  });
  it('finds the account from the function ARN, else the queue URL', () => {
    const ctx = { invokedFunctionArn: 'arn:aws:lambda:eu-west-1:210987654321:function:sweep' } as Context;
    expect(accountOf(ctx, QUEUE)).toBe('210987654321');
    expect(accountOf(undefined, QUEUE)).toBe(ACCOUNT);
    expect(() => accountOf(undefined, 'http://localhost/queue')).toThrow(/account id/);
  });
});
