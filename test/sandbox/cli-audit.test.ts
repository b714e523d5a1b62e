/**
 * `drift-remediation audit` (#15): the outcome table's audit indexes answer by resource, rule, account
 * and time, with Query only. Outcomes are written by the tasks' own writer (putOutcome) into a table
 * with the indexes the stack declares (synthesized), in the sandbox's DynamoDB; a fault rule makes any
 * Scan fail, so a passing query proves none was made. One run goes through the real CLI.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify, stripVTControlCharacters } from 'node:util';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DynamoDBClient,
  ScanCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AuditOptions, auditItems, sinceTime } from '../../sandbox/audit';
import { dynamoDbService } from '../../sandbox/services/dynamodb';
import { auditQueries, putOutcome } from '../../tasks/shared/outcomes';
import { synth } from '../infra/synth';
import { withSandbox } from './helpers';

const ROOT = join(import.meta.dirname, '..', '..');
const TABLE = 'drift-OutcomesTable-TEST';
const NOW = new Date();
const ago = (days: number) => new Date(NOW.getTime() - days * 86_400_000).toISOString();

const sb = withSandbox({
  services: [dynamoDbService({ createTableMs: 0 })],
  faults: {
    rules: {
      'dynamodb:Scan': {
        errorRate: 1,
        errorCode: 'ValidationException',
        errorStatus: 400,
        errorMessage: 'ScanRefusedByTest',
      },
    },
  },
});

/** The outcome table exactly as the stack declares it (keys and GSIs), under a test name. */
function outcomesTableFromStack(): CreateTableCommandInput {
  const { json } = synth();
  const table = Object.values(json.Resources).find(
    (r) => r.Type === 'AWS::DynamoDB::Table' && JSON.stringify(r.Properties).includes('"byResource"'),
  );
  if (!table) throw new Error('no outcomes table with audit indexes in the template');
  const p = table.Properties as Pick<
    CreateTableCommandInput,
    'KeySchema' | 'AttributeDefinitions' | 'GlobalSecondaryIndexes'
  >;
  return {
    TableName: TABLE,
    KeySchema: p.KeySchema,
    AttributeDefinitions: p.AttributeDefinitions,
    GlobalSecondaryIndexes: p.GlobalSecondaryIndexes,
    BillingMode: 'PAY_PER_REQUEST',
  };
}

const options = (o: Partial<AuditOptions>): AuditOptions => ({
  since: '7d',
  stack: 'DriftRemediation',
  endpoint: sb.endpoint,
  table: TABLE,
  ...o,
});
const names = (items: Record<string, unknown>[]) => items.map((i) => i.executionName);

beforeAll(async () => {
  const ddb = new DynamoDBClient(sb.clientConfig);
  await ddb.send(new CreateTableCommand(outcomesTableFromStack()));
  const doc = DynamoDBDocumentClient.from(ddb);
  const sg = '111111111111/us-east-1/AWS::EC2::SecurityGroup/sg-0123456789abcdef0';
  const role = '222222222222/us-west-2/AWS::IAM::Role/drift-demo-reporting';
  const rows: Array<[string, string, string, string | undefined, number]> = [
    ['e1', sg, 'VERIFIED', 'restricted-ssh', 1],
    ['e2', sg, 'FAILED', 'restricted-ssh', 2],
    ['e3', role, 'VERIFIED', undefined, 3],
    ['e4', role, 'FAILED', 'iam-role-no-blacklisted-policies', 20],
    ['e5', 'intake#invalid', 'SKIPPED', undefined, 0],
  ];
  for (const [executionName, resourceKey, outcome, ruleName, days] of rows)
    await putOutcome(doc, TABLE, {
      executionName,
      resourceKey,
      outcome: outcome as 'VERIFIED',
      ruleName,
      reason: `${outcome} test`,
      recordedAt: ago(days),
    });
}, 120_000);

describe('audit', () => {
  it('the stack declares the four audit indexes; a Scan is refused here (the check is live)', async () => {
    const t = outcomesTableFromStack();
    expect(t.GlobalSecondaryIndexes?.map((g) => g.IndexName).sort()).toEqual([
      'byAccount',
      'byResource',
      'byRule',
      'byTime',
    ]);
    const ddb = new DynamoDBClient(sb.clientConfig);
    await expect(ddb.send(new ScanCommand({ TableName: TABLE }))).rejects.toThrow(/ScanRefusedByTest/);
  });

  it('answers by resource, rule, account and outcome, newest first, within --since', async () => {
    expect(names(await auditItems(options({ resource: 'sg-0123456789abcdef0' }), NOW))).toEqual(['e1', 'e2']);
    expect(names(await auditItems(options({ rule: 'restricted-ssh', outcome: 'FAILED' }), NOW))).toEqual([
      'e2',
    ]);
    expect(names(await auditItems(options({ account: '222222222222' }), NOW))).toEqual(['e3']);
    expect(names(await auditItems(options({ account: '222222222222', since: '30d' }), NOW))).toEqual([
      'e3',
      'e4',
    ]);
    expect(names(await auditItems(options({ since: '30d', outcome: 'FAILED' }), NOW))).toEqual(['e2', 'e4']);
    expect(names(await auditItems(options({}), NOW))).toEqual(['e5', 'e1', 'e2', 'e3']);
  });

  it('bad options are refused before anything is sent', async () => {
    await expect(auditItems(options({ outcome: 'DONE' }))).rejects.toThrow(/--outcome DONE is not one of/);
    await expect(auditItems(options({ account: '12' }))).rejects.toThrow(/12-digit/);
    await expect(auditItems(options({ since: 'last week' }))).rejects.toThrow(/--since "last week"/);
    expect(sinceTime('2026-12-01', NOW)).toBe('2026-12-01T00:00:00.000Z');
  });

  it('a key given means one Query on its index; none means one Query per day of the time index', () => {
    const f = { since: ago(2), until: NOW.toISOString() };
    expect(auditQueries('t', { ...f, resourceId: 'sg-1' }).map((q) => q.IndexName)).toEqual(['byResource']);
    expect(auditQueries('t', { ...f, ruleName: 'r', accountId: '111111111111' })).toEqual([
      expect.objectContaining({ IndexName: 'byRule', FilterExpression: '#accountId = :accountId' }),
    ]);
    expect(auditQueries('t', f).map((q) => q.IndexName)).toEqual(['byTime', 'byTime', 'byTime']);
  });

  it('the real CLI prints the table, and --json the items', async () => {
    const run = (...args: string[]) =>
      promisify(execFile)(
        process.execPath,
        ['sandbox/bin/drift-remediation.mjs', 'audit', '--endpoint', sb.endpoint, ...args],
        { cwd: ROOT, encoding: 'utf8' },
      );
    const table = await run('--resource', 'sg-0123456789abcdef0');
    expect(table.stdout).toMatch(/FAILED[\s\S]*restricted-ssh/);
    expect(table.stdout).toContain('2 outcomes');
    // Account and region side by side in their own column; the resource without them.
    expect(stripVTControlCharacters(table.stdout)).toMatch(
      /│ 111111111111 us-east-1 +│ AWS::EC2::SecurityGroup\/sg-0123456789abcdef0 +│/,
    );
    const member = await run('--account', '222222222222');
    expect(stripVTControlCharacters(member.stdout)).toMatch(
      /│ 222222222222 us-west-2 +│ AWS::IAM::Role\/drift-demo-reporting +│/,
    );
    const json = JSON.parse((await run('--rule', 'restricted-ssh', '--json')).stdout) as unknown[];
    expect(json).toEqual([
      expect.objectContaining({
        executionName: 'e1',
        accountId: '111111111111',
        resourceId: 'sg-0123456789abcdef0',
      }),
      expect.objectContaining({ executionName: 'e2', outcome: 'FAILED' }),
    ]);
  }, 60_000);
});
