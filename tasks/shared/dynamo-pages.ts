/**
 * Every page of a DynamoDB Query or Scan through lib-dynamodb's paginators, each page's call named for
 * `awsCall` (a throttled or failed page becomes TransientServiceError naming what was read). One loop for
 * every paginated read in the tasks instead of a hand-written ExclusiveStartKey loop per call site.
 *
 *   for await (const page of queryPages(ddb, 'Query(outcomes)', { TableName, KeyConditionExpression, … }))
 *     count += page.Count ?? 0;
 *
 * Stop early with `break` (no further page is read) or `maxPages`.
 */
import {
  type DynamoDBDocumentClient,
  paginateQuery,
  paginateScan,
  type QueryCommandInput,
  type QueryCommandOutput,
  type ScanCommandInput,
  type ScanCommandOutput,
} from '@aws-sdk/lib-dynamodb';
import { awsCall } from './errors';

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
