import 'aws-sdk-client-mock-vitest/extend';
import {
  ConfigServiceClient,
  LimitExceededException,
  NoSuchConfigRuleException,
  StartConfigRulesEvaluationCommand,
} from '@aws-sdk/client-config-service';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TransientServiceError } from '../../../tasks/shared/errors';
import { requestReevaluation as request } from '../../../tasks/shared/reevaluation';
import { reevalKey } from '../../../tasks/shared/tables';
import { awsError, type LocalDynamo, startLocalDynamo } from './fixtures/late-stages';

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
const requestReevaluation = (_input: unknown, d: ReturnType<typeof deps>) => request(d, 'restricted-ssh');
const input = () => ({});
const marker = async () =>
  (
    await local.ddb.send(
      new GetCommand({ TableName: table, Key: { key: reevalKey('restricted-ssh') }, ConsistentRead: true }),
    )
  ).Item;

describe('requestReevaluation (coalesced per rule)', () => {
  it('asks Config to re-evaluate the rule and records the request', async () => {
    configMock.on(StartConfigRulesEvaluationCommand).resolves({});
    expect(await requestReevaluation(input(), deps(T0))).toBe('requested');
    expect(configMock).toHaveReceivedCommandExactlyOnceWith(StartConfigRulesEvaluationCommand, {
      ConfigRuleNames: ['restricted-ssh'],
    });
    expect(await marker()).toMatchObject({ requestedAt: T0.toISOString() });
  });

  it('coalesces: at most one StartConfigRulesEvaluation per rule per minute, across executions', async () => {
    configMock.on(StartConfigRulesEvaluationCommand).resolves({});
    await requestReevaluation(input(), deps(T0));
    expect(await requestReevaluation(input(), deps(at(30)))).toBe('coalesced');
    await requestReevaluation(input(), deps(at(59)));
    expect(configMock).toHaveReceivedCommandTimes(StartConfigRulesEvaluationCommand, 1);
    await requestReevaluation(input(), deps(at(61)));
    expect(configMock).toHaveReceivedCommandTimes(StartConfigRulesEvaluationCommand, 2);
    expect(await marker()).toMatchObject({ requestedAt: at(61).toISOString() });
  });

  it('coalesces per account-region: the same rule in another account or region is its own Config', async () => {
    configMock.on(StartConfigRulesEvaluationCommand).resolves({});
    const central = { awsAccountId: '111111111111', awsRegion: 'us-east-1' };
    const member = { awsAccountId: '222222222222', awsRegion: 'us-west-2' };
    expect(await request(deps(T0), 'restricted-ssh', central)).toBe('requested');
    expect(await request(deps(at(1)), 'restricted-ssh', member)).toBe('requested');
    expect(await request(deps(at(2)), 'restricted-ssh', { ...member, awsRegion: 'eu-west-1' })).toBe(
      'requested',
    );
    expect(await request(deps(at(3)), 'restricted-ssh', member)).toBe('coalesced');
    expect(configMock).toHaveReceivedCommandTimes(StartConfigRulesEvaluationCommand, 3);
  });

  it('LimitExceededException (an evaluation is already running) counts as requested', async () => {
    configMock
      .on(StartConfigRulesEvaluationCommand)
      .rejects(new LimitExceededException({ message: 'in progress', $metadata: {} }));
    expect(await requestReevaluation(input(), deps(T0))).toBe('coalesced');
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

  it('a rule that no longer exists is reported (nothing can verify) and its marker removed', async () => {
    configMock
      .on(StartConfigRulesEvaluationCommand)
      .rejects(new NoSuchConfigRuleException({ message: 'gone', $metadata: {} }));
    expect(await requestReevaluation(input(), deps(T0))).toBe('no-such-rule');
    expect(await marker()).toBeUndefined();
  });
});
