import 'aws-sdk-client-mock-vitest/extend';
import { CloudControlClient, GetResourceCommand } from '@aws-sdk/client-cloudcontrol';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient, GetDiscoveredResourceCountsCommand } from '@aws-sdk/client-config-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { beforeEach, describe, expect, it } from 'vitest';
import { type PlanDeps, plan } from '../../../tasks/plan/core';
import { handler } from '../../../tasks/plan/handler';
import { PlanResult, resourceKeyOf } from '../../../tasks/shared/contracts';
import {
  ExceptionsUnavailableError,
  InvalidInputError,
  InvalidResourceIdError,
} from '../../../tasks/shared/errors';
import { normalizePolicy } from '../../../tasks/shared/policy/load';
import { blastKey, breakGlassKey } from '../../../tasks/shared/tables';
import {
  awsError,
  configEvent,
  driftEvent,
  EXECUTION,
  rawPolicy,
  SG_ID,
  testPolicy,
} from './fixtures/core-tasks';

const cc = mockClient(CloudControlClient);
const cfn = mockClient(CloudFormationClient);
const ddbDoc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const ddb = mockClient(ddbDoc);

const NOW = new Date('2026-11-23T12:34:56.000Z');
const TAG = 'drift-remediation:exempt-until';

function deps(overrides: Partial<PlanDeps> = {}): PlanDeps {
  return {
    ddb: ddbDoc,
    cloudControl: new CloudControlClient({ region: 'eu-west-1' }),
    cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
    policy: testPolicy(),
    orderingTable: 'ordering',
    outcomesTable: 'outcomes',
    now: () => NOW,
    ...overrides,
  };
}

const sgProps = (tags: Array<{ Key: string; Value: string }> = []) =>
  JSON.stringify({ GroupId: SG_ID, GroupDescription: 'web', Tags: tags });

beforeEach(() => {
  cc.reset();
  cfn.reset();
  ddb.reset();
  ddb.on(GetCommand).resolves({});
  ddb.on(BatchGetCommand).resolves({ Responses: { ordering: [] } });
  ddb.on(QueryCommand).resolves({ Count: 0 });
  ddb.on(UpdateCommand).resolves({});
  cc.on(GetResourceCommand).resolves({
    TypeName: 'AWS::EC2::SecurityGroup',
    ResourceDescription: { Identifier: SG_ID, Properties: sgProps() },
  });
});

describe('plan: remediate', () => {
  it('resolves the entry, checks every exception source, the loop breaker, and takes blast-radius budget last', async () => {
    const event = configEvent();
    const r = await plan({ event, execution: EXECUTION }, deps());
    expect(v.parse(PlanResult, r)).toEqual(r);
    expect(r).toEqual({
      decision: 'remediate',
      reason: 'policy entry sg-ingress: run DriftRemediation-RevertSecurityGroupIngress (approval auto)',
      resourceKey: resourceKeyOf(event),
      policyEntryId: 'sg-ingress',
      runbook: {
        documentName: 'DriftRemediation-RevertSecurityGroupIngress',
        firstParty: true,
        parameters: { GroupId: { from: 'event.resourceId', as: 'string' } },
      },
      approval: { mode: 'auto', required: false, approvers: [], ttlSeconds: 3600 },
      concurrency: { perRunbook: 5, global: 20, maxQueueSeconds: 21600 },
      attempts: { max: 3, retryAfterSeconds: 60 },
      verification: { timeoutSeconds: 900, intervalSeconds: 30, maxPolls: 30 },
    });
    // Both break-glass items in one consistent BatchGetItem.
    expect(ddb).toHaveReceivedCommandExactlyOnceWith(BatchGetCommand, {
      RequestItems: {
        ordering: {
          Keys: [{ key: breakGlassKey(resourceKeyOf(event)) }, { key: 'breakglass#*' }],
          ConsistentRead: true,
        },
      },
    });
    expect(cc).toHaveReceivedCommandWith(GetResourceCommand, {
      TypeName: 'AWS::EC2::SecurityGroup',
      Identifier: SG_ID,
    });
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, {
      TableName: 'outcomes',
      KeyConditionExpression: 'resourceKey = :k AND sk > :from',
      FilterExpression: 'remediated = :yes',
      ExpressionAttributeValues: {
        ':k': resourceKeyOf(event),
        ':from': '2026-11-22T12:34:56.000Z',
        ':yes': true,
      },
    });
    // Fixed one-hour window containing NOW.
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      TableName: 'ordering',
      Key: { key: blastKey('2026-11-23T12:00:00.000Z') },
      ConditionExpression: 'attribute_not_exists(#c) OR #c < :max OR (attribute_exists(#cap) AND #c < #cap)',
    });
    expect(ddb.commandCalls(UpdateCommand)[0]?.args[0].input.ExpressionAttributeValues).toMatchObject({
      ':one': 1,
      ':max': 50,
    });
  });

  it('approval.required follows the mode; verification polls are capped at 200', async () => {
    cc.on(GetResourceCommand).resolves({
      ResourceDescription: { Identifier: 'app-role', Properties: '{"RoleName":"app-role"}' },
    });
    const role = await plan({ event: driftEvent() }, deps());
    expect(role.approval).toEqual({
      mode: 'required',
      required: true,
      approvers: ['security-oncall@example.com'],
      ttlSeconds: 3600,
    });

    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: 'app-stack', StackStatus: 'UPDATE_COMPLETE', CreationTime: NOW, Tags: [] }],
    });
    const stack = await plan(
      {
        event: driftEvent({
          resourceType: 'AWS::CloudFormation::Stack',
          resourceId: 'app-stack',
          logicalResourceId: undefined,
        }),
      },
      deps(),
    );
    expect(stack.decision).toBe('remediate');
    expect(stack.approval.mode).toBe('notify-only');
    expect(stack.approval.required).toBe(false);
    expect(stack.verification).toEqual({ timeoutSeconds: 86_400, intervalSeconds: 60, maxPolls: 200 });
    // Stacks are looked up by name through CloudFormation, not Cloud Control.
    expect(cfn).toHaveReceivedCommandWith(DescribeStacksCommand, { StackName: 'app-stack' });
  });
});

describe('plan: concurrency', () => {
  it('concurrency.perAccountRegion in the policy reaches the plan (acquire-slot caps by it); absent, no such cap', async () => {
    const raw = rawPolicy();
    const capped = normalizePolicy({
      ...raw,
      defaults: { ...raw.defaults, concurrency: { perRunbook: 5, global: 20, perAccountRegion: 2 } },
    });
    const r = await plan({ event: configEvent(), execution: EXECUTION }, deps({ policy: capped }));
    expect(r.concurrency).toEqual({ perRunbook: 5, global: 20, maxQueueSeconds: 21600, perAccountRegion: 2 });
    expect(v.safeParse(PlanResult, r).success).toBe(true);
    const plain = await plan({ event: configEvent(), execution: EXECUTION }, deps());
    expect(plain.concurrency).not.toHaveProperty('perAccountRegion');
  });
});

describe('plan: skip', () => {
  it('no policy entry → skip, nothing read or written', async () => {
    const r = await plan({ event: configEvent({ configRuleName: 'unmapped-rule' }) }, deps());
    expect(r.decision).toBe('skip');
    expect(r.reason).toBe('no policy entry for rule unmapped-rule and type AWS::EC2::SecurityGroup');
    expect(r.policyEntryId).toBeUndefined();
    expect(v.safeParse(PlanResult, r).success).toBe(true);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(ddb).not.toHaveReceivedCommand(BatchGetCommand);
    expect(cc).not.toHaveReceivedCommand(GetResourceCommand);
  });

  it('an explicit exception that has not expired → skip; an expired one does not apply', async () => {
    const r = await plan({ event: configEvent({ resourceId: 'sg-00000000000000001' }) }, deps());
    expect(r.decision).toBe('skip');
    expect(r.reason).toMatch(/exception in policy entry sg-ingress until 2099-01-01: load test until Friday/);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);

    const expired = await plan({ event: configEvent({ resourceId: 'sg-00000000000000002' }) }, deps());
    expect(expired.decision).toBe('remediate');
  });

  it('a date-only exception applies through the end of that day', async () => {
    const policy = testPolicy();
    const entry = policy.entries[0];
    if (!entry) throw new Error('fixture');
    entry.exceptions = [{ resourceId: SG_ID, reason: 'today only', expires: '2026-11-23' }];
    expect((await plan({ event: configEvent() }, deps({ policy }))).decision).toBe('skip');
    entry.exceptions = [{ resourceId: SG_ID, reason: 'yesterday', expires: '2026-11-22' }];
    expect((await plan({ event: configEvent() }, deps({ policy }))).decision).toBe('remediate');
  });

  const glass = (...items: Record<string, unknown>[]) => ({ Responses: { ordering: items } });

  it('break-glass for the resource → skip', async () => {
    const key = breakGlassKey(resourceKeyOf(configEvent()));
    ddb.on(BatchGetCommand).resolves(glass({ key, until: '2026-11-23T13:00:00Z', by: 'oncall' }));
    const r = await plan({ event: configEvent() }, deps());
    expect(r).toMatchObject({
      decision: 'skip',
      reason: 'break-glass active until 2026-11-23T13:00:00Z by oncall',
    });
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(cc).not.toHaveReceivedCommand(GetResourceCommand);
  });

  it('global break-glass → skip; an expired break-glass does not apply', async () => {
    ddb.on(BatchGetCommand).resolves(glass({ key: 'breakglass#*', until: '2026-11-24T00:00:00Z' }));
    expect((await plan({ event: configEvent() }, deps())).reason).toMatch(/^global break-glass active until/);
    ddb.on(BatchGetCommand).resolves(glass({ key: 'breakglass#*', until: '2026-11-23T12:00:00Z' }));
    expect((await plan({ event: configEvent() }, deps())).decision).toBe('remediate');
  });

  it('break-glass keys BatchGetItem leaves unprocessed are asked again, and found', async () => {
    const key = breakGlassKey(resourceKeyOf(configEvent()));
    const unprocessed = { ordering: { Keys: [{ key: 'breakglass#*' }], ConsistentRead: true } };
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({ ...glass({ key, until: '2026-11-23T12:00:00Z' }), UnprocessedKeys: unprocessed })
      .resolvesOnce(glass({ key: 'breakglass#*', until: '2026-11-24T00:00:00Z' }));
    expect((await plan({ event: configEvent() }, deps())).reason).toMatch(/^global break-glass active until/);
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 2);
    expect(ddb.commandCalls(BatchGetCommand)[1]?.args[0].input.RequestItems).toEqual({
      ordering: { Keys: [{ key: 'breakglass#*' }], ConsistentRead: true },
    });
  });

  it('exception tag with a future date → skip; a past date does not apply', async () => {
    cc.on(GetResourceCommand).resolves({
      ResourceDescription: { Identifier: SG_ID, Properties: sgProps([{ Key: TAG, Value: '2026-12-01' }]) },
    });
    const r = await plan({ event: configEvent() }, deps());
    expect(r).toMatchObject({
      decision: 'skip',
      reason: `exception tag ${TAG} exempts the resource until 2026-12-01`,
    });
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);

    cc.on(GetResourceCommand).resolves({
      ResourceDescription: {
        Identifier: SG_ID,
        Properties: sgProps([{ Key: TAG, Value: '2026-11-23T12:00:00Z' }]),
      },
    });
    expect((await plan({ event: configEvent() }, deps())).decision).toBe('remediate');
  });

  it('exception tag that is not a date → escalate (someone meant to exempt it)', async () => {
    cc.on(GetResourceCommand).resolves({
      ResourceDescription: { Identifier: SG_ID, Properties: sgProps([{ Key: TAG, Value: 'next week' }]) },
    });
    const r = await plan({ event: configEvent() }, deps());
    expect(r.decision).toBe('escalate');
    expect(r.reason).toMatch(/not an ISO date/);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('resource deleted (Cloud Control ResourceNotFoundException) → skip', async () => {
    cc.on(GetResourceCommand).rejects(awsError('ResourceNotFoundException'));
    const r = await plan({ event: configEvent() }, deps());
    expect(r).toMatchObject({ decision: 'skip', reason: 'resource no longer exists' });
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });
});

describe('plan: fail closed', () => {
  it('break-glass unreadable (access denied) → ExceptionsUnavailableError, nothing written', async () => {
    ddb.on(BatchGetCommand).rejects(awsError('AccessDeniedException'));
    await expect(plan({ event: configEvent() }, deps())).rejects.toBeInstanceOf(ExceptionsUnavailableError);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('break-glass keys still unprocessed after the bounded retries → TransientServiceError, never "none"', async () => {
    const keys = [{ key: breakGlassKey(resourceKeyOf(configEvent())) }, { key: 'breakglass#*' }];
    ddb.on(BatchGetCommand).resolves({ Responses: {}, UnprocessedKeys: { ordering: { Keys: keys } } });
    await expect(plan({ event: configEvent() }, deps())).rejects.toMatchObject({
      name: 'TransientServiceError',
      message: expect.stringMatching(/2 of 2 keys still unprocessed after 4 BatchGetItem calls/),
    });
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 4);
    expect(cc).not.toHaveReceivedCommand(GetResourceCommand);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('tags unreadable (unsupported type, access denied) → ExceptionsUnavailableError', async () => {
    cc.on(GetResourceCommand).rejects(awsError('UnsupportedActionException'));
    const err = await plan({ event: configEvent() }, deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExceptionsUnavailableError);
    expect((err as Error).name).toBe('ExceptionsUnavailableError');
    expect((err as ExceptionsUnavailableError).retryable).toBe(false);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('a transient failure reading exceptions is TransientServiceError (retried), still nothing written', async () => {
    cc.on(GetResourceCommand).rejects(awsError('ThrottlingException'));
    await expect(plan({ event: configEvent() }, deps())).rejects.toMatchObject({
      name: 'TransientServiceError',
      retryable: true,
    });
    ddb.on(BatchGetCommand).rejects(awsError('InternalServerError', 'boom', 500));
    await expect(plan({ event: configEvent() }, deps())).rejects.toMatchObject({
      name: 'TransientServiceError',
    });
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });
});

describe('plan: breakers', () => {
  it('loop breaker counts remediated outcomes across pages (successes included) → escalate', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Count: 2, LastEvaluatedKey: { resourceKey: 'k', sk: 's' } })
      .resolvesOnce({ Count: 1 });
    const r = await plan({ event: configEvent() }, deps());
    expect(r.decision).toBe('escalate');
    expect(r.reason).toMatch(/^loop breaker: 3 remediations of this resource in the last 86400s \(max 3\)/);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 2);
    expect(ddb).toHaveReceivedNthCommandWith(QueryCommand, 2, {
      ExclusiveStartKey: { resourceKey: 'k', sk: 's' },
    });
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('below the loop-breaker limit → remediate', async () => {
    ddb.on(QueryCommand).resolves({ Count: 2 });
    expect((await plan({ event: configEvent() }, deps())).decision).toBe('remediate');
  });

  it('blast-radius budget spent (conditional check fails) → escalate', async () => {
    ddb.on(UpdateCommand).rejects(awsError('ConditionalCheckFailedException'));
    const r = await plan({ event: configEvent() }, deps());
    expect(r.decision).toBe('escalate');
    expect(r.reason).toBe(
      'blast-radius breaker: 50 remediations already started in the window from 2026-11-23T12:00:00.000Z',
    );
    expect(r.breaker).toEqual({ kind: 'blast-radius', windowStart: '2026-11-23T12:00:00.000Z', max: 50 });
  });

  it('blast radius as a percentage: the count spent, max(count, 10 % of in-scope resources) still has room → remediate', async () => {
    const config = mockClient(ConfigServiceClient);
    config.on(GetDiscoveredResourceCountsCommand).resolves({
      totalDiscoveredResources: 2000,
      resourceCounts: [{ resourceType: 'AWS::EC2::SecurityGroup', count: 2000 }],
    });
    ddb.on(UpdateCommand).rejectsOnce(awsError('ConditionalCheckFailedException')).resolves({});
    const policy = testPolicy();
    policy.blastRadius = { ...policy.blastRadius, maxPercent: 10 };
    const r = await plan(
      { event: configEvent() },
      deps({ policy, config: new ConfigServiceClient({ region: 'eu-west-1' }) }),
    );
    expect(r.decision).toBe('remediate');
    expect(config).toHaveReceivedCommandTimes(GetDiscoveredResourceCountsCommand, 1);
    // the window's percentage cap is stored once (first writer wins), then the unit is taken under it
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      Key: { key: blastKey('2026-11-23T12:00:00.000Z') },
      UpdateExpression: 'SET #cap = if_not_exists(#cap, :cap), inScope = if_not_exists(inScope, :n)',
      ExpressionAttributeValues: { ':cap': 200, ':n': 2000 },
    });
    config.restore();
  });

  it('blast radius as a percentage: a stored cap is reused (no Config call); spent → escalate with the breaker', async () => {
    const config = mockClient(ConfigServiceClient);
    ddb.on(UpdateCommand).rejects(awsError('ConditionalCheckFailedException'));
    ddb.on(GetCommand, { Key: { key: blastKey('2026-11-23T12:00:00.000Z') } }).resolves({
      Item: { key: 'blast', count: 200, cap: 200, inScope: 2000 },
    });
    const policy = testPolicy();
    policy.blastRadius = { ...policy.blastRadius, maxPercent: 10 };
    const r = await plan(
      { event: configEvent() },
      deps({ policy, config: new ConfigServiceClient({ region: 'eu-west-1' }) }),
    );
    expect(r.decision).toBe('escalate');
    expect(r.reason).toMatch(
      /^blast-radius breaker: 200 remediations already started in the window .* 2000 in-scope resources/,
    );
    expect(r.breaker).toEqual({ kind: 'blast-radius', windowStart: '2026-11-23T12:00:00.000Z', max: 200 });
    expect(config).not.toHaveReceivedCommand(GetDiscoveredResourceCountsCommand);
    config.restore();
  });

  it('a throttled blast-radius update is TransientServiceError; a permanent one is rethrown as is', async () => {
    ddb.on(UpdateCommand).rejects(awsError('ProvisionedThroughputExceededException'));
    await expect(plan({ event: configEvent() }, deps())).rejects.toMatchObject({
      name: 'TransientServiceError',
    });
    ddb.on(UpdateCommand).rejects(awsError('ResourceNotFoundException', 'Requested resource not found'));
    await expect(plan({ event: configEvent() }, deps())).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
  });
});

describe('plan: bad input', () => {
  it('an id that is not valid for its type → InvalidResourceIdError before any call', async () => {
    await expect(plan({ event: configEvent({ resourceId: 'sg-123; DROP' }) }, deps())).rejects.toBeInstanceOf(
      InvalidResourceIdError,
    );
    await expect(
      plan(
        {
          event: configEvent({
            resourceType: 'AWS::S3::Bucket',
            resourceId: 'Bad_Bucket',
            configRuleName: 'x',
          }),
        },
        deps(),
      ),
    ).rejects.toBeInstanceOf(InvalidResourceIdError);
    expect(ddb).not.toHaveReceivedCommand(BatchGetCommand);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(cc).not.toHaveReceivedCommand(GetResourceCommand);
  });

  it.each([
    ['no event', {}],
    ['a bad account id', { event: { ...configEvent(), awsAccountId: 'abc' } }],
    ['a bad timestamp', { event: { ...configEvent(), orderingTimestamp: 'yesterday' } }],
    ['an unknown source', { event: { ...configEvent(), source: 'pager' } }],
  ])('handler: %s → InvalidInputError, no call', async (_what, input) => {
    await expect(handler(input)).rejects.toBeInstanceOf(InvalidInputError);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
    expect(ddb).not.toHaveReceivedCommand(BatchGetCommand);
  });
});

describe('plan: plan mode', () => {
  const planModePolicy = () => {
    const raw = rawPolicy();
    const [entry, ...rest] = raw.remediations as Array<Record<string, unknown>>;
    return normalizePolicy({ ...raw, remediations: [{ ...entry, mode: 'plan' }, ...rest] });
  };

  it('an entry with mode: plan → remediate with mode plan, and spends no blast-radius budget', async () => {
    const r = await plan({ event: configEvent(), execution: EXECUTION }, deps({ policy: planModePolicy() }));
    expect(v.parse(PlanResult, r)).toEqual(r);
    expect(r).toMatchObject({
      decision: 'remediate',
      mode: 'plan',
      reason:
        'plan mode (policy entry sg-ingress): would run DriftRemediation-RevertSecurityGroupIngress; nothing is changed',
      runbook: { documentName: 'DriftRemediation-RevertSecurityGroupIngress' },
    });
    // Exceptions and the loop breaker are still read; the blast-radius counter is never written.
    expect(cc).toHaveReceivedCommand(GetResourceCommand);
    expect(ddb).toHaveReceivedCommand(QueryCommand);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('exceptions still apply in plan mode; the default mode leaves `mode` off the plan', async () => {
    const skipped = await plan(
      { event: configEvent({ resourceId: 'sg-00000000000000001' }) },
      deps({ policy: planModePolicy() }),
    );
    expect(skipped.decision).toBe('skip');
    const normal = await plan({ event: configEvent() }, deps());
    expect(normal.mode).toBeUndefined();
    expect(ddb).toHaveReceivedCommand(UpdateCommand);
  });

  it('mode must be remediate or plan', () => {
    const raw = rawPolicy();
    const [entry] = raw.remediations as Array<Record<string, unknown>>;
    expect(() => normalizePolicy({ ...raw, remediations: [{ ...entry, mode: 'dry-run' }] })).toThrow(
      /remediations\[0\]\.mode/,
    );
  });
});
