/**
 * Every page of a DynamoDB Query or Scan through lib-dynamodb's paginators, each page's call named for
 * `awsCall` (a throttled or failed page becomes TransientServiceError naming what was read). One loop for
 * every paginated read in the tasks instead of a hand-written ExclusiveStartKey loop per call site.
 *
 *   for await (const page of queryPages(ddb, 'Query(outcomes)', { TableName, KeyConditionExpression, … }))
 *     count += page.Count ?? 0;
 *
 * Stop early with `break` (no further page is read) or `maxPages`.
 *
 * batchGetItems: several keys of one table in one BatchGetItem, with its UnprocessedKeys read again.
 */
import { setTimeout as sleepMs } from 'node:timers/promises';
import {
  type DynamoDBDocumentClient,
  paginatedBatchGet,
  paginateQuery,
  paginateScan,
  type QueryCommandInput,
  type QueryCommandOutput,
  type ScanCommandInput,
  type ScanCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { awsCall, TransientServiceError } from './errors';

export interface PageOptions {
  /** Pages read at most (a bound on one invocation's work). @default no bound */
  readonly maxPages?: number;
}

async function* named<T>(what: string, pages: AsyncGenerator<T>, opts: PageOptions): AsyncGenerator<T> {
  for (let n = 0; n < (opts.maxPages ?? Number.POSITIVE_INFINITY); n++) {
    const next = await awsCall(what, () => pages.next());
    if (next.done) return;
    yield next.value;
  }
}

/** The pages of a Query, in order. */
export function queryPages(
  ddb: DynamoDBDocumentClient,
  what: string,
  input: QueryCommandInput,
  opts: PageOptions = {},
): AsyncGenerator<QueryCommandOutput> {
  return named(what, paginateQuery({ client: ddb }, { ...input }), opts);
}

/** The pages of a Scan, in order. */
export function scanPages(
  ddb: DynamoDBDocumentClient,
  what: string,
  input: ScanCommandInput,
  opts: PageOptions = {},
): AsyncGenerator<ScanCommandOutput> {
  return named(what, paginateScan({ client: ddb }, { ...input }), opts);
}

export interface BatchGetOptions {
  /** Strongly consistent reads (as GetItem's ConsistentRead). @default false */
  readonly consistentRead?: boolean;
  /** BatchGetItem calls at most: the first, then one per round of UnprocessedKeys. @default 4 */
  readonly maxRounds?: number;
  /** Cap of the full-jitter backoff before round n: random × min(cap, 25 ms × 2^(n-1)). @default 200 */
  readonly maxDelayMs?: number;
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly random?: () => number;
}

/**
 * The items of `keys` (at most 100, no duplicates: BatchGetItem's limits) in `table`, in no particular
 * order; a key without an item is simply absent. DynamoDB may leave keys unprocessed (throttling, size):
 * those are asked again after a full-jitter backoff, at most `maxRounds` calls in all; keys still
 * unprocessed then are a TransientServiceError (retried by the workflow), never taken as absent.
 */
export async function batchGetItems(
  ddb: DynamoDBDocumentClient,
  what: string,
  table: string,
  keys: readonly Record<string, unknown>[],
  opts: BatchGetOptions = {},
): Promise<Record<string, unknown>[]> {
  const { maxRounds = 4, maxDelayMs = 200, sleep = sleepMs, random = Math.random } = opts;
  const consistent = opts.consistentRead ? { ConsistentRead: true } : {};
  // lib-dynamodb's paginatedBatchGet asks again for each answer's UnprocessedKeys; the bound and the
  // backoff between its calls are ours.
  const rounds = paginatedBatchGet(
    { client: ddb },
    { RequestItems: { [table]: { Keys: [...keys], ...consistent } } },
  );
  const items: Record<string, unknown>[] = [];
  for (let round = 1; ; round++) {
    const next = await awsCall(what, () => rounds.next());
    if (next.done) return items;
    items.push(...(next.value.Responses?.[table] ?? []));
    const left = next.value.UnprocessedKeys?.[table]?.Keys?.length ?? 0;
    if (left === 0) return items;
    if (round >= maxRounds)
      throw new TransientServiceError(
        `${what}: ${left} of ${keys.length} keys still unprocessed after ${maxRounds} BatchGetItem calls`,
      );
    await sleep(Math.floor(random() * Math.min(maxDelayMs, 25 * 2 ** (round - 1))));
  }
}
