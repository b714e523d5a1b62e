/**
 * The blast-radius breaker: remediations started across all resources per fixed window. The budget is
 * max(blastRadius.maxRemediations, ceil(blastRadius.maxPercent % of the in-scope resources)), where in-scope
 * resources are the ones Config records of the policy's resource types (config:GetDiscoveredResourceCounts).
 *
 * One ORDERING item per window, `blast#<windowStartIso>` → { count, cap?, inScope?, expiresAt }, changed by one
 * conditional UpdateItem per remediation (ADD count 1 while count < the budget). Config is asked only when
 * the count budget is spent and a percentage is configured, once per window: the percentage budget is stored
 * in the item (`cap`, set once) and every later check reads it from there.
 */
import { type ConfigServiceClient, GetDiscoveredResourceCountsCommand } from '@aws-sdk/client-config-service';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { awsCall } from '../shared/errors';
import type { NormalizedPolicy } from '../shared/policy/schema';
import { blastKey } from '../shared/tables';

export interface BlastDeps {
  ddb: DynamoDBDocumentClient;
  /** Needed only with blastRadius.maxPercent. */
  config?: ConfigServiceClient;
  policy: NormalizedPolicy;
  orderingTable: string;
}

export interface BlastBudget {
  ok: boolean;
  windowStart: string;
  /** The budget of this window: the count, or the percentage's share of in-scope resources when larger. */
  max: number;
  inScope?: number;
}

const isConditionFailed = (err: unknown) =>
  err instanceof Error && err.name === 'ConditionalCheckFailedException';

/** Resources Config records of the policy's resource types (GetDiscoveredResourceCounts, paginated). */
export async function inScopeResources(
  config: ConfigServiceClient,
  policy: NormalizedPolicy,
): Promise<number> {
  const types = [...new Set(policy.entries.flatMap((e) => e.resourceTypes))].sort();
  let total = 0;
  // resourceTypes takes at most 20 types per call
  for (let i = 0; i < types.length; i += 20) {
    let nextToken: string | undefined;
    do {
      const res = await awsCall('GetDiscoveredResourceCounts', () =>
        config.send(
          new GetDiscoveredResourceCountsCommand({ resourceTypes: types.slice(i, i + 20), nextToken }),
        ),
      );
      total += (res.resourceCounts ?? []).reduce((n, c) => n + (c.count ?? 0), 0);
      nextToken = res.nextToken;
    } while (nextToken);
  }
  return total;
}

/** One unit of the window's budget, under `max` or the stored percentage cap. */
async function take(deps: BlastDeps, key: string, max: number, expiresAt: number): Promise<boolean> {
  try {
    await awsCall('UpdateItem(blast radius)', () =>
      deps.ddb.send(
        new UpdateCommand({
          TableName: deps.orderingTable,
          Key: { key },
          UpdateExpression: 'ADD #c :one SET expiresAt = if_not_exists(expiresAt, :exp)',
          ConditionExpression:
            'attribute_not_exists(#c) OR #c < :max OR (attribute_exists(#cap) AND #c < #cap)',
          ExpressionAttributeNames: { '#c': 'count', '#cap': 'cap' },
          ExpressionAttributeValues: { ':one': 1, ':max': max, ':exp': expiresAt },
        }),
      ),
    );
    return true;
  } catch (err) {
    if (isConditionFailed(err)) return false;
    throw err;
  }
}

/** The window's percentage cap: stored, else computed from Config and stored (first writer wins). */
async function percentageCap(
  deps: BlastDeps & { config: ConfigServiceClient },
  key: string,
  percent: number,
): Promise<{ cap: number; inScope?: number }> {
  const item = await awsCall('GetItem(blast radius)', () =>
    deps.ddb.send(new GetCommand({ TableName: deps.orderingTable, Key: { key }, ConsistentRead: true })),
  );
  if (typeof item.Item?.cap === 'number') {
    const inScope = typeof item.Item.inScope === 'number' ? item.Item.inScope : undefined;
    return { cap: item.Item.cap, ...(inScope === undefined ? {} : { inScope }) };
  }
  const inScope = await inScopeResources(deps.config, deps.policy);
  const cap = Math.ceil((percent / 100) * inScope);
  await awsCall('UpdateItem(blast radius cap)', () =>
    deps.ddb.send(
      new UpdateCommand({
        TableName: deps.orderingTable,
        Key: { key },
        UpdateExpression: 'SET #cap = if_not_exists(#cap, :cap), inScope = if_not_exists(inScope, :n)',
        ExpressionAttributeNames: { '#cap': 'cap' },
        ExpressionAttributeValues: { ':cap': cap, ':n': inScope },
      }),
    ),
  );
  return { cap, inScope };
}

/** Takes one unit of the blast-radius budget for the window `now` falls in; ok false when it is spent. */
export async function takeBlastBudget(deps: BlastDeps, now: Date): Promise<BlastBudget> {
  const { windowSeconds, maxRemediations, maxPercent } = deps.policy.blastRadius;
  const windowMs = windowSeconds * 1000;
  const startMs = Math.floor(now.getTime() / windowMs) * windowMs;
  const windowStart = new Date(startMs).toISOString();
  const key = blastKey(windowStart);
  const expiresAt = Math.floor((startMs + 2 * windowMs) / 1000);
  if (await take(deps, key, maxRemediations, expiresAt))
    return { ok: true, windowStart, max: maxRemediations };
  if (maxPercent === undefined || !deps.config) return { ok: false, windowStart, max: maxRemediations };
  const { cap, inScope } = await percentageCap({ ...deps, config: deps.config }, key, maxPercent);
  const max = Math.max(maxRemediations, cap);
  const ok = cap > maxRemediations && (await take(deps, key, maxRemediations, expiresAt));
  return { ok, windowStart, max, ...(inScope === undefined ? {} : { inScope }) };
}
