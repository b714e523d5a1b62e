import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { acquireSlot } from '../../../tasks/acquire-slot/core';
import { releaseSlot } from '../../../tasks/release-slot/core';
import { handler } from '../../../tasks/release-slot/handler';
import { InvalidInputError, TransientServiceError } from '../../../tasks/shared/errors';
import { GLOBAL_LOCK_ID, runbookLockId } from '../../../tasks/shared/tables';
import {
  awsError,
  DOC,
  EXEC_NAME,
  execution,
  type LocalDynamo,
  plan,
  startLocalDynamo,
} from './fixtures/late-stages';

const RUNBOOK_LOCK = runbookLockId(DOC);
const NOW = new Date('2026-11-23T10:05:00.000Z');

describe('release-slot against DynamoDB semantics (dynalite)', () => {
  let local: LocalDynamo;
  let table = '';
  let n = 0;
  beforeAll(async () => {
    local = await startLocalDynamo();
  });
  afterAll(async () => {
    await local.close();
  });
  beforeEach(async () => {
    table = `leases-${++n}`;
    await local.createTable(table, 'lockId');
  });
  const lockItem = async (lockId: string) =>
    (await local.ddb.send(new GetCommand({ TableName: table, Key: { lockId }, ConsistentRead: true }))).Item;

  it('releases every lock the slot holds, and only this execution’s entry', async () => {
    await local.ddb.send(
      new PutCommand({
        TableName: table,
        Item: { lockId: GLOBAL_LOCK_ID, count: 1, holders: { someone: NOW.toISOString() } },
      }),
    );
    const slot = await acquireSlot(
      { plan: plan(), execution: execution() },
      { ddb: local.ddb, leasesTable: table, now: () => NOW },
    );
    expect(slot.acquired).toBe(true);
    const out = await releaseSlot({ slot, execution: execution() }, { ddb: local.ddb, leasesTable: table });
    expect(out).toEqual({
      acquired: false,
      locks: [],
      tries: 1,
      maxTries: 20,
      waitSeconds: 1,
      released: [RUNBOOK_LOCK, GLOBAL_LOCK_ID],
    });
    expect(await lockItem(RUNBOOK_LOCK)).toMatchObject({ count: 0, holders: {} });
    expect(await lockItem(GLOBAL_LOCK_ID)).toMatchObject({
      count: 1,
      holders: { someone: NOW.toISOString() },
    });
  });

  it('is a no-op the second time (retried release never drives a count below the holders)', async () => {
    const slot = await acquireSlot(
      { plan: plan(), execution: execution() },
      { ddb: local.ddb, leasesTable: table, now: () => NOW },
    );
    await releaseSlot({ slot, execution: execution() }, { ddb: local.ddb, leasesTable: table });
    const again = await releaseSlot({ slot, execution: execution() }, { ddb: local.ddb, leasesTable: table });
    expect(again.released).toEqual([]);
    expect(await lockItem(RUNBOOK_LOCK)).toMatchObject({ count: 0 });
    expect(await lockItem(GLOBAL_LOCK_ID)).toMatchObject({ count: 0 });
  });

  it('with no $.slot at all, still frees the locks the plan says this execution could hold', async () => {
    // Acquire took both leases but its result was lost (e.g. the Lambda timed out right after).
    await acquireSlot(
      { plan: plan(), execution: execution() },
      { ddb: local.ddb, leasesTable: table, now: () => NOW },
    );
    const out = await releaseSlot(
      { plan: plan(), execution: execution() },
      { ddb: local.ddb, leasesTable: table },
    );
    expect(out.released).toEqual([RUNBOOK_LOCK, GLOBAL_LOCK_ID]);
    expect(await lockItem(GLOBAL_LOCK_ID)).toMatchObject({ count: 0 });
  });

  it('with neither slot nor plan, does nothing and does not fail', async () => {
    const out = await releaseSlot({ execution: execution() }, { ddb: local.ddb, leasesTable: table });
    expect(out).toMatchObject({ acquired: false, locks: [], released: [] });
  });
});

describe('release-slot with a mocked DynamoDB', () => {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  let mock: AwsClientStub<DynamoDBDocumentClient>;
  beforeAll(() => {
    mock = mockClient(ddb);
  });
  beforeEach(() => mock.reset());
  afterAll(() => mock.restore());

  it('releases conditionally on this execution being a holder', async () => {
    mock.on(UpdateCommand).resolves({});
    await releaseSlot(
      { slot: { locks: [GLOBAL_LOCK_ID] }, execution: execution() },
      { ddb, leasesTable: 'leases' },
    );
    expect(mock).toHaveReceivedCommandTimes(UpdateCommand, 1);
    expect(mock).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: 'leases',
      Key: { lockId: GLOBAL_LOCK_ID },
      ConditionExpression: 'attribute_exists(#holders.#h)',
      ExpressionAttributeNames: { '#count': 'count', '#holders': 'holders', '#h': EXEC_NAME },
    });
  });

  it('maps throttling to TransientServiceError so the workflow retries the release', async () => {
    mock.on(UpdateCommand).rejects(awsError('ThrottlingException'));
    await expect(
      releaseSlot(
        { slot: { locks: [GLOBAL_LOCK_ID] }, execution: execution() },
        { ddb, leasesTable: 'leases' },
      ),
    ).rejects.toBeInstanceOf(TransientServiceError);
  });
});

describe('release-slot handler', () => {
  let mock: AwsClientStub<DynamoDBDocumentClient>;
  beforeAll(() => {
    mock = mockClient(DynamoDBDocumentClient);
  });
  beforeEach(() => {
    mock.reset();
    process.env.LEASES_TABLE = 'leases';
  });
  afterEach(() => {
    delete process.env.LEASES_TABLE;
  });
  afterAll(() => mock.restore());

  it('accepts a state with a garbled $.slot (nothing to release is not an error)', async () => {
    mock.on(UpdateCommand).resolves({});
    const out = await handler({ slot: 'not-an-object', execution: execution() });
    expect(out.released).toEqual([]);
    expect(mock).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('rejects input without an execution with InvalidInputError and no DynamoDB call', async () => {
    await expect(handler({ slot: { locks: [GLOBAL_LOCK_ID] } })).rejects.toBeInstanceOf(InvalidInputError);
    await expect(handler(undefined)).rejects.toThrow(/invalid input/);
    expect(mock).not.toHaveReceivedAnyCommand();
  });
});
