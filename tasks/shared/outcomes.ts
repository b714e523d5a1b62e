/**
 * The OUTCOMES (audit) table, written by intake (events it drops) and by record-outcome (every
 * execution's end). Item layout (tables.ts):
 *   { resourceKey, sk: `${recordedAtIso}#${executionName}`, outcome, reason, executionArn?, ruleName?,
 *     runbook?, attempts, remediated, approval?, durationMs?, expiresAt, … }
 * The loop breaker (plan) queries resourceKey with sk > windowStartIso and counts remediated = true.
 */
import { type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { AuditOutcome } from './contracts';
import { awsCall } from './errors';
import { boundedKey } from './tables';

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
