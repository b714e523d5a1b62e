import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { queryPages, scanPages } from '../../../tasks/shared/dynamo-pages';
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
