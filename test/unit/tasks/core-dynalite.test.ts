import { ConfigServiceClient } from '@aws-sdk/client-config-service';
/**
 * intake's ordering check and plan's loop/blast-radius breakers against dynalite (real DynamoDB
 * condition and key expressions), with the other services mocked.
 */
import 'aws-sdk-client-mock-vitest/extend';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CloudControlClient, GetResourceCommand } from '@aws-sdk/client-cloudcontrol';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type IntakeDeps, processMessage } from '../../../tasks/intake/core';
import { type PlanDeps, plan } from '../../../tasks/plan/core';
import { resourceKeyOf } from '../../../tasks/shared/contracts';
import { putOutcome } from '../../../tasks/shared/outcomes';
import { boundedKey, breakGlassKey, orderingKey } from '../../../tasks/shared/tables';
import { ACCOUNT, configEvent, REGION, rawPolicy, SG_ID, testPolicy } from './fixtures/core-tasks';

const sfn = mockClient(SFNClient);
const cc = mockClient(CloudControlClient);

let server: Server;
let raw: DynamoDBClient;
let ddb: DynamoDBDocumentClient;
let n = 0;
let tables: { ordering: string; outcomes: string };

beforeAll(async () => {
  const require = createRequire(import.meta.url);
  const dynalite = require('dynalite') as (o: Record<string, number>) => Server;
  server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  raw = new DynamoDBClient({
    endpoint: `http://127.0.0.1:${port}`,
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  ddb = DynamoDBDocumentClient.from(raw);
});
afterAll(async () => {
  sfn.restore();
  cc.restore();
  raw.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(async () => {
  sfn.reset();
  cc.reset();
  n++;
  tables = { ordering: `ordering-${n}`, outcomes: `outcomes-${n}` };
  await raw.send(
    new CreateTableCommand({
      TableName: tables.ordering,
      AttributeDefinitions: [{ AttributeName: 'key', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'key', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  await raw.send(
    new CreateTableCommand({
      TableName: tables.outcomes,
      AttributeDefinitions: [
        { AttributeName: 'resourceKey', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'resourceKey', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  sfn
    .on(StartExecutionCommand)
    .callsFake((i: { name: string }) => ({ executionArn: `arn:x:${i.name}`, startDate: new Date() }));
  sfn
    .on(DescribeExecutionCommand)
    .resolves({ status: 'SUCCEEDED', executionArn: 'x', stateMachineArn: 'y', startDate: new Date() });
  cc.on(GetResourceCommand).resolves({ ResourceDescription: { Identifier: SG_ID, Properties: '{}' } });
});

const intakeDeps = (): IntakeDeps => ({
  sfn: new SFNClient({ region: REGION }),
  config: new ConfigServiceClient({ region: REGION }),
  ddb,
  cloudFormation: new CloudFormationClient({ region: REGION }),
  policy: testPolicy(),
  stateMachineArn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:sm`,
  orderingTable: tables.ordering,
  outcomesTable: tables.outcomes,
  now: () => new Date('2026-11-23T12:00:00Z'),
});

const body = (orderingTimestamp: string, complianceType = 'NON_COMPLIANT') =>
  JSON.stringify({
    id: `e-${orderingTimestamp}`,
    source: 'aws.config',
    'detail-type': 'Config Rules Compliance Change',
    detail: {
      configRuleName: 'restricted-ssh',
      resourceType: 'AWS::EC2::SecurityGroup',
      resourceId: SG_ID,
      awsAccountId: ACCOUNT,
      awsRegion: REGION,
      newEvaluationResult: { complianceType, evaluationResultIdentifier: { orderingTimestamp } },
    },
  });

describe('intake ordering against dynalite', () => {
  it('newer results start, the same result redelivered starts (absorbed); an older one never does', async () => {
    const d = intakeDeps();
    expect((await processMessage(body('2026-11-23T10:00:00Z'), 'm1', d))[0]?.status).toBe('started');
    expect((await processMessage(body('2026-11-23T10:00:00.000Z'), 'm2', d))[0]?.status).toBe('started');
    expect((await processMessage(body('2026-11-23T11:00:00Z'), 'm3', d))[0]?.status).toBe('started');
    const older = await processMessage(body('2026-11-23T10:30:00Z'), 'm4', d);
    expect(older[0]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/out of order/) });
    expect(sfn).toHaveReceivedCommandTimes(StartExecutionCommand, 3);
  });

  it('a newer result waits while the execution for the older one is still running', async () => {
    const d = intakeDeps();
    const first = await processMessage(body('2026-11-23T10:00:00Z'), 'm1', d);
    expect(first[0]?.status).toBe('started');
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'RUNNING', executionArn: 'x', stateMachineArn: 'y', startDate: new Date() });
    const blocked = await processMessage(body('2026-11-23T11:00:00Z'), 'm2', d);
    expect(blocked[0]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/still running/) });
    sfn
      .on(DescribeExecutionCommand)
      .resolves({ status: 'SUCCEEDED', executionArn: 'x', stateMachineArn: 'y', startDate: new Date() });
    const later = await processMessage(body('2026-11-23T11:00:00Z'), 'm3', d);
    expect(later[0]?.status).toBe('started');
    expect(sfn).toHaveReceivedCommandWith(DescribeExecutionCommand, {
      executionArn: `arn:aws:states:${REGION}:${ACCOUNT}:execution:sm:${first[0]?.executionName}`,
    });
  });

  it('a newer COMPLIANT result blocks an older NON_COMPLIANT one delivered late', async () => {
    const d = intakeDeps();
    expect((await processMessage(body('2026-11-23T11:00:00Z', 'COMPLIANT'), 'm1', d))[0]?.status).toBe(
      'skipped',
    );
    const late = await processMessage(body('2026-11-23T10:00:00Z'), 'm2', d);
    expect(late[0]).toMatchObject({ status: 'skipped', reason: expect.stringMatching(/out of order/) });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('tie rule: COMPLIANT(t) then NON_COMPLIANT(t) starts nothing and records SKIPPED with the reason', async () => {
    const d = intakeDeps();
    const t = '2026-11-23T10:00:00Z';
    expect((await processMessage(body(t, 'COMPLIANT'), 'm1', d))[0]?.status).toBe('skipped');
    const later = { ...d, now: () => new Date('2026-11-23T12:00:01Z') };
    const tie = await processMessage(body('2026-11-23T10:00:00.000Z'), 'm2', later);
    expect(tie[0]).toMatchObject({
      status: 'skipped',
      reason: expect.stringMatching(/^tie: .*never starts/),
    });
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
    const recorded = await ddb.send(
      new QueryCommand({
        TableName: tables.outcomes,
        KeyConditionExpression: 'resourceKey = :k',
        ExpressionAttributeValues: { ':k': `${ACCOUNT}/${REGION}/AWS::EC2::SecurityGroup/${SG_ID}` },
      }),
    );
    // The COMPLIANT result is recorded on the mark it moved (no outcome item); the tie as SKIPPED.
    expect(recorded.Items?.map((i) => i.reason)).toEqual([expect.stringMatching(/^tie: /)]);
    const mark = await ddb.send(
      new GetCommand({
        TableName: tables.ordering,
        Key: { key: orderingKey('restricted-ssh', `${ACCOUNT}/${REGION}/AWS::EC2::SecurityGroup/${SG_ID}`) },
      }),
    );
    expect(mark.Item).toMatchObject({
      lastResult: 'COMPLIANT',
      lastOrderingTimestamp: '2026-11-23T10:00:00.000Z',
    });
  });

  it('sweep generations: a re-find whose execution ended without VERIFIED starts the next generation, bounded by the loop breaker', async () => {
    const d = intakeDeps();
    const t = '2026-11-23T10:00:00.000Z';
    // Execution statuses by name; StartExecution of a name that exists is refused as in Step Functions.
    const status = new Map<string, string>();
    sfn.on(StartExecutionCommand).callsFake((i: { name: string }) => {
      if (status.has(i.name)) throw Object.assign(new Error('exists'), { name: 'ExecutionAlreadyExists' });
      status.set(i.name, 'RUNNING');
      return { executionArn: `arn:x:${i.name}`, startDate: new Date() };
    });
    sfn.on(DescribeExecutionCommand).callsFake((i: { executionArn: string }) => {
      const s = status.get(i.executionArn.split(':').pop() ?? '');
      if (!s) throw Object.assign(new Error('no such execution'), { name: 'ExecutionDoesNotExist' });
      return { status: s, executionArn: i.executionArn, stateMachineArn: 'y', startDate: new Date() };
    });
    const sweepBody = (id: string) =>
      JSON.stringify({
        id,
        source: 'drift-remediation.sweep',
        'detail-type': 'Drift Remediation Sweep Finding',
        detail: configEvent({ source: 'sweep', eventId: id, orderingTimestamp: t }),
      });
    const first = (await processMessage(body(t), 'm0', d))[0];
    expect(first?.status).toBe('started');
    const names = [first?.executionName ?? ''];
    // While it runs, or once it ended VERIFIED (SUCCEEDED), a re-find is the same execution.
    expect((await processMessage(sweepBody('s0'), 's0', d))[0]).toMatchObject({
      status: 'duplicate',
      executionName: names[0],
    });
    status.set(names[0] ?? '', 'SUCCEEDED');
    expect((await processMessage(sweepBody('s1'), 's1', d))[0]).toMatchObject({
      status: 'duplicate',
      executionName: names[0],
    });
    // Ended in Fail (ESCALATED, EXPIRED, NOT_VERIFIED…): the next re-find starts generation 1, 2, 3.
    for (let g = 1; g <= 3; g++) {
      status.set(names[g - 1] ?? '', 'FAILED');
      const out = (await processMessage(sweepBody(`s-${g}`), `s-${g}`, d))[0];
      expect(out?.status, `generation ${g}`).toBe('started');
      expect(names).not.toContain(out?.executionName);
      names.push(out?.executionName ?? '');
      const input = JSON.parse(sfn.commandCalls(StartExecutionCommand).at(-1)?.args[0].input.input ?? '{}');
      expect(input.event.generation).toBe(g);
      // A redelivery of the same re-find is absorbed, not a further generation.
      const again = (await processMessage(sweepBody(`s-${g}`), `s-${g}-again`, d))[0];
      expect(again).toMatchObject({ status: 'duplicate', executionName: out?.executionName });
    }
    // The loop breaker's maxRemediations (3) generations after the first: no more.
    status.set(names[3] ?? '', 'FAILED');
    const held = (await processMessage(sweepBody('s-4'), 's-4', d))[0];
    expect(held).toMatchObject({
      status: 'skipped',
      reason: expect.stringMatching(/^re-found after 4 executions/),
    });
    expect(status.size).toBe(4);
  });

  it('a drift event with a stack id over 2 KB ends in a recorded SKIPPED outcome under a bounded key', async () => {
    const d = intakeDeps();
    const stackId = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/${'s'.repeat(2100)}/0f0f0f0f-1111-2222-3333-444455556666`;
    const drift = (status: string) =>
      JSON.stringify({
        id: `d-${status}`,
        source: 'aws.cloudformation',
        'detail-type': 'CloudFormation Drift Detection Status Change',
        account: ACCOUNT,
        region: REGION,
        detail: { 'stack-id': stackId, 'status-details': { 'stack-drift-status': status } },
      });
    for (const status of ['DRIFTED', 'IN_SYNC']) {
      const [r] = await processMessage(drift(status), `m-${status}`, d);
      expect(r?.status).toBe('skipped');
      expect(Buffer.byteLength(r?.resourceKey ?? '')).toBeGreaterThan(2048);
      const stored = boundedKey(r?.resourceKey ?? '');
      expect(Buffer.byteLength(stored)).toBeLessThanOrEqual(1024);
      expect(stored).toMatch(/^\d{12}\/[a-z0-9-]+\/AWS::CloudFormation::Stack\/s+#sha256=[0-9a-f]{64}$/);
    }
    const recorded = await ddb.send(
      new QueryCommand({
        TableName: tables.outcomes,
        KeyConditionExpression: 'resourceKey = :k',
        ExpressionAttributeValues: {
          ':k': boundedKey(`${ACCOUNT}/${REGION}/AWS::CloudFormation::Stack/${'s'.repeat(2100)}`),
        },
      }),
    );
    expect(recorded.Items?.map((i) => i.outcome)).toEqual(['SKIPPED', 'SKIPPED']);
    expect(recorded.Items?.map((i) => i.reason)).toEqual(
      expect.arrayContaining([expect.stringMatching(/^invalid event: stack-id .* names no valid stack/)]),
    );
  });

  it('boundedKey: short keys unchanged; long ones a stable digest of at most 1 KB', async () => {
    const long = boundedKey(`x${'é'.repeat(1500)}`);
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(1024);
    expect(boundedKey(`x${'é'.repeat(1500)}`)).toBe(long);
    expect(boundedKey(`x${'é'.repeat(1501)}`)).not.toBe(long);
    expect(boundedKey('short')).toBe('short');
  });
});

const planDeps = (now: string, policy = testPolicy()): PlanDeps => ({
  ddb,
  cloudControl: new CloudControlClient({ region: REGION }),
  cloudFormation: new CloudFormationClient({ region: REGION }),
  policy,
  orderingTable: tables.ordering,
  outcomesTable: tables.outcomes,
  now: () => new Date(now),
});

describe('plan breakers against dynalite', () => {
  it('the loop breaker counts remediated outcomes inside the window only (successes included)', async () => {
    const key = resourceKeyOf(configEvent());
    const rec = (at: string, name: string, outcome: 'VERIFIED' | 'FAILED' | 'SKIPPED', remediated: boolean) =>
      putOutcome(ddb, tables.outcomes, {
        resourceKey: key,
        executionName: name,
        outcome,
        reason: 'r',
        recordedAt: at,
        remediated,
      });
    await rec('2026-11-22T10:00:00.000Z', 'old', 'VERIFIED', true); // outside the 24 h window
    await rec('2026-11-23T01:00:00.000Z', 'a', 'VERIFIED', true);
    await rec('2026-11-23T02:00:00.000Z', 'b', 'FAILED', true); // ran to Success, verification failed
    await rec('2026-11-23T03:00:00.000Z', 'c', 'SKIPPED', false);
    const two = await plan({ event: configEvent() }, planDeps('2026-11-23T12:00:00.000Z'));
    expect(two.decision).toBe('remediate');
    await rec('2026-11-23T04:00:00.000Z', 'd', 'VERIFIED', true);
    const three = await plan({ event: configEvent() }, planDeps('2026-11-23T12:00:00.000Z'));
    expect(three.decision).toBe('escalate');
    expect(three.reason).toMatch(/^loop breaker: 3 remediations/);
  });

  it('the blast-radius budget is shared per fixed window and refills in the next one', async () => {
    const policy = testPolicy({
      defaults: { ...rawPolicy().defaults, blastRadius: { windowSeconds: 3600, maxRemediations: 2 } },
    });
    const ids = ['sg-0000000000000000a', 'sg-0000000000000000b', 'sg-0000000000000000c'];
    const decisions = [];
    for (const id of ids) {
      decisions.push(
        (await plan({ event: configEvent({ resourceId: id }) }, planDeps('2026-11-23T12:10:00Z', policy)))
          .decision,
      );
    }
    expect(decisions).toEqual(['remediate', 'remediate', 'escalate']);
    const next = await plan(
      { event: configEvent({ resourceId: 'sg-0000000000000000d' }) },
      planDeps('2026-11-23T13:00:00Z', policy),
    );
    expect(next.decision).toBe('remediate');
  });

  it('a break-glass item written to the ordering table stops remediation until it expires', async () => {
    const key = breakGlassKey(resourceKeyOf(configEvent()));
    await ddb.send(
      new PutCommand({
        TableName: tables.ordering,
        Item: { key, until: '2026-11-23T12:30:00Z', by: 'oncall' },
      }),
    );
    expect((await plan({ event: configEvent() }, planDeps('2026-11-23T12:00:00Z'))).decision).toBe('skip');
    expect((await plan({ event: configEvent() }, planDeps('2026-11-23T12:31:00Z'))).decision).toBe(
      'remediate',
    );
    // The global item, read in the same BatchGetItem.
    await ddb.send(
      new PutCommand({
        TableName: tables.ordering,
        Item: { key: breakGlassKey('*'), until: '2026-11-23T13:00:00Z' },
      }),
    );
    expect((await plan({ event: configEvent() }, planDeps('2026-11-23T12:31:00Z'))).reason).toBe(
      'global break-glass active until 2026-11-23T13:00:00Z',
    );
  });
});
