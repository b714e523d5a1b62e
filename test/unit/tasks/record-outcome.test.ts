import 'aws-sdk-client-mock-vitest/extend';
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetExecutionHistoryCommand, type HistoryEvent, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  parseCause,
  type RecordOutcomeInput,
  recordOutcome,
  scrub,
} from '../../../tasks/record-outcome/core';
import { costForOutcome, HISTORY_BUDGET_MS } from '../../../tasks/record-outcome/cost';
import { handler } from '../../../tasks/record-outcome/handler';
import { approvalIdFor } from '../../../tasks/shared/approval-id';
import type { Outcome, RunbookState } from '../../../tasks/shared/contracts';
import { InvalidInputError, TransientServiceError } from '../../../tasks/shared/errors';
import { awsError, DOC, drift, EXEC_ARN, EXEC_NAME, event, execution, plan } from './fixtures/late-stages';

const NOW = new Date('2026-11-23T10:20:00.000Z');
const ENTERED = '2026-11-23T10:19:59.123Z';
const RESOURCE_KEY = '123456789012/eu-west-1/AWS::EC2::SecurityGroup/sg-0123456789abcdef0';
const OUTCOME_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:outcomes';
const APPROVAL_TOPIC = 'arn:aws:sns:eu-west-1:123456789012:approvals';
const TASK_TOKEN = `AQCEAAAAKgAAAAMAAAAAAAAAA${'x9Y8z7W6v5U4t3S2r1Q0'.repeat(20)}==`;

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const sns = new SNSClient({ region: 'eu-west-1' });
const sfn = new SFNClient({ region: 'eu-west-1' });
let ddbMock: AwsClientStub<DynamoDBDocumentClient>;
let snsMock: AwsClientStub<SNSClient>;
let sfnMock: AwsClientStub<SFNClient>;

const at = (s: number) => new Date(Date.parse('2026-11-23T10:19:00.000Z') + s * 1000);
/** An execution's history up to Record outcome's start: Plan (1 s at 256 MB), a Choice, then Outcome: VERIFIED. */
const HISTORY: HistoryEvent[] = (
  [
    { type: 'ExecutionStarted', timestamp: at(0) },
    { type: 'TaskStateEntered', timestamp: at(0), stateEnteredEventDetails: { name: 'Plan remediation' } },
    {
      type: 'TaskScheduled',
      timestamp: at(0),
      taskScheduledEventDetails: {
        resourceType: 'lambda',
        resource: 'invoke',
        region: 'eu-west-1',
        parameters: '{}',
      },
    },
    { type: 'TaskStarted', timestamp: at(0.1) },
    { type: 'TaskSucceeded', timestamp: at(1.1) },
    { type: 'TaskStateExited', timestamp: at(1.1) },
    {
      type: 'ChoiceStateEntered',
      timestamp: at(1.1),
      stateEnteredEventDetails: { name: 'Remediate, skip or escalate?' },
    },
    { type: 'ChoiceStateExited', timestamp: at(1.1) },
    { type: 'TaskStateEntered', timestamp: at(1.2), stateEnteredEventDetails: { name: 'Outcome: VERIFIED' } },
    {
      type: 'TaskScheduled',
      timestamp: at(1.2),
      taskScheduledEventDetails: {
        resourceType: 'lambda',
        resource: 'invoke',
        region: 'eu-west-1',
        parameters: '{}',
      },
    },
    { type: 'TaskStarted', timestamp: at(1.3) },
  ] satisfies Omit<HistoryEvent, 'id'>[]
).map((e, i) => ({ ...e, id: i + 1 }));
const metricCalls: Array<{ dimensions: Record<string, string>; metrics: Array<[string, string, number]> }> =
  [];
const fakeMetrics = {
  singleMetric() {
    const entry = {
      dimensions: {} as Record<string, string>,
      metrics: [] as Array<[string, string, number]>,
    };
    metricCalls.push(entry);
    return {
      addDimension: (name: string, value: string) => {
        entry.dimensions[name] = value;
      },
      addMetric: (name: string, unit: string, value: number) => {
        entry.metrics.push([name, unit, value]);
      },
    };
  },
};

beforeAll(() => {
  ddbMock = mockClient(DynamoDBDocumentClient);
  snsMock = mockClient(SNSClient);
  sfnMock = mockClient(SFNClient);
});
beforeEach(() => {
  ddbMock.reset();
  snsMock.reset();
  sfnMock.reset();
  sfnMock.on(GetExecutionHistoryCommand).resolves({ events: HISTORY });
  ddbMock.on(PutCommand).resolves({});
  ddbMock.on(QueryCommand).resolves({ Items: [] });
  ddbMock.on(UpdateCommand).resolves({});
  snsMock.on(PublishCommand).resolves({ MessageId: 'm-1' });
  metricCalls.length = 0;
});
afterAll(() => {
  ddbMock.restore();
  snsMock.restore();
  sfnMock.restore();
});

const deps = {
  ddb,
  sns,
  sfn,
  durationScale: 1,
  outcomesTable: 'outcomes',
  approvalsTable: 'approvals',
  outcomeTopicArn: OUTCOME_TOPIC,
  approvalTopicArn: APPROVAL_TOPIC,
  metrics: fakeMetrics,
  now: () => NOW,
};
const succeededRunbook = (over: Partial<RunbookState> = {}): RunbookState => ({
  attempt: 2,
  automationExecutionId: 'auto-2',
  documentName: DOC,
  status: 'Success',
  phase: 'succeeded',
  waitSeconds: 1,
  ...over,
});
const base = (outcome: Outcome, over: Partial<RecordOutcomeInput> = {}): RecordOutcomeInput => ({
  outcome,
  execution: execution(),
  enteredTime: ENTERED,
  event: event(),
  plan: plan(),
  ...over,
});
const putItem = () => {
  const calls = ddbMock.commandCalls(PutCommand);
  expect(calls).toHaveLength(1);
  return calls[0]?.args[0].input.Item ?? {};
};
const published = () => snsMock.commandCalls(PublishCommand).map((c) => c.args[0].input);

describe('record-outcome', () => {
  it('VERIFIED: audit item with remediated = true, no notification, metric counted, execution succeeds', async () => {
    const out = await recordOutcome(
      base('VERIFIED', {
        runbook: succeededRunbook(),
        verification: {
          status: 'verified',
          polls: 2,
          maxPolls: 30,
          waitSeconds: 5,
          compliance: 'COMPLIANT',
          reason: 'Config rule restricted-ssh reports COMPLIANT',
        },
      }),
      deps,
    );
    expect(out).toEqual({
      outcome: 'VERIFIED',
      reason: `remediated by ${DOC} (attempt 2) and verified: Config rule restricted-ssh reports COMPLIANT`,
      resourceKey: RESOURCE_KEY,
      executionId: EXEC_ARN,
      recordedAt: ENTERED,
      succeeded: true,
    });
    expect(putItem()).toMatchObject({
      resourceKey: RESOURCE_KEY,
      sk: `${ENTERED}#${EXEC_NAME}`,
      outcome: 'VERIFIED',
      remediated: true,
      attempts: 2,
      runbook: DOC,
      ruleName: 'restricted-ssh',
      executionArn: EXEC_ARN,
      automationExecutionId: 'auto-2',
      compliance: 'COMPLIANT',
      durationMs: Date.parse(ENTERED) - Date.parse(execution().startTime),
    });
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
    expect(metricCalls).toEqual([
      { dimensions: { outcome: 'VERIFIED' }, metrics: [['RemediationOutcome', 'Count', 1]] },
    ]);
  });

  it('stores the cost: the history read once without execution data, priced, plus the final transition', async () => {
    await recordOutcome(base('VERIFIED', { runbook: succeededRunbook() }), deps);
    expect(sfnMock).toHaveReceivedCommandTimes(GetExecutionHistoryCommand, 1);
    expect(sfnMock).toHaveReceivedCommandWith(GetExecutionHistoryCommand, {
      executionArn: EXEC_ARN,
      includeExecutionData: false,
      maxResults: 1000,
    });
    const cost = putItem().cost as Record<string, unknown>;
    // Plan, the Choice, Outcome: VERIFIED, and the Succeed still to come.
    expect(cost).toMatchObject({
      transitions: 4,
      lambdaInvocations: 2,
      estimatedInvocations: 1,
      complete: true,
    });
    // Plan ran 1,000 ms; Record outcome's own run is not over: billed at the median of the measured (1,000 ms).
    expect(cost.lambdaBilledMs).toBe(2000);
    expect(cost.lambdaGbSeconds).toBe(0.5);
    const usd = cost.usd as { total: number };
    expect(usd.total).toBeCloseTo((4 / 1000) * 0.025 + 2 * 0.0000002 + 0.5 * 0.0000133334, 9);
  });

  it('a history that cannot be read leaves the cost out, saying why, and the outcome is still recorded', async () => {
    sfnMock.on(GetExecutionHistoryCommand).rejects(awsError('AccessDeniedException', 403));
    const out = await recordOutcome(base('VERIFIED', { runbook: succeededRunbook() }), deps);
    expect(out.outcome).toBe('VERIFIED');
    expect(putItem()).toMatchObject({ outcome: 'VERIFIED', cost: { unavailable: 'AccessDeniedException' } });
  });

  it('a history read past its time budget stops and marks the cost incomplete', async () => {
    sfnMock
      .on(GetExecutionHistoryCommand)
      .resolvesOnce({ events: HISTORY.slice(0, 6), nextToken: 'page-2' })
      .resolves({ events: HISTORY.slice(6) });
    let elapsed = 0;
    const cost = await costForOutcome(sfn, EXEC_ARN, 1, () => {
      elapsed += HISTORY_BUDGET_MS;
      return elapsed;
    });
    expect(sfnMock).toHaveReceivedCommandTimes(GetExecutionHistoryCommand, 1);
    expect(cost).toMatchObject({ complete: false, transitions: 1, lambdaInvocations: 1 });
    sfnMock.resetHistory();
    expect(await costForOutcome(sfn, EXEC_ARN, 1)).toMatchObject({ complete: true, transitions: 4 });
    expect(sfnMock).toHaveReceivedCommandTimes(GetExecutionHistoryCommand, 2);
  });

  it('the sandbox scale turns history milliseconds into real ones', async () => {
    const cost = await costForOutcome(sfn, EXEC_ARN, 0.01);
    expect(cost).toMatchObject({ lambdaBilledMs: 20 });
  });

  it('a retried invocation (same $$.State.EnteredTime) overwrites the same item rather than adding one', async () => {
    const input = base('VERIFIED', { runbook: succeededRunbook() });
    await recordOutcome(input, deps);
    await recordOutcome(input, { ...deps, now: () => new Date(NOW.getTime() + 5000) });
    const keys = ddbMock
      .commandCalls(PutCommand)
      .map((c) => `${c.args[0].input.Item?.resourceKey}|${c.args[0].input.Item?.sk}`);
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(1);
  });

  it('SKIPPED: the confirmation says why, nobody is paged', async () => {
    const out = await recordOutcome(
      base('SKIPPED', {
        confirmation: {
          stillNonCompliant: false,
          resourceExists: true,
          currentCompliance: 'COMPLIANT',
          reason: 'already COMPLIANT again (newer evaluation)',
        },
      }),
      deps,
    );
    expect(out).toMatchObject({
      outcome: 'SKIPPED',
      reason: 'already COMPLIANT again (newer evaluation)',
      succeeded: true,
    });
    expect(putItem()).toMatchObject({ remediated: false, attempts: 0 });
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
  });

  it('ESCALATED: explains a template that violates the rule and tells a human', async () => {
    const out = await recordOutcome(
      base('ESCALATED', { drift: drift({ templateViolatesRule: true, resourceDriftStatus: 'IN_SYNC' }) }),
      deps,
    );
    expect(out.succeeded).toBe(false);
    expect(out.reason).toMatch(/the template itself violates the rule/);
    expect(snsMock).toHaveReceivedCommandTimes(PublishCommand, 1);
    const [msg] = published();
    expect(msg?.TopicArn).toBe(OUTCOME_TOPIC);
    expect(msg?.Subject).toBe('[drift-remediation] ESCALATED: AWS::EC2::SecurityGroup sg-0123456789abcdef0');
    expect(msg?.Message).toContain(`Why: ${out.reason}`);
    expect(msg?.MessageAttributes?.outcome).toEqual({ DataType: 'String', StringValue: 'ESCALATED' });
    // Where the resource lives: in the text and as attributes (filter policies per account or region).
    const [account, region] = RESOURCE_KEY.split('/');
    expect(msg?.Message).toContain(`Account: ${account}, region: ${region}`);
    expect(msg?.MessageAttributes?.account).toEqual({ DataType: 'String', StringValue: account });
    expect(msg?.MessageAttributes?.region).toEqual({ DataType: 'String', StringValue: region });
  });

  it('REJECTED: the approver and comment come from the rejection Cause, and are audited', async () => {
    const Cause = JSON.stringify({
      approvalId: 'apr-1',
      decision: 'rejected',
      approver: 'alice@example.com',
      comment: 'change freeze',
      decidedAt: '2026-11-23T10:15:00Z',
    });
    const out = await recordOutcome(base('REJECTED', { error: { Error: 'ApprovalRejected', Cause } }), deps);
    expect(out).toMatchObject({ reason: 'rejected by alice@example.com: change freeze', succeeded: true });
    expect(putItem()).toMatchObject({
      approval: { approvalId: 'apr-1', decision: 'rejected', approver: 'alice@example.com' },
      errorName: 'ApprovalRejected',
    });
    expect(published().map((m) => m.TopicArn)).toEqual([OUTCOME_TOPIC]);
  });

  it('copies where an approval decision came from (IP, user agent, comment) from the approval item into the audit', async () => {
    ddbMock.on(GetCommand, { TableName: 'approvals', Key: { approvalId: 'apr-9' } }).resolves({
      Item: {
        decision: {
          decision: 'approved',
          approver: 'bob@example.com',
          decidedAt: '2026-11-23T10:16:00Z',
          comment: 'ok for prod',
          sourceIp: '203.0.113.7',
          userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
        },
      },
    });
    const approval = {
      approvalId: 'apr-9',
      decision: 'approved' as const,
      approver: 'bob@example.com',
      decidedAt: '2026-11-23T10:16:00Z',
    };
    await recordOutcome(base('VERIFIED', { approval, runbook: succeededRunbook() }), deps);
    expect(putItem()).toMatchObject({
      approval: {
        approvalId: 'apr-9',
        approver: 'bob@example.com',
        comment: 'ok for prod',
        sourceIp: '203.0.113.7',
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
      },
    });
  });

  it('still records the outcome when the approval item cannot be read, and says the origin is missing', async () => {
    ddbMock.on(GetCommand).rejects(Object.assign(new Error('denied'), { name: 'AccessDeniedException' }));
    const approval = {
      approvalId: 'apr-9',
      decision: 'approved' as const,
      approver: 'bob@example.com',
      decidedAt: '2026-11-23T10:16:00Z',
    };
    await recordOutcome(base('VERIFIED', { approval, runbook: succeededRunbook() }), deps);
    expect(putItem()).toMatchObject({ approval: { approver: 'bob@example.com', originUnavailable: true } });
  });

  it('leaves a throttled approval read to the workflow retry (TransientServiceError) before writing anything', async () => {
    ddbMock.on(GetCommand).rejects(Object.assign(new Error('slow down'), { name: 'ThrottlingException' }));
    const approval = {
      approvalId: 'apr-9',
      decision: 'approved' as const,
      approver: 'bob@example.com',
      decidedAt: '2026-11-23T10:16:00Z',
    };
    await expect(
      recordOutcome(base('VERIFIED', { approval, runbook: succeededRunbook() }), deps),
    ).rejects.toMatchObject({
      name: 'TransientServiceError',
    });
    expect(ddbMock.commandCalls(PutCommand)).toHaveLength(0);
  });

  it('EXPIRED: marks the approval EXPIRED (dropping its task token) and tells each approver and the outcome topic', async () => {
    ddbMock.on(UpdateCommand).resolves({
      Attributes: {
        approvalId: 'x',
        status: 'EXPIRED',
        approvers: ['secops@example.com', 'lead@example.com'],
      },
    });
    const out = await recordOutcome(base('EXPIRED', { error: { Error: 'States.Timeout' } }), deps);
    expect(out).toMatchObject({ outcome: 'EXPIRED', succeeded: false });
    expect(out.reason).toMatch(/no approval decision within 3600 seconds/);
    expect(ddbMock).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: 'approvals',
      Key: { approvalId: approvalIdFor(EXEC_ARN) },
      UpdateExpression: 'SET #status = :expired, #expiredAt = :now REMOVE #taskToken',
      ConditionExpression: '#status = :pending',
    });
    expect(published().map((m) => m.TopicArn)).toEqual([APPROVAL_TOPIC, APPROVAL_TOPIC, OUTCOME_TOPIC]);
    const toApprovers = published().filter((m) => m.TopicArn === APPROVAL_TOPIC);
    expect(toApprovers.map((m) => m.MessageAttributes?.approver?.StringValue)).toEqual([
      'secops@example.com',
      'lead@example.com',
    ]);
    expect(toApprovers.every((m) => m.MessageAttributes?.kind?.StringValue === 'approval-expired')).toBe(
      true,
    );
    expect(toApprovers[0]?.Message).toContain(`approval request ${approvalIdFor(EXEC_ARN)}`);
    expect(putItem()).toMatchObject({
      approval: { approvalId: approvalIdFor(EXEC_ARN), decision: 'expired' },
    });
  });

  it('EXPIRED with no approvers on the item falls back to the plan’s approvers', async () => {
    ddbMock.on(UpdateCommand).resolves({ Attributes: { approvalId: 'x', status: 'EXPIRED' } });
    await recordOutcome(base('EXPIRED'), deps);
    const toApprovers = published().filter((m) => m.TopicArn === APPROVAL_TOPIC);
    expect(toApprovers.map((m) => m.MessageAttributes?.approver?.StringValue)).toEqual([
      'secops@example.com',
    ]);
  });

  it('EXPIRED but already decided meanwhile: the approval is left alone and approvers are not told it expired', async () => {
    ddbMock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: 'no', $metadata: {} }));
    await recordOutcome(base('EXPIRED'), deps);
    expect(published().map((m) => m.TopicArn)).toEqual([OUTCOME_TOPIC]);
  });

  it('FAILED: reason from the caught error name and the errorMessage inside its Cause', async () => {
    const Cause = JSON.stringify({
      errorType: 'RunbookStartRejectedError',
      errorMessage: `StartAutomationExecution(${DOC}) rejected: AutomationDefinitionNotFoundException: no such document`,
      trace: ['at x', 'at y'],
    });
    const out = await recordOutcome(
      base('FAILED', { error: { Error: 'RunbookStartRejectedError', Cause } }),
      deps,
    );
    expect(out.reason).toBe(
      `RunbookStartRejectedError: StartAutomationExecution(${DOC}) rejected: AutomationDefinitionNotFoundException: no such document`,
    );
    expect(out.succeeded).toBe(false);
    expect(putItem()).toMatchObject({
      outcome: 'FAILED',
      errorName: 'RunbookStartRejectedError',
      remediated: false,
    });
    expect(published()[0]?.Message).not.toContain('at x');
  });

  it('FAILED after every attempt: reason names the attempts and the last failure', async () => {
    const runbook = succeededRunbook({
      attempt: 3,
      phase: 'failed',
      status: 'Failed',
      retryable: false,
      failureMessage: 'Step revoke failed: AccessDenied',
    });
    const out = await recordOutcome(base('FAILED', { runbook }), deps);
    expect(out.reason).toBe('runbook failed on every attempt (3/3): Step revoke failed: AccessDenied');
    expect(putItem()).toMatchObject({ attempts: 3, remediated: false });
  });

  it('NOT_VERIFIED: the runbook ran (remediated) but verification says why it is not done', async () => {
    const out = await recordOutcome(
      base('NOT_VERIFIED', {
        runbook: succeededRunbook(),
        verification: {
          status: 'failed',
          polls: 30,
          maxPolls: 30,
          waitSeconds: 30,
          reason: 'not verified after 30 checks: restricted-ssh reports NON_COMPLIANT',
        },
      }),
      deps,
    );
    expect(out.reason).toMatch(/ran but the fix was not verified: not verified after 30 checks/);
    expect(putItem()).toMatchObject({ remediated: true });
    expect(published()).toHaveLength(1);
  });

  it('PLANNED: records the runbook, its resolved parameters and the diff; nothing remediated, nobody paged', async () => {
    const diff = {
      PropertyPath: '/SecurityGroupIngress/1',
      ExpectedValue: 'null',
      ActualValue: '{"CidrIp":"0.0.0.0/0","FromPort":22,"IpProtocol":"tcp","ToPort":22}',
      DifferenceType: 'ADD' as const,
    };
    const out = await recordOutcome(
      base('PLANNED', {
        plan: plan({
          mode: 'plan',
          reason: `plan mode (policy entry sg-ingress): would run ${DOC}; nothing is changed`,
        }),
        drift: drift({ propertyDifferences: [diff] }),
      }),
      deps,
    );
    expect(out).toMatchObject({
      outcome: 'PLANNED',
      reason: `plan mode (policy entry sg-ingress): would run ${DOC}; nothing is changed; 1 drifted properties recorded`,
      succeeded: true,
    });
    expect(putItem()).toMatchObject({
      outcome: 'PLANNED',
      remediated: false,
      attempts: 0,
      runbook: DOC,
      planned: {
        documentName: DOC,
        parameters: {
          GroupId: ['sg-0123456789abcdef0'],
          RevokeIngress: [
            JSON.stringify([{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '0.0.0.0/0' }]),
          ],
        },
        diff: {
          driftStatus: 'MODIFIED',
          propertyDifferences: [diff],
          added: {
            SecurityGroupIngress: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '0.0.0.0/0' }],
          },
        },
      },
    });
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
  });

  it('PLANNED with parameters that cannot be resolved still records the outcome and says why', async () => {
    await recordOutcome(
      base('PLANNED', {
        plan: plan({
          mode: 'plan',
          runbook: {
            documentName: DOC,
            firstParty: true,
            parameters: { Rules: { from: 'drift.added.Nope', as: 'json' } },
          },
        }),
        drift: drift(),
      }),
      deps,
    );
    expect(putItem().planned).toEqual({
      documentName: DOC,
      parametersError: 'runbook parameters could not be resolved: Rules (from drift.added.Nope)',
      diff: expect.objectContaining({ driftStatus: 'MODIFIED' }),
    });
  });

  it('never lets a task token or secret reach SNS or the audit table', async () => {
    const Cause = JSON.stringify({
      errorType: 'Error',
      errorMessage: `SendTaskSuccess failed for taskToken=${TASK_TOKEN} with secret: hunter2 link https://approve.example.com/a?sig=abcdef&token=${TASK_TOKEN}`,
    });
    await recordOutcome(base('FAILED', { error: { Error: 'Error', Cause } }), deps);
    await recordOutcome(
      base('EXPIRED', { error: { Error: 'States.Timeout', Cause: `{"taskToken":"${TASK_TOKEN}"}` } }),
      deps,
    );
    const texts = [
      ...published().flatMap((m) => [m.Message ?? '', m.Subject ?? '']),
      ...ddbMock.commandCalls(PutCommand).map((c) => JSON.stringify(c.args[0].input.Item)),
    ];
    expect(texts.length).toBeGreaterThan(3);
    for (const text of texts) {
      expect(text).not.toContain(TASK_TOKEN);
      expect(text).not.toContain(TASK_TOKEN.slice(0, 40));
      expect(text).not.toContain('hunter2');
      expect(text).not.toContain('sig=abcdef');
    }
  });

  it('maps a throttled audit write to TransientServiceError before telling anyone', async () => {
    ddbMock.on(PutCommand).rejects(awsError('ProvisionedThroughputExceededException'));
    await expect(recordOutcome(base('FAILED'), deps)).rejects.toBeInstanceOf(TransientServiceError);
    expect(snsMock).not.toHaveReceivedCommand(PublishCommand);
    expect(metricCalls).toHaveLength(0);
  });
});

describe('parseCause and scrub', () => {
  it('reads Lambda error JSON, approval rejections and plain text', () => {
    expect(parseCause('{"errorType":"X","errorMessage":"boom"}')).toEqual({
      message: 'boom',
      errorType: 'X',
    });
    expect(parseCause('plain words')).toEqual({ message: 'plain words' });
    expect(parseCause(undefined)).toEqual({});
    const rej = { approvalId: 'a', decision: 'rejected', approver: 'bob', decidedAt: 't' };
    expect(parseCause(JSON.stringify(rej)).rejection).toEqual(rej);
  });

  it('keeps ordinary text and execution names, removes tokens', () => {
    expect(scrub(`execution ${EXEC_NAME} failed: AccessDenied`)).toBe(
      `execution ${EXEC_NAME} failed: AccessDenied`,
    );
    expect(scrub(`token: ${TASK_TOKEN}`)).toBe('token: [redacted]');
    expect(scrub(`x ${TASK_TOKEN} y`)).toBe('x [redacted] y');
  });
});

describe('record-outcome handler', () => {
  beforeEach(() => {
    Object.assign(process.env, {
      OUTCOMES_TABLE: 'outcomes',
      APPROVALS_TABLE: 'approvals',
      OUTCOME_TOPIC_ARN: OUTCOME_TOPIC,
      APPROVAL_TOPIC_ARN: APPROVAL_TOPIC,
    });
  });
  afterEach(() => {
    for (const k of ['OUTCOMES_TABLE', 'APPROVALS_TABLE', 'OUTCOME_TOPIC_ARN', 'APPROVAL_TOPIC_ARN'])
      delete process.env[k];
  });

  it('rejects an unknown outcome or a missing execution with InvalidInputError and writes nothing', async () => {
    await expect(handler({ outcome: 'MAYBE', execution: execution() })).rejects.toThrow(/outcome/);
    await expect(handler({ outcome: 'FAILED' })).rejects.toBeInstanceOf(InvalidInputError);
    expect(ddbMock).not.toHaveReceivedAnyCommand();
    expect(snsMock).not.toHaveReceivedAnyCommand();
  });

  it('takes the workflow’s payload: the whole state, the execution beside it, the outcome in `recording`', async () => {
    const forged = execution({ id: `${execution().id}-forged`, name: 'forged' });
    const out = await handler({
      state: { event: event(), error: { Error: 'States.TaskFailed', Cause: 'it broke' }, execution: forged },
      execution: execution(),
      recording: { outcome: 'FAILED' },
    });
    expect(out).toMatchObject({ outcome: 'FAILED', executionId: execution().id, resourceKey: RESOURCE_KEY });
    await expect(
      handler({ state: { event: event() }, recording: { outcome: 'FAILED' } }),
    ).rejects.toBeInstanceOf(InvalidInputError);
  });

  it('still records the outcome when a state slice is malformed', async () => {
    const out = await handler({
      outcome: 'FAILED',
      execution: execution(),
      event: event(),
      plan: { decision: 'nonsense' },
      error: { Error: 'States.TaskFailed', Cause: 'it broke' },
    });
    expect(out).toMatchObject({
      outcome: 'FAILED',
      reason: 'States.TaskFailed: it broke',
      resourceKey: RESOURCE_KEY,
      succeeded: false,
    });
    expect(ddbMock).toHaveReceivedCommandWith(PutCommand, { TableName: 'outcomes' });
    expect(snsMock).toHaveReceivedCommandWith(PublishCommand, { TopicArn: OUTCOME_TOPIC });
  });
});
