/**
 * The synthesized state machine, run in aws-local-stepfunctions with the real task handlers in-process.
 * AWS APIs are mocked with aws-sdk-client-mock (CloudFormation, Config, SSM, SNS, Secrets Manager,
 * Cloud Control); DynamoDB is a real in-memory dynalite so leases, approvals and outcomes keep their
 * conditional-write semantics. Waits and retry intervals are made instant; the approval wait is
 * resolved by a stand-in for SendTaskSuccess / SendTaskFailure (or left to time out). Start runbook and
 * Wait for compliance are resolved by the real tasks' SendTaskSuccess/Failure (the SFN client is mocked
 * and hands the output to the waiting state): their own first look, or the real reconciler.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudControlClient, GetResourceCommand } from '@aws-sdk/client-cloudcontrol';
import {
  CloudFormationClient,
  DescribeStackResourceDriftsCommand,
  DetectStackResourceDriftCommand,
} from '@aws-sdk/client-cloudformation';
import {
  ConfigServiceClient,
  GetComplianceDetailsByResourceCommand,
  StartConfigRulesEvaluationCommand,
} from '@aws-sdk/client-config-service';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  GetAutomationExecutionCommand,
  SSMClient,
  StartAutomationExecutionCommand,
  type StartAutomationExecutionCommandInput,
} from '@aws-sdk/client-ssm';
import { GetCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { type ExecutionError, StateMachine } from 'aws-local-stepfunctions';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bundledPolicyFor } from '../../infra/bundled-policy';
import { reconcileWaits } from '../../tasks/reconcile-waits/core';
import { approvalIdFor } from '../../tasks/shared/approval-id';
import { resetClients } from '../../tasks/shared/clients';
import type { OutcomeRecord, RemediationEvent } from '../../tasks/shared/contracts';
import { ENV } from '../../tasks/shared/env';
import { grant, readAdmission } from '../../tasks/shared/leases';
import { resetPolicyCache } from '../../tasks/shared/policy-env';
import { GLOBAL_SCOPE, runbookScope, SLOT_QUEUE } from '../../tasks/shared/tables';
import { clientTokenFor } from '../../tasks/start-runbook/core';
import {
  adaptForLocalEngine,
  definitionFromTemplate,
  importTaskHandlers,
  type JsonValue,
  localContext,
  localTaskHandlers,
  retryingStateNames,
  stateTasks,
  type TaskHandler,
  waitStateNames,
} from '../../workflows/local';
import { OUTCOME_STATES, STATES, WORKFLOW_TASKS } from '../../workflows/remediation';
import { synth } from '../infra/synth';
import { type LocalDynamo, startLocalDynamo } from '../unit/tasks/fixtures/late-stages';

const ACCOUNT = '123456789012';
const REGION = 'eu-west-1';
const RUNBOOK = 'DriftRemediation-RevertSecurityGroupIngress';
const STACK = 'app-stack';
const LOGICAL_ID = 'WebSg';
const TABLES = {
  leases: 'leases',
  slotQueue: 'slot-queue',
  approvals: 'approvals',
  outcomes: 'outcomes',
  ordering: 'ordering',
  waits: 'waits',
};

const POLICY = `
version: 1
defaults:
  approval: { mode: auto, approvers: [], ttlSeconds: 3600 }
  concurrency: { perRunbook: 1, global: 5, maxQueueSeconds: 1 }
  attempts: { max: 3, retryAfterSeconds: 1 }
  loopBreaker: { windowSeconds: 86400, maxRemediations: 100 }
  blastRadius: { windowSeconds: 3600, maxRemediations: 1000 }
  verification: { timeoutSeconds: 20, intervalSeconds: 5 }
remediations:
  - id: sg-ingress
    match: { configRules: [restricted-ssh], resourceTypes: [AWS::EC2::SecurityGroup] }
    runbook: ${RUNBOOK}
    parameters:
      GroupId: { from: event.resourceId }
      RevokeIngress: { from: drift.added.SecurityGroupIngress, as: json, default: '[]' }
  - id: sg-ingress-approved
    match: { configRules: [restricted-common-ports], resourceTypes: [AWS::EC2::SecurityGroup] }
    runbook: ${RUNBOOK}
    approval: { mode: required, approvers: [security-oncall@example.com], ttlSeconds: 3600 }
    parameters:
      GroupId: { from: event.resourceId }
  - id: sg-ingress-short-approval
    match: { configRules: [sg-short-approval], resourceTypes: [AWS::EC2::SecurityGroup] }
    runbook: ${RUNBOOK}
    approval: { mode: required, approvers: [security-oncall@example.com], ttlSeconds: 2 }
    parameters:
      GroupId: { from: event.resourceId }
`;

const cfn = mockClient(CloudFormationClient);
const config = mockClient(ConfigServiceClient);
const ssm = mockClient(SSMClient);
const sns = mockClient(SNSClient);
const secrets = mockClient(SecretsManagerClient);
const cc = mockClient(CloudControlClient);
const sfn = mockClient(SFNClient);

/** SendTaskSuccess/Failure outputs by token, until the waiting state takes them (a token may answer first). */
type TokenResult = { output: unknown } | { error: string; cause: string };
const tokenResults = new Map<string, TokenResult>();
const tokenWaiters = new Map<string, (r: TokenResult) => void>();
function sendToToken(token: string, r: TokenResult): void {
  const waiter = tokenWaiters.get(token);
  if (waiter) {
    tokenWaiters.delete(token);
    waiter(r);
  } else tokenResults.set(token, r);
}
async function tokenResult(token: string, kick: () => Promise<unknown>): Promise<unknown> {
  let r = tokenResults.get(token);
  tokenResults.delete(token);
  if (!r) {
    const next = new Promise<TokenResult>((resolve) => tokenWaiters.set(token, resolve));
    await kick();
    r = await next;
  }
  if ('error' in r) throw Object.assign(new Error(r.cause), { name: r.error });
  return r.output;
}

// ── the synthesized definition, the engine (built once), the real handlers ──────────────────
const { json: template } = synth({ nag: false });
const definition = adaptForLocalEngine(definitionFromTemplate(template));
const tasksByState = stateTasks(definition, template);
const engine = new StateMachine(definition);
let handlers: Record<string, TaskHandler>;
let dynamo: LocalDynamo;
const savedEnv: Record<string, string | undefined> = {};

function setEnv(vars: Record<string, string>) {
  for (const [k, v] of Object.entries(vars)) {
    if (!(k in savedEnv)) savedEnv[k] = process.env[k];
    process.env[k] = v;
  }
}

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await dynamo.createTable(TABLES.leases, 'lockId');
  await dynamo.createTable(TABLES.slotQueue, SLOT_QUEUE.partitionKey, SLOT_QUEUE.sortKey, {
    name: SLOT_QUEUE.positionIndex,
    sortKey: SLOT_QUEUE.positionKey,
  });
  await dynamo.createTable(TABLES.approvals, 'approvalId');
  await dynamo.createTable(TABLES.outcomes, 'resourceKey', 'sk');
  await dynamo.createTable(TABLES.ordering, 'key');
  await dynamo.createTable(TABLES.waits, 'target', 'waiter');
  const endpoint = await dynamo.ddb.config.endpoint?.();
  const dir = mkdtempSync(join(tmpdir(), 'dr-exec-'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  const policyJson = bundledPolicyFor(join(dir, 'policy.yaml'));
  setEnv({
    AWS_REGION: REGION,
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_ENDPOINT_URL_DYNAMODB: `http://${endpoint?.hostname}:${endpoint?.port}`,
    [ENV.POLICY_FILE]: policyJson,
    [ENV.LEASES_TABLE]: TABLES.leases,
    [ENV.SLOT_QUEUE_TABLE]: TABLES.slotQueue,
    [ENV.APPROVALS_TABLE]: TABLES.approvals,
    [ENV.OUTCOMES_TABLE]: TABLES.outcomes,
    [ENV.ORDERING_TABLE]: TABLES.ordering,
    [ENV.WAITS_TABLE]: TABLES.waits,
    [ENV.APPROVAL_TOPIC_ARN]: `arn:aws:sns:${REGION}:${ACCOUNT}:approvals`,
    [ENV.OUTCOME_TOPIC_ARN]: `arn:aws:sns:${REGION}:${ACCOUNT}:outcomes`,
    [ENV.APPROVAL_BASE_URL]: 'https://approve.example.com/',
    [ENV.SIGNING_SECRET_ARN]: `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:signing-AbCdEf`,
    [ENV.AUTOMATION_ASSUME_ROLE_ARN]: `arn:aws:iam::${ACCOUNT}:role/AutomationAssumeRole`,
  });
  resetClients();
  resetPolicyCache();
  handlers = await importTaskHandlers([...WORKFLOW_TASKS, 'reconcile-waits']);
});

afterAll(async () => {
  for (const [k, v] of Object.entries(savedEnv)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  resetClients();
  resetPolicyCache();
  for (const m of [cfn, config, ssm, sns, secrets, cc, sfn]) m.restore();
  await dynamo.close();
});

// ── the world the mocks describe ─────────────────────────────────────────────────────────────
interface World {
  /** The fix took effect (a runbook reached Success): drift IN_SYNC, Config COMPLIANT. */
  fixed: boolean;
  /** Config already reports COMPLIANT, recorded after the event (the event is stale). */
  staleEvent: boolean;
  /** The resource matches its template although the rule flags it. */
  templateViolatesRule: boolean;
  /** The fix never shows up in Config. */
  neverCompliant: boolean;
  /** Automation statuses returned by GetAutomationExecution, per attempt (last one repeats). */
  automationStatuses: string[];
  /** The failing step's message of a Failed automation (transient by default: it is re-run). */
  failureMessage: string;
  startedAutomations: number;
}
let world: World;
let sgCounter = 0;

const ingress = (port: number, cidr: string) => ({
  IpProtocol: 'tcp',
  FromPort: port,
  ToPort: port,
  CidrIp: cidr,
});
const EXPECTED = { GroupDescription: 'web', SecurityGroupIngress: [ingress(443, '0.0.0.0/0')] };
const ACTUAL = {
  GroupDescription: 'web',
  SecurityGroupIngress: [ingress(443, '0.0.0.0/0'), ingress(22, '0.0.0.0/0')],
};

function newEvent(rule = 'restricted-ssh'): RemediationEvent {
  sgCounter += 1;
  return {
    eventId: `ev-${sgCounter}`,
    source: 'config',
    configRuleName: rule,
    resourceType: 'AWS::EC2::SecurityGroup',
    resourceId: `sg-${String(sgCounter).padStart(17, '0')}`,
    awsAccountId: ACCOUNT,
    awsRegion: REGION,
    complianceType: 'NON_COMPLIANT',
    orderingTimestamp: new Date(Date.now() - 60_000).toISOString(),
    stackName: STACK,
    logicalResourceId: LOGICAL_ID,
  };
}

function awsError(name: string, status = 400): Error {
  return Object.assign(new Error(`${name} (mocked)`), { name, $metadata: { httpStatusCode: status } });
}

beforeEach(() => {
  world = {
    fixed: false,
    staleEvent: false,
    templateViolatesRule: false,
    neverCompliant: false,
    automationStatuses: ['Success'],
    failureMessage: 'Step RevokeIngress failed: ThrottlingException: Rate exceeded',
    startedAutomations: 0,
  };
  for (const m of [cfn, config, ssm, sns, secrets, cc, sfn]) m.reset();
  tokenResults.clear();
  tokenWaiters.clear();
  sfn.on(SendTaskSuccessCommand).callsFake((i: { taskToken: string; output: string }) => {
    sendToToken(i.taskToken, { output: JSON.parse(i.output) });
    return {};
  });
  sfn.on(SendTaskFailureCommand).callsFake((i: { taskToken: string; error: string; cause: string }) => {
    sendToToken(i.taskToken, { error: i.error, cause: i.cause });
    return {};
  });
  cc.on(GetResourceCommand).callsFake((input: { Identifier?: string }) => ({
    TypeName: 'AWS::EC2::SecurityGroup',
    ResourceDescription: {
      Identifier: input.Identifier,
      Properties: JSON.stringify({ GroupId: input.Identifier, Tags: [] }),
    },
  }));
  config.on(GetComplianceDetailsByResourceCommand).callsFake((input: { ResourceId: string }) => {
    const compliant = world.staleEvent || (world.fixed && !world.neverCompliant);
    return {
      EvaluationResults: [
        {
          ComplianceType: compliant ? 'COMPLIANT' : 'NON_COMPLIANT',
          ResultRecordedTime: compliant ? new Date() : new Date(Date.now() - 120_000),
          EvaluationResultIdentifier: {
            EvaluationResultQualifier: {
              ConfigRuleName: 'restricted-ssh',
              ResourceType: 'AWS::EC2::SecurityGroup',
              ResourceId: input.ResourceId,
            },
          },
        },
        {
          ComplianceType: compliant ? 'COMPLIANT' : 'NON_COMPLIANT',
          ResultRecordedTime: compliant ? new Date() : new Date(Date.now() - 120_000),
          EvaluationResultIdentifier: {
            EvaluationResultQualifier: {
              ConfigRuleName: 'restricted-common-ports',
              ResourceType: 'AWS::EC2::SecurityGroup',
              ResourceId: input.ResourceId,
            },
          },
        },
      ],
    };
  });
  config.on(StartConfigRulesEvaluationCommand).resolves({});
  cfn.on(DetectStackResourceDriftCommand).callsFake(() => ({
    StackResourceDrift: {
      StackId: STACK,
      LogicalResourceId: LOGICAL_ID,
      ResourceType: 'AWS::EC2::SecurityGroup',
      StackResourceDriftStatus: world.fixed || world.templateViolatesRule ? 'IN_SYNC' : 'MODIFIED',
      Timestamp: new Date(),
    },
  }));
  cfn.on(DescribeStackResourceDriftsCommand).callsFake(() => {
    const inSync = world.templateViolatesRule;
    return {
      StackResourceDrifts: [
        {
          StackId: STACK,
          LogicalResourceId: LOGICAL_ID,
          PhysicalResourceId: 'sg',
          ResourceType: 'AWS::EC2::SecurityGroup',
          StackResourceDriftStatus: inSync ? 'IN_SYNC' : 'MODIFIED',
          ExpectedProperties: JSON.stringify(EXPECTED),
          ActualProperties: JSON.stringify(inSync ? EXPECTED : ACTUAL),
          PropertyDifferences: inSync
            ? []
            : [
                {
                  PropertyPath: '/SecurityGroupIngress/1',
                  ExpectedValue: 'null',
                  ActualValue: JSON.stringify(ingress(22, '0.0.0.0/0')),
                  DifferenceType: 'ADD',
                },
              ],
          Timestamp: new Date(),
        },
      ],
    };
  });
  ssm.on(StartAutomationExecutionCommand).callsFake(() => {
    world.startedAutomations += 1;
    return { AutomationExecutionId: `auto-${sgCounter}-${world.startedAutomations}` };
  });
  ssm.on(GetAutomationExecutionCommand).callsFake(() => {
    const i = Math.min(world.startedAutomations, world.automationStatuses.length) - 1;
    const status = world.automationStatuses[i] ?? 'Success';
    if (status === 'Success') world.fixed = true;
    return {
      AutomationExecution: {
        AutomationExecutionStatus: status,
        ...(status === 'Failed' ? { FailureMessage: world.failureMessage } : {}),
      },
    };
  });
  sns.on(PublishCommand).resolves({ MessageId: 'msg-1' });
  secrets.on(GetSecretValueCommand).resolves({ SecretString: 'k'.repeat(64) });
});

// ── running one execution ───────────────────────────────────────────────────────────────────
interface Invocation {
  state: string;
  task: string;
  payload: unknown;
  result?: unknown;
  error?: string;
}
interface Run {
  name: string;
  executionId: string;
  output?: JsonValue;
  failure?: { error: string; cause: string };
  invocations: Invocation[];
  /** The outcome Record outcome returned (present on every path). */
  outcome: OutcomeRecord;
  states: (name: string) => Invocation[];
}

type Approver = (payload: { taskToken: string; execution: { id: string } }) => Promise<unknown>;

let runCounter = 0;
async function execute(
  event: RemediationEvent,
  opts: {
    approver?: Approver;
    onInvoke?: (inv: Invocation, calls: Invocation[]) => Promise<void> | void;
    /** Runs when Acquire remediation slot left the execution queued (else it waits for its timeout). */
    onQueued?: () => Promise<void>;
  } = {},
): Promise<Run> {
  runCounter += 1;
  const name = `exec-${runCounter}-${event.resourceId.slice(-4)}`;
  const context = localContext({ executionName: name, taskToken: `token-${name}-${'x'.repeat(40)}` });
  const executionId = (context.Execution as { Id: string }).Id;
  const invocations: Invocation[] = [];
  const wrapped: Record<string, TaskHandler> = {};
  let currentState = '';
  for (const [task, h] of Object.entries(handlers)) {
    wrapped[task] = async (payload) => {
      const inv: Invocation = { state: currentState, task, payload };
      invocations.push(inv);
      await opts.onInvoke?.(inv, invocations);
      try {
        inv.result = await h(payload);
        return inv.result;
      } catch (err) {
        inv.error = (err as Error).name;
        throw err;
      }
    };
  }
  const local = localTaskHandlers(definition, tasksByState, wrapped, {
    // called synchronously right before the handler: labels the invocation with its state
    onInvoke: (state) => {
      currentState = state;
    },
    waitForTaskToken: async (state, payload) => {
      if (state === STATES.requestApproval) {
        if (!opts.approver) throw new Error('unexpected approval wait');
        return opts.approver(payload as { taskToken: string; execution: { id: string } });
      }
      const token = (payload as { taskToken: string }).taskToken;
      // Acquire remediation slot: told by its own hand-off pass, else by a release (onQueued) or never.
      if (state === STATES.acquireSlot) return tokenResult(token, async () => opts.onQueued?.());
      // Start runbook / Wait for compliance: answered by the task's own look, else by the reconciler
      // (the SSM / Config events are not emitted here); one that never ends is ended by the reconciler
      // at its deadline (run with a clock past it).
      return tokenResult(token, async () => {
        await handlers['reconcile-waits']?.({});
        if (!tokenWaiters.has(token)) return;
        await reconcileWaits({
          ssm: new SSMClient({}),
          config: new ConfigServiceClient({}),
          sfn: new SFNClient({}),
          ddb: dynamo.ddb,
          waitsTable: TABLES.waits,
          orderingTable: TABLES.ordering,
          leasesTable: TABLES.leases,
          queueTable: TABLES.slotQueue,
          central: { awsAccountId: '123456789012', awsRegion: 'us-east-1' },
          now: () => new Date(Date.now() + 86_400_000),
        });
      });
    },
  });
  const zero = (names: string[]) => Object.fromEntries(names.map((n) => [n, 0]));
  const exec = engine.run({ event } as unknown as JsonValue, {
    overrides: {
      taskResourceLocalHandlers: local,
      waitTimeOverrides: zero(waitStateNames(definition)),
      retryIntervalOverrides: zero(retryingStateNames(definition)),
    },
    context,
  });
  const run: Partial<Run> = { name, executionId, invocations };
  try {
    run.output = await exec.result;
  } catch (err) {
    const cause = (err as ExecutionError).cause as { name?: string; message?: string } | undefined;
    run.failure = { error: cause?.name ?? 'unknown', cause: cause?.message ?? '' };
  }
  const recorded = invocations.filter((i) => i.task === 'record-outcome');
  expect(recorded, 'Record outcome runs exactly once').toHaveLength(1);
  run.outcome = recorded[0]?.result as OutcomeRecord;
  run.states = (s: string) => invocations.filter((i) => i.state === s);
  return run as Run;
}

const calls = (task: string, r: Run) => r.invocations.filter((i) => i.task === task);
async function expectNoLeaseHeldBy(r: Run) {
  const adm = await readAdmission(dynamo.ddb, TABLES.leases);
  expect(adm.holders[r.name], `a slot is still held by ${r.name}`).toBeUndefined();
}
async function outcomeItems(event: RemediationEvent) {
  const r = await dynamo.ddb.send(
    new QueryCommand({
      TableName: TABLES.outcomes,
      KeyConditionExpression: 'resourceKey = :k',
      ExpressionAttributeValues: {
        ':k': `${event.awsAccountId}/${event.awsRegion}/${event.resourceType}/${event.resourceId}`,
      },
    }),
  );
  return r.Items ?? [];
}

/** Stand-in for the approval endpoint: checks the stored token, then SendTaskSuccess / SendTaskFailure. */
function approver(decision: 'approved' | 'rejected' | 'never'): Approver {
  return async (payload) => {
    const approvalId = approvalIdFor(payload.execution.id);
    const item = await dynamo.ddb.send(
      new GetCommand({ TableName: TABLES.approvals, Key: { approvalId }, ConsistentRead: true }),
    );
    // The token is kept server-side, in the approval record only.
    expect(item.Item?.taskToken).toBe(payload.taskToken);
    expect(item.Item?.status).toBe('PENDING');
    const decidedAt = new Date().toISOString();
    if (decision === 'never') return new Promise(() => {});
    if (decision === 'approved')
      return { approvalId, decision: 'approved', approver: 'security-oncall@example.com', decidedAt };
    throw Object.assign(
      new Error(
        JSON.stringify({
          approvalId,
          decision: 'rejected',
          approver: 'security-oncall@example.com',
          comment: 'not during the freeze',
          decidedAt,
        }),
      ),
      { name: 'ApprovalRejected' },
    );
  };
}

// ── scenarios ───────────────────────────────────────────────────────────────────────────────
describe('remediation executions (synthesized definition, real handlers)', () => {
  it('remediated and verified', async () => {
    const event = newEvent();
    const r = await execute(event);
    expect(r.failure).toBeUndefined();
    expect(r.outcome).toMatchObject({ outcome: 'VERIFIED', succeeded: true, executionId: r.executionId });
    expect(r.states(OUTCOME_STATES.VERIFIED).map((i) => i.task)).toEqual(['record-outcome']);
    expect(ssm).toHaveReceivedCommandTimes(StartAutomationExecutionCommand, 1);
    const start = ssm.commandCalls(StartAutomationExecutionCommand)[0]?.args[0]
      .input as StartAutomationExecutionCommandInput;
    expect(start.DocumentName).toBe(RUNBOOK);
    expect(start.Parameters?.GroupId).toEqual([event.resourceId]);
    expect(start.Parameters?.AutomationAssumeRole).toEqual([
      `arn:aws:iam::${ACCOUNT}:role/AutomationAssumeRole`,
    ]);
    expect(JSON.parse(start.Parameters?.RevokeIngress?.[0] ?? '[]')).toEqual([ingress(22, '0.0.0.0/0')]);
    // Start runbook read the execution from the context object ($$.Execution), not from the state.
    expect(start.ClientToken).toBe(clientTokenFor(r.executionId, 1));
    // verification went through the Config re-evaluation
    expect(config).toHaveReceivedCommandWith(StartConfigRulesEvaluationCommand, {
      ConfigRuleNames: ['restricted-ssh'],
    });
    await expectNoLeaseHeldBy(r);
    const items = await outcomeItems(event);
    expect(items.map((i) => [i.outcome, i.remediated])).toEqual([['VERIFIED', true]]);
    expect((r.output as { outcome: OutcomeRecord }).outcome.outcome).toBe('VERIFIED');
  });

  it('stale event: skipped without touching the resource', async () => {
    world.staleEvent = true;
    const event = newEvent();
    const r = await execute(event);
    expect(r.failure).toBeUndefined();
    expect(r.outcome.outcome).toBe('SKIPPED');
    expect(r.outcome.reason).toMatch(/stale event/);
    expect(ssm).not.toHaveReceivedCommand(StartAutomationExecutionCommand);
    expect(cfn).not.toHaveReceivedCommand(DetectStackResourceDriftCommand);
    expect(calls('acquire-slot', r)).toEqual([]);
  });

  it('template violates the rule: escalated, nothing changed', async () => {
    world.templateViolatesRule = true;
    const r = await execute(newEvent());
    expect(r.outcome.outcome).toBe('ESCALATED');
    expect(r.outcome.reason).toMatch(/template itself violates the rule/);
    expect(r.failure).toEqual({ error: 'RemediationNotSucceeded', cause: r.outcome.reason });
    expect(ssm).not.toHaveReceivedCommand(StartAutomationExecutionCommand);
    expect(calls('acquire-slot', r)).toEqual([]);
    expect(sns).toHaveReceivedCommandWith(PublishCommand, {
      TopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:outcomes`,
    });
  });

  it('approval approved: waits for the decision, then remediates', async () => {
    const r = await execute(newEvent('restricted-common-ports'), { approver: approver('approved') });
    expect(r.failure).toBeUndefined();
    expect(r.outcome.outcome).toBe('VERIFIED');
    const request = calls('request-approval', r);
    expect(request).toHaveLength(1);
    expect((request[0]?.payload as { taskToken?: string } | undefined)?.taskToken).toBe(
      `token-${r.name}-${'x'.repeat(40)}`,
    );
    // the approver was told, with a link that does not carry the task token
    const messages = sns.commandCalls(PublishCommand).map((c) => JSON.stringify(c.args[0].input));
    expect(messages.some((m) => m.includes('security-oncall@example.com'))).toBe(true);
    for (const m of messages) expect(m).not.toContain(`token-${r.name}`);
    expect(ssm).toHaveReceivedCommandTimes(StartAutomationExecutionCommand, 1);
    // slot acquired only after the approval
    const order = r.invocations.map((i) => i.task);
    expect(order.indexOf('request-approval')).toBeLessThan(order.indexOf('acquire-slot'));
  });

  it('approval rejected: REJECTED with the approver and comment, nothing changed', async () => {
    const r = await execute(newEvent('restricted-common-ports'), { approver: approver('rejected') });
    expect(r.failure).toBeUndefined(); // REJECTED is a success outcome (a human decided)
    expect(r.outcome.outcome).toBe('REJECTED');
    expect(r.outcome.reason).toBe('rejected by security-oncall@example.com: not during the freeze');
    expect(ssm).not.toHaveReceivedCommand(StartAutomationExecutionCommand);
    expect(calls('acquire-slot', r)).toEqual([]);
  });

  it('approval expired: the TTL elapses, EXPIRED, the approval record is closed', {
    timeout: 20_000,
  }, async () => {
    const started = Date.now();
    const r = await execute(newEvent('sg-short-approval'), { approver: approver('never') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900); // ttlSeconds: 2
    expect(r.outcome.outcome).toBe('EXPIRED');
    expect(r.failure?.error).toBe('RemediationNotSucceeded');
    expect(ssm).not.toHaveReceivedCommand(StartAutomationExecutionCommand);
    const item = await dynamo.ddb.send(
      new GetCommand({ TableName: TABLES.approvals, Key: { approvalId: approvalIdFor(r.executionId) } }),
    );
    expect(item.Item?.status).toBe('EXPIRED');
    expect(item.Item?.taskToken).toBeUndefined();
  });

  it('runbook fails once, then succeeds on the second attempt', async () => {
    world.automationStatuses = ['Failed', 'Success'];
    const event = newEvent();
    const r = await execute(event);
    expect(r.failure).toBeUndefined();
    expect(r.outcome.outcome).toBe('VERIFIED');
    const starts = ssm.commandCalls(StartAutomationExecutionCommand).map((c) => c.args[0].input.ClientToken);
    expect(starts).toHaveLength(2);
    expect(new Set(starts).size).toBe(2); // one ClientToken per attempt
    expect(calls('start-runbook', r).map((c) => (c.result as { attempt: number }).attempt)).toEqual([1, 2]);
    await expectNoLeaseHeldBy(r);
    expect((await outcomeItems(event))[0]?.attempts).toBe(2);
  });

  it("a deterministic runbook failure ends FAILED at once with the failing step's message (no re-run)", async () => {
    world.automationStatuses = ['Failed'];
    world.failureMessage = 'Step RevokeIngress failed: InvalidPermission.NotFound';
    const event = newEvent();
    const r = await execute(event);
    expect(r.outcome.outcome).toBe('FAILED');
    expect(r.outcome.reason).toMatch(
      /runbook failed \(1\/3\).*attempt 1: Failed: .*InvalidPermission\.NotFound/,
    );
    expect(ssm).toHaveReceivedCommandTimes(StartAutomationExecutionCommand, 1);
    expect(calls('start-runbook', r)).toHaveLength(1);
    await expectNoLeaseHeldBy(r);
  });

  it('runbook fails every attempt: FAILED after attempts.max, slot released', async () => {
    world.automationStatuses = ['Failed'];
    const event = newEvent();
    const r = await execute(event);
    expect(r.outcome.outcome).toBe('FAILED');
    expect(r.outcome.reason).toMatch(/runbook failed on every attempt \(3\/3\).*attempt 3: Failed/);
    expect(r.failure?.error).toBe('RemediationNotSucceeded');
    expect(ssm).toHaveReceivedCommandTimes(StartAutomationExecutionCommand, 3);
    expect(calls('release-slot', r).length).toBeGreaterThanOrEqual(1);
    await expectNoLeaseHeldBy(r);
    expect(calls('recheck-drift', r)).toEqual([]);
  });

  it('throttled start is retried (same ClientToken), then the remediation completes', async () => {
    ssm
      .on(StartAutomationExecutionCommand)
      .rejectsOnce(awsError('ThrottlingException'))
      .callsFake(() => {
        world.startedAutomations += 1;
        return { AutomationExecutionId: 'auto-after-throttle' };
      });
    const r = await execute(newEvent());
    expect(r.failure).toBeUndefined();
    expect(r.outcome.outcome).toBe('VERIFIED');
    const starts = calls('start-runbook', r);
    expect(starts.map((s) => s.error ?? 'ok')).toEqual(['RunbookStartThrottledError', 'ok']);
    const tokens = ssm.commandCalls(StartAutomationExecutionCommand).map((c) => c.args[0].input.ClientToken);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toBe(tokens[1]);
  });

  it('slot busy: queued, then handed the slot by the release of the other remediation', async () => {
    const scopes = [
      { id: runbookScope(RUNBOOK), cap: 1 },
      { id: GLOBAL_SCOPE, cap: 5 },
    ];
    expect(await grant(dynamo.ddb, TABLES.leases, 'other-execution', scopes, new Date().toISOString())).toBe(
      'granted',
    );
    let handOff: unknown;
    const r = await execute(newEvent(), {
      onQueued: async () => {
        // the other remediation finishes while ours waits in the queue: its release hands the slot over
        handOff = await handlers['release-slot']?.({
          plan: { runbook: { documentName: RUNBOOK } },
          execution: { id: 'arn:other', name: 'other-execution', startTime: new Date().toISOString() },
        });
      },
    });
    expect(handOff).toMatchObject({ released: true, granted: 1 });
    expect(r.failure).toBeUndefined();
    expect(r.outcome.outcome).toBe('VERIFIED');
    expect(calls('acquire-slot', r).map((c) => c.result)).toEqual([{ queued: true, granted: 0, dead: 0 }]);
    await expectNoLeaseHeldBy(r);
  });

  it('queue timeout: waited concurrency.maxQueueSeconds for a slot → left the queue, ESCALATED with the reason', async () => {
    const scopes = [
      { id: runbookScope(RUNBOOK), cap: 1 },
      { id: GLOBAL_SCOPE, cap: 5 },
    ];
    await grant(dynamo.ddb, TABLES.leases, 'slow-execution', scopes, new Date().toISOString());
    try {
      const r = await execute(newEvent());
      expect(r.outcome.outcome).toBe('ESCALATED');
      expect(r.outcome.reason).toMatch(
        /^SlotQueueTimeout: no remediation slot for .+ within 1 seconds \(concurrency.maxQueueSeconds\)/,
      );
      expect(r.states(STATES.leaveQueue).map((i) => i.result)).toEqual([
        expect.objectContaining({ left: true, released: false }),
      ]);
      expect(ssm).not.toHaveReceivedCommand(StartAutomationExecutionCommand);
      const queue = await dynamo.ddb.send(
        new QueryCommand({
          TableName: TABLES.slotQueue,
          KeyConditionExpression: '#q = :q',
          ExpressionAttributeNames: { '#q': 'queue' },
          ExpressionAttributeValues: { ':q': runbookScope(RUNBOOK) },
        }),
      );
      expect(queue.Items ?? []).toEqual([]);
      await expectNoLeaseHeldBy(r);
    } finally {
      await handlers['release-slot']?.({
        execution: { id: 'arn:slow', name: 'slow-execution', startTime: new Date().toISOString() },
      });
    }
  });

  it('not verified: Config never reports COMPLIANT within the verification budget', async () => {
    world.neverCompliant = true;
    const r = await execute(newEvent());
    expect(r.outcome.outcome).toBe('NOT_VERIFIED');
    expect(r.failure?.error).toBe('RemediationNotSucceeded');
    expect(calls('await-compliance', r)).toHaveLength(1);
    expect(ssm).toHaveReceivedCommandTimes(StartAutomationExecutionCommand, 1);
    await expectNoLeaseHeldBy(r);
  });

  it('unexpected error: the slot is released and the outcome recorded with the error', async () => {
    ssm.on(StartAutomationExecutionCommand).rejects(awsError('AccessDeniedException'));
    const event = newEvent();
    const r = await execute(event);
    expect(r.outcome.outcome).toBe('FAILED');
    expect(r.outcome.reason).toMatch(/AccessDeniedException/);
    expect(r.failure?.error).toBe('RemediationNotSucceeded');
    // the slot was held when the error struck, and the failure path gave it back
    const releases = r.invocations.filter((i) => i.task === 'release-slot');
    expect(releases.map((i) => i.state)).toEqual([STATES.releaseAfterFailure]);
    expect(releases[0]?.result).toMatchObject({ released: true });
    await expectNoLeaseHeldBy(r);
    const items = await outcomeItems(event);
    expect(items.map((i) => i.outcome)).toEqual(['FAILED']);
    expect(r.states(STATES.startRunbook).map((i) => i.error)).toEqual(['RunbookStartRejectedError']);
  });
});
