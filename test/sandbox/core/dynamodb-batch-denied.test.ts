/**
 * DynamoDB's batch calls are authorized table by table, as AWS authorizes them: BatchGetItem and
 * BatchWriteItem need their action on each table RequestItems names (by name or by ARN), and a table the
 * caller may not use fails the whole request with `AccessDeniedException` naming that table's ARN (HTTP
 * 400), writing nothing in the tables it may use. Tables under a customer managed key need the caller's
 * kms:Decrypt through DynamoDB for batch calls as for single-item ones. Real SDK v3 clients signed with
 * role-session credentials the sandbox minted.
 */
import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbService } from '../../../sandbox/services/dynamodb';
import { iamService } from '../../../sandbox/services/iam';
import { kmsService } from '../../../sandbox/services/kms';
import { withSandbox } from '../helpers';
import { actingAs, failure, policy, role } from './iam-support';

const sb = withSandbox(() => ({ services: [iamService(), kmsService(), dynamoDbService()] }));
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const tableArn = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;
const admin = () => new DynamoDBClient(sb.clientConfig);
const as = (roleArn: string) => new DynamoDBClient(actingAs(sb, roleArn, 'batch'));
const key = { pk: { S: 'k' } };

async function table(name: string, keyArn?: string): Promise<void> {
  await admin().send(
    new CreateTableCommand({
      TableName: name,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      ...(keyArn ? { SSESpecification: { Enabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn } } : {}),
    }),
  );
  await admin().send(new PutItemCommand({ TableName: name, Item: { ...key, v: { S: 'before' } } }));
}

const value = async (name: string) =>
  (await admin().send(new GetItemCommand({ TableName: name, Key: key }))).Item?.v?.S;
const write = (tables: string[], v: string) =>
  new BatchWriteItemCommand({
    RequestItems: Object.fromEntries(
      tables.map((t) => [t, [{ PutRequest: { Item: { ...key, v: { S: v } } } }]]),
    ),
  });
const read = (tables: string[]) =>
  new BatchGetItemCommand({ RequestItems: Object.fromEntries(tables.map((t) => [t, { Keys: [key] }])) });
const denied = (who: string, action: string, name: string) =>
  `User: arn:aws:sts::${ACCOUNT}:assumed-role/${who}/batch is not authorized to perform: ${action} on resource: ${tableArn(name)} because no identity-based policy allows the ${action} action`;

describe('BatchGetItem and BatchWriteItem are authorized per table', () => {
  let reader: string;
  beforeAll(async () => {
    await table('batch-mine');
    await table('batch-other');
    reader = await role(sb, 'batch-one-table', [
      {
        Effect: 'Allow',
        Action: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'],
        Resource: tableArn('batch-mine'),
      },
    ]);
  });

  it('admits a batch on the tables the role may use', async () => {
    await as(reader).send(write(['batch-mine'], 'mine'));
    expect(await value('batch-mine')).toBe('mine');
    const got = await as(reader).send(read(['batch-mine']));
    expect(got.Responses?.['batch-mine']?.[0]?.v?.S).toBe('mine');
  });

  it('refuses a whole BatchWriteItem naming a table the role may not use, writing in neither', async () => {
    await admin().send(write(['batch-mine', 'batch-other'], 'before'));
    const refused = await failure(as(reader).send(write(['batch-mine', 'batch-other'], 'after')));
    expect(refused).toMatchObject({
      name: 'AccessDeniedException',
      status: 400,
      message: denied('batch-one-table', 'dynamodb:BatchWriteItem', 'batch-other'),
    });
    expect(await value('batch-mine')).toBe('before');
    expect(await value('batch-other')).toBe('before');
    expect(sb.sandbox.logs).toContain(
      `iam: AccessDenied: arn:aws:sts::${ACCOUNT}:assumed-role/batch-one-table/batch is not allowed dynamodb:BatchWriteItem on ${tableArn('batch-other')} (no policy allows it)`,
    );
  });

  // AWS accepts a table's ARN as a RequestItems key; IAM evaluates it as that table either way.
  it('refuses a BatchGetItem naming a table the role may not use, by name or by ARN', async () => {
    for (const other of ['batch-other', tableArn('batch-other')]) {
      const refused = await failure(as(reader).send(read(['batch-mine', other])));
      expect(refused).toMatchObject({
        name: 'AccessDeniedException',
        message: denied('batch-one-table', 'dynamodb:BatchGetItem', 'batch-other'),
      });
    }
  });

  it('needs the batch action itself: GetItem and PutItem on the table do not admit it', async () => {
    const single = await role(sb, 'batch-single-items', [
      { Effect: 'Allow', Action: ['dynamodb:GetItem', 'dynamodb:PutItem'], Resource: tableArn('batch-mine') },
    ]);
    const refused = await failure(as(single).send(read(['batch-mine'])));
    expect(refused.message).toBe(denied('batch-single-items', 'dynamodb:BatchGetItem', 'batch-mine'));
  });
});

describe('batch calls on a table under a customer managed key', () => {
  it("need the caller's kms:Decrypt through DynamoDB for each encrypted table", async () => {
    const created = await sb.sandbox.context.call('kms', 'CreateKey', {
      Policy: policy({
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
        Action: 'kms:*',
        Resource: '*',
      }),
    });
    const keyArn = String((created.KeyMetadata as { Arn: string }).Arn);
    await table('batch-plain');
    await table('batch-sealed', keyArn);
    const batch = {
      Effect: 'Allow',
      Action: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem'],
      Resource: [tableArn('batch-plain'), tableArn('batch-sealed')],
    };
    const bare = await role(sb, 'batch-no-key', [batch]);
    await as(bare).send(write(['batch-plain'], 'plain'));
    const refused = await failure(as(bare).send(write(['batch-plain', 'batch-sealed'], 'after')));
    expect(refused).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(refused.message).toMatch(/^KMS key access denied error: /);
    expect(sb.sandbox.logs).toContain(
      `iam: AccessDenied: arn:aws:sts::${ACCOUNT}:assumed-role/batch-no-key/batch is not allowed kms:Decrypt on ${keyArn} (KMS key)`,
    );
    expect(await value('batch-plain')).toBe('plain');
    expect(await value('batch-sealed')).toBe('before');
    expect((await failure(as(bare).send(read(['batch-sealed'])))).message).toMatch(/^KMS key access denied/);
    const keyed = await role(sb, 'batch-with-key', [
      batch,
      {
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: keyArn,
        Condition: { StringEquals: { 'kms:ViaService': `dynamodb.${REGION}.amazonaws.com` } },
      },
    ]);
    await as(keyed).send(write(['batch-plain', 'batch-sealed'], 'after'));
    expect(await value('batch-sealed')).toBe('after');
    const got = await as(keyed).send(read(['batch-sealed']));
    expect(got.Responses?.['batch-sealed']?.[0]?.v?.S).toBe('after');
  });
});
