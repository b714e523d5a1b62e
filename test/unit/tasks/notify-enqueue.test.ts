/**
 * Record outcome's hand-off to the notifications queue: one message for an outcome some channel hears (the
 * notification contract, scrubbed), none for the others, and a failing SendMessage never fails the outcome.
 */
import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type RecordOutcomeDeps, recordOutcome } from '../../../tasks/record-outcome/core';
import { deliveryIdFor, NotificationMessage } from '../../../tasks/shared/notifications';
import {
  drift,
  EXEC_ARN,
  event,
  execution,
  type LocalDynamo,
  plan,
  startLocalDynamo,
} from './fixtures/late-stages';

const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/notifications';
const TOKEN = `AAAAKgAAAAIAAAAAAAAAA${'x9Q'.repeat(60)}`;

describe('record-outcome → notifications queue', () => {
  let local: LocalDynamo;
  const sns = new SNSClient({ region: 'eu-west-1' });
  const sqs = new SQSClient({ region: 'eu-west-1' });
  const sfn = new SFNClient({ region: 'eu-west-1' });
  let sfnMock: AwsClientStub<SFNClient>;
  let snsMock: AwsClientStub<SNSClient>;
  let sqsMock: AwsClientStub<SQSClient>;
  let enqueueFailures = 0;
  beforeAll(async () => {
    snsMock = mockClient(sns);
    sqsMock = mockClient(sqs);
    sfnMock = mockClient(sfn);
    sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [] });
    local = await startLocalDynamo();
    await local.createTable('outcomes', 'resourceKey', 'sk');
    await local.createTable('approvals', 'approvalId');
  });
  afterAll(async () => {
    snsMock.restore();
    sqsMock.restore();
    sfnMock.restore();
    await local.close();
  });
  beforeEach(() => {
    snsMock.reset();
    sqsMock.reset();
    snsMock.on(PublishCommand).resolves({});
    enqueueFailures = 0;
  });

  const deps = (): RecordOutcomeDeps => ({
    ddb: local.ddb,
    sns,
    sfn,
    durationScale: 1,
    outcomesTable: 'outcomes',
    approvalsTable: 'approvals',
    outcomeTopicArn: 'arn:aws:sns:eu-west-1:123456789012:outcomes',
    approvalTopicArn: 'arn:aws:sns:eu-west-1:123456789012:approvals',
    metrics: { singleMetric: () => ({ addDimension: () => undefined, addMetric: () => undefined }) },
    now: () => new Date('2026-12-07T08:00:00.000Z'),
    notify: {
      sqs: () => sqs,
      queueUrl: QUEUE,
      outcomes: 'FAILED,ESCALATED',
      countFailure: () => {
        enqueueFailures++;
      },
    },
  });
  const failed = (enteredTime: string) => ({
    outcome: 'FAILED' as const,
    execution: execution(),
    enteredTime,
    event: event(),
    plan: plan(),
    drift: drift({
      propertyDifferences: [
        {
          PropertyPath: '/SecurityGroupIngress/1',
          DifferenceType: 'ADD' as const,
          ExpectedValue: 'null',
          ActualValue: '{"CidrIp":"0.0.0.0/0"}',
        },
      ],
    }),
    error: {
      Error: 'RunbookFailedError',
      Cause: JSON.stringify({ errorMessage: `step failed taskToken=${TOKEN}` }),
    },
  });

  it('a FAILED outcome puts one notification on the queue: the contract, with the diff, and no token', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'm1' });
    const input = failed('2026-12-07T07:59:59.000Z');
    await recordOutcome(input, deps());
    const calls = sqsMock.commandCalls(SendMessageCommand);
    expect(calls).toHaveLength(1);
    const sent = calls[0]?.args[0].input;
    expect(sent?.QueueUrl).toBe(QUEUE);
    const body = v.parse(NotificationMessage, JSON.parse(sent?.MessageBody ?? ''));
    expect(body).toMatchObject({
      outcome: 'FAILED',
      deliveryId: deliveryIdFor(EXEC_ARN, 'FAILED', '2026-12-07T07:59:59.000Z'),
      resource: { type: 'AWS::EC2::SecurityGroup', account: '123456789012', region: 'eu-west-1' },
      rule: 'restricted-ssh',
      diff: [{ path: '/SecurityGroupIngress/1', type: 'ADD', actual: '{"CidrIp":"0.0.0.0/0"}' }],
      diffTruncated: false,
    });
    expect(sent?.MessageBody).not.toContain(TOKEN.slice(0, 40));
  });

  it('an outcome no channel hears sends nothing', async () => {
    await recordOutcome(
      { outcome: 'VERIFIED', execution: execution(), event: event(), plan: plan() },
      deps(),
    );
    expect(sqsMock.commandCalls(SendMessageCommand)).toHaveLength(0);
  });

  it('a failing SendMessage is counted and the outcome is still recorded', async () => {
    sqsMock.on(SendMessageCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDenied' }));
    const out = await recordOutcome(failed('2026-12-07T07:59:58.000Z'), deps());
    expect(out).toMatchObject({ outcome: 'FAILED', succeeded: false });
    expect(enqueueFailures).toBe(1);
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(1);
  });
});
