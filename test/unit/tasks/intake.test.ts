import 'aws-sdk-client-mock-vitest/extend';
import {
  CloudFormationClient,
  DescribeStackResourceDriftsCommand,
  type StackResourceDrift,
} from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient, ListDiscoveredResourcesCommand } from '@aws-sdk/client-config-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { beforeEach, describe, expect, it } from 'vitest';
import { type IntakeDeps, IntakeInput, intake, processMessage } from '../../../tasks/intake/core';
import { handler } from '../../../tasks/intake/handler';
import { InvalidInputError } from '../../../tasks/shared/errors';
import { executionName, isValidExecutionName, shortRegion } from '../../../tasks/shared/execution-name';
import { INVALID_EVENT_RESOURCE_KEY } from '../../../tasks/shared/outcomes';
import { loadPolicyFile, normalizePolicy } from '../../../tasks/shared/policy/load';
import { orderingKey } from '../../../tasks/shared/tables';
import {
  ACCOUNT,
  awsError,
  configEvent,
  REGION,
  rawPolicy,
  SG_ID,
  STACK_ARN,
  testPolicy,
} from './fixtures/core-tasks';

const sfn = mockClient(SFNClient);
const configMock = mockClient(ConfigServiceClient);
const cfn = mockClient(CloudFormationClient);
const ddbDoc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: REGION }));
const ddb = mockClient(ddbDoc);

const NOW = new Date('2026-11-23T12:00:00.000Z');
const SM_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:drift-remediation`;

function deps(overrides: Partial<IntakeDeps> = {}): IntakeDeps {
  return {
    sfn: new SFNClient({ region: REGION }),
    config: new ConfigServiceClient({ region: REGION }),
    ddb: ddbDoc,
    cloudFormation: new CloudFormationClient({ region: REGION }),
    policy: testPolicy(),
    stateMachineArn: SM_ARN,
    orderingTable: 'ordering',
    outcomesTable: 'outcomes',
    now: () => NOW,
    ...overrides,
  };
}

function configEnvelope(
  opts: {
    compliance?: string;
    ordering?: string;
    rule?: string;
    resourceId?: string;
    resourceType?: string;
  } = {},
) {
  const rule = opts.rule ?? 'restricted-ssh';
  const resourceType = opts.resourceType ?? 'AWS::EC2::SecurityGroup';
  const resourceId = opts.resourceId ?? SG_ID;
  return {
    version: '0',
    id: 'c1a2b3c4-0000-1111-2222-333344445555',
    'detail-type': 'Config Rules Compliance Change',
    source: 'aws.config',
    account: ACCOUNT,
    time: '2026-11-23T10:00:02Z',
    region: REGION,
    resources: [],
    detail: {
      resourceId,
      awsRegion: REGION,
      awsAccountId: ACCOUNT,
      configRuleName: rule,
      recordVersion: '1.0',
      configRuleARN: `arn:aws:config:${REGION}:${ACCOUNT}:config-rule/config-rule-abc123`,
      messageType: 'ComplianceChangeNotification',
      newEvaluationResult: {
        evaluationResultIdentifier: {
          evaluationResultQualifier: {
            configRuleName: rule,
            resourceType,
            resourceId,
            evaluationMode: 'DETECTIVE',
          },
          orderingTimestamp: opts.ordering ?? '2026-11-23T10:00:00.000Z',
        },
        complianceType: opts.compliance ?? 'NON_COMPLIANT',
        resultRecordedTime: '2026-11-23T10:00:01.500Z',
        configRuleInvokedTime: '2026-11-23T10:00:01.000Z',
      },
      oldEvaluationResult: null,
      notificationCreationTime: '2026-11-23T10:00:01.900Z',
      resourceType,
    },
  };
}

function driftEnvelope(status = 'DRIFTED') {
  return {
    version: '0',
    id: 'd1d2d3d4-0000-1111-2222-333344445555',
    'detail-type': 'CloudFormation Drift Detection Status Change',
    source: 'aws.cloudformation',
    account: ACCOUNT,
    time: '2026-11-23T11:00:00Z',
    region: REGION,
    resources: [STACK_ARN],
    detail: {
      'stack-id': STACK_ARN,
      'stack-drift-detection-id': '9a9a9a9a-0000-1111-2222-333344445555',
      'status-details': { 'stack-drift-status': status, 'detection-status': 'DETECTION_COMPLETE' },
      'drift-detection-details': { 'drifted-stack-resource-count': 2 },
    },
  };
}

const sqs = (bodies: unknown[]) =>
  v.parse(IntakeInput, {
    Records: bodies.map((b, i) => ({
      messageId: `m-${i}`,
      receiptHandle: 'rh',
      body: typeof b === 'string' ? b : JSON.stringify(b),
      attributes: {},
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:intake`,
      awsRegion: REGION,
    })),
  });

function outcomePuts() {
  return ddb
    .commandCalls(PutCommand)
    .map((c) => c.args[0].input)
    .filter((i) => i.TableName === 'outcomes')
    .map((i) => i.Item ?? {});
}
function orderingPuts() {
  return ddb
    .commandCalls(PutCommand)
    .map((c) => c.args[0].input)
    .filter((i) => i.TableName === 'ordering');
}

beforeEach(() => {
  sfn.reset();
  configMock.reset();
  cfn.reset();
  ddb.reset();
  sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => ({
    executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:drift-remediation:${input.name}`,
    startDate: NOW,
  }));
  ddb.on(PutCommand).resolves({});
  ddb.on(GetCommand).resolves({});
});

describe('intake: Config compliance changes', () => {
  it('starts one execution for a NON_COMPLIANT result, with a deterministic name and the event as input', async () => {
    const out = await intake(sqs([configEnvelope()]), deps());
    expect(out.batchItemFailures).toEqual([]);
    const expectedEvent = {
      eventId: 'c1a2b3c4-0000-1111-2222-333344445555',
      source: 'config',
      configRuleName: 'restricted-ssh',
      resourceType: 'AWS::EC2::SecurityGroup',
      resourceId: SG_ID,
      awsAccountId: ACCOUNT,
      awsRegion: REGION,
      complianceType: 'NON_COMPLIANT',
      orderingTimestamp: '2026-11-23T10:00:00.000Z',
    };
    const name = executionName(expectedEvent);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, { stateMachineArn: SM_ARN, name });
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}');
    expect(input).toEqual({ event: expectedEvent });
    expect(name).toMatch(
      new RegExp(`^restricted-ssh-SecurityGrou-${ACCOUNT}-${shortRegion(REGION)}-[0-9a-f]{26}$`),
    );
    // The ordering mark was claimed with a newer-or-equal condition.
    const [put] = orderingPuts();
    expect(put?.Item).toMatchObject({
      key: orderingKey('restricted-ssh', `${ACCOUNT}/${REGION}/AWS::EC2::SecurityGroup/${SG_ID}`),
      lastOrderingTimestamp: '2026-11-23T10:00:00.000Z',
    });
    expect(put?.ConditionExpression).toBe(
      'attribute_not_exists(#k) OR (#t < :t AND attribute_not_exists(#e))',
    );
    expect(outcomePuts()).toEqual([]);
  });

  it('uses orderingTimestamp, not delivery time: the same evaluation redelivered maps to the same name', async () => {
    await intake(sqs([configEnvelope({ ordering: '2026-11-23T10:00:00Z' })]), deps());
    await intake(sqs([configEnvelope({ ordering: '2026-11-23T10:00:00.000+00:00' })]), deps());
    const names = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name);
    expect(names).toHaveLength(2);
    expect(names[0]).toBe(names[1]);
    await intake(sqs([configEnvelope({ ordering: '2026-11-23T10:00:01Z' })]), deps());
    expect(sfn.commandCalls(StartExecutionCommand)[2]?.args[0].input.name).not.toBe(names[0]);
  });

  it('20 identical records: the same name every time; duplicates absorbed, not errors', async () => {
    let first = true;
    sfn.on(StartExecutionCommand).callsFake((input: { name: string }) => {
      if (!first) throw awsError('ExecutionAlreadyExists', `Execution Already Exists: '${input.name}'`);
      first = false;
      return {
        executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:sm:${input.name}`,
        startDate: NOW,
      };
    });
    const envelope = configEnvelope();
    const out = await intake(sqs(Array.from({ length: 20 }, () => envelope)), deps());
    expect(out.batchItemFailures).toEqual([]);
    const names = new Set(sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name));
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 20);
    expect(names.size).toBe(1);
    expect(outcomePuts()).toEqual([]);
  });

  it('a Config result reads its ordering item once: the fast-path check’s read is the running check’s', async () => {
    const [r] = await processMessage(JSON.stringify(configEnvelope()), 'm-1', deps());
    expect(r?.status).toBe('started');
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
    expect(orderingPuts()).toHaveLength(1);
    // A manual start has no fast-path check: the running check reads it.
    ddb.resetHistory();
    const ev = configEvent({ source: 'manual', eventId: 'manual-1' });
    await intake(
      sqs([{ source: 'drift-remediation.manual', 'detail-type': 'Manual Remediation Request', detail: ev }]),
      deps(),
    );
    expect(ddb).toHaveReceivedCommandTimes(GetCommand, 1);
  });

  it('reports a duplicate as absorbed', async () => {
    sfn.on(StartExecutionCommand).rejects(awsError('ExecutionAlreadyExists'));
    const [r] = await processMessage(JSON.stringify(configEnvelope()), 'm-1', deps());
    expect(r?.status).toBe('duplicate');
  });

  it('an older result never starts anything and is recorded as SKIPPED', async () => {
    ddb.on(PutCommand, { TableName: 'ordering' }).rejects(awsError('ConditionalCheckFailedException'));
    const out = await intake(sqs([configEnvelope({ ordering: '2026-11-22T00:00:00Z' })]), deps());
    expect(out.batchItemFailures).toEqual([]);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    const [item] = outcomePuts();
    expect(item).toMatchObject({
      outcome: 'SKIPPED',
      resourceKey: `${ACCOUNT}/${REGION}/AWS::EC2::SecurityGroup/${SG_ID}`,
      remediated: false,
      ruleName: 'restricted-ssh',
    });
    expect(String(item?.reason)).toMatch(/out of order/);
    expect(String(item?.sk)).toMatch(/^2026-11-23T12:00:00.000Z#restricted-ssh-SecurityGrou-/);
  });

  it('a COMPLIANT result starts nothing; its recorded outcome is the ordering mark it moves (keeping the execution it names)', async () => {
    const out = await intake(sqs([configEnvelope({ compliance: 'COMPLIANT' })]), deps());
    expect(out.batchItemFailures).toEqual([]);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(orderingPuts()).toHaveLength(0);
    const updates = ddb.commandCalls(UpdateCommand).map((c) => c.args[0].input);
    expect(updates).toHaveLength(1);
    expect(updates[0]?.UpdateExpression).not.toMatch(/executionName/);
    expect(updates[0]?.ExpressionAttributeNames?.['#r']).toBe('lastResult');
    expect(updates[0]?.ExpressionAttributeValues).toMatchObject({
      ':r': 'COMPLIANT',
      ':ev': 'c1a2b3c4-0000-1111-2222-333344445555',
    });
    // One write per compliant result: no audit item beside the mark.
    expect(outcomePuts()).toEqual([]);
    const [outcome] = await processMessage(
      JSON.stringify(configEnvelope({ compliance: 'COMPLIANT' })),
      'm',
      deps(),
    );
    expect(outcome).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/COMPLIANT/) });
  });

  it('a COMPLIANT result older than the mark moves nothing and is recorded SKIPPED (out of order)', async () => {
    ddb.on(UpdateCommand).rejects(awsError('ConditionalCheckFailedException'));
    const out = await intake(sqs([configEnvelope({ compliance: 'COMPLIANT' })]), deps());
    expect(out.batchItemFailures).toEqual([]);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(outcomePuts()).toHaveLength(1);
    expect(outcomePuts()[0]).toMatchObject({
      outcome: 'SKIPPED',
      ruleName: 'restricted-ssh',
      remediated: false,
    });
    expect(String(outcomePuts()[0]?.reason)).toMatch(/out of order: .*COMPLIANT/);
  });

  it('a rule without a policy entry is skipped (no ordering claim, no start)', async () => {
    await intake(sqs([configEnvelope({ rule: 'some-other-rule' })]), deps());
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(orderingPuts()).toEqual([]);
    expect(outcomePuts()[0]).toMatchObject({
      outcome: 'SKIPPED',
      reason: expect.stringMatching(/no policy entry/),
    });
  });
});

describe('intake: one running execution per resource and rule', () => {
  const previous = 'restricted-ssh-SecurityGroup-0000000000000000000000000000000000000000';
  beforeEach(() => {
    ddb.on(GetCommand, { TableName: 'ordering' }).resolves({
      Item: { key: 'k', lastOrderingTimestamp: '2026-11-23T09:00:00.000Z', executionName: previous },
    });
  });

  it('a newer result while the previous execution is RUNNING starts nothing (SKIPPED, mark not moved)', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'RUNNING', executionArn: 'x', stateMachineArn: SM_ARN, startDate: NOW });
    const [r] = await processMessage(JSON.stringify(configEnvelope()), 'm-1', deps());
    expect(r).toMatchObject({
      status: 'skipped',
      reason: `execution ${previous} for this resource is still running; not starting another`,
    });
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, {
      executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:drift-remediation:${previous}`,
    });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(orderingPuts()).toEqual([]);
    expect(outcomePuts()).toHaveLength(1);
  });

  it('once the previous execution has ended (or aged out of history), the newer result starts', async () => {
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'SUCCEEDED', executionArn: 'x', stateMachineArn: SM_ARN, startDate: NOW });
    expect((await processMessage(JSON.stringify(configEnvelope()), 'm-1', deps()))[0]?.status).toBe(
      'started',
    );
    sfn.on(DescribeExecutionCommand).rejects(awsError('ExecutionDoesNotExist'));
    expect((await processMessage(JSON.stringify(configEnvelope()), 'm-2', deps()))[0]?.status).toBe(
      'started',
    );
  });

  it("a redelivery of the running execution's own event is not blocked (StartExecution absorbs it)", async () => {
    ddb.on(GetCommand, { TableName: 'ordering' }).resolves({
      Item: {
        key: 'k',
        lastOrderingTimestamp: '2026-11-23T10:00:00.000Z',
        executionName: executionName(configEvent()),
      },
    });
    sfn.on(StartExecutionCommand).rejects(awsError('ExecutionAlreadyExists'));
    const [r] = await processMessage(JSON.stringify(configEnvelope()), 'm-1', deps());
    expect(r?.status).toBe('duplicate');
    expect(sfn).not.toHaveReceivedCommand(DescribeExecutionCommand);
  });

  it('a throttled DescribeExecution fails the record (redelivered), nothing started', async () => {
    sfn.on(DescribeExecutionCommand).rejects(awsError('ThrottlingException'));
    const out = await intake(sqs([configEnvelope()]), deps());
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'm-0' }]);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });
});

describe('intake: bad input is dropped with a recorded outcome and no mutating call', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['a body that is not JSON', '{not json', /not JSON/],
    ['a body that is not an EventBridge event', { hello: 'world' }, /not an EventBridge event/],
    ['an unsupported source', { ...configEnvelope(), source: 'aws.ec2' }, /unsupported event/],
    [
      'a Config detail without the evaluation',
      { ...configEnvelope(), detail: { configRuleName: 'x' } },
      /Config event detail invalid/,
    ],
    [
      'a malformed security group id',
      configEnvelope({ resourceId: 'sg-; rm -rf /' }),
      /not a valid AWS::EC2::SecurityGroup id/,
    ],
    [
      'a resource id for another type',
      configEnvelope({ resourceId: 'my-bucket' }),
      /not a valid AWS::EC2::SecurityGroup id/,
    ],
    [
      'a bad account id',
      { ...configEnvelope(), detail: { ...configEnvelope().detail, awsAccountId: '12' } },
      /awsAccountId/,
    ],
    [
      'a manual start without detail',
      { source: 'drift-remediation.manual', 'detail-type': 'x', detail: null },
      /no detail object/,
    ],
    [
      'a manual start with an invalid event',
      {
        source: 'drift-remediation.manual',
        'detail-type': 'Manual',
        detail: { ...configEnvelope().detail, resourceType: 'EC2' },
      },
      /invalid event/,
    ],
  ];
  it.each(cases)('%s', async (_what, body, reason) => {
    const out = await intake(sqs([body]), deps());
    expect(out.batchItemFailures).toEqual([]);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(orderingPuts()).toEqual([]);
    const items = outcomePuts();
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      outcome: 'SKIPPED',
      resourceKey: INVALID_EVENT_RESOURCE_KEY,
      remediated: false,
    });
    expect(String(items[0]?.reason)).toMatch(reason);
  });

  it('the handler rejects an event that is not an SQS batch with InvalidInputError before any call', async () => {
    await expect(handler({ detail: {} })).rejects.toBeInstanceOf(InvalidInputError);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
  });
});

describe('intake: failures', () => {
  it('a throttled StartExecution fails only that record (SQS redelivers it)', async () => {
    sfn.on(StartExecutionCommand).callsFake((input: { name: string; input: string }) => {
      if (input.input.includes('sg-0000000000000000a'))
        throw awsError('ThrottlingException', 'Rate exceeded');
      return { executionArn: `arn:x:${input.name}`, startDate: NOW };
    });
    const out = await intake(
      sqs([
        configEnvelope(),
        configEnvelope({ resourceId: 'sg-0000000000000000a' }),
        configEnvelope({ resourceId: 'sg-0000000b' }),
      ]),
      deps(),
    );
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'm-1' }]);
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 3);
  });

  it('a redelivered record after a transient failure claims the same (equal) ordering mark and starts', async () => {
    sfn
      .on(StartExecutionCommand)
      .rejectsOnce(awsError('ServiceUnavailable', 'down', 503))
      .resolves({ executionArn: 'arn:x', startDate: NOW });
    const first = await intake(sqs([configEnvelope()]), deps());
    expect(first.batchItemFailures).toEqual([{ itemIdentifier: 'm-0' }]);
    const second = await intake(sqs([configEnvelope()]), deps());
    expect(second.batchItemFailures).toEqual([]);
    const [a, b] = orderingPuts();
    expect(a?.Item?.lastOrderingTimestamp).toBe(b?.Item?.lastOrderingTimestamp);
  });

  it('when every record fails, every record is reported (no exception, so SQS retries exactly those)', async () => {
    sfn.on(StartExecutionCommand).rejects(awsError('ThrottlingException'));
    const out = await intake(sqs([configEnvelope(), configEnvelope({ resourceId: 'sg-0000000b' })]), deps());
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'm-0' }, { itemIdentifier: 'm-1' }]);
  });

  it('a permanent service error (access denied) also fails the record: it lands in the DLQ, never silently lost', async () => {
    sfn.on(StartExecutionCommand).rejects(awsError('AccessDeniedException'));
    const out = await intake(sqs([configEnvelope()]), deps());
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'm-0' }]);
  });

  it('a failed outcome write fails the record instead of losing the event', async () => {
    ddb.on(PutCommand, { TableName: 'outcomes' }).rejects(awsError('ProvisionedThroughputExceededException'));
    const out = await intake(sqs(['nope']), deps());
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'm-0' }]);
  });

  it('processMessage maps transient errors to TransientServiceError', async () => {
    sfn.on(StartExecutionCommand).rejects(awsError('ThrottlingException'));
    await expect(processMessage(JSON.stringify(configEnvelope()), 'm', deps())).rejects.toMatchObject({
      name: 'TransientServiceError',
      retryable: true,
    });
  });
});

describe('intake: CloudFormation drift events', () => {
  const drift = (
    logical: string,
    type: string,
    physical: string,
    status = 'MODIFIED',
    paths: string[] = [],
  ): StackResourceDrift => ({
    StackId: STACK_ARN,
    LogicalResourceId: logical,
    PhysicalResourceId: physical,
    ResourceType: type,
    StackResourceDriftStatus: status as StackResourceDrift['StackResourceDriftStatus'],
    Timestamp: new Date('2026-11-23T10:59:00Z'),
    PropertyDifferences: paths.map((PropertyPath) => ({
      PropertyPath,
      ExpectedValue: '1',
      ActualValue: '2',
      DifferenceType: 'NOT_EQUAL',
    })),
  });

  it('fans out one event per drifted resource whose type has a cloudFormationDrift entry', async () => {
    cfn.on(DescribeStackResourceDriftsCommand).resolves({
      StackResourceDrifts: [
        drift('AppRole', 'AWS::IAM::Role', 'app-role', 'MODIFIED', ['/ManagedPolicyArns/1']),
        drift('Data', 'AWS::S3::Bucket', 'app-data-bucket'),
      ],
    });
    const out = await intake(sqs([driftEnvelope()]), deps());
    expect(out.batchItemFailures).toEqual([]);
    expect(cfn).toHaveReceivedCommandWith(DescribeStackResourceDriftsCommand, {
      StackName: STACK_ARN,
      StackResourceDriftStatusFilters: ['MODIFIED', 'DELETED'],
    });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}');
    expect(input.event).toEqual({
      eventId: 'd1d2d3d4-0000-1111-2222-333344445555/AppRole',
      source: 'cloudformation',
      resourceType: 'AWS::IAM::Role',
      resourceId: 'app-role',
      awsAccountId: ACCOUNT,
      awsRegion: REGION,
      complianceType: 'DRIFTED',
      orderingTimestamp: '2026-11-23T10:59:00.000Z',
      stackName: 'app-stack',
      stackId: STACK_ARN,
      logicalResourceId: 'AppRole',
      driftedProperties: ['ManagedPolicyArns'],
    });
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.name).toMatch(/^cloudformation-Role-/);
    const items = outcomePuts();
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      outcome: 'SKIPPED',
      resourceKey: `${ACCOUNT}/${REGION}/AWS::S3::Bucket/app-data-bucket`,
      reason: expect.stringMatching(/no policy entry for CloudFormation drift/),
    });
  });

  describe('two entries for one type, told apart by the drifted properties', () => {
    const SG = 'AWS::EC2::SecurityGroup';
    const withEgress = () => {
      const raw = rawPolicy();
      const egress = {
        id: 'sg-egress',
        match: { resourceTypes: [SG], cloudFormationDrift: true, properties: ['SecurityGroupEgress'] },
        runbook: 'DriftRemediation-RevertSecurityGroupEgress',
        parameters: { GroupId: { from: 'event.resourceId' } },
      };
      return normalizePolicy({ ...raw, remediations: [...raw.remediations, egress] });
    };

    it('egress-only drift starts an execution whose event carries the drifted paths', async () => {
      cfn.on(DescribeStackResourceDriftsCommand).resolves({
        StackResourceDrifts: [
          drift('Web', SG, SG_ID, 'MODIFIED', ['/SecurityGroupEgress/1', '/SecurityGroupEgress/0/CidrIp']),
        ],
      });
      await intake(sqs([driftEnvelope()]), deps({ policy: withEgress() }));
      expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
      const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}');
      expect(input.event).toMatchObject({
        resourceType: SG,
        resourceId: SG_ID,
        driftedProperties: ['SecurityGroupEgress', 'SecurityGroupEgress.CidrIp'],
      });
    });

    it('ingress drift (or ingress and egress together) is left to the Config rule entry', async () => {
      cfn.on(DescribeStackResourceDriftsCommand).resolves({
        StackResourceDrifts: [
          drift('Web', SG, SG_ID, 'MODIFIED', ['/SecurityGroupIngress/0', '/SecurityGroupEgress/0']),
        ],
      });
      await intake(sqs([driftEnvelope()]), deps({ policy: withEgress() }));
      expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 0);
      expect(outcomePuts()[0]).toMatchObject({
        outcome: 'SKIPPED',
        reason: expect.stringMatching(/remediated through their Config rules/),
      });
    });
  });

  it('follows NextToken across pages', async () => {
    cfn
      .on(DescribeStackResourceDriftsCommand)
      .resolvesOnce({ StackResourceDrifts: [drift('RoleA', 'AWS::IAM::Role', 'role-a')], NextToken: 't2' })
      .resolvesOnce({ StackResourceDrifts: [drift('RoleB', 'AWS::IAM::Role', 'role-b', 'DELETED')] });
    await intake(sqs([driftEnvelope()]), deps());
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackResourceDriftsCommand, 2);
    expect(cfn).toHaveReceivedNthCommandWith(DescribeStackResourceDriftsCommand, 2, { NextToken: 't2' });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 2);
  });

  it('with no per-resource entry, a stack-level entry gets one stack event', async () => {
    cfn.on(DescribeStackResourceDriftsCommand).resolves({
      StackResourceDrifts: [
        drift('Data', 'AWS::S3::Bucket', 'app-data-bucket'),
        drift('Fn', 'AWS::Lambda::Function', 'fn'),
      ],
    });
    await intake(sqs([driftEnvelope()]), deps());
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 1);
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}');
    expect(input.event).toMatchObject({
      resourceType: 'AWS::CloudFormation::Stack',
      resourceId: 'app-stack',
      stackName: 'app-stack',
      stackId: STACK_ARN,
      source: 'cloudformation',
    });
    expect(input.event.logicalResourceId).toBeUndefined();
  });

  it('an IN_SYNC stack starts nothing and reads no drift', async () => {
    await intake(sqs([driftEnvelope('IN_SYNC')]), deps());
    expect(cfn).not.toHaveReceivedCommand(DescribeStackResourceDriftsCommand);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(outcomePuts()[0]).toMatchObject({
      outcome: 'SKIPPED',
      resourceKey: `${ACCOUNT}/${REGION}/AWS::CloudFormation::Stack/app-stack`,
    });
  });

  it('a stack deleted since the event is skipped; a throttled drift read fails the record', async () => {
    cfn
      .on(DescribeStackResourceDriftsCommand)
      .rejectsOnce(awsError('ValidationError', `Stack with id ${STACK_ARN} does not exist`));
    await intake(sqs([driftEnvelope()]), deps());
    expect(outcomePuts()[0]).toMatchObject({ reason: 'stack no longer exists' });
    cfn.on(DescribeStackResourceDriftsCommand).rejects(awsError('Throttling'));
    const out = await intake(sqs([driftEnvelope()]), deps());
    expect(out.batchItemFailures).toEqual([{ itemIdentifier: 'm-0' }]);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });
});

const REPO_POLICY = loadPolicyFile('runbooks/policy.yaml');

describe('intake: resource ids and types as Config reports them', () => {
  const ROLE_ID = 'AROAEXAMPLEID0000001';
  const roleEnvelope = (resourceId = ROLE_ID) =>
    configEnvelope({ rule: 'iam-role-no-blacklisted-policies', resourceType: 'AWS::IAM::Role', resourceId });

  it('resolves a role’s unique id (AROA…) to its name before anything else; Config reads keep the id', async () => {
    configMock.on(ListDiscoveredResourcesCommand).resolves({
      resourceIdentifiers: [
        { resourceType: 'AWS::IAM::Role', resourceId: ROLE_ID, resourceName: 'app-role' },
      ],
    });
    const out = await intake(sqs([roleEnvelope()]), deps({ policy: REPO_POLICY }));
    expect(out.batchItemFailures).toEqual([]);
    expect(configMock).toHaveReceivedCommandWith(ListDiscoveredResourcesCommand, {
      resourceType: 'AWS::IAM::Role',
      resourceIds: [ROLE_ID],
    });
    const start = sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input;
    const input = JSON.parse(start?.input ?? '{}');
    expect(input.event).toMatchObject({ resourceId: 'app-role', configResourceId: ROLE_ID });
    expect(start?.name).toBe(executionName({ ...input.event }));
    const [put] = orderingPuts();
    expect(put?.Item?.key).toBe(
      orderingKey('iam-role-no-blacklisted-policies', `${ACCOUNT}/${REGION}/AWS::IAM::Role/app-role`),
    );
  });

  it('an AROA id Config knows no role for ends SKIPPED: resource no longer exists', async () => {
    configMock.on(ListDiscoveredResourcesCommand).resolves({ resourceIdentifiers: [] });
    await intake(sqs([roleEnvelope()]), deps({ policy: REPO_POLICY }));
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(outcomePuts()[0]).toMatchObject({
      outcome: 'SKIPPED',
      reason: expect.stringMatching(/^resource no longer exists/),
    });
  });

  it('an AWS::::Account result is a valid event (no entry handles it: SKIPPED, not invalid)', async () => {
    await intake(sqs([configEnvelope({ resourceType: 'AWS::::Account', resourceId: ACCOUNT })]), deps());
    expect(outcomePuts()[0]).toMatchObject({
      reason: expect.stringMatching(/^no policy entry for rule restricted-ssh and type AWS::::Account/),
    });
  });
});

describe('intake: sweep and manual starts', () => {
  it('a sweep re-find of an evaluation already handled maps to the same execution name', async () => {
    const ev = configEvent({ orderingTimestamp: '2026-11-23T10:00:00.000Z' });
    await intake(sqs([configEnvelope()]), deps());
    // The first execution ended VERIFIED (SUCCEEDED): no new generation.
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'SUCCEEDED', executionArn: 'x', stateMachineArn: 'y', startDate: NOW });
    await intake(
      sqs([
        {
          source: 'drift-remediation.sweep',
          'detail-type': 'Drift Remediation Sweep Finding',
          detail: { ...ev, eventId: 'sweep-1', source: 'sweep' },
        },
      ]),
      deps(),
    );
    const [a, b] = sfn.commandCalls(StartExecutionCommand).map((c) => c.args[0].input.name);
    expect(a).toBeDefined();
    expect(a).toBe(b);
  });

  it('compares ordering marks in canonical UTC form, whatever offset the event used', async () => {
    const ev = configEvent({
      source: 'manual',
      eventId: 'manual-2',
      orderingTimestamp: '2026-11-23T11:00:00+01:00',
    });
    await intake(
      sqs([{ source: 'drift-remediation.manual', 'detail-type': 'Manual Remediation Request', detail: ev }]),
      deps(),
    );
    const [put] = orderingPuts();
    expect(put?.Item?.lastOrderingTimestamp).toBe('2026-11-23T10:00:00.000Z');
    expect(put?.ExpressionAttributeValues).toEqual({ ':t': '2026-11-23T10:00:00.000Z' });
    // …and it names the same execution as the Config event for that instant.
    expect(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.name).toBe(executionName(configEvent()));
  });

  it("a manual start takes the account and region from EventBridge's envelope, not from its detail", async () => {
    const ev = configEvent({
      source: 'manual',
      eventId: 'manual-3',
      awsAccountId: '999999999999',
      awsRegion: 'eu-west-3',
    });
    await intake(
      sqs([
        {
          source: 'drift-remediation.manual',
          'detail-type': 'Manual Remediation Request',
          account: ACCOUNT,
          region: REGION,
          detail: ev,
        },
      ]),
      deps(),
    );
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}');
    expect(input.event).toMatchObject({ awsAccountId: ACCOUNT, awsRegion: REGION, source: 'manual' });
  });

  it('a manual start passes its validated event through unchanged', async () => {
    const ev = configEvent({ source: 'manual', requestedBy: 'alice@example.com', eventId: 'manual-1' });
    const out = await intake(
      sqs([{ source: 'drift-remediation.manual', 'detail-type': 'Manual Remediation Request', detail: ev }]),
      deps(),
    );
    expect(out.batchItemFailures).toEqual([]);
    const input = JSON.parse(sfn.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '{}');
    expect(input).toEqual({ event: ev });
  });
});

describe('execution names', () => {
  it('are at most 80 characters of [A-Za-z0-9_-], even for long rule names and ids', () => {
    const name = executionName({
      awsAccountId: ACCOUNT,
      awsRegion: 'ap-southeast-5',
      configRuleName: `a.very.long.rule.name-${'x'.repeat(100)}`,
      resourceType: 'AWS::SomethingVeryLong::WithAVeryLongTypeName',
      resourceId: 'z'.repeat(1000),
      orderingTimestamp: '2026-11-23T10:00:00Z',
    });
    expect(name.length).toBeLessThanOrEqual(80);
    expect(isValidExecutionName(name)).toBe(true);
  });

  it('differ for different accounts, regions, rules, types, ids and timestamps', () => {
    const base = {
      awsAccountId: ACCOUNT,
      awsRegion: REGION,
      configRuleName: 'r',
      resourceType: 'AWS::EC2::SecurityGroup',
      resourceId: SG_ID,
      orderingTimestamp: '2026-11-23T10:00:00Z',
    };
    const names = new Set([
      executionName(base),
      executionName({ ...base, configRuleName: 'r2' }),
      executionName({ ...base, configRuleName: undefined }),
      executionName({ ...base, resourceType: 'AWS::S3::Bucket' }),
      executionName({ ...base, resourceId: 'sg-0123456789abcdef1' }),
      executionName({ ...base, orderingTimestamp: '2026-11-23T10:00:00.001Z' }),
      executionName({ ...base, awsAccountId: '222222222222' }),
      executionName({ ...base, awsRegion: 'us-west-2' }),
    ]);
    expect(names.size).toBe(8);
  });

  it('carry the account and the short region', () => {
    const name = executionName({
      awsAccountId: '222222222222',
      awsRegion: 'us-west-2',
      configRuleName: 'restricted-ssh',
      resourceType: 'AWS::EC2::SecurityGroup',
      resourceId: SG_ID,
      orderingTimestamp: '2026-11-23T10:00:00Z',
    });
    expect(name).toMatch(/^restricted-ssh-SecurityGrou-222222222222-usw2-[0-9a-f]{26}$/);
    expect(['ap-southeast-1', 'ap-south-1', 'eu-central-1', 'us-gov-west-1'].map(shortRegion)).toEqual([
      'apse1',
      'aps1',
      'euc1',
      'usgovw1',
    ]);
  });
});

describe('organization scope', () => {
  const organization = {
    id: 'o-a1b2c3d4e5',
    regions: [REGION],
    members: [{ account: '222222222222' }, { account: '333333333333', paused: true }],
  };
  const scoped = (o: Partial<IntakeDeps> = {}) =>
    deps({ policy: testPolicy({ organization }), centralAccountId: ACCOUNT, ...o });
  const fromAccount = (account: string, region = REGION) => {
    const env = configEnvelope();
    return { ...env, account, detail: { ...env.detail, awsAccountId: account, awsRegion: region } };
  };

  it('records an event from an account outside the organization as SKIPPED and reads, claims and starts nothing', async () => {
    const out = await processMessage(JSON.stringify(fromAccount('444444444444')), 'm-out', scoped());
    expect(out).toEqual([
      expect.objectContaining({
        status: 'skipped',
        reason: expect.stringMatching(/^out of scope: account 444444444444 is not a member of organization/),
      }),
    ]);
    expect(outcomePuts()).toEqual([
      expect.objectContaining({
        outcome: 'SKIPPED',
        resourceKey: `444444444444/${REGION}/AWS::EC2::SecurityGroup/${SG_ID}`,
      }),
    ]);
    expect(orderingPuts()).toEqual([]);
    expect(ddb).not.toHaveReceivedCommand(GetCommand);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    expect(sfn).not.toHaveReceivedCommand(DescribeExecutionCommand);
  });

  it('skips a region out of scope and a paused member, and starts a member event in scope', async () => {
    const region = await processMessage(
      JSON.stringify(fromAccount('222222222222', 'eu-central-1')),
      'm-r',
      scoped(),
    );
    expect(region[0]).toMatchObject({
      status: 'skipped',
      reason: expect.stringContaining('region eu-central-1'),
    });
    const paused = await processMessage(JSON.stringify(fromAccount('333333333333')), 'm-p', scoped());
    expect(paused[0]).toMatchObject({ status: 'skipped', reason: 'member account 333333333333 is paused' });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    const member = await processMessage(JSON.stringify(fromAccount('222222222222')), 'm-ok', scoped());
    expect(member[0]).toMatchObject({ status: 'started' });
    expect(member[0]?.executionName).toContain('-222222222222-');
  });

  it('reads a member stack’s drifts with that account-region’s client, and never one out of scope', async () => {
    const memberCfn = new CloudFormationClient({ region: REGION });
    const places: string[] = [];
    const cloudFormation = (p: { awsAccountId: string; awsRegion: string }) => {
      places.push(`${p.awsAccountId}/${p.awsRegion}`);
      return memberCfn;
    };
    cfn.on(DescribeStackResourceDriftsCommand).resolves({ StackResourceDrifts: [] });
    const memberStack = STACK_ARN.replace(ACCOUNT, '222222222222');
    const env = driftEnvelope();
    const member = { ...env, account: '222222222222', detail: { ...env.detail, 'stack-id': memberStack } };
    await processMessage(JSON.stringify(member), 'm-d', scoped({ cloudFormation }));
    const outsider = { ...member, account: '444444444444' };
    const out = await processMessage(JSON.stringify(outsider), 'm-o', scoped({ cloudFormation }));
    expect(places).toEqual([`222222222222/${REGION}`]);
    expect(out[0]).toMatchObject({ status: 'skipped', reason: expect.stringContaining('444444444444') });
  });
});
