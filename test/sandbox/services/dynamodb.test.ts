import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceNotFoundException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
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

  // dynalite's expression parses are memoized per shape (sandbox/services/dynamodb/expressions.ts): every
  // request of one shape must still be judged with its own values.
  it('judges each request of one expression shape by its own values', async () => {
    const put = (sk: string, n: string) =>
      ddb().send(
        new PutItemCommand({
          TableName: 'leases',
          Item: { pk: { S: 'shape' }, sk: { S: sk }, n: { N: n } },
          ConditionExpression: 'attribute_not_exists(#k) OR #n < :n',
          ExpressionAttributeNames: { '#k': 'pk', '#n': 'n' },
          ExpressionAttributeValues: { ':n': { N: n } },
        }),
      );
    await put('1', '5');
    await put('1', '7'); // 5 < 7: replaced
    await expect(put('1', '6')).rejects.toBeInstanceOf(ConditionalCheckFailedException); // 7 < 6 is false
    const update = (by: string) =>
      ddb().send(
        new UpdateItemCommand({
          TableName: 'leases',
          Key: { pk: { S: 'shape' }, sk: { S: '1' } },
          UpdateExpression: 'ADD #n :by SET #t = :t',
          ExpressionAttributeNames: { '#n': 'n', '#t': 'tag' },
          ExpressionAttributeValues: { ':by': { N: by }, ':t': { S: `by ${by}` } },
          ReturnValues: 'ALL_NEW',
        }),
      );
    expect((await update('1')).Attributes).toMatchObject({ n: { N: '8' }, tag: { S: 'by 1' } });
    expect((await update('10')).Attributes).toMatchObject({ n: { N: '18' }, tag: { S: 'by 10' } });
    await put('2', '1');
    const query = (min: string) =>
      ddb().send(
        new QueryCommand({
          TableName: 'leases',
          KeyConditionExpression: 'pk = :p AND sk >= :min',
          FilterExpression: '#n > :floor',
          ExpressionAttributeNames: { '#n': 'n' },
          ExpressionAttributeValues: { ':p': { S: 'shape' }, ':min': { S: min }, ':floor': { N: '0' } },
        }),
      );
    expect((await query('1')).Items?.map((i) => i.sk?.S)).toEqual(['1', '2']);
    expect((await query('2')).Items?.map((i) => i.sk?.S)).toEqual(['2']);
  });

  it('still refuses a cached shape whose values are wrong for it', async () => {
    const add = (value: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      ddb().send(
        new UpdateItemCommand({
          TableName: 'leases',
          Key: { pk: { S: 'refused' }, sk: { S: '1' } },
          UpdateExpression: 'ADD #n :v',
          ExpressionAttributeNames: { '#n': 'n' },
          ExpressionAttributeValues: { ':v': value, ...extra } as never,
        }),
      );
    await add({ N: '1' });
    // The same expression with a string value (another shape) is dynalite's type error, as before.
    await expect(add({ S: 'x' })).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('Incorrect operand type for operator or function; operator: ADD'),
    });
    // An unused value on the cached shape is still reported.
    await expect(add({ N: '1' }, { ':unused': { N: '2' } })).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('unused in expressions: keys: {:unused}'),
    });
    // BETWEEN is judged on its bounds' content every time (never cached).
    const between = (lo: string, hi: string) =>
      ddb().send(
        new QueryCommand({
          TableName: 'leases',
          KeyConditionExpression: 'pk = :p AND sk BETWEEN :lo AND :hi',
          ExpressionAttributeValues: { ':p': { S: 'refused' }, ':lo': { S: lo }, ':hi': { S: hi } },
        }),
      );
    expect((await between('0', '9')).Count).toBe(1);
    await expect(between('9', '0')).rejects.toMatchObject({
      message: expect.stringContaining('BETWEEN operator requires upper bound to be greater than or equal'),
    });
  });

  // Names enter a shape by which of them are equal (expressions.ts): the lease table's holder id is a new
  // `#h` in every request, and each request must still be judged with its own names.
  it('judges each request of one expression shape by its own names', async () => {
    const key = { pk: { S: 'names' }, sk: { S: '1' } };
    await ddb().send(new PutItemCommand({ TableName: 'leases', Item: { ...key, holders: { M: {} } } }));
    const admit = (holder: string, at: string) =>
      ddb().send(
        new UpdateItemCommand({
          TableName: 'leases',
          Key: key,
          UpdateExpression: 'SET #holders.#h = :at',
          ConditionExpression: 'attribute_not_exists(#holders.#h)',
          ExpressionAttributeNames: { '#holders': 'holders', '#h': holder },
          ExpressionAttributeValues: { ':at': { S: at } },
          ReturnValues: 'ALL_NEW',
        }),
      );
    await admit('exec-1', 't1');
    expect((await admit('exec-2', 't2')).Attributes?.holders).toEqual({
      M: { 'exec-1': { S: 't1' }, 'exec-2': { S: 't2' } },
    });
    await expect(admit('exec-1', 't3')).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    const set = (names: Record<string, string>) =>
      ddb().send(
        new UpdateItemCommand({
          TableName: 'leases',
          Key: key,
          UpdateExpression: 'SET v = :v, #x = :v, #y = :v',
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':v': { S: 'x' } },
          ReturnValues: 'UPDATED_NEW',
        }),
      );
    expect((await set({ '#x': 'a', '#y': 'b' })).Attributes).toEqual({
      v: { S: 'x' },
      a: { S: 'x' },
      b: { S: 'x' },
    });
    const overlap = expect.stringContaining('Two document paths overlap');
    // Two names of one value, and a name equal to a word of the expression, are other shapes.
    await expect(set({ '#x': 'c', '#y': 'c' })).rejects.toMatchObject({ message: overlap });
    await expect(set({ '#x': 'v', '#y': 'd' })).rejects.toMatchObject({ message: overlap });
    // The cached shape with a key attribute's name is refused by the action, naming it.
    await expect(set({ '#x': 'e', '#y': 'sk' })).rejects.toMatchObject({
      name: 'ValidationException',
      message: expect.stringContaining('Cannot update attribute sk'),
    });
  });

  // dynalite's validations and actions are called in-process with the parsed request (no HTTP/JSON hop):
  // the answers and errors are still dynalite's.
  it('keeps ReturnValues, Query order and paging, and validation errors', async () => {
    const key = (sk: string) => ({ pk: { S: 'rv' }, sk: { S: sk } });
    for (const sk of ['1', '2', '3'])
      await ddb().send(new PutItemCommand({ TableName: 'leases', Item: { ...key(sk), v: { S: `v${sk}` } } }));
    const replaced = await ddb().send(
      new PutItemCommand({
        TableName: 'leases',
        Item: { ...key('1'), v: { S: 'new' } },
        ReturnValues: 'ALL_OLD',
      }),
    );
    expect(replaced.Attributes).toEqual({ ...key('1'), v: { S: 'v1' } });
    const updated = await ddb().send(
      new UpdateItemCommand({
        TableName: 'leases',
        Key: key('2'),
        UpdateExpression: 'SET v = :v',
        ExpressionAttributeValues: { ':v': { S: 'changed' } },
        ReturnValues: 'UPDATED_OLD',
      }),
    );
    expect(updated.Attributes).toEqual({ v: { S: 'v2' } });
    const deleted = await ddb().send(
      new DeleteItemCommand({ TableName: 'leases', Key: key('3'), ReturnValues: 'ALL_OLD' }),
    );
    expect(deleted.Attributes).toEqual({ ...key('3'), v: { S: 'v3' } });
    const page = (start?: Record<string, { S: string }>) =>
      ddb().send(
        new QueryCommand({
          TableName: 'leases',
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': { S: 'rv' } },
          ScanIndexForward: false,
          Limit: 1,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
    const first = await page();
    expect(first.Items?.map((i) => i.sk?.S)).toEqual(['2']);
    expect(first.LastEvaluatedKey).toEqual(key('2'));
    const second = await page(first.LastEvaluatedKey as Record<string, { S: string }>);
    expect(second.Items?.map((i) => [i.sk?.S, i.v?.S])).toEqual([['1', 'new']]);
    await expect(
      ddb().send(new GetItemCommand({ TableName: 'leases', Key: { pk: { S: 'rv' } } })),
    ).rejects.toMatchObject({
      name: 'ValidationException',
      message: 'The provided key element does not match the schema',
    });
    await expect(
      ddb().send(new PutItemCommand({ TableName: 'leases', Item: { ...key('4'), n: { N: 'x' } } })),
    ).rejects.toMatchObject({ name: 'ValidationException', message: expect.stringContaining('numeric') });
  });
});
