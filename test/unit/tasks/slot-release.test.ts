/**
 * The slot is released where the runbook ends (tasks/shared/leases-release.ts): whoever resolves a runbook
 * wait — wait-callback on the SSM status-change event, reconcile-waits on the fallback — gives the holder's
 * slot back and hands it to the oldest live waiter before it tells the holder. Real acquire-slot,
 * start-runbook, wait-callback and reconcile-waits cores over dynalite; SSM is a mock whose automations end
 * when the test says so; Step Functions is a stand-in that keeps each token's fate.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import {
  GetAutomationExecutionCommand,
  SSMClient,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { ScanCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { acquireSlot } from '../../../tasks/acquire-slot/core';
import { reconcileWaits } from '../../../tasks/reconcile-waits/core';
import type { PlanResult } from '../../../tasks/shared/contracts';
import { readAdmission, release } from '../../../tasks/shared/leases';
import { completeRunbookWait, endsRunbookWork } from '../../../tasks/shared/leases-release';
import { GLOBAL_SCOPE, runbookScope } from '../../../tasks/shared/tables';
import { RunbookWait } from '../../../tasks/shared/waits';
import { startRunbook } from '../../../tasks/start-runbook/core';
import {
  AUTOMATION_STATUS_CHANGE,
  waitCallback as runCallback,
  WaitCallbackInput,
} from '../../../tasks/wait-callback/core';
import {
  awsError,
  createSlotTables,
  DOC,
  drift,
  event,
  type LocalDynamo,
  namedExecution,
  slotPlan,
  startLocalDynamo,
} from './fixtures/late-stages';

const T0 = Date.parse('2026-11-23T10:00:00.000Z');
const ROLE = 'arn:aws:iam::123456789012:role/DriftRemediationAutomation';
const automationOf = (name: string) => `auto-${name}`;

describe('the slot is released where the runbook ends', () => {
  let local: LocalDynamo;
  let sfnMock: AwsClientStub<SFNClient>;
  let ssmMock: AwsClientStub<SSMClient>;
  const sfn = new SFNClient({ region: 'eu-west-1' });
  const ssm = new SSMClient({ region: 'eu-west-1' });
  const config = new ConfigServiceClient({ region: 'eu-west-1' });
  let n = 0;
  let tables = { leasesTable: '', queueTable: '', waitsTable: '', orderingTable: '' };
  let clock = T0;
  /** token → 'waiting' | 'dead' | what it was told */
  let tokens: Map<string, 'waiting' | 'dead' | Record<string, unknown>>;
  /** Executions in the order they were told they hold a slot. */
  let admitted: string[];
  /** Executions holding a slot whose automation has not ended (never more than the cap). */
  let busy: Set<string>;
  let peakBusy: number;
  /** Automation id → status (InProgress until the test ends it). */
  let statusOf: Map<string, string>;
  /** Events seen by the holder's runbook token, in order ('slot:<name>' when a waiter was admitted). */
  let log: string[];
  /** Send failures to inject: token → errors to throw first. */
  let failSends: Map<string, Error[]>;

  beforeAll(async () => {
    local = await startLocalDynamo();
    sfnMock = mockClient(sfn);
    ssmMock = mockClient(ssm);
  });
  afterAll(async () => {
    sfnMock.restore();
    ssmMock.restore();
    await local.close();
  });
  beforeEach(async () => {
    n++;
    tables = {
      leasesTable: `leases-${n}`,
      queueTable: `queue-${n}`,
      waitsTable: `waits-${n}`,
      orderingTable: `ordering-${n}`,
    };
    await createSlotTables(local, tables.leasesTable, tables.queueTable);
    await local.createTable(tables.waitsTable, 'target', 'waiter');
    await local.createTable(tables.orderingTable, 'key');
    clock = T0;
    tokens = new Map();
    admitted = [];
    busy = new Set();
    peakBusy = 0;
    statusOf = new Map();
    log = [];
    failSends = new Map();
    sfnMock.reset();
    ssmMock.reset();
    sfnMock.on(SendTaskSuccessCommand).callsFake(async (input: { taskToken: string; output: string }) => {
      const injected = failSends.get(input.taskToken)?.shift();
      if (injected) throw injected;
      if (tokens.get(input.taskToken) !== 'waiting') throw awsError('TaskTimedOut');
      const output = JSON.parse(input.output) as Record<string, unknown>;
      tokens.set(input.taskToken, output);
      const [kind, name = ''] = input.taskToken.split(':');
      if (kind === 'slot') {
        admitted.push(name);
        busy.add(name);
        peakBusy = Math.max(peakBusy, busy.size);
      }
      log.push(`${kind}:${name}`);
      return {};
    });
    sfnMock.on(SendTaskFailureCommand).resolves({});
    ssmMock.on(GetAutomationExecutionCommand).callsFake(async (input: { AutomationExecutionId: string }) => ({
      AutomationExecution: {
        AutomationExecutionId: input.AutomationExecutionId,
        AutomationExecutionStatus: statusOf.get(input.AutomationExecutionId) ?? 'InProgress',
        ...(statusOf.get(input.AutomationExecutionId) === 'Failed'
          ? { FailureMessage: 'ThrottlingException: Rate exceeded' }
          : {}),
      },
    }));
  });

  const deps = () => ({
    ssm,
    sfn,
    config,
    ddb: local.ddb,
    ...tables,
    automationAssumeRoleArn: ROLE,
    central: { awsAccountId: '123456789012', awsRegion: 'eu-west-1' },
    now: () => new Date(clock),
  });
  const admission = () => readAdmission(local.ddb, tables.leasesTable);
  const holders = async () => Object.keys((await admission()).holders).sort();
  const waits = async () =>
    (await local.ddb.send(new ScanCommand({ TableName: tables.waitsTable, ConsistentRead: true }))).Items ??
    [];

  /** Acquire remediation slot (its token `slot:<name>`). */
  const acquire = async (name: string, p: PlanResult) => {
    clock += 1000;
    tokens.set(`slot:${name}`, 'waiting');
    return acquireSlot({ taskToken: `slot:${name}`, plan: p, execution: namedExecution(name) }, deps());
  };
  /** Start runbook as the workflow calls it (the whole state: its lease in `slot`); token `runbook:<name>`. */
  const startRunbookOf = async (name: string, p: PlanResult, attempt = 1) => {
    const token = `runbook:${name}`;
    tokens.set(token, 'waiting');
    ssmMock
      .on(StartAutomationExecutionCommand)
      .resolves({ AutomationExecutionId: automationOf(`${name}-${attempt}`) });
    const lease = tokens.get(`slot:${name}`);
    const runbook =
      attempt > 1 ? { attempt: attempt - 1, phase: 'failed' as const, waitSeconds: 1 } : undefined;
    return startRunbook(
      {
        taskToken: token,
        event: event(),
        plan: p,
        drift: drift(),
        execution: namedExecution(name),
        slot: typeof lease === 'object' ? (lease as { scopes?: string[] }) : undefined,
        ...(runbook ? { runbook } : {}),
      },
      deps(),
    );
  };
  /** The automation of `name`'s attempt ends with `status`. */
  const end = (name: string, status = 'Success', attempt = 1) => {
    statusOf.set(automationOf(`${name}-${attempt}`), status);
    if (status === 'Success') busy.delete(name);
  };
  const ssmEvent = (name: string, Status: string, attempt = 1) =>
    v.parse(WaitCallbackInput, {
      source: 'aws.ssm',
      'detail-type': AUTOMATION_STATUS_CHANGE,
      detail: { ExecutionId: automationOf(`${name}-${attempt}`), Definition: DOC, Status },
    });

  it('the SSM event hands the slot to the oldest waiter (FIFO) before the holder is told; the holder holds nothing', async () => {
    const p = slotPlan(DOC, 1, 5);
    for (const name of ['a', 'b', 'c']) await acquire(name, p);
    expect(admitted).toEqual(['a']);
    await startRunbookOf('a', p);
    expect(await waits()).toEqual([
      expect.objectContaining({ slotScopes: [runbookScope(DOC), GLOBAL_SCOPE] }),
    ]);
    clock += 30_000;
    end('a');
    expect(await runCallback(ssmEvent('a', 'Success'), deps())).toEqual({ completed: 1, ended: 0 });
    // b (the oldest waiter) was admitted first, then a's runbook token was told it succeeded
    expect(log).toEqual(['slot:a', 'slot:b', 'runbook:a']);
    expect(tokens.get('runbook:a')).toMatchObject({ phase: 'succeeded' });
    expect(await holders()).toEqual(['b']);
    expect((await admission()).counts[runbookScope(DOC)]).toBe(1);
    // b's runbook ends the same way: c is next
    await startRunbookOf('b', p);
    end('b');
    await runCallback(ssmEvent('b', 'Success'), deps());
    expect(admitted).toEqual(['a', 'b', 'c']);
    expect(await holders()).toEqual(['c']);
  });

  it('concurrent completions (events and the reconciler at once) never put more automations than the cap', async () => {
    const p = slotPlan(DOC, 2, 5);
    const names = Array.from({ length: 10 }, (_, i) => `e${i}`);
    for (const name of names) await acquire(name, p);
    const started = new Set<string>();
    for (let round = 0; round < 20 && started.size < names.length; round++) {
      const fresh = admitted.filter((x) => !started.has(x));
      for (const name of fresh) {
        started.add(name);
        await startRunbookOf(name, p);
      }
      clock += 30_000;
      const running = [...busy];
      for (const name of running) end(name);
      // each ended automation: its event, some delivered twice, and a reconciler pass, all at once
      await Promise.all([
        ...running.map((name) => runCallback(ssmEvent(name, 'Success'), deps())),
        ...running.slice(0, 1).map((name) => runCallback(ssmEvent(name, 'Success'), deps())),
        reconcileWaits(deps()),
      ]);
      const adm = await admission();
      expect(adm.counts[runbookScope(DOC)] ?? 0).toBeLessThanOrEqual(2);
      expect(Object.keys(adm.holders).length).toBe(adm.counts[GLOBAL_SCOPE] ?? 0);
    }
    expect(peakBusy).toBe(2);
    expect(admitted).toEqual(names); // FIFO, each once
    for (const name of names) expect(tokens.get(`runbook:${name}`)).toMatchObject({ phase: 'succeeded' });
    expect(await holders()).toEqual([]);
    expect((await admission()).counts).toEqual({ [runbookScope(DOC)]: 0, [GLOBAL_SCOPE]: 0 });
    expect(await waits()).toEqual([]);
  });

  it('a dead waiter is skipped: its grant is given back and the slot goes to the next one', async () => {
    const p = slotPlan(DOC, 1, 5);
    for (const name of ['a', 'b', 'c']) await acquire(name, p);
    await startRunbookOf('a', p);
    tokens.set('slot:b', 'dead'); // b's execution was stopped while it waited
    end('a');
    await runCallback(ssmEvent('a', 'Success'), deps());
    expect(admitted).toEqual(['a', 'c']);
    expect(await holders()).toEqual(['c']);
    expect((await admission()).counts[GLOBAL_SCOPE]).toBe(1);
  });

  it('a lost event: the reconciler releases and hands the slot on too', async () => {
    const p = slotPlan(DOC, 1, 5);
    for (const name of ['a', 'b']) await acquire(name, p);
    await startRunbookOf('a', p);
    expect(await reconcileWaits(deps())).toMatchObject({ checked: 1, completed: 0 }); // still running
    expect(admitted).toEqual(['a']);
    end('a'); // its status-change event never arrives
    clock += 120_000;
    expect(await reconcileWaits(deps())).toMatchObject({ checked: 1, completed: 1, failed: 0 });
    expect(log).toEqual(['slot:a', 'slot:b', 'runbook:a']);
    expect(await holders()).toEqual(['b']);
  });

  it('an automation that ended before Start runbook registered: released by Start runbook itself', async () => {
    const p = slotPlan(DOC, 1, 5);
    for (const name of ['a', 'b']) await acquire(name, p);
    statusOf.set(automationOf('a-1'), 'Success');
    expect(await startRunbookOf('a', p)).toMatchObject({ phase: 'succeeded' });
    expect(log).toEqual(['slot:a', 'slot:b', 'runbook:a']);
    expect(await holders()).toEqual(['b']);
  });

  it('a retryable failure keeps the slot for the next attempt; a final one releases it', async () => {
    const p = slotPlan(DOC, 1, 5);
    for (const name of ['a', 'b']) await acquire(name, p);
    await startRunbookOf('a', p);
    end('a', 'Failed');
    await runCallback(ssmEvent('a', 'Failed'), deps());
    expect(tokens.get('runbook:a')).toMatchObject({ phase: 'failed', retryable: true });
    expect(admitted).toEqual(['a']);
    expect(await holders()).toEqual(['a']);
    // the second attempt runs on the same slot and succeeds: now b gets it
    await startRunbookOf('a', p, 2);
    end('a', 'Success', 2);
    await runCallback(ssmEvent('a', 'Success', 2), deps());
    expect(admitted).toEqual(['a', 'b']);
    expect(endsRunbookWork({ phase: 'failed', retryable: false })).toBe(true);
    expect(endsRunbookWork({ phase: 'failed', retryable: true })).toBe(false);
    expect(endsRunbookWork({ phase: 'succeeded' })).toBe(true);
  });

  it("a resolver that crashed between its release and its hand-off: the next one's send reaches the token, its pass hands on", async () => {
    const p = slotPlan(DOC, 1, 5);
    for (const name of ['a', 'b']) await acquire(name, p);
    await startRunbookOf('a', p);
    end('a');
    await release(local.ddb, tables.leasesTable, 'a'); // the crashed resolver's release: no hand-off, no send
    expect(admitted).toEqual(['a']);
    expect(await runCallback(ssmEvent('a', 'Success'), deps())).toEqual({ completed: 1, ended: 0 });
    expect(admitted).toEqual(['a', 'b']);
    expect(await holders()).toEqual(['b']);
  });

  it('two resolvers of one wait: the second finds the slot released and the token answered, and reads nothing more', async () => {
    const p = slotPlan(DOC, 1, 5);
    for (const name of ['a', 'b']) await acquire(name, p);
    await startRunbookOf('a', p);
    end('a');
    const second = await waits(); // the wait as the second resolver read it, before the first deleted it
    expect(await runCallback(ssmEvent('a', 'Success'), deps())).toEqual({ completed: 1, ended: 0 });
    expect(admitted).toEqual(['a', 'b']);
    const wait = v.parse(RunbookWait, second[0]);
    const send = vi.spyOn(local.ddb, 'send');
    try {
      const result = { ...wait.runbook, phase: 'succeeded' as const, status: 'Success' };
      expect(await completeRunbookWait(deps(), wait, result)).toBe('ended');
      const sent = send.mock.calls.map(([c]) => c.constructor.name);
      expect(sent).toEqual(['UpdateCommand', 'DeleteCommand']); // the release (nothing held), the delete
    } finally {
      send.mockRestore();
    }
    expect(await holders()).toEqual(['b']);
  });

  it('a resolver that fails after releasing (SendTaskSuccess throttled) is re-run: the holder is told, nothing granted twice', async () => {
    const p = slotPlan(DOC, 1, 5);
    for (const name of ['a', 'b', 'c']) await acquire(name, p);
    await startRunbookOf('a', p);
    end('a');
    failSends.set('runbook:a', [awsError('ThrottlingException', 400, 'Rate exceeded')]);
    await expect(runCallback(ssmEvent('a', 'Success'), deps())).rejects.toMatchObject({
      name: 'TransientServiceError',
    });
    // released and handed on, the holder not told yet: its wait is still there for the retry
    expect(admitted).toEqual(['a', 'b']);
    expect(await holders()).toEqual(['b']);
    expect(await waits()).toHaveLength(1);
    // EventBridge re-delivers: the release finds nothing held, c still waits (b holds the only unit)
    expect(await runCallback(ssmEvent('a', 'Success'), deps())).toEqual({ completed: 1, ended: 0 });
    expect(tokens.get('runbook:a')).toMatchObject({ phase: 'succeeded' });
    expect(admitted).toEqual(['a', 'b']);
    expect(await holders()).toEqual(['b']);
    expect((await admission()).counts[runbookScope(DOC)]).toBe(1);
    expect(await waits()).toEqual([]);
  });
});
