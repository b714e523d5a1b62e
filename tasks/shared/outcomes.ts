/**
 * The OUTCOMES (audit) table, written by intake (events it drops) and by record-outcome (every
 * execution's end). Item layout (tables.ts):
 *   { resourceKey, sk: `${recordedAtIso}#${executionName}`, outcome, reason, executionArn?, ruleName?,
 *     runbook?, attempts, remediated, approval?, durationMs?, expiresAt, … }
 * The loop breaker (plan) queries resourceKey with sk > windowStartIso and counts remediated = true.
 *
 * Audit indexes (GSIs, sort key `sk` in each, so every query reads newest or oldest first by time):
 *   byTime     auditDay  (YYYY-MM-DD of recordedAt)    "what happened since …"
 *   byRule     ruleName                                "what did rule R do" (sparse: drift events have none)
 *   byResource resourceId (the id part of resourceKey) "what happened to sg-…"
 *   byAccount  accountId  (the account of resourceKey) "what happened in account A"
 * outcomeItem derives auditDay, resourceId, accountId and region (of resourceKey), so every writer fills
 * the indexes and every record names where the resource lives.
 */
import { type DynamoDBDocumentClient, PutCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { AuditOutcome } from './contracts';
import { awsCall } from './errors';
import { AUDIT_INDEXES, boundedKey } from './tables';

/** Default retention of audit items (the table's TTL attribute is `expiresAt`). */
export const OUTCOME_RETENTION_DAYS = 400;

/** Resource key used for events too malformed to name a resource. */
export const INVALID_EVENT_RESOURCE_KEY = 'intake#invalid';

export interface OutcomeInput {
  resourceKey: string;
  /** Execution name, or for intake drops the name the execution would have had (or a message id). */
  executionName: string;
  outcome: AuditOutcome;
  reason: string;
  /** ISO time of the outcome; the sort key starts with it. */
  recordedAt: string;
  executionArn?: string | undefined;
  ruleName?: string | undefined;
  runbook?: string | undefined;
  /** Runbook attempts made (0 when none ran). */
  attempts?: number | undefined;
  /** true only when a runbook ran to Success: what the loop breaker counts. */
  remediated?: boolean | undefined;
  approval?: Record<string, unknown> | undefined;
  durationMs?: number | undefined;
  /** Any further audit fields (event id, source, error name, …). Never secrets or task tokens. */
  extra?: Record<string, unknown> | undefined;
  /** Days to keep the item (default OUTCOME_RETENTION_DAYS). */
  retentionDays?: number | undefined;
}

export const outcomeSortKey = (recordedAtIso: string, executionName: string) =>
  `${recordedAtIso}#${executionName}`;

/** `account/region/type/id` (resourceKeyOf) → its parts; undefined for other keys (intake#invalid). */
export function resourceKeyParts(
  key: string,
): { accountId: string; region: string; resourceType: string; resourceId: string } | undefined {
  const m = /^(\d{12})\/([a-z0-9-]+)\/(AWS::[^/]+)\/(.+)$/.exec(key);
  if (!m) return undefined;
  const [, accountId = '', region = '', resourceType = '', resourceId = ''] = m;
  return { accountId, region, resourceType, resourceId };
}

/** The DynamoDB item for an outcome (pure; exported for tests and the sandbox). */
export function outcomeItem(o: OutcomeInput): Record<string, unknown> {
  const recordedMs = Date.parse(o.recordedAt);
  const base = Number.isNaN(recordedMs) ? Date.now() : recordedMs;
  const item: Record<string, unknown> = {
    ...(o.extra ?? {}),
    resourceKey: boundedKey(o.resourceKey),
    sk: outcomeSortKey(o.recordedAt, o.executionName),
    executionName: o.executionName,
    outcome: o.outcome,
    reason: o.reason.slice(0, 2000),
    recordedAt: o.recordedAt,
    attempts: o.attempts ?? 0,
    remediated: o.remediated ?? false,
    expiresAt: Math.floor(base / 1000) + (o.retentionDays ?? OUTCOME_RETENTION_DAYS) * 86_400,
  };
  if (!Number.isNaN(recordedMs)) item.auditDay = o.recordedAt.slice(0, 10);
  const parts = resourceKeyParts(o.resourceKey);
  if (parts) {
    item.accountId = parts.accountId;
    item.region = parts.region;
    item.resourceId = boundedKey(parts.resourceId);
  }
  if (o.executionArn !== undefined) item.executionArn = o.executionArn;
  if (o.ruleName !== undefined) item.ruleName = o.ruleName;
  if (o.runbook !== undefined) item.runbook = o.runbook;
  if (o.approval !== undefined) item.approval = o.approval;
  if (o.durationMs !== undefined) item.durationMs = o.durationMs;
  return item;
}

/**
 * Writes one outcome item. Idempotent for a retried write of the same record (same sort key: the
 * put simply overwrites it). Transient failures become TransientServiceError.
 */
export async function putOutcome(
  ddb: DynamoDBDocumentClient,
  table: string,
  record: OutcomeInput,
): Promise<Record<string, unknown>> {
  const item = outcomeItem(record);
  await awsCall('PutItem(outcomes)', () => ddb.send(new PutCommand({ TableName: table, Item: item })));
  return item;
}

/** What `drift-remediation audit` asks. */
export interface AuditFilter {
  resourceId?: string | undefined;
  ruleName?: string | undefined;
  accountId?: string | undefined;
  outcome?: AuditOutcome | undefined;
  /** ISO time: only outcomes recorded at or after it. */
  since: string;
  /** ISO time of "now" (the last day the time index is read for). */
  until: string;
}

/**
 * The Query (never a Scan) answering a filter, per page-able request: by resource, else by rule, else
 * by account, each one partition with `sk >= since`; with none of them, the time index one day per
 * partition from `since` to `until`. The other filters become a FilterExpression on that Query.
 */
export function auditQueries(table: string, f: AuditFilter): QueryCommandInput[] {
  const [index, key] = f.resourceId
    ? (['byResource', boundedKey(f.resourceId)] as const)
    : f.ruleName
      ? (['byRule', f.ruleName] as const)
      : f.accountId
        ? (['byAccount', f.accountId] as const)
        : (['byTime', undefined] as const);
  const names: Record<string, string> = { '#pk': AUDIT_INDEXES[index], '#sk': 'sk' };
  const values: Record<string, unknown> = { ':since': f.since };
  const filters: string[] = [];
  const narrow = (attr: string, value: string | undefined, used: boolean) => {
    if (value === undefined || used) return;
    names[`#${attr}`] = attr;
    values[`:${attr}`] = value;
    filters.push(`#${attr} = :${attr}`);
  };
  narrow('ruleName', f.ruleName, index === 'byRule');
  narrow('accountId', f.accountId, index === 'byAccount');
  narrow('outcome', f.outcome, false);
  const base = (pk: string): QueryCommandInput => ({
    TableName: table,
    IndexName: index,
    KeyConditionExpression: '#pk = :pk AND #sk >= :since',
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: { ...values, ':pk': pk },
    ...(filters.length ? { FilterExpression: filters.join(' AND ') } : {}),
    ScanIndexForward: false,
  });
  if (key !== undefined) return [base(key)];
  return daysBetween(f.since, f.until).reverse().map(base);
}

/** Every UTC day (YYYY-MM-DD) from `since` to `until`, inclusive; at most 400 (the retention). */
function daysBetween(since: string, until: string): string[] {
  const days: string[] = [];
  const end = Date.parse(until);
  for (
    let t = Date.parse(since.slice(0, 10));
    t <= end && days.length < OUTCOME_RETENTION_DAYS;
    t += 86_400_000
  )
    days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}
