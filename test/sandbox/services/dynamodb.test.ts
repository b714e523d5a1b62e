import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceNotFoundException,
  TransactWriteItemsCommand,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { dynamoDbService } from '../../../sandbox/services/dynamodb';
import { withSandbox } from '../helpers';

const sb = withSandbox({ services: [dynamoDbService()] });
const ddb = (): DynamoDBClient => new DynamoDBClient(sb.clientConfig);

describe('DynamoDB (dynalite)', () => {
  it('creates a table and reads back what it writes', async () => {
    const created = await ddb().send(
      new CreateTableCommand({
        TableName: 'leases',
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
    expect(created.TableDescription?.TableName).toBe('leases');
    expect(created.TableDescription?.CreationDateTime).toBeInstanceOf(Date);
    await ddb().send(
      new PutItemCommand({ TableName: 'leases', Item: { pk: { S: 'a' }, sk: { S: '1' }, n: { N: '42' } } }),
    );
    const got = await ddb().send(
      new GetItemCommand({ TableName: 'leases', Key: { pk: { S: 'a' }, sk: { S: '1' } } }),
    );
    expect(got.Item).toEqual({ pk: { S: 'a' }, sk: { S: '1' }, n: { N: '42' } });
    const q = await ddb().send(
      new QueryCommand({
        TableName: 'leases',
        KeyConditionExpression: 'pk = :p',
        ExpressionAttributeValues: { ':p': { S: 'a' } },
      }),
    );
    expect(q.Count).toBe(1);
  });

  it('returns typed conditional-check and not-found errors', async () => {
    await expect(
      ddb().send(
        new PutItemCommand({
          TableName: 'leases',
          Item: { pk: { S: 'a' }, sk: { S: '1' } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await expect(
      ddb().send(new GetItemCommand({ TableName: 'missing', Key: { pk: { S: 'a' } } })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('emulates the Time To Live settings dynalite lacks', async () => {
    await ddb().send(
      new UpdateTimeToLiveCommand({
        TableName: 'leases',
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      }),
    );
    const ttl = await ddb().send(new DescribeTimeToLiveCommand({ TableName: 'leases' }));
    expect(ttl.TimeToLiveDescription).toEqual({ TimeToLiveStatus: 'ENABLED', AttributeName: 'expiresAt' });
    await expect(ddb().send(new DescribeTimeToLiveCommand({ TableName: 'missing' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });

  it('answers operations it does not support with UnknownOperationException', async () => {
    await expect(
      ddb().send(
        new TransactWriteItemsCommand({
          TransactItems: [{ Put: { TableName: 'leases', Item: { pk: { S: 'x' }, sk: { S: 'y' } } } }],
        }),
      ),
    ).rejects.toMatchObject({ name: 'UnknownOperationException' });
  });
});
