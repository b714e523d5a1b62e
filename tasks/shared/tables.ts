import { createHash } from 'node:crypto';

/**
 * DynamoDB tables: key names and item layouts. infra/ creates them from these names; tasks read and
 * write them. All use PAY_PER_REQUEST, KMS encryption, PITR. No TransactWriteItems, UpdateTimeToLive
 * or ReturnValuesOnConditionCheckFailure is needed (the sandbox's dynalite lacks them); TTL attributes
 * are written (`expiresAt`, epoch seconds) and enabled by the stack in AWS.
 */

/**
 * Leases (slot admission). ONE admission item holds every scope's counter and every holder:
 *   { lockId: 'admission', 'n#global': number, 'n#runbook#<doc>': number, …,
 *     holders: { [executionName]: { scopes: string[], grantedAt: ISO } }, queues: StringSet of queue ids,
 *     'w#runbook#<doc>': number (that queue's waiters not admitted yet; leases.ts: countWaiter) }
 * Grant: one UpdateItem ADD each scope's counter 1, SET holders.#exec, condition every counter < its cap
 *   AND attribute_not_exists(holders.#exec): all caps or none (the sandbox's dynalite has no transactions).
 * Release: UpdateItem ADD each scope's counter -1 REMOVE holders.#exec, condition attribute_exists(holders.#exec).
 * The holder key is the execution *name* (unique per state machine); the reaper rebuilds its ARN.
 */
export const LEASES = { partitionKey: 'lockId' } as const;
export const ADMISSION_ID = 'admission';
export const GLOBAL_SCOPE = 'global';
export const runbookScope = (documentName: string) => `runbook#${documentName}`;
/** The slot scope of the resources of one account and region (policy concurrency.perAccountRegion). */
export const accountRegionScope = (accountId: string, region: string) =>
  `account-region#${accountId}#${region}`;

/**
 * Slot queue (waiters for a remediation slot), FIFO per runbook:
 *   { queue: runbook scope, waiter: executionName, position: `${enqueuedAtIso}#${executionName}`,
 *     taskToken (never leaves the table), executionArn, scopes: [{ id, cap }], enqueuedAt, expiresAt }
 * The LSI `byPosition` (queue, position) gives the oldest waiter of a queue with one strongly consistent Query.
 */
export const SLOT_QUEUE = {
  partitionKey: 'queue',
  sortKey: 'waiter',
  positionIndex: 'byPosition',
  positionKey: 'position',
} as const;

/**
 * Approvals. One item per approval request:
 *   { approvalId, executionArn, taskToken (never leaves the table), status: PENDING|APPROVED|REJECTED|EXPIRED,
 *     approvers: string[], requestedBy?, expiresAt (epoch s), createdAt, resourceKey, summary: {...}, decision?: {...} }
 * Decide: UpdateItem SET status = :s, decision = :d, condition status = PENDING AND expiresAt > :now (single use).
 */
export const APPROVALS = { partitionKey: 'approvalId' } as const;

/**
 * Outcomes / audit. One item per recorded outcome:
 *   { resourceKey, sk: `${recordedAtIso}#${executionName}`, outcome, reason, executionArn, ruleName?, runbook?,
 *     attempts, remediated: boolean (a runbook ran to Success), approval?: {...}, durationMs, expiresAt }
 * The loop breaker queries resourceKey with sk > windowStartIso and counts items with remediated = true.
 */
export const OUTCOMES = { partitionKey: 'resourceKey', sortKey: 'sk' } as const;
/** The outcome table's audit GSIs: index name → partition key (sort key `sk` in all; outcomes.ts fills them). */
export const AUDIT_INDEXES = {
  byTime: 'auditDay',
  byRule: 'ruleName',
  byResource: 'resourceId',
  byAccount: 'accountId',
} as const;

/**
 * Ordering and coordination state (single-key items):
 *   `order#${ruleOrSource}#${resourceKey}` → { lastOrderingTimestamp }  (intake: newer-or-equal wins)
 *   `blast#${windowStartIso}`             → { count }                  (plan: blast-radius breaker)
 *   `reeval#${ruleName}`                  → { requestedAt }            (request-reevaluation: ≤ 1 per rule per minute)
 *   `breakglass#${resourceKey}` / `breakglass#*` → { until (ISO), by?, reason? } (plan: no remediation until `until`)
 */
export const ORDERING = { partitionKey: 'key' } as const;
export const orderingKey = (ruleOrSource: string, resourceKey: string) =>
  boundedKey(`order#${ruleOrSource}#${resourceKey}`);
export const blastKey = (windowStartIso: string) => `blast#${windowStartIso}`;
export const reevalKey = (ruleName: string) => `reeval#${ruleName}`;
/** Break-glass switch for one resource, or for everything with `breakGlassKey('*')`. */
export const breakGlassKey = (resourceKeyOrStar: string) => boundedKey(`breakglass#${resourceKeyOrStar}`);

/** Keys up to this many UTF-8 bytes are stored as they are (DynamoDB allows 2,048 for a partition key). */
export const KEY_MAX_BYTES = 1024;
const KEY_PREFIX_CHARS = 200;

/**
 * A partition key DynamoDB always accepts: the key itself when it is at most KEY_MAX_BYTES, else a stable
 * digest with a readable prefix, `<first 200 characters>#sha256=<64 hex>` (≤ 900 bytes). Every writer and
 * reader of a key derived from an event (ordering, break-glass, outcomes' resourceKey) goes through it, so
 * an event with an oversized id (a 2 KB stack id) still ends in a recorded outcome instead of the DLQ.
 */
export function boundedKey(key: string): string {
  if (Buffer.byteLength(key, 'utf8') <= KEY_MAX_BYTES) return key;
  const digest = createHash('sha256').update(key, 'utf8').digest('hex');
  return `${Array.from(key).slice(0, KEY_PREFIX_CHARS).join('')}#sha256=${digest}`;
}

/**
 * Waits: executions parked in a `.waitForTaskToken` state until an AWS event (or the reconciler) says
 * what they wait for happened. One item per (target, waiter):
 *   { target: `runbook#${automationExecutionId}` | `compliance#${rule}#${resourceKey}`, waiter: executionName,
 *     kind, taskToken (never leaves the table), executionArn, registeredAt, deadline?, expiresAt, … }
 * The event callback Queries `target`; the reconciler Scans (the table holds one item per waiting execution).
 * Completing: SendTaskSuccess/Failure first, then DeleteItem conditional on the same token (at-least-once
 * delivery; a used token answers TaskTimedOut/TaskDoesNotExist/InvalidToken, which also deletes).
 */
export const WAITS = { partitionKey: 'target', sortKey: 'waiter' } as const;
export const runbookWaitTarget = (automationExecutionId: string) => `runbook#${automationExecutionId}`;
export const complianceWaitTarget = (ruleName: string, resourceKey: string) =>
  boundedKey(`compliance#${ruleName}#${resourceKey}`);
