/**
 * Slot admission as a fair queue (acquire-slot, release-slot, reap-leases over tasks/shared/leases*.ts),
 * against dynalite's real conditional writes. Step Functions is a stand-in that keeps each task token's
 * fate: waiting, told (the lease it was sent) or dead (its execution ended: TaskTimedOut).
 */
import 'aws-sdk-client-mock-vitest/extend';
import {
  DescribeExecutionCommand,
  ExecutionDoesNotExist,
  SendTaskSuccessCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import { GetCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { acquireSlot, placeOf } from '../../../tasks/acquire-slot/core';
import { handler as acquireHandler } from '../../../tasks/acquire-slot/handler';
import { reapLeases } from '../../../tasks/reap-leases/core';
import { ReleaseSlotInput, releaseSlot } from '../../../tasks/release-slot/core';
import type { PlanResult } from '../../../tasks/shared/contracts';
import { InvalidInputError } from '../../../tasks/shared/errors';
import { grant, readAdmission, release } from '../../../tasks/shared/leases';
import { enqueue, handOff, queueExpiresAt, scopesFor } from '../../../tasks/shared/leases-queue';
import { ADMISSION_ID, accountRegionScope, GLOBAL_SCOPE, runbookScope } from '../../../tasks/shared/tables';
import {
  awsError,
  createSlotTables,
  DOC,
  execution,
  type LocalDynamo,
  namedExecution,
  plan,
  STATE_MACHINE_ARN,
  slotPlan,
  startLocalDynamo,
} from './fixtures/late-stages';

const OTHER_DOC = 'DriftRemediation-EnableBucketEncryption';
const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const execOf = namedExecution;

describe('slot queue (dynalite + a token stand-in)', () => {
  let local: LocalDynamo;
  let sfnMock: AwsClientStub<SFNClient>;
  const sfn = new SFNClient({ region: 'eu-west-1' });
  let n = 0;
  let leasesTable = '';
  let queueTable = '';
  let clock = T0;
  /** token → 'waiting' | 'dead' | the lease it was told */
  let tokens: Map<string, 'waiting' | 'dead' | Record<string, unknown>>;
  /** execution names in the order they were told they hold a slot */
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
    leasesTable = `leases-${n}`;
    queueTable = `queue-${n}`;
    await createSlotTables(local, leasesTable, queueTable);
    clock = T0;
    tokens = new Map();
    told = [];
    sfnMock.reset();
    sfnMock.on(SendTaskSuccessCommand).callsFake(async (input: { taskToken: string; output: string }) => {
      const fate = tokens.get(input.taskToken);
      if (fate === 'dead' || fate === undefined) throw awsError('TaskTimedOut');
      if (fate !== 'waiting') throw awsError('TaskTimedOut'); // told twice: the task already closed
      tokens.set(input.taskToken, JSON.parse(input.output) as Record<string, unknown>);
      told.push(input.taskToken.replace(/^tok-/, '').replace(/#\d+$/, ''));
      return {};
    });
  });

  const deps = () => ({ ddb: local.ddb, sfn, leasesTable, queueTable, now: () => new Date(clock) });
  const planFor = slotPlan;
  /** Acquire as the state would call it (each call a new token); the clock moves 1 s per call. */
  const acquire = async (name: string, p: PlanResult = planFor(), attempt = 1) => {
    clock += 1000;
    const taskToken = `tok-${name}#${attempt}`;
    tokens.set(taskToken, 'waiting');
    return acquireSlot({ taskToken, plan: p, execution: execOf(name) }, deps());
  };
  /** The lease `name` was told last (what the workflow passes Release as `$.slot`). */
  const leaseOf = (name: string): { acquired?: boolean; scopes?: string[] } | undefined => {
    const told = [...tokens]
      .reverse()
      .find(([t, v]) => t.startsWith(`tok-${name}#`) && typeof v === 'object');
    return told && typeof told[1] === 'object'
      ? (told[1] as { acquired?: boolean; scopes?: string[] })
      : undefined;
  };
  /** Release as the workflow calls it: with the execution's lease (its scopes), else `{ acquired: true }`. */
  const releaseOf = (name: string, p: PlanResult = planFor()) =>
    releaseSlot({ slot: leaseOf(name) ?? { acquired: true }, plan: p, execution: execOf(name) }, deps());
  const admission = () => readAdmission(local.ddb, leasesTable);
  const queued = async (doc = DOC) =>
    (
      await local.ddb.send(
        new QueryCommand({
          TableName: queueTable,
          KeyConditionExpression: '#q = :q',
          ExpressionAttributeNames: { '#q': 'queue' },
          ExpressionAttributeValues: { ':q': runbookScope(doc) },
          ConsistentRead: true,
        }),
      )
    ).Items?.map((i) => String(i.waiter)) ?? [];

  it('admits at once when a slot is free: the own token is told the lease, nothing stays queued', async () => {
    const out = await acquire('a');
    expect(out).toEqual({ queued: false, granted: 1, dead: 0 }); // nobody waited: taken directly
    expect(tokens.get('tok-a#1')).toEqual({
      acquired: true,
      scopes: [runbookScope(DOC), GLOBAL_SCOPE],
      grantedAt: new Date(T0 + 1000).toISOString(),
      queuedSeconds: 0,
    });
    expect(await queued()).toEqual([]);
    const adm = await admission();
    expect(adm.counts).toEqual({ [runbookScope(DOC)]: 1, [GLOBAL_SCOPE]: 1 });
    expect(Object.keys(adm.holders)).toEqual(['a']);
  });

  it('hands each freed slot to the oldest waiter (FIFO), never to a newer one', async () => {
    for (const name of ['a', 'b', 'c', 'd']) await acquire(name);
    expect(told).toEqual(['a']);
    expect((await queued()).sort()).toEqual(['b', 'c', 'd']);
    for (const name of ['a', 'b', 'c']) {
      clock += 30_000;
      const r = await releaseOf(name);
      expect(r).toMatchObject({ released: true, granted: 1 });
    }
    expect(told).toEqual(['a', 'b', 'c', 'd']);
    expect(tokens.get('tok-d#1')).toMatchObject({ acquired: true, queuedSeconds: 90 });
    expect(await queued()).toEqual([]);
  });

  it('a newcomer queues behind older waiters even when it sees the free slot first (no lost wake-up)', async () => {
    await acquire('a');
    await acquire('b'); // queued behind a
    // a's slot comes free without a hand-off (as if its release ran just before b enqueued)
    await local.ddb.send(
      new GetCommand({ TableName: leasesTable, Key: { lockId: ADMISSION_ID }, ConsistentRead: true }),
    );
    expect(await release(local.ddb, leasesTable, 'a')).toBe(true);
    await acquire('c'); // c's own hand-off pass admits b (older), not c
    expect(told).toEqual(['a', 'b']);
    expect(await queued()).toEqual(['c']);
  });

  it('concurrent releases never admit more than the caps, and every waiter is served once', async () => {
    // two runbooks, 2 per runbook, 3 overall; 12 executions
    const plans = [planFor(DOC, 2, 3), planFor(OTHER_DOC, 2, 3)];
    const names = Array.from({ length: 12 }, (_, i) => `e${i}`);
    const planOf = (name: string) => plans[Number(name.slice(1)) % 2] as PlanResult;
    await Promise.all(names.map((name) => acquire(name, planOf(name))));
    let served = new Set(told);
    for (let round = 0; round < 20 && served.size < names.length; round++) {
      const adm = await admission();
      expect(adm.counts[GLOBAL_SCOPE] ?? 0).toBeLessThanOrEqual(3);
      expect(adm.counts[runbookScope(DOC)] ?? 0).toBeLessThanOrEqual(2);
      expect(adm.counts[runbookScope(OTHER_DOC)] ?? 0).toBeLessThanOrEqual(2);
      expect(Object.keys(adm.holders).length).toBe(adm.counts[GLOBAL_SCOPE] ?? 0);
      clock += 10_000;
      await Promise.all(Object.keys(adm.holders).map((h) => releaseOf(h, planOf(h))));
      served = new Set(told);
    }
    expect(told.length).toBe(names.length);
    expect(new Set(told).size).toBe(names.length);
    const last = Object.keys((await admission()).holders);
    await Promise.all(last.map((h) => releaseOf(h, planOf(h))));
    expect((await admission()).counts).toEqual({
      [GLOBAL_SCOPE]: 0,
      [runbookScope(DOC)]: 0,
      [runbookScope(OTHER_DOC)]: 0,
    });
  });

  /** The DynamoDB commands `run` sends, by name (UpdateCommand, QueryCommand, …). */
  const commandsOf = async (run: () => Promise<unknown>) => {
    const send = vi.spyOn(local.ddb, 'send');
    try {
      await run();
      return send.mock.calls.map(([c]) => c.constructor.name);
    } finally {
      send.mockRestore();
    }
  };
  const waitingIn = async (doc = DOC) => (await admission()).waiting[runbookScope(doc)];

  it('with nobody waiting, Acquire is one conditional UpdateItem and a release one more: no Query of the queue', async () => {
    await acquire('first'); // the admission item's first grant also creates its holders map (three calls)
    await releaseOf('first');
    expect(await commandsOf(() => acquire('a'))).toEqual(['UpdateCommand']);
    expect(await commandsOf(() => releaseOf('a'))).toEqual(['UpdateCommand']);
    expect(told).toEqual(['first', 'a']);
    // a queue that had waiters and has none again costs no Query either
    await acquire('b');
    await acquire('c'); // waits: counted
    expect(await waitingIn()).toBe(1);
    await releaseOf('b'); // hands b's slot to c: c's grant takes it off the counter
    expect(told).toEqual(['first', 'a', 'b', 'c']);
    expect(await waitingIn()).toBe(0);
    expect(await commandsOf(() => releaseOf('c'))).toEqual(['UpdateCommand']);
    expect(await commandsOf(() => acquire('d'))).toEqual(['UpdateCommand']);
    expect(await queued()).toEqual([]);
  });

  it('every way out of the queue takes the waiter off the counter once: admitted, dead, left, aborted, retried', async () => {
    for (const name of ['a', 'b', 'c', 'd', 'e']) await acquire(name);
    expect(await waitingIn()).toBe(4);
    await acquire('b', planFor(), 2); // a retry keeps b's item: not counted twice
    expect(await waitingIn()).toBe(4);
    tokens.set('tok-b#1', 'dead');
    tokens.set('tok-b#2', 'dead'); // b's execution ended while it waited
    await releaseSlot({ plan: planFor(), execution: execOf('d'), leaving: true }, deps()); // d timed out
    expect(await waitingIn()).toBe(3);
    expect(await releaseOf('a')).toMatchObject({ granted: 1, dead: 1 }); // b skipped (dead), c admitted
    expect(await waitingIn()).toBe(1);
    await releaseSlot({ plan: planFor(), execution: execOf('d'), leaving: true }, deps()); // again: no-op
    expect(await waitingIn()).toBe(1);
    await releaseOf('c'); // e admitted
    expect(told).toEqual(['a', 'c', 'e']);
    expect(await waitingIn()).toBe(0);
    // an Acquire retried after its first attempt was admitted counts itself and takes the count back
    expect(await acquire('e', planFor(), 2)).toEqual({ queued: false, granted: 1, dead: 0 });
    expect(await waitingIn()).toBe(0);
    expect(await queued()).toEqual([]);
  });

  it('a waiter the counter misses (a crash between enqueue and count) is admitted by the reaper, which raises the counter', async () => {
    await acquire('a');
    await acquire('b');
    // b's count lost: as if its Acquire had crashed after the queue write and its retry found the item
    await local.ddb.send(
      new UpdateCommand({
        TableName: leasesTable,
        Key: { lockId: ADMISSION_ID },
        UpdateExpression: 'SET #w = :z',
        ExpressionAttributeNames: { '#w': `w#${runbookScope(DOC)}` },
        ExpressionAttributeValues: { ':z': 0 },
      }),
    );
    expect(await releaseOf('a')).toMatchObject({ released: true, granted: 0 }); // the pass skips the queue
    expect(told).toEqual(['a']);
    sfnMock.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' });
    const out = await reapLeases(undefined, { ...deps(), stateMachineArn: STATE_MACHINE_ARN });
    expect(out).toMatchObject({ waiters: 1, granted: 1 });
    expect(told).toEqual(['a', 'b']);
    expect(await waitingIn()).toBe(0); // raised to 1 by the reaper, taken off by b's grant
  });

  it('a queue noted before waiter counters is always read: a newcomer does not jump its waiters', async () => {
    await acquire('a');
    // a waiter of an older version: its queue is noted, it has no counter
    clock += 1000;
    tokens.set('tok-old#1', 'waiting');
    const at = new Date(clock);
    await enqueue(deps(), {
      queue: runbookScope(DOC),
      waiter: 'old',
      position: `${at.toISOString()}#old`,
      taskToken: 'tok-old#1',
      executionArn: execOf('old').id,
      scopes: scopesFor(
        { ...planFor(), runbook: { documentName: DOC } },
        placeOf({ execution: execOf('old') }),
      ),
      enqueuedAt: at.toISOString(),
      expiresAt: queueExpiresAt(at, 600),
    });
    await local.ddb.send(
      new UpdateCommand({
        TableName: leasesTable,
        Key: { lockId: ADMISSION_ID },
        UpdateExpression: 'ADD #queues :q',
        ExpressionAttributeNames: { '#queues': 'queues' },
        ExpressionAttributeValues: { ':q': new Set([runbookScope(DOC)]) },
      }),
    );
    expect(await release(local.ddb, leasesTable, 'a')).toBe(true); // freed without a hand-off
    expect(await acquire('c')).toMatchObject({ queued: true, granted: 1 }); // its pass admits old, not c
    expect(told).toEqual(['a', 'old']);
    expect(await queued()).toEqual(['c']);
    expect(await waitingIn()).toBeUndefined(); // still no counter: c was not counted either
    await releaseOf('old');
    expect(told).toEqual(['a', 'old', 'c']);
  });

  it('takes every cap or none: a full global scope admits nobody and leaves the runbook counter alone', async () => {
    const p = planFor(DOC, 5, 1);
    await acquire('a', p);
    await acquire('b', planFor(OTHER_DOC, 5, 1));
    const adm = await admission();
    expect(adm.counts).toEqual({ [runbookScope(DOC)]: 1, [GLOBAL_SCOPE]: 1 });
    expect(await queued(OTHER_DOC)).toEqual(['b']);
    expect(
      await grant(local.ddb, leasesTable, 'x', [{ id: GLOBAL_SCOPE, cap: 1 }], new Date().toISOString()),
    ).toBe('full');
  });

  it('skips a dead waiter: its grant is given back and the slot goes to the next one', async () => {
    await acquire('a');
    await acquire('b');
    await acquire('c');
    tokens.set('tok-b#1', 'dead'); // b's execution was stopped while it waited
    const r = await releaseOf('a');
    expect(r).toMatchObject({ released: true, granted: 1, dead: 1 });
    expect(told).toEqual(['a', 'c']);
    expect(await queued()).toEqual([]);
    const adm = await admission();
    expect(Object.keys(adm.holders)).toEqual(['c']);
    expect(adm.counts[GLOBAL_SCOPE]).toBe(1);
  });

  it('a retried Acquire keeps its place and is told on its new token; an admitted one is told at once', async () => {
    await acquire('a');
    await acquire('b');
    await acquire('c');
    await acquire('b', planFor(), 2); // b's first attempt failed after enqueueing: same place, new token
    await releaseOf('a');
    expect(told).toEqual(['a', 'b']);
    expect(tokens.get('tok-b#2')).toMatchObject({ acquired: true });
    expect(tokens.get('tok-b#1')).toBe('waiting');
    // b's Acquire retried once more after it was admitted: told at once, nothing taken twice
    const again = await acquire('b', planFor(), 3);
    expect(again).toEqual({ queued: false, granted: 1, dead: 0 });
    expect((await admission()).counts[GLOBAL_SCOPE]).toBe(1);
  });

  it('leaving the queue (wait timed out) removes the waiter, says why, and a later release tells nobody', async () => {
    await acquire('a');
    await acquire('b');
    const left = await releaseSlot({ plan: planFor(), execution: execOf('b'), leaving: true }, deps());
    expect(left).toMatchObject({ released: false, left: true, granted: 0 });
    expect(left.message).toMatch(
      /no remediation slot for .+ within 600 seconds \(concurrency.maxQueueSeconds\)/,
    );
    expect(await queued()).toEqual([]);
    expect(await releaseOf('a')).toMatchObject({ released: true, granted: 0 });
    expect(told).toEqual(['a']);
    expect((await admission()).counts[GLOBAL_SCOPE]).toBe(0);
  });

  it('a release with neither slot nor plan does nothing and does not fail; a second release is a no-op', async () => {
    expect(await releaseSlot({ execution: execOf('z') }, deps())).toMatchObject({
      released: false,
      left: false,
      message: 'held no remediation slot',
    });
    await acquire('a');
    expect(await releaseOf('a')).toMatchObject({ released: true });
    expect(await releaseOf('a')).toMatchObject({ released: false });
    expect((await admission()).counts[runbookScope(DOC)]).toBe(0);
  });

  it('the failure path’s payload (the whole state, the execution beside it) releases the lease it names', async () => {
    await acquire('a');
    const input = v.parse(ReleaseSlotInput, {
      state: {
        event: {},
        plan: planFor(),
        slot: leaseOf('a'),
        error: { Error: 'X' },
        execution: execOf('z'),
      },
      execution: execOf('a'),
    });
    expect(input.execution).toEqual(execOf('a'));
    expect(await releaseSlot(input, deps())).toMatchObject({ released: true });
    expect((await admission()).counts[runbookScope(DOC)]).toBe(0);
    // Before Acquire ran: no slot, nothing to release, no failure.
    const early = v.parse(ReleaseSlotInput, { state: { event: {} }, execution: execOf('b') });
    expect(await releaseSlot(early, deps())).toMatchObject({ released: false, left: false });
  });

  it("per account-region cap (concurrency.perAccountRegion): one more scope, keyed by the resource's account and region", async () => {
    const p = plan({
      runbook: { documentName: DOC, firstParty: true, parameters: {} },
      concurrency: { perRunbook: 5, global: 5, maxQueueSeconds: 600, perAccountRegion: 1 },
    });
    const at = (name: string, awsAccountId: string, awsRegion: string) => {
      clock += 1000;
      const taskToken = `tok-${name}#1`;
      tokens.set(taskToken, 'waiting');
      return acquireSlot(
        { taskToken, plan: p, execution: execOf(name), event: { awsAccountId, awsRegion } },
        deps(),
      );
    };
    const east = accountRegionScope('111111111111', 'us-east-1');
    const west = accountRegionScope('222222222222', 'us-west-2');
    await at('a', '111111111111', 'us-east-1');
    await at('b', '222222222222', 'us-west-2'); // another account-region: admitted beside a
    await at('c', '111111111111', 'us-east-1'); // a holds us-east-1's only unit: c waits
    expect(told).toEqual(['a', 'b']);
    expect(tokens.get('tok-a#1')).toMatchObject({ scopes: [runbookScope(DOC), GLOBAL_SCOPE, east] });
    expect((await admission()).counts).toMatchObject({ [east]: 1, [west]: 1, [GLOBAL_SCOPE]: 2 });
    expect(await queued()).toEqual(['c']);
    // b's release frees us-west-2 only: c still waits; a's release hands us-east-1 to c
    expect(await releaseOf('b', p)).toMatchObject({ released: true, granted: 0 });
    expect(await releaseOf('a', p)).toMatchObject({ released: true, granted: 1 });
    expect(told).toEqual(['a', 'b', 'c']);
    expect((await admission()).counts).toMatchObject({ [east]: 1, [west]: 0, [GLOBAL_SCOPE]: 1 });
  });

  it('one release admits as many waiters as its units make room for (a runbook unit and an account-region unit: two)', async () => {
    const p = (doc: string) =>
      plan({
        runbook: { documentName: doc, firstParty: true, parameters: {} },
        concurrency: { perRunbook: 1, global: 5, maxQueueSeconds: 600, perAccountRegion: 1 },
      });
    const at = (name: string, doc: string, awsAccountId: string) => {
      clock += 1000;
      tokens.set(`tok-${name}#1`, 'waiting');
      return acquireSlot(
        {
          taskToken: `tok-${name}#1`,
          plan: p(doc),
          execution: execOf(name),
          event: { awsAccountId, awsRegion: 'us-east-1' },
        },
        deps(),
      );
    };
    await at('a', DOC, '111111111111');
    await at('b', DOC, '222222222222'); // waits for DOC's only unit
    await at('c', OTHER_DOC, '111111111111'); // waits for account 111…'s only unit
    expect(told).toEqual(['a']);
    // a's release frees a DOC unit (for b) and an account unit (for c): both admitted by that one pass
    expect(await releaseOf('a', p(DOC))).toMatchObject({ released: true, granted: 2 });
    expect(told).toEqual(['a', 'b', 'c']);
    expect((await admission()).counts[GLOBAL_SCOPE]).toBe(2);
  });

  /** A hand-off pass from a view of the admission item read earlier; returns it and its GetItem count. */
  const passFrom = async (view: Awaited<ReturnType<typeof admission>>) => {
    const send = vi.spyOn(local.ddb, 'send');
    try {
      const r = await handOff(deps(), { admission: view, maxGrants: 1 });
      return { ...r, reads: send.mock.calls.filter(([c]) => c instanceof GetCommand).length };
    } finally {
      send.mockRestore();
    }
  };
  /** Another pass admits `name` (its grant made, not told yet). */
  const grantedElsewhere = async (name: string, p: PlanResult) => {
    clock += 1000;
    const scopes = scopesFor({ ...p, runbook: { documentName: DOC } }, placeOf({ execution: execOf(name) }));
    expect(await grant(local.ddb, leasesTable, name, scopes, new Date(clock).toISOString())).toBe('granted');
  };

  it('a grant refused because another pass admitted the same head goes to the next head without a read', async () => {
    const p = planFor(DOC, 3);
    for (const name of ['a', 'b', 'c', 'd', 'e']) await acquire(name, p);
    expect(told).toEqual(['a', 'b', 'c']);
    for (const name of ['a', 'b']) await release(local.ddb, leasesTable, name);
    const view = await admission(); // this pass's view: c holds
    await grantedElsewhere('d', p); // meanwhile another pass admitted d (the oldest waiter)
    expect(await passFrom(view)).toEqual({ granted: 1, dead: 0, reads: 0 });
    expect(told).toEqual(['a', 'b', 'c', 'e']);
    expect((await admission()).counts[runbookScope(DOC)]).toBe(3);
  });

  it('after a refused grant, "nobody fits" in the old view is not trusted: a fresh read admits the next waiter', async () => {
    const p = planFor(DOC, 2);
    for (const name of ['a', 'b', 'c', 'd']) await acquire(name, p);
    await release(local.ddb, leasesTable, 'a');
    const view = await admission(); // b holds
    await grantedElsewhere('c', p); // another pass admitted c …
    await release(local.ddb, leasesTable, 'b'); // … and b's release (that pass stopped after one grant)
    expect(await passFrom(view)).toEqual({ granted: 1, dead: 0, reads: 1 });
    expect(told).toEqual(['a', 'b', 'd']);
    expect(Object.keys((await admission()).holders).sort()).toEqual(['c', 'd']);
  });

  it("without the event the account-region scope is the execution's own (the stack's account and region)", () => {
    const arn = 'arn:aws:states:eu-central-1:333333333333:execution:DriftRemediation:x';
    expect(placeOf({ execution: execution({ id: arn }) })).toEqual({
      accountId: '333333333333',
      region: 'eu-central-1',
    });
    expect(
      placeOf({
        execution: execution({ id: arn }),
        event: { awsAccountId: '444444444444', awsRegion: 'us-west-2' },
      }),
    ).toEqual({ accountId: '444444444444', region: 'us-west-2' });
    // no perAccountRegion in the plan: the runbook's and the global scope only
    expect(
      scopesFor({ ...planFor(), runbook: { documentName: DOC } }, placeOf({ execution: execution() })).map(
        (x) => x.id,
      ),
    ).toEqual([runbookScope(DOC), GLOBAL_SCOPE]);
  });

  it('the reaper frees slots of ended holders, removes ended waiters, keeps running ones, hands slots on', async () => {
    const p = planFor(DOC, 2, 5);
    for (const name of ['done-1', 'run-1', 'gone-w', 'run-w', 'unk-w']) await acquire(name, p);
    expect(told).toEqual(['done-1', 'run-1']);
    tokens.set('tok-gone-w#1', 'dead');
    sfnMock.on(DescribeExecutionCommand).callsFake(async (input: { executionArn: string }) => {
      const name = input.executionArn.split(':').pop() ?? '';
      if (name.startsWith('run')) return { status: 'RUNNING' };
      if (name.startsWith('unk')) throw awsError('ThrottlingException');
      if (name.startsWith('gone'))
        throw new ExecutionDoesNotExist({ message: 'Execution Does Not Exist', $metadata: {} });
      return { status: 'ABORTED' };
    });
    const out = await reapLeases(undefined, { ...deps(), stateMachineArn: STATE_MACHINE_ARN });
    expect(out).toMatchObject({ holders: 2, running: 1, released: 1, removed: 1, granted: 1 });
    expect(out.errors).toBeGreaterThanOrEqual(1);
    expect(told).toEqual(['done-1', 'run-1', 'run-w']);
    expect((await queued()).sort()).toEqual(['unk-w']);
    expect(Object.keys((await admission()).holders).sort()).toEqual(['run-1', 'run-w']);
  });
});

describe('acquire-slot handler', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    process.env.LEASES_TABLE = 'leases';
    process.env.SLOT_QUEUE_TABLE = 'queue';
  });
  afterEach(() => {
    process.env = { ...saved };
  });

  it('rejects a plan that does not remediate, or input without a token, before any AWS call', async () => {
    await expect(
      acquireHandler({ taskToken: 't', plan: plan({ decision: 'skip' }), execution: execution() }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(acquireHandler({ plan: plan(), execution: execution() })).rejects.toThrow(/invalid input/);
  });
});
