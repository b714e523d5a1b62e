import 'aws-sdk-client-mock-vitest/extend';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { acquireSlot, slotWaitSeconds } from '../../../tasks/acquire-slot/core';
import { handler } from '../../../tasks/acquire-slot/handler';
import { InvalidInputError, SlotUnavailableError, TransientServiceError } from '../../../tasks/shared/errors';
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

describe('acquire-slot against DynamoDB semantics (dynalite)', () => {
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

  const deps = () => ({ ddb: local.ddb, leasesTable: table, now: () => NOW, random: () => 0.5 });
  const lockItem = async (lockId: string) =>
    (await local.ddb.send(new GetCommand({ TableName: table, Key: { lockId }, ConsistentRead: true }))).Item;
  const fill = async (lockId: string, holders: string[]) => {
    await local.ddb.send(
      new PutCommand({
        TableName: table,
        Item: {
          lockId,
          count: holders.length,
          holders: Object.fromEntries(holders.map((h) => [h, NOW.toISOString()])),
        },
      }),
    );
  };

  it('takes the runbook lock and the global lock when both have room', async () => {
    const slot = await acquireSlot({ plan: plan(), execution: execution() }, deps());
    expect(slot).toEqual({
      acquired: true,
      locks: [RUNBOOK_LOCK, GLOBAL_LOCK_ID],
      tries: 1,
      maxTries: 20,
      waitSeconds: 1,
    });
    expect(await lockItem(RUNBOOK_LOCK)).toEqual({
      lockId: RUNBOOK_LOCK,
      count: 1,
      holders: { [EXEC_NAME]: NOW.toISOString() },
    });
    expect(await lockItem(GLOBAL_LOCK_ID)).toMatchObject({
      count: 1,
      holders: { [EXEC_NAME]: NOW.toISOString() },
    });
  });

  it('a retried invocation counts as acquired and never takes a second unit', async () => {
    await acquireSlot({ plan: plan(), execution: execution() }, deps());
    const again = await acquireSlot({ plan: plan(), execution: execution() }, deps());
    expect(again.acquired).toBe(true);
    expect(again.locks).toEqual([RUNBOOK_LOCK, GLOBAL_LOCK_ID]);
    expect(await lockItem(RUNBOOK_LOCK)).toMatchObject({ count: 1 });
    expect(Object.keys((await lockItem(GLOBAL_LOCK_ID))?.holders ?? {})).toEqual([EXEC_NAME]);
  });

  it('is not acquired when the runbook lock is full, and waits with jitter in [5, cap]', async () => {
    await fill(RUNBOOK_LOCK, ['other-1', 'other-2']); // perRunbook = 2
    const slot = await acquireSlot(
      {
        plan: plan(),
        execution: execution(),
        slot: { acquired: false, locks: [], tries: 2, maxTries: 20, waitSeconds: 5 },
      },
      deps(),
    );
    expect(slot.acquired).toBe(false);
    expect(slot.locks).toEqual([]);
    expect(slot.tries).toBe(3);
    expect(slot.waitSeconds).toBe(slotWaitSeconds(2, () => 0.5));
    expect(await lockItem(RUNBOOK_LOCK)).toMatchObject({ count: 2 });
    expect(await lockItem(GLOBAL_LOCK_ID)).toBeUndefined();
  });

  it('gives the runbook lock back when the global lock is full', async () => {
    await fill(GLOBAL_LOCK_ID, ['a', 'b', 'c']); // global = 3
    await fill(RUNBOOK_LOCK, ['a']);
    const slot = await acquireSlot({ plan: plan(), execution: execution() }, deps());
    expect(slot).toMatchObject({ acquired: false, locks: [], tries: 1 });
    const runbookLock = await lockItem(RUNBOOK_LOCK);
    expect(runbookLock).toMatchObject({ count: 1 });
    expect(Object.keys(runbookLock?.holders ?? {})).toEqual(['a']);
    expect(await lockItem(GLOBAL_LOCK_ID)).toMatchObject({ count: 3 });
  });

  it('never lets more executions in than the caps, even when they race', async () => {
    const names = Array.from({ length: 6 }, (_, i) => `exec-${i}`);
    const results = await Promise.all(
      names.map((name) =>
        acquireSlot({ plan: plan(), execution: execution({ name, id: `arn:x:${name}` }) }, deps()),
      ),
    );
    expect(results.filter((r) => r.acquired)).toHaveLength(2); // perRunbook = 2 < global = 3
    expect(await lockItem(RUNBOOK_LOCK)).toMatchObject({ count: 2 });
    expect(await lockItem(GLOBAL_LOCK_ID)).toMatchObject({ count: 2 });
  });

  it('throws SlotUnavailableError on the last try and holds nothing afterwards', async () => {
    await fill(GLOBAL_LOCK_ID, ['a', 'b', 'c']);
    const previous = { acquired: false, locks: [], tries: 4, maxTries: 5, waitSeconds: 30 };
    const err = await acquireSlot({ plan: plan(), execution: execution(), slot: previous }, deps()).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SlotUnavailableError);
    expect((err as SlotUnavailableError).name).toBe('SlotUnavailableError');
    expect((err as Error).message).toMatch(/after 5 tries \(global limit reached\)/);
    expect(await lockItem(RUNBOOK_LOCK)).toMatchObject({ count: 0, holders: {} });
  });
});

describe('acquire-slot with a mocked DynamoDB', () => {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  let mock: AwsClientStub<DynamoDBDocumentClient>;
  beforeAll(() => {
    mock = mockClient(ddb);
  });
  beforeEach(() => mock.reset());
  afterAll(() => mock.restore());
  const deps = { ddb, leasesTable: 'leases', now: () => NOW, random: () => 0 };

  it('rejects a plan without a runbook with InvalidInputError and writes nothing', async () => {
    const { runbook: _omit, ...noRunbook } = plan();
    await expect(acquireSlot({ plan: noRunbook, execution: execution() }, deps)).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(
      acquireSlot({ plan: plan({ decision: 'skip' }), execution: execution() }, deps),
    ).rejects.toThrow(/plan.decision: skip/);
    expect(mock).not.toHaveReceivedCommand(UpdateCommand);
    expect(mock).not.toHaveReceivedCommand(PutCommand);
  });

  it('maps throttling to TransientServiceError (retried) and leaves other failures as they are', async () => {
    mock.on(UpdateCommand).rejects(awsError('ProvisionedThroughputExceededException'));
    await expect(acquireSlot({ plan: plan(), execution: execution() }, deps)).rejects.toBeInstanceOf(
      TransientServiceError,
    );
    mock.reset();
    mock.on(UpdateCommand).rejects(awsError('ResourceNotFoundException'));
    const err = await acquireSlot({ plan: plan(), execution: execution() }, deps).catch((e: unknown) => e);
    expect(err).not.toBeInstanceOf(TransientServiceError);
    expect((err as Error).name).toBe('ResourceNotFoundException');
  });

  it('sends the documented conditional update with the plan limits and the execution name as holder', async () => {
    mock.on(UpdateCommand).resolves({});
    await acquireSlot({ plan: plan(), execution: execution() }, deps);
    expect(mock).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { lockId: RUNBOOK_LOCK },
      ExpressionAttributeNames: { '#count': 'count', '#holders': 'holders', '#h': EXEC_NAME },
      ExpressionAttributeValues: { ':one': 1, ':now': NOW.toISOString(), ':limit': 2 },
    });
    expect(mock).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { lockId: GLOBAL_LOCK_ID },
      ExpressionAttributeValues: { ':one': 1, ':now': NOW.toISOString(), ':limit': 3 },
    });
  });

  it('treats a conditional failure whose holder entry exists as already acquired', async () => {
    mock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'failed', $metadata: {} }));
    mock.on(GetCommand).resolves({ Item: { lockId: 'x', count: 1, holders: { [EXEC_NAME]: 'earlier' } } });
    const slot = await acquireSlot({ plan: plan(), execution: execution() }, deps);
    expect(slot.acquired).toBe(true);
    expect(mock).toHaveReceivedCommandWith(GetCommand, { ConsistentRead: true });
  });
});

describe('acquire-slot handler', () => {
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

  it('rejects malformed input with InvalidInputError naming the field, before any DynamoDB call', async () => {
    const err = await handler({ plan: plan(), execution: { id: EXEC_NAME } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(/execution\.name/);
    const err2 = await handler({
      plan: { ...plan(), concurrency: { perRunbook: 0, global: 1 } },
      execution: execution(),
    }).catch((e: unknown) => e);
    expect((err2 as Error).message).toMatch(/plan\.concurrency\.perRunbook/);
    expect(mock).not.toHaveReceivedAnyCommand();
  });
});

describe('slotWaitSeconds', () => {
  it('is full jitter between 5 and a ceiling that doubles up to 60', () => {
    expect(slotWaitSeconds(0, () => 0.99)).toBe(5);
    expect(slotWaitSeconds(1, () => 0)).toBe(5);
    expect(slotWaitSeconds(1, () => 0.99)).toBe(10);
    expect(slotWaitSeconds(2, () => 0.99)).toBe(20);
    expect(slotWaitSeconds(3, () => 0.99)).toBe(40);
    expect(slotWaitSeconds(4, () => 0.99)).toBe(60);
    expect(slotWaitSeconds(50, () => 0.99)).toBe(60);
    const draws = Array.from({ length: 200 }, () => slotWaitSeconds(6));
    expect(Math.min(...draws)).toBeGreaterThanOrEqual(5);
    expect(Math.max(...draws)).toBeLessThanOrEqual(60);
    expect(new Set(draws).size).toBeGreaterThan(10);
  });
});
