import { GetExecutionHistoryCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordOutcome } from '../../../tasks/record-outcome/core';
import { putOutcome } from '../../../tasks/shared/outcomes';
import {
  DOC,
  EXEC_NAME,
  event,
  execution,
  type LocalDynamo,
  plan,
  startLocalDynamo,
} from './fixtures/late-stages';

/** record-outcome against real DynamoDB semantics: a retry must not add a second audit item. */
const RESOURCE_KEY = '123456789012/eu-west-1/AWS::EC2::SecurityGroup/sg-0123456789abcdef0';
const NOW = new Date('2026-11-23T10:20:00.000Z');

describe('record-outcome retried without enteredTime (dynalite)', () => {
  let local: LocalDynamo;
  const sns = new SNSClient({ region: 'eu-west-1' });
  let snsMock: AwsClientStub<SNSClient>;
  const sfn = new SFNClient({ region: 'eu-west-1' });
  let sfnMock: AwsClientStub<SFNClient>;
  beforeAll(async () => {
    snsMock = mockClient(sns);
    snsMock.on(PublishCommand).resolves({});
    sfnMock = mockClient(sfn);
    sfnMock.on(GetExecutionHistoryCommand).resolves({ events: [] });
    local = await startLocalDynamo();
    await local.createTable('outcomes', 'resourceKey', 'sk');
  });
  afterAll(async () => {
    snsMock.restore();
    sfnMock.restore();
    await local.close();
  });

  it('overwrites its own earlier item (one audit item per execution) and leaves intake items alone', async () => {
    // An intake record for a duplicate of this event, carrying the same execution name.
    await putOutcome(local.ddb, 'outcomes', {
      resourceKey: RESOURCE_KEY,
      executionName: EXEC_NAME,
      outcome: 'SKIPPED',
      reason: 'duplicate',
      recordedAt: '2026-11-23T10:05:00.000Z',
      extra: { recordedBy: 'intake' },
    });
    const input = {
      outcome: 'NOT_VERIFIED' as const,
      execution: execution(),
      event: event(),
      plan: plan(),
      runbook: {
        attempt: 1,
        automationExecutionId: 'auto-1',
        documentName: DOC,
        status: 'Success',
        phase: 'succeeded' as const,
        polls: 2,
        maxPolls: 120,
        waitSeconds: 1,
      },
    };
    const deps = {
      ddb: local.ddb,
      sns,
      sfn,
      durationScale: 1,
      outcomesTable: 'outcomes',
      approvalsTable: 'approvals',
      outcomeTopicArn: 'arn:aws:sns:eu-west-1:123456789012:outcomes',
      approvalTopicArn: 'arn:aws:sns:eu-west-1:123456789012:approvals',
      metrics: { singleMetric: () => ({ addDimension: () => undefined, addMetric: () => undefined }) },
      now: () => NOW,
    };
    const first = await recordOutcome(input, deps);
    const second = await recordOutcome(input, { ...deps, now: () => new Date(NOW.getTime() + 7000) });
    expect(first.recordedAt).toBe(NOW.toISOString());
    expect(second.recordedAt).toBe(first.recordedAt);
    const items = (
      await local.ddb.send(
        new QueryCommand({
          TableName: 'outcomes',
          KeyConditionExpression: 'resourceKey = :k',
          ExpressionAttributeValues: { ':k': RESOURCE_KEY },
        }),
      )
    ).Items;
    expect(items?.map((i) => [i.recordedBy, i.outcome, i.remediated])).toEqual([
      ['intake', 'SKIPPED', false],
      ['record-outcome', 'NOT_VERIFIED', true],
    ]);
    // A later execution for the same resource gets its own item.
    await recordOutcome(
      {
        ...input,
        execution: execution({ name: 'next-exec', id: 'arn:next', startTime: '2026-11-23T11:00:00.000Z' }),
      },
      {
        ...deps,
        now: () => new Date('2026-11-23T11:05:00.000Z'),
      },
    );
    const after = await local.ddb.send(
      new QueryCommand({
        TableName: 'outcomes',
        KeyConditionExpression: 'resourceKey = :k',
        ExpressionAttributeValues: { ':k': RESOURCE_KEY },
      }),
    );
    expect(after.Items).toHaveLength(3);
  });

  it('blast-radius escalations: one aggregated notice per window, every outcome still recorded', async () => {
    snsMock.resetHistory();
    const deps = {
      ddb: local.ddb,
      sns,
      sfn,
      durationScale: 1,
      outcomesTable: 'outcomes',
      approvalsTable: 'approvals',
      outcomeTopicArn: 'arn:aws:sns:eu-west-1:123456789012:outcomes',
      approvalTopicArn: 'arn:aws:sns:eu-west-1:123456789012:approvals',
      metrics: { singleMetric: () => ({ addDimension: () => undefined, addMetric: () => undefined }) },
      now: () => NOW,
    };
    const breaker = { kind: 'blast-radius' as const, windowStart: '2026-11-23T10:00:00.000Z', max: 50 };
    const escalated = (i: number, windowStart = breaker.windowStart) =>
      recordOutcome(
        {
          outcome: 'ESCALATED',
          execution: execution({ name: `blast-${i}`, id: `arn:blast-${i}` }),
          event: event({ resourceId: `sg-${String(i).padStart(17, '0')}` }),
          plan: plan({
            decision: 'escalate',
            reason: 'blast-radius breaker: 50 remediations already started',
            breaker: { ...breaker, windowStart },
          }),
        },
        deps,
      );
    for (let i = 0; i < 5; i++) await escalated(i);
    const notices = snsMock.commandCalls(PublishCommand).map((c) => String(c.args[0].input.Message));
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatch(/This is the only notice for this window/);
    expect(notices[0]).toMatch(/blast-0/);
    // the next window trips again: one more notice
    await escalated(9, '2026-11-23T11:00:00.000Z');
    expect(snsMock.commandCalls(PublishCommand)).toHaveLength(2);
    // every escalation is in the audit trail, and the window item counts them
    const counted = await local.ddb.send(
      new QueryCommand({
        TableName: 'outcomes',
        KeyConditionExpression: 'resourceKey = :k',
        ExpressionAttributeValues: { ':k': 'blast-radius' },
      }),
    );
    expect(counted.Items?.map((i) => [i.sk, i.escalated, i.notifier])).toEqual([
      ['notice#2026-11-23T10:00:00.000Z', 5, 'blast-0'],
      ['notice#2026-11-23T11:00:00.000Z', 1, 'blast-9'],
    ]);
    const audit = await local.ddb.send(
      new QueryCommand({
        TableName: 'outcomes',
        KeyConditionExpression: 'resourceKey = :k',
        ExpressionAttributeValues: {
          ':k': '123456789012/eu-west-1/AWS::EC2::SecurityGroup/sg-00000000000000003',
        },
      }),
    );
    expect(audit.Items?.map((i) => i.outcome)).toEqual(['ESCALATED']);
  });
});
