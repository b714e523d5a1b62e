/**
 * The remediation semaphore: one LEASES item per lock (layout in tables.ts),
 *   { lockId, count, holders: { [executionName]: leasedAtIso } }.
 * Every change is a single conditional UpdateItem, so `count` always equals the number of holders
 * and a holder can be added or removed at most once (retries are harmless).
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { awsCall } from './errors';

export type AcquireLockResult = 'acquired' | 'already-held' | 'full';

function isConditionFailed(err: unknown): boolean {
  return (
    err instanceof ConditionalCheckFailedException ||
    (err instanceof Error && err.name === 'ConditionalCheckFailedException')
  );
}

/** DynamoDB's answer when `holders.#h` is set on an item that has no `holders` map yet. */
function isMissingDocumentPath(err: unknown): boolean {
  return err instanceof Error && err.name === 'ValidationException' && /document path/i.test(err.message);
}

async function addHolder(
  ddb: DynamoDBDocumentClient,
  table: string,
  lockId: string,
  holder: string,
  limit: number,
  nowIso: string,
) {
  await ddb.send(
    new UpdateCommand({
      TableName: table,
      Key: { lockId },
      UpdateExpression: 'ADD #count :one SET #holders.#h = :now',
      ConditionExpression:
        '(attribute_not_exists(#count) OR #count < :limit) AND attribute_not_exists(#holders.#h)',
      ExpressionAttributeNames: { '#count': 'count', '#holders': 'holders', '#h': holder },
      ExpressionAttributeValues: { ':one': 1, ':now': nowIso, ':limit': limit },
    }),
  );
}

/** Whether `holder` currently holds `lockId` (strongly consistent read). */
export async function holdsLock(
  ddb: DynamoDBDocumentClient,
  table: string,
  lockId: string,
  holder: string,
): Promise<boolean> {
  const res = await awsCall('GetItem(leases)', () =>
    ddb.send(new GetCommand({ TableName: table, Key: { lockId }, ConsistentRead: true })),
  );
  const holders = res.Item?.holders;
  return !!holders && typeof holders === 'object' && Object.hasOwn(holders, holder);
}

/**
 * Takes one unit of `lockId` for `holder` when fewer than `limit` are taken. A holder that already
 * holds the lock (a retried invocation) gets 'already-held' and nothing changes.
 */
export async function acquireLock(
  ddb: DynamoDBDocumentClient,
  table: string,
  lockId: string,
  holder: string,
  limit: number,
  nowIso: string,
): Promise<AcquireLockResult> {
  try {
    await awsCall('UpdateItem(leases acquire)', async () => {
      try {
        await addHolder(ddb, table, lockId, holder, limit, nowIso);
      } catch (err) {
        if (!isMissingDocumentPath(err)) throw err;
        // First use of this lock: create it empty (if still absent), then take it.
        try {
          await ddb.send(
            new PutCommand({
              TableName: table,
              Item: { lockId, count: 0, holders: {} },
              ConditionExpression: 'attribute_not_exists(lockId)',
            }),
          );
        } catch (putErr) {
          if (!isConditionFailed(putErr)) throw putErr;
        }
        await addHolder(ddb, table, lockId, holder, limit, nowIso);
      }
    });
    return 'acquired';
  } catch (err) {
    if (!isConditionFailed(err)) throw err;
    return (await holdsLock(ddb, table, lockId, holder)) ? 'already-held' : 'full';
  }
}

/** Gives back `holder`'s unit of `lockId`. Returns false (and changes nothing) when it was not held. */
export async function releaseLock(
  ddb: DynamoDBDocumentClient,
  table: string,
  lockId: string,
  holder: string,
): Promise<boolean> {
  try {
    await awsCall('UpdateItem(leases release)', () =>
      ddb.send(
        new UpdateCommand({
          TableName: table,
          Key: { lockId },
          UpdateExpression: 'ADD #count :minusOne REMOVE #holders.#h',
          ConditionExpression: 'attribute_exists(#holders.#h)',
          ExpressionAttributeNames: { '#count': 'count', '#holders': 'holders', '#h': holder },
          ExpressionAttributeValues: { ':minusOne': -1 },
        }),
      ),
    );
    return true;
  } catch (err) {
    if (isConditionFailed(err)) return false;
    throw err;
  }
}
