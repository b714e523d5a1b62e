/**
 * DynamoDB tables encrypted with a customer managed KMS key: DescribeTable reports the SSEDescription
 * DynamoDB reports; creating or re-keying such a table needs the caller's kms:DescribeKey, kms:CreateGrant
 * and kms:Decrypt, and every item call kms:Decrypt, through dynamodb.REGION.amazonaws.com, refused as
 * DynamoDB refuses it (`AccessDeniedException` "KMS key access denied error: …", HTTP 400) with the
 * sandbox log naming the action. While the key is disabled the table is inaccessible
 * (INACCESSIBLE_ENCRYPTION_CREDENTIALS) and item calls fail for every caller. A refused call changes
 * nothing. Real SDK v3 DynamoDB clients signed with role-session credentials the sandbox minted.
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { dynamoDbService } from '../../../sandbox/services/dynamodb';
import { iamService } from '../../../sandbox/services/iam';
import { kmsService } from '../../../sandbox/services/kms';
import { withSandbox } from '../helpers';
import { actingAs, failure, policy, role } from './iam-support';

const sb = withSandbox(() => ({ services: [iamService(), kmsService(), dynamoDbService()] }));
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const TRUST_ACCOUNT = {
  Effect: 'Allow',
  Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` },
  Action: 'kms:*',
  Resource: '*',
};
const KMS_DENIED =
  /^KMS key access denied error: com\.amazonaws\.services\.kms\.model\.AWSKMSException: The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access\. \(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: [0-9a-f-]{36}\)$/;

const kms = (op: string, input: Record<string, unknown>) => sb.sandbox.context.call('kms', op, input);
const admin = () => new DynamoDBClient(sb.clientConfig);
const tableArn = (name: string) => `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${name}`;

async function key(): Promise<string> {
  const out = await kms('CreateKey', { Description: 'tables', Policy: policy(TRUST_ACCOUNT) });
  return String((out.KeyMetadata as { Arn: string }).Arn);
}

const definition = (name: string, keyArn?: string): CreateTableCommandInput => ({
  TableName: name,
  KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
  AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
  BillingMode: 'PAY_PER_REQUEST',
  ...(keyArn ? { SSESpecification: { Enabled: true, SSEType: 'KMS', KMSMasterKeyId: keyArn } } : {}),
});

const put = (client: DynamoDBClient, table: string, v: string) =>
  client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'k' }, v: { S: v } } }));
const value = async (table: string) =>
  (await admin().send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'k' } } }))).Item?.v?.S;

describe('a table encrypted with a customer managed key', () => {
  it('is described with its SSEDescription; a table without one has none', async () => {
    const keyArn = await key();
    const created = await admin().send(new CreateTableCommand(definition('sse-described', keyArn)));
    const sse = { Status: 'ENABLED', SSEType: 'KMS', KMSMasterKeyArn: keyArn };
    expect(created.TableDescription?.SSEDescription).toEqual(sse);
    const described = await admin().send(new DescribeTableCommand({ TableName: 'sse-described' }));
    expect(described.Table?.SSEDescription).toEqual(sse);
    await admin().send(new CreateTableCommand(definition('sse-owned')));
    const owned = await admin().send(new DescribeTableCommand({ TableName: 'sse-owned' }));
    expect(owned.Table?.SSEDescription).toBeUndefined();
  });

  it('refuses item calls to a role without kms:Decrypt, writing nothing; admits it through DynamoDB only', async () => {
    const keyArn = await key();
    await admin().send(new CreateTableCommand(definition('sse-items', keyArn)));
    await put(admin(), 'sse-items', 'before');
    const items = {
      Effect: 'Allow',
      Action: ['dynamodb:PutItem', 'dynamodb:GetItem'],
      Resource: tableArn('sse-items'),
    };
    const decrypt = (service: string) => ({
      Effect: 'Allow',
      Action: 'kms:Decrypt',
      Resource: keyArn,
      Condition: { StringEquals: { 'kms:ViaService': `${service}.${REGION}.amazonaws.com` } },
    });
    const bare = await role(sb, 'sse-bare', [items]);
    const viaSqs = await role(sb, 'sse-via-sqs', [items, decrypt('sqs')]);
    const viaDynamo = await role(sb, 'sse-via-dynamodb', [items, decrypt('dynamodb')]);
    const denied = await failure(put(new DynamoDBClient(actingAs(sb, bare, 'w')), 'sse-items', 'after'));
    expect(denied).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(denied.message).toMatch(KMS_DENIED);
    expect(sb.sandbox.logs).toContain(
      `iam: AccessDenied: arn:aws:sts::${ACCOUNT}:assumed-role/sse-bare/w is not allowed kms:Decrypt on ${keyArn} (KMS key)`,
    );
    expect(
      (await failure(put(new DynamoDBClient(actingAs(sb, viaSqs, 'w')), 'sse-items', 'after'))).name,
    ).toBe('AccessDeniedException');
    expect(await value('sse-items')).toBe('before');
    await put(new DynamoDBClient(actingAs(sb, viaDynamo, 'w')), 'sse-items', 'after');
    expect(await value('sse-items')).toBe('after');
    // The same role on a table under the AWS owned key needs no KMS permission.
    await admin().send(new CreateTableCommand(definition('sse-plain')));
    const plain = await role(sb, 'sse-plain-writer', [{ ...items, Resource: tableArn('sse-plain') }]);
    await put(new DynamoDBClient(actingAs(sb, plain, 'w')), 'sse-plain', 'x');
  });

  it('refuses CreateTable under the key to a role without kms:CreateGrant, creating nothing', async () => {
    const keyArn = await key();
    const creator = await role(sb, 'sse-creator', [
      { Effect: 'Allow', Action: 'dynamodb:CreateTable', Resource: '*' },
      { Effect: 'Allow', Action: ['kms:DescribeKey', 'kms:Decrypt'], Resource: keyArn },
    ]);
    const denied = await failure(
      new DynamoDBClient(actingAs(sb, creator, 'c')).send(
        new CreateTableCommand(definition('sse-new', keyArn)),
      ),
    );
    expect(denied.message).toMatch(KMS_DENIED);
    expect(sb.sandbox.logs.some((l) => l.includes('sse-creator/c is not allowed kms:CreateGrant'))).toBe(
      true,
    );
    const tables = await admin().send(new ListTablesCommand({}));
    expect(tables.TableNames).not.toContain('sse-new');
  });
});

describe('a table whose key is disabled', () => {
  it('is inaccessible: DescribeTable says so, item calls fail for every caller until the key is enabled', async () => {
    const keyArn = await key();
    await admin().send(new CreateTableCommand(definition('sse-disabled', keyArn)));
    await put(admin(), 'sse-disabled', 'kept');
    await kms('DisableKey', { KeyId: keyArn });
    const described = await admin().send(new DescribeTableCommand({ TableName: 'sse-disabled' }));
    expect(described.Table?.TableStatus).toBe('INACCESSIBLE_ENCRYPTION_CREDENTIALS');
    expect(described.Table?.SSEDescription?.InaccessibleEncryptionDateTime).toBeInstanceOf(Date);
    const write = await failure(put(admin(), 'sse-disabled', 'lost'));
    expect(write).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(write.message).toMatch(
      new RegExp(
        `^KMS key access denied error: com\\.amazonaws\\.services\\.kms\\.model\\.DisabledException: ${keyArn} is disabled\\.`,
      ),
    );
    expect((await failure(value('sse-disabled'))).name).toBe('AccessDeniedException');
    await kms('EnableKey', { KeyId: keyArn });
    const back = await admin().send(new DescribeTableCommand({ TableName: 'sse-disabled' }));
    expect(back.Table?.TableStatus).toBe('ACTIVE');
    expect(back.Table?.SSEDescription?.InaccessibleEncryptionDateTime).toBeUndefined();
    expect(await value('sse-disabled')).toBe('kept');
  });

  it('refuses UpdateTable onto a disabled key, keeping the table on its key', async () => {
    const good = await key();
    const bad = await key();
    await admin().send(new CreateTableCommand(definition('sse-rekey', good)));
    await kms('DisableKey', { KeyId: bad });
    const refused = await failure(
      admin().send(
        new UpdateTableCommand({
          TableName: 'sse-rekey',
          SSESpecification: { Enabled: true, SSEType: 'KMS', KMSMasterKeyId: bad },
        }),
      ),
    );
    expect(refused.name).toBe('AccessDeniedException');
    const described = await admin().send(new DescribeTableCommand({ TableName: 'sse-rekey' }));
    expect(described.Table?.SSEDescription?.KMSMasterKeyArn).toBe(good);
  });
});
