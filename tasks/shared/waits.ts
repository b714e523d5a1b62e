/**
 * Waiting by task token for what AWS reports by event (runbook end, COMPLIANT result), with a reconciling
 * fallback because those events are best effort. The flow for every wait:
 *
 *   1. a `.waitForTaskToken` task registers its token in the WAITS table (registerWait), then checks the
 *      current state once itself: what finished before the registration is not missed;
 *   2. the event callback (tasks/wait-callback) or the reconciler (tasks/reconcile-waits) sees it finish
 *      and calls completeWait, which sends the token's result and deletes the item (a runbook wait through
 *      completeRunbookWait, tasks/shared/leases-release.ts, which first releases the execution's slot).
 *
 * completeWait sends first and deletes after (conditional on the same token): delivery is at least once
 * and a second delivery is harmless (a used token answers TaskTimedOut / TaskDoesNotExist / InvalidToken,
 * which also deletes the item). The token never leaves the table and the SendTask* call: it is not
 * logged, returned, or put into outcomes and notifications.
 */
import { SendTaskFailureCommand, SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import type { Place } from './accounts';
import type { VerificationState as Verification } from './contracts';
import { RunbookState, VerificationState } from './contracts';
import { queryPages, scanPages } from './dynamo-pages';
import { awsCall, ENDED_TOKEN_ERRORS } from './errors';

export { ENDED_TOKEN_ERRORS } from './errors';

/** How long an item outlives its deadline before DynamoDB's TTL removes it (the reconciler usually does first). */
const TTL_GRACE_SECONDS = 86_400;

const Base = v.object({
  target: v.pipe(v.string(), v.minLength(1)),
  /** The waiting execution's name (unique per state machine). */
  waiter: v.pipe(v.string(), v.minLength(1)),
  taskToken: v.pipe(v.string(), v.minLength(1)),
  executionArn: v.pipe(v.string(), v.minLength(1)),
  registeredAt: v.string(),
  /** ISO time after which the reconciler gives up on the wait (runbook: stop it; compliance: Step Functions' timeout ends it). */
  deadline: v.string(),
  expiresAt: v.pipe(v.number(), v.safeInteger()),
  /**
   * Where the automation or the Config result lives (the event's account and region): the reconciler and
   * the callback read it there (tasks/shared/accounts.ts). Absent on items written before: the central
   * account-region.
   */
  awsAccountId: v.optional(v.pipe(v.string(), v.regex(/^\d{12}$/))),
  awsRegion: v.optional(v.pipe(v.string(), v.minLength(1))),
});

/** A runbook attempt waiting for its automation to end. */
export const RunbookWait = v.object({
  ...Base.entries,
  kind: v.literal('runbook'),
  automationExecutionId: v.pipe(v.string(), v.minLength(1)),
  /** The attempt as Start runbook registered it (phase running). */
  runbook: RunbookState,
  maxAttempts: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  retryAfterSeconds: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  /**
   * The scopes of the execution's slot lease: whoever resolves the wait releases the slot first
   * (tasks/shared/leases-release.ts) without reading the admission item. Absent: read there.
   */
  slotScopes: v.optional(v.pipe(v.array(v.pipe(v.string(), v.minLength(1))), v.maxLength(10))),
});
export type RunbookWait = v.InferOutput<typeof RunbookWait>;

/** A verification waiting for Config's COMPLIANT result of (rule, resource). */
export const ComplianceWait = v.object({
  ...Base.entries,
  kind: v.literal('compliance'),
  configRuleName: v.pipe(v.string(), v.minLength(1)),
  resourceType: v.pipe(v.string(), v.minLength(1)),
  resourceId: v.pipe(v.string(), v.minLength(1)),
  /** A COMPLIANT result recorded before this proves nothing about the fix. */
  startedAt: v.string(),
  verification: VerificationState,
});
export type ComplianceWait = v.InferOutput<typeof ComplianceWait>;

export const WaitItem = v.variant('kind', [RunbookWait, ComplianceWait]);
export type WaitItem = v.InferOutput<typeof WaitItem>;

export interface WaitsDeps {
  ddb: DynamoDBDocumentClient;
  sfn: SFNClient;
  waitsTable: string;
}

/** Where a wait's automation or Config result lives; `central` for items that name no place. */
export function waitPlace(wait: Pick<WaitItem, 'awsAccountId' | 'awsRegion'>, central: Place): Place {
  return wait.awsAccountId && wait.awsRegion
    ? { awsAccountId: wait.awsAccountId, awsRegion: wait.awsRegion }
    : central;
}

/** Epoch seconds for the item's TTL: its deadline plus a day. */
export function expiresAtFor(deadline: Date): number {
  return Math.floor(deadline.getTime() / 1000) + TTL_GRACE_SECONDS;
}

export async function registerWait(
  deps: Pick<WaitsDeps, 'ddb' | 'waitsTable'>,
  item: WaitItem,
): Promise<void> {
  await awsCall('PutItem(waits)', () =>
    deps.ddb.send(new PutCommand({ TableName: deps.waitsTable, Item: item })),
  );
}

/** Parses stored items; malformed ones are returned separately (the reconciler deletes them). */
function parseItems(items: readonly Record<string, unknown>[] | undefined): {
  waits: WaitItem[];
  malformed: { target: string; waiter: string }[];
} {
  const waits: WaitItem[] = [];
  const malformed: { target: string; waiter: string }[] = [];
  for (const raw of items ?? []) {
    const parsed = v.safeParse(WaitItem, raw);
    if (parsed.success) waits.push(parsed.output);
    else malformed.push({ target: String(raw.target), waiter: String(raw.waiter) });
  }
  return { waits, malformed };
}

/** Every execution waiting on `target`. */
export async function waitsFor(
  deps: Pick<WaitsDeps, 'ddb' | 'waitsTable'>,
  target: string,
): Promise<WaitItem[]> {
  const out: WaitItem[] = [];
  for await (const page of queryPages(deps.ddb, 'Query(waits)', {
    TableName: deps.waitsTable,
    KeyConditionExpression: '#t = :t',
    ExpressionAttributeNames: { '#t': 'target' },
    ExpressionAttributeValues: { ':t': target },
    ConsistentRead: true,
  })) {
    out.push(...parseItems(page.Items).waits);
  }
  return out;
}

/** Every wait in the table (the reconciler's view), plus the keys of malformed items. */
export async function allWaits(
  deps: Pick<WaitsDeps, 'ddb' | 'waitsTable'>,
): Promise<{ waits: WaitItem[]; malformed: { target: string; waiter: string }[] }> {
  const waits: WaitItem[] = [];
  const malformed: { target: string; waiter: string }[] = [];
  for await (const res of scanPages(deps.ddb, 'Scan(waits)', {
    TableName: deps.waitsTable,
    ConsistentRead: true,
  })) {
    const page = parseItems(res.Items);
    waits.push(...page.waits);
    malformed.push(...page.malformed);
  }
  return { waits, malformed };
}

/** Deletes an item (conditional on `taskToken` when given, so a newer registration is kept). */
export async function deleteWait(
  deps: Pick<WaitsDeps, 'ddb' | 'waitsTable'>,
  key: { target: string; waiter: string },
  taskToken?: string,
): Promise<void> {
  await awsCall('DeleteItem(waits)', () =>
    deps.ddb.send(
      new DeleteCommand({
        TableName: deps.waitsTable,
        Key: { target: key.target, waiter: key.waiter },
        ...(taskToken
          ? {
              ConditionExpression: '#tok = :tok',
              ExpressionAttributeNames: { '#tok': 'taskToken' },
              ExpressionAttributeValues: { ':tok': taskToken },
            }
          : {}),
      }),
    ),
  ).catch((err: unknown) => {
    if (err instanceof Error && err.name === 'ConditionalCheckFailedException') return;
    throw err;
  });
}

export type WaitResult = { output: unknown } | { error: string; cause: string };

/**
 * How a completion went: `sent` (the execution moves on), `ended` (the execution no longer waited: timed
 * out, stopped, or already completed by another path). Either way the item is gone afterwards.
 */
export type Completion = 'sent' | 'ended';

/** Sends the wait's result to its token, then deletes the item. Transient failures throw (retried by the caller). */
export async function completeWait(deps: WaitsDeps, wait: WaitItem, result: WaitResult): Promise<Completion> {
  let completion: Completion = 'sent';
  try {
    const token = wait.taskToken;
    if ('error' in result) {
      const cause = result.cause.slice(0, 32_768);
      await awsCall('SendTaskFailure', () =>
        deps.sfn.send(new SendTaskFailureCommand({ taskToken: token, error: result.error, cause })),
      );
    } else {
      const output = JSON.stringify(result.output);
      await awsCall('SendTaskSuccess', () =>
        deps.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output })),
      );
    }
  } catch (err) {
    if (!(err instanceof Error && ENDED_TOKEN_ERRORS.has(err.name))) throw err;
    completion = 'ended';
  }
  await deleteWait(deps, wait, wait.taskToken);
  return completion;
}

/** The verification state a COMPLIANT result completes a compliance wait with. */
export function verifiedState(wait: Pick<ComplianceWait, 'verification'>, reason: string): Verification {
  return { ...wait.verification, status: 'verified', compliance: 'COMPLIANT', reason };
}
