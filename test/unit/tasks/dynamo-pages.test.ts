import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { batchGetItems, queryPages, scanPages } from '../../../tasks/shared/dynamo-pages';
import { TransientServiceError } from '../../../tasks/shared/errors';
import { awsError } from './fixtures/core-tasks';

const ddbDoc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const ddb = mockClient(ddbDoc);
const INPUT = { TableName: 't', KeyConditionExpression: 'k = :k', ExpressionAttributeValues: { ':k': 'a' } };

async function collect<T>(pages: AsyncGenerator<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const p of pages) out.push(p);
  return out;
}

beforeEach(() => ddb.reset());

describe('queryPages / scanPages (tasks/shared/dynamo-pages.ts)', () => {
  it('reads every page, passing each LastEvaluatedKey on as ExclusiveStartKey', async () => {
    const replies = [
      { Items: [{ n: 1 }], LastEvaluatedKey: { k: 'a', sk: '1' } },
      { Items: [{ n: 2 }], LastEvaluatedKey: { k: 'a', sk: '2' } },
      { Items: [{ n: 3 }] },
    ];
    // the SDK's paginator reuses one input object, so each request is copied when it is sent
    const sent: unknown[] = [];
    ddb.on(QueryCommand).callsFake((input: object) => {
      sent.push(structuredClone(input));
      return replies[sent.length - 1];
    });
    const pages = await collect(queryPages(ddbDoc, 'Query(t)', INPUT));
    expect(pages.flatMap((p) => p.Items ?? [])).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
    expect(sent.map((i) => (i as { ExclusiveStartKey?: unknown }).ExclusiveStartKey)).toEqual([
      undefined,
      { k: 'a', sk: '1' },
      { k: 'a', sk: '2' },
    ]);
    expect(sent[2]).toMatchObject(INPUT);
  });

  it('reads no further page after the caller breaks, nor beyond maxPages', async () => {
    ddb.on(QueryCommand).resolves({ Items: [{ n: 1 }], LastEvaluatedKey: { k: 'a' } });
    for await (const _ of queryPages(ddbDoc, 'Query(t)', INPUT)) break;
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 1);
    ddb.resetHistory();
    expect(await collect(queryPages(ddbDoc, 'Query(t)', INPUT, { maxPages: 3 }))).toHaveLength(3);
    expect(ddb).toHaveReceivedCommandTimes(QueryCommand, 3);
  });

  it("names the read in a transient page error and keeps the SDK's error as cause", async () => {
    const throttled = awsError('ProvisionedThroughputExceededException', 'slow down');
    ddb
      .on(ScanCommand)
      .resolvesOnce({ Items: [], LastEvaluatedKey: { k: 'a' } })
      .rejectsOnce(throttled);
    const err = await collect(scanPages(ddbDoc, 'Scan(t)', { TableName: 't' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientServiceError);
    expect((err as Error).message).toMatch(/^Scan\(t\): ProvisionedThroughputExceededException/);
    expect((err as Error).cause).toBe(throttled);
  });

  it('does not change the caller’s input object', async () => {
    ddb
      .on(QueryCommand)
      .resolvesOnce({ Items: [], LastEvaluatedKey: { k: 'a' } })
      .resolvesOnce({ Items: [] });
    const input = { ...INPUT };
    await collect(queryPages(ddbDoc, 'Query(t)', input));
    expect(input).toEqual(INPUT);
  });
});

describe('batchGetItems (tasks/shared/dynamo-pages.ts)', () => {
  const keys = [{ key: 'a' }, { key: 'b' }, { key: 'c' }];
  const unprocessed = (...k: { key: string }[]) => ({ t: { Keys: k } });
  const sleeps: number[] = [];
  const opts = { sleep: async (ms: number) => sleeps.push(ms), random: () => 0.999 };
  beforeEach(() => {
    sleeps.length = 0;
  });

  it('one call when nothing is left unprocessed; absent keys are simply not returned', async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { t: [{ key: 'b', v: 1 }] } });
    expect(
      await batchGetItems(ddbDoc, 'BatchGetItem(t)', 't', keys, { ...opts, consistentRead: true }),
    ).toEqual([{ key: 'b', v: 1 }]);
    expect(ddb).toHaveReceivedCommandExactlyOnceWith(BatchGetCommand, {
      RequestItems: { t: { Keys: keys, ConsistentRead: true } },
    });
    expect(sleeps).toEqual([]);
  });

  it('asks again for exactly the unprocessed keys, after a growing full-jitter backoff', async () => {
    ddb
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { t: [{ key: 'a' }] },
        UnprocessedKeys: unprocessed({ key: 'b' }, { key: 'c' }),
      })
      .resolvesOnce({ Responses: { t: [{ key: 'b' }] }, UnprocessedKeys: unprocessed({ key: 'c' }) })
      .resolvesOnce({ Responses: { t: [{ key: 'c' }] } });
    expect(await batchGetItems(ddbDoc, 'BatchGetItem(t)', 't', keys, opts)).toEqual(keys);
    const asked = ddb.commandCalls(BatchGetCommand).map((c) => c.args[0].input.RequestItems?.t?.Keys);
    expect(asked).toEqual([keys, [{ key: 'b' }, { key: 'c' }], [{ key: 'c' }]]);
    expect(sleeps).toEqual([24, 49]);
  });

  it('gives up after maxRounds calls with TransientServiceError naming what is left (never "absent")', async () => {
    ddb.on(BatchGetCommand).resolves({ Responses: { t: [] }, UnprocessedKeys: unprocessed({ key: 'c' }) });
    const err = await batchGetItems(ddbDoc, 'BatchGetItem(t)', 't', keys, { ...opts, maxRounds: 3 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TransientServiceError);
    expect((err as Error).message).toBe(
      'BatchGetItem(t): 1 of 3 keys still unprocessed after 3 BatchGetItem calls',
    );
    expect(ddb).toHaveReceivedCommandTimes(BatchGetCommand, 3);
  });

  it('a throttled call is TransientServiceError; any other error is passed on', async () => {
    ddb.on(BatchGetCommand).rejects(awsError('ProvisionedThroughputExceededException'));
    await expect(batchGetItems(ddbDoc, 'BatchGetItem(t)', 't', keys, opts)).rejects.toBeInstanceOf(
      TransientServiceError,
    );
    ddb.on(BatchGetCommand).rejects(awsError('AccessDeniedException'));
    await expect(batchGetItems(ddbDoc, 'BatchGetItem(t)', 't', keys, opts)).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });
});
