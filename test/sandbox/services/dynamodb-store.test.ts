/**
 * The sandbox's DynamoDB keeps dynalite's validations and actions but answers them from its own store
 * (sandbox/services/dynamodb/store.ts) instead of dynalite's level database. Here the same seeded run of
 * calls goes, through real SDK clients, to dynalite's own server (its level store, on loopback) and to the
 * sandbox, and every answer or error must be the same: puts, conditional updates with each ReturnValues,
 * deletes, batches, Query/Scan over the table and both kinds of index in both directions with paging,
 * tags with non-ASCII keys, ListTables paging, and a table deleted and made again.
 */

import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DeleteItemCommand,
  DeleteTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  ListTagsOfResourceCommand,
  PutItemCommand,
  QueryCommand,
  ScanCommand,
  TagResourceCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dynamoDbService } from '../../../sandbox/services/dynamodb';
import { compareKeys, jsonCopy } from '../../../sandbox/services/dynamodb/store';
import { TEST_CREDENTIALS, withSandbox } from '../helpers';
import { seeded } from './seeded';

const sb = withSandbox({ services: [dynamoDbService()] });
let reference: Server;
let referenceEndpoint = '';

beforeAll(async () => {
  const dynalite = createRequire(import.meta.url)('dynalite') as (o: Record<string, number>) => Server;
  reference = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => reference.listen(0, '127.0.0.1', resolve));
  referenceEndpoint = `http://127.0.0.1:${(reference.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => reference.close(resolve));
});

type Call = (c: DynamoDBClient) => Promise<unknown>;

/** An answer without what differs by design between the two (request metadata). */
async function outcome(c: DynamoDBClient, call: Call): Promise<unknown> {
  try {
    const { $metadata: _, ...rest } = (await call(c)) as Record<string, unknown>;
    return { ok: rest };
  } catch (err) {
    const e = err as Error;
    return { error: e.name, message: e.message };
  }
}

const PKS = ['a', 'b', 'é', '日本', '😀', '\uE000x', 'zz'];
const GS = ['g1', 'g2', '😀', '\uFFFDq'];
const SKS = ['-100', '-1.5', '0', '0.25', '1', '2', '10', '99.9', '1e3'];
const RETURNS = ['NONE', 'ALL_OLD', 'UPDATED_OLD', 'ALL_NEW', 'UPDATED_NEW'] as const;

const key = (pk: string, sk: string): Record<string, AttributeValue> => ({ pk: { S: pk }, sk: { N: sk } });

/** Every page of a Query or Scan, as one list of answers. */
function paged(make: (start?: Record<string, AttributeValue>) => QueryCommand | ScanCommand): Call {
  return async (c) => {
    const pages: unknown[] = [];
    let start: Record<string, AttributeValue> | undefined;
    do {
      const { $metadata: _, ...page } = await c.send(make(start) as QueryCommand);
      pages.push(page);
      start = page.LastEvaluatedKey;
    } while (start && pages.length < 50);
    return { $metadata: {}, pages };
  };
}

function writeCall(r: ReturnType<typeof seeded>): Call {
  const k = key(r.pick(PKS), r.pick(SKS));
  const n = String(Math.floor(r.next() * 10));
  const [kind, g, l, conditional, returns] = [
    r.pick(['put', 'update', 'delete'] as const),
    r.pick(GS),
    r.pick(PKS),
    r.next() < 0.4,
    r.pick(RETURNS),
  ];
  if (kind === 'put')
    return (c) =>
      c.send(
        new PutItemCommand({
          TableName: 'parity',
          Item: { ...k, g: { S: g }, l: { S: l }, v: { N: n } },
          ...(conditional
            ? {
                ConditionExpression: 'attribute_not_exists(pk) OR v < :v',
                ExpressionAttributeValues: { ':v': { N: n } },
              }
            : {}),
          ReturnValues: returns === 'ALL_OLD' ? 'ALL_OLD' : 'NONE',
        }),
      );
  if (kind === 'update')
    return (c) =>
      c.send(
        new UpdateItemCommand({
          TableName: 'parity',
          Key: k,
          UpdateExpression: 'ADD #c :one SET g = :g',
          ConditionExpression: conditional ? 'attribute_exists(pk)' : undefined,
          ExpressionAttributeNames: { '#c': 'count' },
          ExpressionAttributeValues: { ':one': { N: '1' }, ':g': { S: g } },
          ReturnValues: returns,
        }),
      );
  return (c) => c.send(new DeleteItemCommand({ TableName: 'parity', Key: k, ReturnValues: 'ALL_OLD' }));
}

function readCall(r: ReturnType<typeof seeded>): [string, Call] {
  const limit = r.pick([undefined, 1, 2, 5]);
  const forward = r.next() < 0.5;
  const kind = r.pick(['get', 'query', 'gsi', 'lsi', 'scan', 'batch'] as const);
  return [`${kind} limit ${limit} forward ${forward}`, readOf(r, kind, limit, forward)];
}

function readOf(
  r: ReturnType<typeof seeded>,
  kind: 'get' | 'query' | 'gsi' | 'lsi' | 'scan' | 'batch',
  limit: number | undefined,
  forward: boolean,
): Call {
  switch (kind) {
    case 'get': {
      const k = key(r.pick(PKS), r.pick(SKS));
      return (c) => c.send(new GetItemCommand({ TableName: 'parity', Key: k }));
    }
    case 'query': {
      const [op, expr] = r.pick([
        ['>=', 'sk >= :s'],
        ['<', 'sk < :s'],
        ['=', 'sk = :s'],
        ['', ''],
      ] as const);
      const pk = r.pick(PKS);
      const s = r.pick(SKS);
      return paged(
        (start) =>
          new QueryCommand({
            TableName: 'parity',
            KeyConditionExpression: op ? `pk = :p AND ${expr}` : 'pk = :p',
            ExpressionAttributeValues: { ':p': { S: pk }, ...(op ? { ':s': { N: s } } : {}) },
            ScanIndexForward: forward,
            Limit: limit,
            ExclusiveStartKey: start,
          }),
      );
    }
    case 'gsi': {
      const g = r.pick(GS);
      return paged(
        (start) =>
          new QueryCommand({
            TableName: 'parity',
            IndexName: 'byG',
            KeyConditionExpression: 'g = :g',
            ExpressionAttributeValues: { ':g': { S: g } },
            ScanIndexForward: forward,
            Limit: limit,
            ExclusiveStartKey: start,
          }),
      );
    }
    case 'lsi': {
      const pk = r.pick(PKS);
      return paged(
        (start) =>
          new QueryCommand({
            TableName: 'parity',
            IndexName: 'byL',
            KeyConditionExpression: 'pk = :p',
            ExpressionAttributeValues: { ':p': { S: pk } },
            ScanIndexForward: forward,
            Limit: limit,
            ExclusiveStartKey: start,
          }),
      );
    }
    case 'scan':
      return paged(
        (start) => new ScanCommand({ TableName: 'parity', Limit: limit, ExclusiveStartKey: start }),
      );
    default: {
      const keys = [key(r.pick(PKS), r.pick(SKS)), key(r.pick(PKS), r.pick(SKS))];
      // dynalite shuffles a batch's answers on purpose (AWS promises no order): compared sorted.
      return async (c) => {
        const got = await c.send(new BatchGetItemCommand({ RequestItems: { parity: { Keys: keys } } }));
        const items = (got.Responses?.parity ?? []).map((i) => JSON.stringify(i)).sort();
        return { ...got, Responses: { parity: items } };
      };
    }
  }
}

const createParity: Call = (c) =>
  c.send(
    new CreateTableCommand({
      TableName: 'parity',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'N' },
        { AttributeName: 'g', AttributeType: 'S' },
        { AttributeName: 'l', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'byG',
          KeySchema: [
            { AttributeName: 'g', KeyType: 'HASH' },
            { AttributeName: 'sk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      LocalSecondaryIndexes: [
        {
          IndexName: 'byL',
          KeySchema: [
            { AttributeName: 'pk', KeyType: 'HASH' },
            { AttributeName: 'l', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
    }),
  );

describe('DynamoDB store: the same answers as dynalite over its level database', () => {
  const clients = () => [
    new DynamoDBClient({ ...sb.clientConfig }),
    new DynamoDBClient({
      endpoint: referenceEndpoint,
      region: sb.clientConfig.region,
      credentials: TEST_CREDENTIALS,
      maxAttempts: 1,
    }),
  ];

  /** Runs one call on both and expects one outcome; returns it. */
  async function same(step: string, call: Call): Promise<unknown> {
    const [ours, theirs] = await Promise.all(clients().map((c) => outcome(c, call)));
    expect(ours, step).toEqual(theirs);
    return ours;
  }

  it('answers a seeded run of item calls, queries and scans alike', async () => {
    for (const c of clients()) await createParity(c).catch(() => undefined);
    const r = seeded(20261207);
    for (let i = 0; i < 250; i++) await same(`write ${i}`, writeCall(r));
    await same('batch write', (c) =>
      c.send(
        new BatchWriteItemCommand({
          RequestItems: {
            parity: [
              { PutRequest: { Item: { ...key('b', '7'), g: { S: 'g1' }, l: { S: '😀' } } } },
              { DeleteRequest: { Key: key('a', '0') } },
            ],
          },
        }),
      ),
    );
    for (let i = 0; i < 120; i++) {
      const [name, call] = readCall(r);
      await same(`read ${i}: ${name}`, call);
      if (i % 3 === 0) await same(`write ${i}`, writeCall(r));
    }
    const all = (await same(
      'scan all',
      paged((start) => new ScanCommand({ TableName: 'parity', ExclusiveStartKey: start })),
    )) as {
      ok: { pages: { Count: number }[] };
    };
    expect(all.ok.pages.reduce((n, p) => n + p.Count, 0)).toBeGreaterThan(20);
  });

  it('lists tables and tags alike, and forgets a deleted table’s items', async () => {
    for (const name of ['t-b', 't-a', 't-c'])
      await same(`create ${name}`, async (c) => {
        await c.send(
          new CreateTableCommand({
            TableName: name,
            BillingMode: 'PAY_PER_REQUEST',
            AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
            KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          }),
        );
        return { $metadata: {} };
      });
    await same(
      'list tables',
      paged(() => new ListTablesCommand({ Limit: 2 }) as never),
    );
    await same('list tables after', (c) =>
      c.send(new ListTablesCommand({ ExclusiveStartTableName: 't-a', Limit: 2 })),
    );
    const tagKeys = ['b', 'a', '日', '😀', '\uE000', 'ÿz', 'Z'];
    await same('tags', async (c) => {
      const arn = (await c.send(new DescribeTableCommand({ TableName: 't-a' }))).Table?.TableArn;
      await c.send(
        new TagResourceCommand({
          ResourceArn: arn,
          Tags: tagKeys.map((k, i) => ({ Key: k, Value: `v${i}` })),
        }),
      );
      return c.send(new ListTagsOfResourceCommand({ ResourceArn: arn }));
    });
    await same('put in t-b', (c) =>
      c.send(new PutItemCommand({ TableName: 't-b', Item: { pk: { S: 'x' } } })),
    );
    await same('delete t-b', async (c) => {
      await c.send(new DeleteTableCommand({ TableName: 't-b' }));
      await new Promise((resolve) => setTimeout(resolve, 50));
      return { $metadata: {} };
    });
    await same('get from deleted', (c) =>
      c.send(new GetItemCommand({ TableName: 't-b', Key: { pk: { S: 'x' } } })),
    );
    await same('recreate t-b', async (c) => {
      await c.send(
        new CreateTableCommand({
          TableName: 't-b',
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        }),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      return c.send(new ScanCommand({ TableName: 't-b' }));
    });
  });
});

describe('DynamoDB store: key order and copies', () => {
  it('orders keys as UTF-8 bytes (level’s Buffer keys), surrogate pairs after U+E000–U+FFFF', () => {
    const r = seeded(7);
    const alphabet = ['a', 'Z', '~', '/', 'é', 'ÿ', '日', '\uE000', '\uFFFD', '😀', '𝄞', '0'];
    for (let i = 0; i < 2000; i++) {
      const word = () =>
        Array.from({ length: 1 + Math.floor(r.next() * 4) }, () => r.pick(alphabet)).join('');
      const [a, b] = [word(), word()];
      expect([a, b, Math.sign(compareKeys(a, b))]).toEqual([
        a,
        b,
        Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))),
      ]);
    }
  });

  it('copies values as a JSON round trip would, sharing nothing', () => {
    const nested = { S: 'x' };
    const odd = Object.create(null) as Record<string, unknown>;
    odd.k = nested;
    const value: Record<string, unknown> = {
      list: [1, undefined, () => 1, Number.NaN, nested],
      skip: undefined,
      fn: () => 1,
      inf: Number.POSITIVE_INFINITY,
      when: new Date(0),
      odd,
    };
    Object.defineProperty(value, '__proto__', { value: { polluted: true }, enumerable: true });
    const copy = jsonCopy(value) as Record<string, unknown>;
    expect(copy).toEqual(JSON.parse(JSON.stringify(value)));
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect((copy.odd as Record<string, unknown>).k).not.toBe(nested);
    expect(Object.keys(copy)).toEqual(Object.keys(JSON.parse(JSON.stringify(value))));
  });
});
