import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, ExecutionDoesNotExist, SFNClient } from '@aws-sdk/client-sfn';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  ScanCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { executionArnFor, reapLeases } from '../../../tasks/reap-leases/core';
import { GLOBAL_LOCK_ID, runbookLockId } from '../../../tasks/shared/tables';
import { awsError, DOC, type LocalDynamo, STATE_MACHINE_ARN, startLocalDynamo } from './fixtures/late-stages';

const RUNBOOK_LOCK = runbookLockId(DOC);
const T = '2026-11-23T10:00:00.000Z';
const execArn = (name: string) => `arn:aws:states:eu-west-1:123456789012:execution:DriftRemediation:${name}`;

describe('executionArnFor', () => {
  it('rebuilds the execution ARN from the state machine ARN and the execution name', () => {
    expect(executionArnFor(STATE_MACHINE_ARN, 'abc-1')).toBe(execArn('abc-1'));
    expect(executionArnFor('arn:aws-cn:states:cn-north-1:123456789012:stateMachine:X', 'n')).toBe(
      'arn:aws-cn:states:cn-north-1:123456789012:execution:X:n',
    );
    expect(() => executionArnFor('arn:aws:lambda:eu-west-1:123456789012:function:x', 'n')).toThrow(
      /STATE_MACHINE_ARN/,
    );
  });
});

describe('reap-leases', () => {
  let local: LocalDynamo;
  let table = '';
  let n = 0;
  let sfnMock: AwsClientStub<SFNClient>;
  const sfn = new SFNClient({ region: 'eu-west-1' });
  beforeAll(async () => {
    local = await startLocalDynamo();
    sfnMock = mockClient(sfn);
  });
  afterAll(async () => {
    sfnMock.restore();
    await local.close();
  });
  beforeEach(async () => {
    sfnMock.reset();
    table = `leases-${++n}`;
    await local.createTable(table, 'lockId');
  });
  const put = (lockId: string, holders: string[]) =>
    local.ddb.send(
      new PutCommand({
        TableName: table,
        Item: { lockId, count: holders.length, holders: Object.fromEntries(holders.map((h) => [h, T])) },
      }),
    );
  const lockItem = async (lockId: string) =>
    (await local.ddb.send(new GetCommand({ TableName: table, Key: { lockId }, ConsistentRead: true }))).Item;
  const deps = () => ({ ddb: local.ddb, sfn, leasesTable: table, stateMachineArn: STATE_MACHINE_ARN });

  it('releases holders whose execution ended or no longer exists, and keeps running ones', async () => {
    await put(GLOBAL_LOCK_ID, ['running-1', 'done-1', 'gone-1']);
    await put(RUNBOOK_LOCK, ['running-1', 'done-1']);
    sfnMock
      .on(DescribeExecutionCommand, { executionArn: execArn('running-1') })
      .resolves({ status: 'RUNNING' });
    sfnMock.on(DescribeExecutionCommand, { executionArn: execArn('done-1') }).resolves({ status: 'ABORTED' });
    sfnMock
      .on(DescribeExecutionCommand, { executionArn: execArn('gone-1') })
      .rejects(new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} }));

    const out = await reapLeases({}, deps());
    expect(out).toEqual({ locks: 2, holders: 5, running: 2, released: 3, errors: 0 });
    expect(await lockItem(GLOBAL_LOCK_ID)).toEqual({
      lockId: GLOBAL_LOCK_ID,
      count: 1,
      holders: { 'running-1': T },
    });
    expect(await lockItem(RUNBOOK_LOCK)).toEqual({
      lockId: RUNBOOK_LOCK,
      count: 1,
      holders: { 'running-1': T },
    });
    // One DescribeExecution per execution, not per lock it holds.
    expect(sfnMock).toHaveReceivedCommandTimes(DescribeExecutionCommand, 3);
  });

  it('keeps a lease when the holder cannot be described (doubt never frees a slot)', async () => {
    await put(GLOBAL_LOCK_ID, ['unknown-1', 'unknown-2']);
    sfnMock
      .on(DescribeExecutionCommand, { executionArn: execArn('unknown-1') })
      .rejects(awsError('ThrottlingException'));
    sfnMock
      .on(DescribeExecutionCommand, { executionArn: execArn('unknown-2') })
      .rejects(awsError('AccessDeniedException'));
    const out = await reapLeases({}, deps());
    expect(out).toMatchObject({ holders: 2, released: 0, errors: 2 });
    expect(await lockItem(GLOBAL_LOCK_ID)).toMatchObject({ count: 2 });
  });

  it('treats every terminal status as finished', async () => {
    const statuses = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'] as const;
    await put(
      GLOBAL_LOCK_ID,
      statuses.map((s) => `e-${s}`),
    );
    for (const s of statuses)
      sfnMock.on(DescribeExecutionCommand, { executionArn: execArn(`e-${s}`) }).resolves({ status: s });
    const out = await reapLeases(undefined, deps());
    expect(out.released).toBe(5);
    expect(await lockItem(GLOBAL_LOCK_ID)).toMatchObject({ count: 0, holders: {} });
  });

  it('does nothing on an empty table, and refuses a misconfigured STATE_MACHINE_ARN before scanning', async () => {
    expect(await reapLeases({}, deps())).toEqual({
      locks: 0,
      holders: 0,
      running: 0,
      released: 0,
      errors: 0,
    });
    await put(GLOBAL_LOCK_ID, ['x']);
    await expect(reapLeases({}, { ...deps(), stateMachineArn: 'not-an-arn' })).rejects.toThrow(
      /STATE_MACHINE_ARN/,
    );
    expect(sfnMock).not.toHaveReceivedCommand(DescribeExecutionCommand);
    expect(await lockItem(GLOBAL_LOCK_ID)).toMatchObject({ count: 1 });
  });

  it('reads every page of the scan', async () => {
    const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
    const ddbMock = mockClient(ddb);
    try {
      ddbMock
        .on(ScanCommand)
        .resolvesOnce({
          Items: [{ lockId: GLOBAL_LOCK_ID, count: 1, holders: { 'h-1': T } }],
          LastEvaluatedKey: { lockId: GLOBAL_LOCK_ID },
        })
        .resolvesOnce({ Items: [{ lockId: RUNBOOK_LOCK, count: 1, holders: { 'h-2': T } }] });
      ddbMock.on(UpdateCommand).resolves({});
      sfnMock.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED' });
      const out = await reapLeases({}, { ...deps(), ddb });
      expect(out).toMatchObject({ locks: 2, holders: 2, released: 2 });
      expect(ddbMock).toHaveReceivedCommandTimes(ScanCommand, 2);
      expect(ddbMock).toHaveReceivedNthCommandWith(ScanCommand, 2, {
        ExclusiveStartKey: { lockId: GLOBAL_LOCK_ID },
      });
      expect(ddbMock).toHaveReceivedCommandWith(UpdateCommand, {
        Key: { lockId: RUNBOOK_LOCK },
        ExpressionAttributeNames: { '#count': 'count', '#holders': 'holders', '#h': 'h-2' },
      });
    } finally {
      ddbMock.restore();
    }
  });
});
