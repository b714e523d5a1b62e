import 'aws-sdk-client-mock-vitest/extend';
import {
  ConfigServiceClient,
  LimitExceededException,
  NoSuchConfigRuleException,
  StartConfigRulesEvaluationCommand,
} from '@aws-sdk/client-config-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { requestReevaluation } from '../../../tasks/request-reevaluation/core';
import { handler } from '../../../tasks/request-reevaluation/handler';
import { InvalidInputError, TransientServiceError } from '../../../tasks/shared/errors';
import { reevalKey } from '../../../tasks/shared/tables';
import { awsError, event, execution, type LocalDynamo, plan, startLocalDynamo } from './fixtures/late-stages';

const T0 = new Date('2026-11-23T10:10:00.000Z');
const at = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const config = new ConfigServiceClient({ region: 'eu-west-1' });
let configMock: AwsClientStub<ConfigServiceClient>;
let local: LocalDynamo;
let table = '';
let n = 0;
beforeAll(async () => {
  configMock = mockClient(ConfigServiceClient);
  local = await startLocalDynamo();
});
afterAll(async () => {
  configMock.restore();
  await local.close();
});
beforeEach(async () => {
  configMock.reset();
  table = `ordering-${++n}`;
  await local.createTable(table, 'key');
});

const deps = (now: Date) => ({ config, ddb: local.ddb, orderingTable: table, now: () => now });
const input = () => ({ event: event(), plan: plan(), execution: execution() });
const marker = async () =>
  (
    await local.ddb.send(
      new GetCommand({ TableName: table, Key: { key: reevalKey('restricted-ssh') }, ConsistentRead: true }),
    )
  ).Item;

describe('request-reevaluation', () => {
  it('asks Config to re-evaluate the rule and records the request', async () => {
    configMock.on(StartConfigRulesEvaluationCommand).resolves({});
    const out = await requestReevaluation(input(), deps(T0));
    expect(out).toMatchObject({
      status: 'pending',
      reevaluationRequested: true,
      startedAt: T0.toISOString(),
      polls: 0,
      maxPolls: 30,
    });
    expect(configMock).toHaveReceivedCommandExactlyOnceWith(StartConfigRulesEvaluationCommand, {
      ConfigRuleNames: ['restricted-ssh'],
    });
    expect(await marker()).toMatchObject({ requestedAt: T0.toISOString() });
  });

  it('coalesces: at most one StartConfigRulesEvaluation per rule per minute, across executions', async () => {
    configMock.on(StartConfigRulesEvaluationCommand).resolves({});
    await requestReevaluation(input(), deps(T0));
    const other = await requestReevaluation(
      { ...input(), execution: execution({ name: 'other', id: 'arn:other' }) },
      deps(at(30)),
    );
    expect(other).toMatchObject({ status: 'pending', reevaluationRequested: true });
    expect(other.reason).toMatch(/coalesced/);
    await requestReevaluation(input(), deps(at(59)));
    expect(configMock).toHaveReceivedCommandTimes(StartConfigRulesEvaluationCommand, 1);
    await requestReevaluation(input(), deps(at(61)));
    expect(configMock).toHaveReceivedCommandTimes(StartConfigRulesEvaluationCommand, 2);
    expect(await marker()).toMatchObject({ requestedAt: at(61).toISOString() });
  });

  it('keeps the verification budget and start time it was given', async () => {
    configMock.on(StartConfigRulesEvaluationCommand).resolves({});
    const previous = {
      status: 'pending' as const,
      polls: 4,
      maxPolls: 30,
      waitSeconds: 30,
      startedAt: '2026-11-23T10:00:00.000Z',
      driftStatus: 'IN_SYNC',
    };
    const out = await requestReevaluation({ ...input(), verification: previous }, deps(T0));
    expect(out).toMatchObject({ polls: 4, startedAt: '2026-11-23T10:00:00.000Z', driftStatus: 'IN_SYNC' });
  });

  it('LimitExceededException (an evaluation is already running) counts as requested', async () => {
    configMock
      .on(StartConfigRulesEvaluationCommand)
      .rejects(new LimitExceededException({ message: 'in progress', $metadata: {} }));
    const out = await requestReevaluation(input(), deps(T0));
    expect(out).toMatchObject({ status: 'pending', reevaluationRequested: true });
    expect(out.reason).toMatch(/already in progress/);
  });

  it('a throttled request is retried (TransientServiceError) and its marker removed so the retry asks again', async () => {
    configMock
      .on(StartConfigRulesEvaluationCommand)
      .rejectsOnce(awsError('ThrottlingException'))
      .resolves({});
    await expect(requestReevaluation(input(), deps(T0))).rejects.toBeInstanceOf(TransientServiceError);
    expect(await marker()).toBeUndefined();
    await requestReevaluation(input(), deps(at(2)));
    expect(configMock).toHaveReceivedCommandTimes(StartConfigRulesEvaluationCommand, 2);
  });

  it('a rule that no longer exists fails the verification with a reason', async () => {
    configMock
      .on(StartConfigRulesEvaluationCommand)
      .rejects(new NoSuchConfigRuleException({ message: 'gone', $metadata: {} }));
    const out = await requestReevaluation(input(), deps(T0));
    expect(out).toMatchObject({ status: 'failed', reevaluationRequested: false });
    expect(out.reason).toBe('Config rule restricted-ssh does not exist; cannot verify');
    expect(await marker()).toBeUndefined();
  });
});

describe('request-reevaluation without a rule', () => {
  const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
  let ddbMock: AwsClientStub<DynamoDBDocumentClient>;
  beforeAll(() => {
    ddbMock = mockClient(ddb);
  });
  afterAll(() => ddbMock.restore());

  it('throws InvalidInputError and neither writes nor calls Config', async () => {
    const cfn = {
      ...input(),
      event: event({ configRuleName: undefined, source: 'cloudformation', complianceType: 'DRIFTED' }),
    };
    await expect(
      requestReevaluation(cfn, { config, ddb, orderingTable: 'ordering', now: () => T0 }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(ddbMock).not.toHaveReceivedCommand(PutCommand);
    expect(configMock).not.toHaveReceivedCommand(StartConfigRulesEvaluationCommand);
  });
});

describe('request-reevaluation handler', () => {
  it('rejects a malformed rule name before any call', async () => {
    process.env.ORDERING_TABLE = table;
    try {
      await expect(
        handler({ ...input(), event: { ...event(), configRuleName: 'rule name; drop' } }),
      ).rejects.toThrow(/event\.configRuleName/);
      expect(configMock).not.toHaveReceivedAnyCommand();
    } finally {
      delete process.env.ORDERING_TABLE;
    }
  });
});
