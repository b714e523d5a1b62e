/**
 * The lease reaper (tasks/reap-leases) against dynalite's real conditional writes, with Step Functions
 * mocked: which executions run comes from one ListExecutions(RUNNING) listing, and only names it does not
 * list are described. Listed holders and waiters cost no call of their own; ended ones are still freed,
 * removed and their slots handed on; a failed listing falls back to describing each name.
 */
import 'aws-sdk-client-mock-vitest/extend';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  ListExecutionsCommand,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { acquireSlot } from '../../../tasks/acquire-slot/core';
import { reapLeases } from '../../../tasks/reap-leases/core';
import { readAdmission } from '../../../tasks/shared/leases';
import { runbookScope } from '../../../tasks/shared/tables';
import {
  awsError,
  createSlotTables,
  DOC,
  type LocalDynamo,
  namedExecution,
  STATE_MACHINE_ARN,
  slotPlan,
  startLocalDynamo,
} from './fixtures/late-stages';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');

describe('reap-leases', () => {
  let local: LocalDynamo;
  let sfnMock: AwsClientStub<SFNClient>;
  const sfn = new SFNClient({ region: 'eu-west-1' });
  let n = 0;
  let leasesTable = '';
  let queueTable = '';
  let clock = T0;
  /** token → still waiting (true) or closed (false) */
  let tokens: Map<string, boolean>;
  let told: string[];

  beforeAll(async () => {
    local = await startLocalDynamo();
    sfnMock = mockClient(sfn);
  });
  afterAll(async () => {
    sfnMock.restore();
    await local.close();
  });
  beforeEach(async () => {
    n++;
    leasesTable = `reap-leases-${n}`;
    queueTable = `reap-queue-${n}`;
    await createSlotTables(local, leasesTable, queueTable);
    clock = T0;
    tokens = new Map();
    told = [];
    sfnMock.reset();
    sfnMock.on(SendTaskSuccessCommand).callsFake(async (input: { taskToken: string }) => {
      if (!tokens.get(input.taskToken)) throw awsError('TaskTimedOut');
      tokens.set(input.taskToken, false);
      told.push(input.taskToken.replace(/^tok-/, ''));
      return {};
    });
  });

  const deps = () => ({
    ddb: local.ddb,
    sfn,
    leasesTable,
    queueTable,
    stateMachineArn: STATE_MACHINE_ARN,
    now: () => new Date(clock),
  });
  const acquire = async (name: string) => {
    clock += 1000;
    tokens.set(`tok-${name}`, true);
    return acquireSlot(
      { taskToken: `tok-${name}`, plan: slotPlan(DOC, 2, 5), execution: namedExecution(name) },
      deps(),
    );
  };
  const holders = async () => Object.keys((await readAdmission(local.ddb, leasesTable)).holders).sort();
  const queued = async () =>
    (
      (
        await local.ddb.send(
          new QueryCommand({
            TableName: queueTable,
            KeyConditionExpression: '#q = :q',
            ExpressionAttributeNames: { '#q': 'queue' },
            ExpressionAttributeValues: { ':q': runbookScope(DOC) },
            ConsistentRead: true,
          }),
        )
      ).Items ?? []
    )
      .map((i) => String(i.waiter))
      .sort();
  /** ListExecutions answers `running` (names), `pageSize` per page. */
  const listing = (running: readonly string[], pageSize = 1000) =>
    sfnMock
      .on(ListExecutionsCommand)
      .callsFake(async (input: { nextToken?: string; statusFilter?: string }) => {
        expect(input.statusFilter).toBe('RUNNING');
        const from = Number(input.nextToken ?? 0);
        const page = running.slice(from, from + pageSize);
        return {
          executions: page.map((name) => ({ name, status: 'RUNNING' })),
          ...(from + pageSize < running.length ? { nextToken: String(from + pageSize) } : {}),
        };
      });
  /** DescribeExecution: RUNNING for `running`, ExecutionDoesNotExist for `missing`, else ABORTED. */
  const describing = (running: readonly string[], missing: readonly string[] = []) =>
    sfnMock.on(DescribeExecutionCommand).callsFake(async (input: { executionArn: string }) => {
      const name = input.executionArn.split(':').pop() ?? '';
      if (running.includes(name)) return { status: 'RUNNING' };
      if (missing.includes(name))
        throw new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} });
      return { status: 'ABORTED' };
    });
  const described = () =>
    sfnMock
      .commandCalls(DescribeExecutionCommand)
      .map((c) => c.args[0].input.executionArn?.split(':').pop())
      .sort();

  it('keeps listed holders and waiters without describing any of them', async () => {
    for (const name of ['h1', 'h2', 'w1', 'w2', 'w3']) await acquire(name);
    listing(['h1', 'h2', 'w1', 'w2', 'w3', 'other']);
    describing([]);
    const out = await reapLeases(undefined, deps());
    expect(out).toEqual({
      holders: 2,
      running: 2,
      released: 0,
      waiters: 3,
      removed: 0,
      granted: 0,
      errors: 0,
    });
    expect(sfnMock).toHaveReceivedCommandTimes(ListExecutionsCommand, 1);
    expect(described()).toEqual([]);
    expect(await holders()).toEqual(['h1', 'h2']);
    expect(await queued()).toEqual(['w1', 'w2', 'w3']);
  });

  it('frees an unlisted ended holder, removes unlisted ended waiters, keeps an unlisted running one, hands the slot on', async () => {
    for (const name of ['ended-h', 'h2', 'gone-w', 'late-w', 'w3']) await acquire(name);
    tokens.set('tok-gone-w', false); // its execution ended: its token is closed
    // late-w started just now: the eventually consistent listing does not show it yet.
    listing(['h2', 'w3']);
    describing(['late-w'], ['gone-w']);
    const out = await reapLeases(undefined, deps());
    expect(out).toMatchObject({
      holders: 2,
      running: 1,
      released: 1,
      waiters: 3,
      removed: 1,
      granted: 1,
      errors: 0,
    });
    // Only the names the listing did not show were described.
    expect(described()).toEqual(['ended-h', 'gone-w', 'late-w']);
    // The freed slot went to the oldest live waiter (late-w queued before w3).
    expect(told).toEqual(['ended-h', 'h2', 'late-w']);
    expect(await holders()).toEqual(['h2', 'late-w']);
    expect(await queued()).toEqual(['w3']);
  });

  it('reads every page of the listing (a name on a later page is running)', async () => {
    for (const name of ['h1', 'h2', 'w1']) await acquire(name);
    listing(['x1', 'x2', 'h1', 'x3', 'h2', 'w1'], 2);
    describing([]);
    const out = await reapLeases(undefined, deps());
    expect(out).toMatchObject({ running: 2, released: 0, removed: 0 });
    expect(sfnMock).toHaveReceivedCommandTimes(ListExecutionsCommand, 3);
    expect(described()).toEqual([]);
  });

  it('describes each name when the listing fails, and still reclaims', async () => {
    for (const name of ['ended-h', 'h2', 'w1']) await acquire(name);
    sfnMock.on(ListExecutionsCommand).rejects(awsError('AccessDeniedException'));
    describing(['h2', 'w1']);
    const out = await reapLeases(undefined, deps());
    expect(out).toMatchObject({ holders: 2, running: 1, released: 1, waiters: 1, granted: 1, errors: 0 });
    expect(described()).toEqual(['ended-h', 'h2', 'w1']);
    expect(await holders()).toEqual(['h2', 'w1']);
  });

  it('keeps what it cannot judge: an unlisted name whose DescribeExecution is throttled', async () => {
    await acquire('h1');
    listing([]);
    sfnMock.on(DescribeExecutionCommand).rejects(awsError('ThrottlingException'));
    const out = await reapLeases(undefined, deps());
    expect(out).toMatchObject({ holders: 1, released: 0, waiters: 0, errors: 1 });
    expect(await holders()).toEqual(['h1']);
  });

  it('makes no Step Functions call when nothing is held or queued', async () => {
    const out = await reapLeases(undefined, deps());
    expect(out).toEqual({
      holders: 0,
      running: 0,
      released: 0,
      waiters: 0,
      removed: 0,
      granted: 0,
      errors: 0,
    });
    expect(sfnMock.calls()).toHaveLength(0);
  });
});
