/**
 * Waiting by task token: Start runbook and Wait for compliance register their token (WAITS on dynalite),
 * the event callback and the reconciler complete it (SendTaskSuccess/Failure, mocked), exactly once per
 * token, and the token never appears in what a task returns.
 */
import 'aws-sdk-client-mock-vitest/extend';
import {
  ConfigServiceClient,
  GetComplianceDetailsByResourceCommand,
  NoSuchConfigRuleException,
  StartConfigRulesEvaluationCommand,
} from '@aws-sdk/client-config-service';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import {
  GetAutomationExecutionCommand,
  SSMClient,
  StartAutomationExecutionCommand,
  StopAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { DeleteCommand, PutCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AwaitComplianceInput, awaitCompliance } from '../../../tasks/await-compliance/core';
import { reconcileWaits } from '../../../tasks/reconcile-waits/core';
import { VerificationUnavailableError } from '../../../tasks/shared/errors';
import { startRunbook } from '../../../tasks/start-runbook/core';
import {
  AUTOMATION_STATUS_CHANGE,
  COMPLIANCE_CHANGE,
  waitCallback as runCallback,
  type WaitCallbackInput,
  WaitCallbackInput as WaitCallbackSchema,
} from '../../../tasks/wait-callback/core';
import {
  createSlotTables,
  drift,
  EXEC_NAME,
  event,
  execution,
  type LocalDynamo,
  plan,
  startLocalDynamo,
} from './fixtures/late-stages';

const T0 = new Date('2026-11-23T10:10:00.000Z');
/** Events go through the handler's schema, as the handler would parse them. */
const waitCallback = (event: unknown, d: Parameters<typeof runCallback>[1]) =>
  runCallback(v.parse(WaitCallbackSchema, event) as WaitCallbackInput, d);
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const TOKEN = 'AQtoken-that-must-never-leave-the-table';
const AUTOMATION = 'a1b2c3d4-0000-4000-8000-000000000001';
const ROLE = 'arn:aws:iam::123456789012:role/DriftRemediationAutomation';

const ssm = new SSMClient({ region: 'eu-west-1' });
const sfn = new SFNClient({ region: 'eu-west-1' });
const config = new ConfigServiceClient({ region: 'eu-west-1' });
let ssmMock: AwsClientStub<SSMClient>;
let sfnMock: AwsClientStub<SFNClient>;
let configMock: AwsClientStub<ConfigServiceClient>;
let local: LocalDynamo;
let n = 0;
let waitsTable = '';
let orderingTable = '';
let leasesTable = '';
let queueTable = '';

beforeAll(async () => {
  ssmMock = mockClient(SSMClient);
  sfnMock = mockClient(SFNClient);
  configMock = mockClient(ConfigServiceClient);
  local = await startLocalDynamo();
});
afterAll(async () => {
  ssmMock.restore();
  sfnMock.restore();
  configMock.restore();
  await local.close();
});
beforeEach(async () => {
  ssmMock.reset();
  sfnMock.reset();
  configMock.reset();
  n++;
  waitsTable = `waits-${n}`;
  orderingTable = `ordering-${n}`;
  leasesTable = `leases-${n}`;
  queueTable = `queue-${n}`;
  await local.createTable(waitsTable, 'target', 'waiter');
  await local.createTable(orderingTable, 'key');
  await createSlotTables(local, leasesTable, queueTable);
  sfnMock.on(SendTaskSuccessCommand).resolves({});
  sfnMock.on(SendTaskFailureCommand).resolves({});
  configMock.on(StartConfigRulesEvaluationCommand).resolves({});
});

const deps = (now = T0) => ({
  ssm,
  sfn,
  config,
  ddb: local.ddb,
  waitsTable,
  orderingTable,
  leasesTable,
  queueTable,
  automationAssumeRoleArn: ROLE,
  central: { awsAccountId: '123456789012', awsRegion: 'eu-west-1' },
  now: () => now,
});
const items = async () =>
  (await local.ddb.send(new ScanCommand({ TableName: waitsTable, ConsistentRead: true }))).Items ?? [];
const automation = (status: string, extra: Record<string, unknown> = {}) =>
  ssmMock.on(GetAutomationExecutionCommand).resolves({
    AutomationExecution: {
      AutomationExecutionId: AUTOMATION,
      AutomationExecutionStatus: status as 'Success',
      ...extra,
    },
  });
const successOutput = (i = 0) =>
  JSON.parse(String(sfnMock.commandCalls(SendTaskSuccessCommand)[i]?.args[0].input.output)) as Record<
    string,
    unknown
  >;
const ssmEvent = (Status: string) => ({
  version: '0',
  id: 'e1',
  'detail-type': AUTOMATION_STATUS_CHANGE,
  source: 'aws.ssm' as const,
  account: '123456789012',
  time: T0.toISOString(),
  region: 'eu-west-1',
  resources: [],
  detail: {
    ExecutionId: AUTOMATION,
    Definition: 'DriftRemediation-RevertSecurityGroupIngress',
    DefinitionVersion: 1,
    Status,
    StartTime: 'Nov 23, 2026 10:10:00 AM',
    EndTime: 'Nov 23, 2026 10:10:30 AM',
    Time: 30000,
    ExecutedBy: ROLE,
  },
});
const compliantEvent = (recorded: Date) => ({
  source: 'aws.config' as const,
  'detail-type': COMPLIANCE_CHANGE,
  detail: {
    configRuleName: 'restricted-ssh',
    resourceType: 'AWS::EC2::SecurityGroup',
    resourceId: 'sg-0123456789abcdef0',
    awsAccountId: '123456789012',
    awsRegion: 'eu-west-1',
    newEvaluationResult: { complianceType: 'COMPLIANT', resultRecordedTime: recorded.toISOString() },
  },
});
const evaluation = (ComplianceType: string, recorded: Date) =>
  configMock.on(GetComplianceDetailsByResourceCommand).resolves({
    EvaluationResults: [
      {
        EvaluationResultIdentifier: { EvaluationResultQualifier: { ConfigRuleName: 'restricted-ssh' } },
        ComplianceType: ComplianceType as 'COMPLIANT',
        ResultRecordedTime: recorded,
      },
    ],
  });

async function parkRunbook(): Promise<void> {
  ssmMock.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: AUTOMATION });
  automation('InProgress');
  const state = { event: event(), plan: plan(), drift: drift(), execution: execution() };
  const out = await startRunbook({ taskToken: TOKEN, ...state }, deps());
  expect(out).toMatchObject({ phase: 'running', automationExecutionId: AUTOMATION });
  expect(JSON.stringify(out)).not.toContain(TOKEN);
  ssmMock.reset();
}

/** Wait for compliance's input: a pending verification of the fixture event, started at `startedAt`. */
function complianceInput(startedAt = T0, over: Partial<AwaitComplianceInput> = {}): AwaitComplianceInput {
  return {
    taskToken: TOKEN,
    event: event(),
    plan: plan(),
    verification: {
      status: 'pending',
      polls: 0,
      maxPolls: 30,
      waitSeconds: 1,
      startedAt: startedAt.toISOString(),
    },
    execution: execution(),
    ...over,
  };
}

async function parkVerification(startedAt = T0): Promise<void> {
  evaluation('NON_COMPLIANT', at(-60));
  const out = await awaitCompliance(complianceInput(startedAt), deps());
  expect(out.status).toBe('pending');
  expect(JSON.stringify(out)).not.toContain(TOKEN);
  configMock.reset();
  configMock.on(StartConfigRulesEvaluationCommand).resolves({});
}

describe('Start runbook parks the execution until the automation ends', () => {
  it('registers its token under the automation id and sends nothing while it runs', async () => {
    await parkRunbook();
    expect(await items()).toEqual([
      expect.objectContaining({
        target: `runbook#${AUTOMATION}`,
        waiter: EXEC_NAME,
        taskToken: TOKEN,
        kind: 'runbook',
      }),
    ]);
    expect(sfnMock).not.toHaveReceivedAnyCommand();
  });

  it('an automation that already ended is completed at once (its event went to nobody)', async () => {
    ssmMock.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: AUTOMATION });
    automation('Success');
    const state = { event: event(), plan: plan(), drift: drift(), execution: execution() };
    await startRunbook({ taskToken: TOKEN, ...state }, deps());
    expect(sfnMock).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: TOKEN });
    expect(successOutput()).toMatchObject({ phase: 'succeeded', status: 'Success', attempt: 1 });
    expect(await items()).toEqual([]);
  });
});

describe('wait-callback: the SSM status-change event completes the runbook wait', () => {
  it('Success → SendTaskSuccess with phase succeeded; the item is gone; no token in the result', async () => {
    await parkRunbook();
    const out = await waitCallback(ssmEvent('Success'), deps());
    expect(out).toEqual({ completed: 1, ended: 0 });
    expect(successOutput()).toMatchObject({
      phase: 'succeeded',
      status: 'Success',
      automationExecutionId: AUTOMATION,
    });
    expect(await items()).toEqual([]);
  });

  it("Failed transiently (throttling) → the failing step's message, retryable while attempts remain, jittered wait", async () => {
    await parkRunbook();
    automation('Failed', {
      StepExecutions: [
        {
          StepName: 'revoke',
          StepStatus: 'Failed',
          FailureMessage: 'ThrottlingException: Rate exceeded',
        },
      ],
    });
    await waitCallback(ssmEvent('Failed'), deps());
    expect(successOutput()).toMatchObject({ phase: 'failed', retryable: true, status: 'Failed' });
    // Full jitter before attempt 2: 1 … retryAfterSeconds × 2^0.
    expect(successOutput().waitSeconds).toBeGreaterThanOrEqual(1);
    expect(successOutput().waitSeconds).toBeLessThanOrEqual(60);
    expect(String(successOutput().failureMessage)).toMatch(/Rate exceeded/);
  });

  it("Failed deterministically → not retryable at once, with the failing step's message", async () => {
    await parkRunbook();
    automation('Failed', {
      StepExecutions: [
        { StepName: 'revoke', StepStatus: 'Failed', FailureMessage: 'InvalidPermission.NotFound' },
      ],
    });
    await waitCallback(ssmEvent('Failed'), deps());
    expect(successOutput()).toMatchObject({ phase: 'failed', retryable: false, status: 'Failed' });
    expect(String(successOutput().failureMessage)).toMatch(/InvalidPermission\.NotFound.*not re-run/);
  });

  it('a non-terminal status or an automation nobody waits for changes nothing', async () => {
    await parkRunbook();
    expect(await waitCallback(ssmEvent('InProgress'), deps())).toMatchObject({ completed: 0 });
    await waitCallback(
      { ...ssmEvent('Success'), detail: { ...ssmEvent('Success').detail, ExecutionId: 'other-1' } },
      deps(),
    );
    expect(sfnMock).not.toHaveReceivedAnyCommand();
    expect(await items()).toHaveLength(1);
  });

  it('a token whose execution no longer waits (TaskTimedOut) counts as ended and the item is removed', async () => {
    await parkRunbook();
    sfnMock
      .on(SendTaskSuccessCommand)
      .rejects(Object.assign(new Error('timed out'), { name: 'TaskTimedOut' }));
    expect(await waitCallback(ssmEvent('Success'), deps())).toEqual({ completed: 0, ended: 1 });
    expect(await items()).toEqual([]);
  });
});

describe('wait-callback: the COMPLIANT compliance-change event completes verification', () => {
  it('a COMPLIANT result recorded after verification began → verified', async () => {
    await parkVerification();
    expect(await waitCallback(compliantEvent(at(30)), deps())).toEqual({ completed: 1, ended: 0 });
    expect(successOutput()).toMatchObject({ status: 'verified', compliance: 'COMPLIANT' });
    expect(await items()).toEqual([]);
  });

  it('a COMPLIANT result recorded before verification began proves nothing', async () => {
    await parkVerification();
    await waitCallback(compliantEvent(at(-5)), deps());
    expect(sfnMock).not.toHaveReceivedAnyCommand();
    expect(await items()).toHaveLength(1);
  });
});

describe('Wait for compliance', () => {
  it('requests a (coalesced) re-evaluation and completes at once when Config already says COMPLIANT', async () => {
    evaluation('COMPLIANT', at(5));
    await awaitCompliance(complianceInput(), deps(at(10)));
    expect(configMock).toHaveReceivedCommandWith(StartConfigRulesEvaluationCommand, {
      ConfigRuleNames: ['restricted-ssh'],
    });
    expect(successOutput()).toMatchObject({ status: 'verified' });
    expect(await items()).toEqual([]);
  });

  it('a rule that does not exist → VerificationUnavailableError (NOT_VERIFIED), nothing registered', async () => {
    configMock
      .on(StartConfigRulesEvaluationCommand)
      .rejects(new NoSuchConfigRuleException({ message: 'gone', $metadata: {} }));
    await expect(awaitCompliance(complianceInput(), deps())).rejects.toBeInstanceOf(
      VerificationUnavailableError,
    );
    expect(await items()).toEqual([]);
  });
});

describe('reconcile-waits: the fallback when an event was lost', () => {
  it('completes a runbook wait whose automation ended (GetAutomationExecution)', async () => {
    await parkRunbook();
    automation('Success');
    const out = await reconcileWaits(deps(at(120)));
    expect(out).toMatchObject({ checked: 1, completed: 1, failed: 0 });
    expect(successOutput()).toMatchObject({ phase: 'succeeded' });
    expect(JSON.stringify(out)).not.toContain(TOKEN);
    expect(await items()).toEqual([]);
  });

  it('leaves a running automation alone; past its deadline stops it and fails the wait (RunbookTimeoutError)', async () => {
    await parkRunbook();
    automation('InProgress');
    expect(await reconcileWaits(deps(at(120)))).toMatchObject({ checked: 1, completed: 0, stopped: 0 });
    expect(sfnMock).not.toHaveReceivedAnyCommand();
    ssmMock.on(StopAutomationExecutionCommand).resolves({});
    expect(await reconcileWaits(deps(at(3601)))).toMatchObject({ stopped: 1 });
    expect(ssmMock).toHaveReceivedCommandWith(StopAutomationExecutionCommand, {
      AutomationExecutionId: AUTOMATION,
    });
    expect(sfnMock).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: TOKEN,
      error: 'RunbookTimeoutError',
    });
    expect(await items()).toEqual([]);
  });

  it('completes a verification Config reports COMPLIANT; re-asks for re-evaluation while it does not', async () => {
    await parkVerification();
    evaluation('NON_COMPLIANT', at(30));
    expect(await reconcileWaits(deps(at(120)))).toMatchObject({ checked: 1, completed: 0 });
    expect(configMock).toHaveReceivedCommandWith(StartConfigRulesEvaluationCommand, {
      ConfigRuleNames: ['restricted-ssh'],
    });
    evaluation('COMPLIANT', at(150));
    expect(await reconcileWaits(deps(at(240)))).toMatchObject({ completed: 1 });
    expect(successOutput()).toMatchObject({ status: 'verified', compliance: 'COMPLIANT' });
  });

  it("past the policy's verification timeout → VerificationTimeoutError (NOT_VERIFIED)", async () => {
    await parkVerification();
    evaluation('NON_COMPLIANT', at(30));
    await reconcileWaits(deps(at(901)));
    expect(sfnMock).toHaveReceivedCommandWith(SendTaskFailureCommand, {
      taskToken: TOKEN,
      error: 'VerificationTimeoutError',
    });
    expect(await items()).toEqual([]);
  });

  it('one wait failing (throttled) does not stop the others', async () => {
    await parkRunbook();
    await parkVerification();
    ssmMock
      .on(GetAutomationExecutionCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    evaluation('COMPLIANT', at(30));
    expect(await reconcileWaits(deps(at(60)))).toMatchObject({ checked: 2, completed: 1, failed: 1 });
    expect(await items()).toHaveLength(1);
  });
});

describe("a member account's waits are read where they live", () => {
  const MEMBER = { awsAccountId: '222222222222', awsRegion: 'us-west-2' };
  /** Deps whose SSM / Config are per place (as the handlers' ssmIn / configIn), recording each place asked. */
  const perPlace = (now = T0) => {
    const places: string[] = [];
    const note = (kind: string) => (p: { awsAccountId: string; awsRegion: string }) => {
      places.push(`${kind} ${p.awsAccountId}/${p.awsRegion}`);
    };
    const ssmAt = note('ssm');
    const configAt = note('config');
    return {
      places,
      deps: {
        ...deps(now),
        ssm: (p: typeof MEMBER) => {
          ssmAt(p);
          return ssm;
        },
        config: (p: typeof MEMBER) => {
          configAt(p);
          return config;
        },
      },
    };
  };
  const memberEvent = () => event({ ...MEMBER, resourceId: 'sg-0fedcba9876543210' });

  it('Start runbook and Wait for compliance record the event’s account and region on the wait', async () => {
    ssmMock.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: AUTOMATION });
    automation('InProgress');
    const state = { event: memberEvent(), plan: plan(), drift: drift(), execution: execution() };
    await startRunbook({ taskToken: TOKEN, ...state }, deps());
    expect(await items()).toEqual([expect.objectContaining({ kind: 'runbook', ...MEMBER })]);
  });

  it('wait-callback reads a failed member automation in the member account-region', async () => {
    ssmMock.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: AUTOMATION });
    automation('InProgress');
    const state = { event: memberEvent(), plan: plan(), drift: drift(), execution: execution() };
    await startRunbook({ taskToken: TOKEN, ...state }, deps());
    automation('Failed', {
      StepExecutions: [{ StepName: 'revoke', StepStatus: 'Failed', FailureMessage: 'x' }],
    });
    const { places, deps: d } = perPlace();
    await waitCallback({ ...ssmEvent('Failed'), account: MEMBER.awsAccountId, region: MEMBER.awsRegion }, d);
    expect(places).toEqual(['ssm 222222222222/us-west-2']);
    expect(successOutput()).toMatchObject({ phase: 'failed', status: 'Failed' });
  });

  it('the reconciler checks and stops a member automation, and asks the member’s Config, in their place', async () => {
    ssmMock.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: AUTOMATION });
    automation('InProgress');
    const state = { event: memberEvent(), plan: plan(), drift: drift(), execution: execution() };
    await startRunbook({ taskToken: TOKEN, ...state }, deps());
    evaluation('NON_COMPLIANT', at(-60));
    await awaitCompliance(
      complianceInput(T0, {
        taskToken: `${TOKEN}-2`,
        event: memberEvent(),
        execution: { ...execution(), name: `${EXEC_NAME}-2` },
      }),
      deps(),
    );
    ssmMock.on(StopAutomationExecutionCommand).resolves({});
    configMock.on(StartConfigRulesEvaluationCommand).resolves({});
    const { places, deps: d } = perPlace(at(3601));
    expect(await reconcileWaits(d)).toMatchObject({ checked: 2, stopped: 1 });
    expect([...new Set(places)].sort()).toEqual([
      'config 222222222222/us-west-2',
      'ssm 222222222222/us-west-2',
    ]);
    expect(ssmMock).toHaveReceivedCommandWith(StopAutomationExecutionCommand, {
      AutomationExecutionId: AUTOMATION,
    });
  });

  it('a wait that names no place (written before places were recorded) is read in the central account-region', async () => {
    await parkRunbook();
    const [item] = await items();
    expect(item?.awsAccountId).toBe('123456789012');
    await local.ddb.send(
      new DeleteCommand({ TableName: waitsTable, Key: { target: item?.target, waiter: item?.waiter } }),
    );
    const { awsAccountId: _a, awsRegion: _r, ...legacy } = item ?? {};
    await local.ddb.send(new PutCommand({ TableName: waitsTable, Item: legacy }));
    automation('Success');
    const { places, deps: d } = perPlace(at(120));
    d.central = { awsAccountId: '111111111111', awsRegion: 'us-east-1' };
    expect(await reconcileWaits(d)).toMatchObject({ completed: 1 });
    expect(places).toEqual(['ssm 111111111111/us-east-1']);
  });
});
