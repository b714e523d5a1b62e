/**
 * abort-cleanup over dynalite (real conditional writes on the waits, leases, slot-queue and outcomes
 * tables), with SSM, SNS, SQS (the notifications queue) and Step Functions' task responses mocked.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient, StopAutomationExecutionCommand } from '@aws-sdk/client-ssm';
import { QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AbortCleanupInput, abortCleanup } from '../../../tasks/abort-cleanup/core';
import { acquireSlot } from '../../../tasks/acquire-slot/core';
import { executionArnFor } from '../../../tasks/reap-leases/core';
import { type PlanResult, resourceKeyOf } from '../../../tasks/shared/contracts';
import { readAdmission } from '../../../tasks/shared/leases';
import { OutcomeNotification } from '../../../tasks/shared/notifications';
import { putOutcome } from '../../../tasks/shared/outcomes';
import { runbookWaitTarget } from '../../../tasks/shared/tables';
import { registerWait } from '../../../tasks/shared/waits';
import {
  awsError,
  createSlotTables,
  DOC,
  event,
  type LocalDynamo,
  namedExecution,
  STATE_MACHINE_ARN,
  slotPlan,
  startLocalDynamo,
} from './fixtures/late-stages';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const AUTOMATION = 'auto-0001';
const RESOURCE_KEY = resourceKeyOf(event());

function statusEvent(name: string, status: string, over: Partial<AbortCleanupInput['detail']> = {}) {
  return {
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: {
      executionArn: executionArnFor(STATE_MACHINE_ARN, name),
      stateMachineArn: STATE_MACHINE_ARN,
      name,
      status,
      startDate: T0,
      stopDate: T0 + 60_000,
      input: JSON.stringify({ event: event() }),
      error: null,
      cause: null,
      ...over,
    },
  } as const satisfies AbortCleanupInput;
}

describe('abort-cleanup (dynalite)', () => {
  let local: LocalDynamo;
  const sfn = new SFNClient({ region: 'eu-west-1' });
  const ssm = new SSMClient({ region: 'eu-west-1' });
  const sns = new SNSClient({ region: 'eu-west-1' });
  let sfnMock: AwsClientStub<SFNClient>;
  let ssmMock: AwsClientStub<SSMClient>;
  let snsMock: AwsClientStub<SNSClient>;
  let n = 0;
  let t = { leases: '', queue: '', waits: '', outcomes: '' };
  let told: string[];

  beforeAll(async () => {
    local = await startLocalDynamo();
    sfnMock = mockClient(sfn);
    ssmMock = mockClient(ssm);
    snsMock = mockClient(sns);
  });
  afterAll(async () => {
    sfnMock.restore();
    ssmMock.restore();
    snsMock.restore();
    await local.close();
  });
  beforeEach(async () => {
    n++;
    t = { leases: `leases-${n}`, queue: `queue-${n}`, waits: `waits-${n}`, outcomes: `outcomes-${n}` };
    await createSlotTables(local, t.leases, t.queue);
    await local.createTable(t.waits, 'target', 'waiter');
    await local.createTable(t.outcomes, 'resourceKey', 'sk');
    told = [];
    for (const m of [sfnMock, ssmMock, snsMock]) m.reset();
    sfnMock.on(SendTaskSuccessCommand).callsFake(async (input: { taskToken: string }) => {
      told.push(input.taskToken.replace(/^tok-/, ''));
      return {};
    });
    ssmMock.on(StopAutomationExecutionCommand).resolves({});
    snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  });

  const deps = () => ({
    ddb: local.ddb,
    sfn,
    ssm,
    sns,
    waitsTable: t.waits,
    leasesTable: t.leases,
    queueTable: t.queue,
    outcomesTable: t.outcomes,
    outcomeTopicArn: 'arn:aws:sns:eu-west-1:123456789012:outcomes',
    stateMachineArn: STATE_MACHINE_ARN,
    central: { awsAccountId: '123456789012', awsRegion: 'eu-west-1' },
    now: () => new Date(T0 + 61_000),
  });
  const onePerRunbook: PlanResult = slotPlan();
  const acquire = (name: string) =>
    acquireSlot(
      {
        taskToken: `tok-${name}`,
        plan: onePerRunbook,
        execution: namedExecution(name),
      },
      { ddb: local.ddb, sfn, leasesTable: t.leases, queueTable: t.queue, now: () => new Date(T0) },
    );
  const parkRunbook = (name: string) =>
    registerWait(
      { ddb: local.ddb, waitsTable: t.waits },
      {
        kind: 'runbook',
        target: runbookWaitTarget(AUTOMATION),
        waiter: name,
        taskToken: `wait-tok-${name}`,
        executionArn: executionArnFor(STATE_MACHINE_ARN, name),
        registeredAt: new Date(T0).toISOString(),
        deadline: new Date(T0 + 3_600_000).toISOString(),
        expiresAt: Math.floor(T0 / 1000) + 90_000,
        automationExecutionId: AUTOMATION,
        runbook: {
          attempt: 1,
          automationExecutionId: AUTOMATION,
          documentName: DOC,
          phase: 'running',
          waitSeconds: 1,
        },
        maxAttempts: 2,
        retryAfterSeconds: 30,
      },
    );
  const outcomes = async () =>
    (
      await local.ddb.send(
        new QueryCommand({
          TableName: t.outcomes,
          KeyConditionExpression: 'resourceKey = :k',
          ExpressionAttributeValues: { ':k': RESOURCE_KEY },
          ConsistentRead: true,
        }),
      )
    ).Items ?? [];
  const waits = async () => (await local.ddb.send(new ScanCommand({ TableName: t.waits }))).Items ?? [];

  it('a stopped execution: stops its automation, frees its slot for the next waiter, records ABORTED once', async () => {
    await acquire('victim');
    await acquire('next');
    expect(told).toEqual(['victim']);
    await parkRunbook('victim');
    const out = await abortCleanup(statusEvent('victim', 'ABORTED'), deps());
    expect(out).toEqual({ stopped: 1, waits: 1, released: true, dequeued: 0, granted: 1, recorded: true });
    expect(ssmMock).toHaveReceivedCommandWith(StopAutomationExecutionCommand, {
      AutomationExecutionId: AUTOMATION,
      Type: 'Cancel',
    });
    expect(await waits()).toEqual([]);
    expect(told).toEqual(['victim', 'next']);
    expect(Object.keys((await readAdmission(local.ddb, t.leases)).holders)).toEqual(['next']);
    const recorded = await outcomes();
    expect(recorded).toEqual([
      expect.objectContaining({ outcome: 'ABORTED', executionName: 'victim', remediated: false }),
    ]);
    expect(String(recorded[0]?.reason)).toContain('execution ABORTED');
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
    expect(snsMock).toHaveReceivedCommandWith(PublishCommand, {
      MessageAttributes: { outcome: { DataType: 'String', StringValue: 'ABORTED' } },
    });

    // Redelivered event: nothing more is stopped, released, recorded or told.
    const again = await abortCleanup(statusEvent('victim', 'ABORTED'), deps());
    expect(again).toEqual({
      stopped: 0,
      waits: 0,
      released: false,
      dequeued: 0,
      granted: 0,
      recorded: false,
    });
    expect(await outcomes()).toHaveLength(1);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
  });

  it('a timed-out queued execution leaves the queue; the reason names the error', async () => {
    await acquire('holder');
    await acquire('queued');
    const out = await abortCleanup(
      statusEvent('queued', 'TIMED_OUT', { error: 'States.Timeout', cause: null }),
      deps(),
    );
    expect(out).toMatchObject({ released: false, dequeued: 1, recorded: true });
    expect(String((await outcomes())[0]?.reason)).toContain('TIMED_OUT (States.Timeout)');
    expect(Object.keys((await readAdmission(local.ddb, t.leases)).holders)).toEqual(['holder']);
  });

  it('a FAILED execution whose Catch recorded its outcome keeps it (only the clean-up runs)', async () => {
    await putOutcome(local.ddb, t.outcomes, {
      resourceKey: RESOURCE_KEY,
      executionName: 'caught',
      outcome: 'FAILED',
      reason: 'runbook failed',
      recordedAt: new Date(T0 + 50_000).toISOString(),
    });
    const out = await abortCleanup(statusEvent('caught', 'FAILED', { error: 'RunbookFailed' }), deps());
    expect(out).toMatchObject({ recorded: false });
    expect((await outcomes()).map((o) => o.outcome)).toEqual(['FAILED']);
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
  });

  it('an automation that already ended is not counted as stopped; its wait is still removed', async () => {
    ssmMock.on(StopAutomationExecutionCommand).rejects(awsError('InvalidAutomationStatusUpdateException'));
    await parkRunbook('late');
    const out = await abortCleanup(statusEvent('late', 'ABORTED'), deps());
    expect(out).toMatchObject({ stopped: 0, waits: 1, recorded: true });
    expect(await waits()).toEqual([]);
  });

  it('a transient SSM error throws (EventBridge retries) and records nothing yet', async () => {
    ssmMock.on(StopAutomationExecutionCommand).rejects(awsError('ThrottlingException', 400));
    await parkRunbook('busy');
    await expect(abortCleanup(statusEvent('busy', 'ABORTED'), deps())).rejects.toThrow();
    expect(await outcomes()).toEqual([]);
    expect(await waits()).toHaveLength(1);
  });

  it('ignores other state machines and statuses without touching anything', async () => {
    await acquire('other');
    const elsewhere = statusEvent('other', 'ABORTED', {
      stateMachineArn: 'arn:aws:states:eu-west-1:123456789012:stateMachine:Else',
    });
    expect(await abortCleanup(elsewhere, deps())).toEqual({ ignored: 'another state machine' });
    expect(await abortCleanup(statusEvent('other', 'SUCCEEDED'), deps())).toEqual({
      ignored: 'status SUCCEEDED',
    });
    expect(ssmMock).not.toHaveReceivedAnyCommand();
    expect(Object.keys((await readAdmission(local.ddb, t.leases)).holders)).toEqual(['other']);
    expect(await outcomes()).toEqual([]);
  });

  describe('the ABORTED notification (Slack / webhook channels)', () => {
    const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/notifications';
    const sqs = new SQSClient({ region: 'eu-west-1' });
    let sqsMock: AwsClientStub<SQSClient>;
    beforeAll(() => {
      sqsMock = mockClient(sqs);
    });
    afterAll(() => sqsMock.restore());
    beforeEach(() => sqsMock.reset());
    const withNotify = (outcomes: string) => ({
      ...deps(),
      notify: { sqs: () => sqs, queueUrl: QUEUE, outcomes },
    });
    const sentMessages = () =>
      sqsMock
        .commandCalls(SendMessageCommand)
        .map((c) => v.parse(OutcomeNotification, JSON.parse(c.args[0].input.MessageBody ?? '')));

    it('is enqueued once, with the resource, execution and reason, when a channel hears ABORTED', async () => {
      sqsMock.on(SendMessageCommand).resolves({ MessageId: 'n-1' });
      const detail = statusEvent('stopped', 'ABORTED', {
        error: 'Stopped',
        cause: 'taskToken=abc123 by ops',
      });
      expect(await abortCleanup(detail, withNotify('VERIFIED,ABORTED'))).toMatchObject({ recorded: true });
      expect(sqsMock).toHaveReceivedCommandWith(SendMessageCommand, {
        QueueUrl: QUEUE,
        MessageAttributes: { outcome: { DataType: 'String', StringValue: 'ABORTED' } },
      });
      const [m, ...more] = sentMessages();
      expect(more).toEqual([]);
      expect(m).toMatchObject({
        outcome: 'ABORTED',
        remediated: false,
        recordedAt: new Date(T0 + 61_000).toISOString(),
        resource: { key: RESOURCE_KEY, type: event().resourceType, id: event().resourceId },
        execution: { arn: detail.detail.executionArn, name: 'stopped' },
      });
      expect(m?.reason).toContain('execution ABORTED (Stopped: taskToken=[redacted] by ops)');
      // The audit item and the outcomes-topic notice are scrubbed the same way.
      const [item] = await outcomes();
      expect(item?.reason).toContain('execution ABORTED (Stopped: taskToken=[redacted] by ops)');
      const published = snsMock.commandCalls(PublishCommand).map((c) => String(c.args[0].input.Message));
      expect(published).toHaveLength(1);
      expect(published[0]).toContain('taskToken=[redacted]');
      expect(JSON.stringify([item, published])).not.toContain('abc123');
      // A redelivered event records nothing and so sends nothing more.
      expect(await abortCleanup(detail, withNotify('VERIFIED,ABORTED'))).toMatchObject({ recorded: false });
      expect(sqsMock).toHaveReceivedCommandTimes(SendMessageCommand, 1);
    });

    it('a failed enqueue never fails the clean-up: the outcome is recorded and told', async () => {
      sqsMock.on(SendMessageCommand).rejects(awsError('KmsAccessDenied', 400, 'no key access'));
      const out = await abortCleanup(statusEvent('refused', 'ABORTED'), withNotify('ABORTED'));
      expect(out).toMatchObject({ recorded: true });
      expect(sqsMock).toHaveReceivedCommandTimes(SendMessageCommand, 1);
      expect(await outcomes()).toEqual([
        expect.objectContaining({ outcome: 'ABORTED', executionName: 'refused' }),
      ]);
      expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
    });

    it('nothing is enqueued when no channel hears ABORTED', async () => {
      await abortCleanup(statusEvent('quiet', 'ABORTED'), withNotify('VERIFIED,FAILED'));
      expect(sqsMock).not.toHaveReceivedAnyCommand();
      expect(await outcomes()).toHaveLength(1);
    });
  });

  it('an unparsable input records under a key naming the execution', async () => {
    const out = await abortCleanup(statusEvent('odd', 'ABORTED', { input: 'not json' }), deps());
    expect(out).toMatchObject({ recorded: true });
    const item = await local.ddb.send(
      new QueryCommand({
        TableName: t.outcomes,
        KeyConditionExpression: 'resourceKey = :k',
        ExpressionAttributeValues: { ':k': 'execution#odd' },
      }),
    );
    expect(item.Items?.[0]).toMatchObject({ outcome: 'ABORTED' });
  });
});
