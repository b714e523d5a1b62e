/**
 * plan ("Plan remediation"): resolve the policy entry and decide remediate / skip / escalate.
 *
 * Input (PlanInput): `{ event: RemediationEvent, execution?: { id, name, startTime } }`.
 * Output (planState, what the handler returns): `{ event, plan: PlanResult }` — the event as PlanInput
 * validated it (unknown keys dropped) and the plan. The workflow makes it the whole state (no ResultPath),
 * so no other key of the execution's input outlives this step (docs/security.md).
 *
 * Order of checks (the first that applies decides):
 *   1. resource id well-formed for its type, else InvalidResourceIdError (nothing read or written)
 *   2. no policy entry                                   → skip
 *   3. explicit exception in the entry (not expired)     → skip
 *   4. break-glass item in ORDERING (`breakglass#<resourceKey>` or `breakglass#*`, `until` in the future) → skip
 *      (both keys in one BatchGetItem; keys it leaves unprocessed are asked again, bounded, never taken as absent)
 *   5. exception tag (policy.exceptionTag.key = future ISO date) on the resource (Cloud Control) → skip;
 *      the resource no longer exists → skip; tag value not a date → escalate
 *   6. loop breaker: remediated outcomes for this resource in the window ≥ max → escalate
 *   7. blast radius (blast-radius.ts): ADD 1 to `blast#<windowStart>` unless the window's budget
 *      max(maxRemediations, maxPercent % of in-scope resources) is spent → escalate with `breaker` set
 *      (Record outcome then sends one aggregated notice per window, not one per execution)
 *      — except an entry in plan mode (`mode: plan`): it spends no budget; decision remediate with
 *      `mode: 'plan'`, and the workflow records PLANNED once the drift is described
 * Reading exceptions fails closed: a transient failure is TransientServiceError (retried), any other
 * failure is ExceptionsUnavailableError (no remediation; the workflow escalates).
 */
import type { CloudControlClient } from '@aws-sdk/client-cloudcontrol';
import type { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import type { ConfigServiceClient } from '@aws-sdk/client-config-service';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { type PlanResult, RemediationEvent, resourceKeyOf } from '../shared/contracts';
import { batchGetItems, queryPages } from '../shared/dynamo-pages';
import { awsCall, DriftRemediationError, ExceptionsUnavailableError } from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { findEntry } from '../shared/policy/match';
import {
  DEFAULT_MAX_QUEUE_SECONDS,
  type NormalizedPolicy,
  type ResolvedEntry,
} from '../shared/policy/schema';
import { maxPollsFor } from '../shared/polling';
import { assertResourceId } from '../shared/resource-ids';
import { lookupResource } from '../shared/resource-lookup';
import { boundedKey, breakGlassKey } from '../shared/tables';
import { takeBlastBudget } from './blast-radius';

export const PlanInput = v.object({ event: RemediationEvent, execution: v.optional(ExecutionRef) });
export type PlanInput = v.InferOutput<typeof PlanInput>;

export interface PlanDeps {
  ddb: DynamoDBDocumentClient;
  cloudControl: CloudControlClient;
  cloudFormation: CloudFormationClient;
  /** For blastRadius.maxPercent (GetDiscoveredResourceCounts). */
  config?: ConfigServiceClient;
  policy: NormalizedPolicy;
  orderingTable: string;
  outcomesTable: string;
  now: () => Date;
}

/** Verification polls are capped so an execution stays far below the 25,000-event history limit. */
export const MAX_VERIFICATION_POLLS = 200;

/** An ISO date (`2026-12-31`) means "through the end of that day" (UTC); a date-time means that instant. */
export function expiryMs(expires: string): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(expires)) return Date.parse(`${expires}T23:59:59.999Z`);
  return Date.parse(expires);
}

/** The plan an entry gives a resource before any check (what runs, approvals, caps); also the `plan` CLI. */
export function planFrom(entry: ResolvedEntry | undefined, policy: NormalizedPolicy, resourceKey: string) {
  if (!entry) {
    return {
      resourceKey,
      approval: { mode: 'auto' as const, required: false, approvers: [], ttlSeconds: 3600 },
      concurrency: {
        perRunbook: 1,
        global: policy.globalConcurrency,
        maxQueueSeconds: DEFAULT_MAX_QUEUE_SECONDS,
      },
      attempts: { max: 1, retryAfterSeconds: 60 },
      verification: { timeoutSeconds: 60, intervalSeconds: 60, maxPolls: 1 },
    };
  }
  return {
    resourceKey,
    policyEntryId: entry.id,
    ...(entry.mode === 'plan' ? { mode: 'plan' as const } : {}),
    runbook: { documentName: entry.runbook, firstParty: entry.firstParty, parameters: entry.parameters },
    approval: {
      mode: entry.approval.mode,
      required: entry.approval.mode === 'required',
      approvers: entry.approval.approvers,
      ttlSeconds: entry.approval.ttlSeconds,
    },
    concurrency: {
      perRunbook: entry.concurrency.perRunbook,
      global: entry.concurrency.global,
      maxQueueSeconds: entry.concurrency.maxQueueSeconds,
      ...(entry.concurrency.perAccountRegion ? { perAccountRegion: entry.concurrency.perAccountRegion } : {}),
    },
    attempts: { max: entry.attempts.max, retryAfterSeconds: entry.attempts.retryAfterSeconds },
    verification: {
      timeoutSeconds: entry.verification.timeoutSeconds,
      intervalSeconds: entry.verification.intervalSeconds,
      maxPolls: maxPollsFor(
        entry.verification.timeoutSeconds,
        entry.verification.intervalSeconds,
        MAX_VERIFICATION_POLLS,
      ),
    },
  };
}

/** Runs an exceptions read; fails closed on anything but a transient error (which the workflow retries). */
async function readingExceptions<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await awsCall(what, call);
  } catch (err) {
    if (err instanceof DriftRemediationError) throw err;
    const e = err as Error;
    throw new ExceptionsUnavailableError(
      `${what}: exceptions could not be read (${e.name}: ${e.message}); not remediating`,
      { cause: err },
    );
  }
}

/** Both break-glass items (this resource's, then the global one) in one BatchGetItem. */
async function breakGlass(deps: PlanDeps, resourceKey: string, now: Date): Promise<string | undefined> {
  const keys = [breakGlassKey(resourceKey), breakGlassKey('*')];
  const what = 'BatchGetItem(break-glass)';
  const items = await readingExceptions(what, () =>
    batchGetItems(
      deps.ddb,
      what,
      deps.orderingTable,
      keys.map((key) => ({ key })),
      { consistentRead: true },
    ),
  );
  for (const key of keys) {
    const item = items.find((i) => i.key === key);
    const until = item?.until;
    if (typeof until === 'string' && Date.parse(until) > now.getTime()) {
      const by = typeof item?.by === 'string' ? ` by ${item.by}` : '';
      const scope = key.endsWith('#*') ? 'global break-glass' : 'break-glass';
      return `${scope} active until ${until}${by}`;
    }
  }
  return undefined;
}

type TagCheck = { kind: 'none' } | { kind: 'skip'; reason: string } | { kind: 'escalate'; reason: string };

async function tagException(deps: PlanDeps, event: RemediationEvent, now: Date): Promise<TagCheck> {
  const state = await readingExceptions('GetResource', () =>
    lookupResource(deps, event.resourceType, event.resourceId),
  );
  if (!state.exists) return { kind: 'skip', reason: 'resource no longer exists' };
  const key = deps.policy.exceptionTag.key;
  const value = state.tags[key];
  if (value === undefined) return { kind: 'none' };
  const until = expiryMs(value.trim());
  if (Number.isNaN(until)) {
    return {
      kind: 'escalate',
      reason: `exception tag ${key} has a value that is not an ISO date: ${JSON.stringify(value.slice(0, 64))}`,
    };
  }
  if (until > now.getTime())
    return { kind: 'skip', reason: `exception tag ${key} exempts the resource until ${value}` };
  return { kind: 'none' };
}

async function remediationsInWindow(
  deps: PlanDeps,
  resourceKey: string,
  windowStartIso: string,
): Promise<number> {
  let count = 0;
  for await (const page of queryPages(deps.ddb, 'Query(outcomes)', {
    TableName: deps.outcomesTable,
    KeyConditionExpression: 'resourceKey = :k AND sk > :from',
    FilterExpression: 'remediated = :yes',
    ExpressionAttributeValues: { ':k': boundedKey(resourceKey), ':from': windowStartIso, ':yes': true },
    Select: 'COUNT',
  })) {
    count += page.Count ?? 0;
  }
  return count;
}

export async function plan(input: PlanInput, deps: PlanDeps): Promise<PlanResult> {
  const { event } = input;
  assertResourceId(event.resourceType, event.resourceId);
  const now = deps.now();
  const resourceKey = resourceKeyOf(event);
  const entry = findEntry(deps.policy, event);
  const base = planFrom(entry, deps.policy, resourceKey);
  const result = (decision: PlanResult['decision'], reason: string): PlanResult => ({
    decision,
    reason,
    ...base,
  });

  if (!entry) {
    const what = event.configRuleName ? `rule ${event.configRuleName}` : 'CloudFormation drift';
    return result('skip', `no policy entry for ${what} and type ${event.resourceType}`);
  }

  const explicit = entry.exceptions.find(
    (x) =>
      x.resourceId === event.resourceId &&
      (x.resourceType === undefined || x.resourceType === event.resourceType) &&
      expiryMs(x.expires) > now.getTime(),
  );
  if (explicit)
    return result(
      'skip',
      `exception in policy entry ${entry.id} until ${explicit.expires}: ${explicit.reason}`,
    );

  const glass = await breakGlass(deps, resourceKey, now);
  if (glass) return result('skip', glass);

  const tag = await tagException(deps, event, now);
  if (tag.kind === 'skip') return result('skip', tag.reason);
  if (tag.kind === 'escalate') return result('escalate', tag.reason);

  const { windowSeconds, maxRemediations } = entry.loopBreaker;
  const windowStart = new Date(now.getTime() - windowSeconds * 1000).toISOString();
  const recent = await remediationsInWindow(deps, resourceKey, windowStart);
  if (recent >= maxRemediations) {
    return result(
      'escalate',
      `loop breaker: ${recent} remediations of this resource in the last ${windowSeconds}s (max ${maxRemediations}); something keeps undoing them`,
    );
  }

  // Plan mode changes nothing, so it spends no blast-radius budget (the workflow records PLANNED after drift detection).
  if (entry.mode === 'plan') {
    return result(
      'remediate',
      `plan mode (policy entry ${entry.id}): would run ${entry.runbook}; nothing is changed`,
    );
  }
  const blast = await takeBlastBudget(deps, now);
  if (!blast.ok) {
    const scope =
      blast.inScope === undefined
        ? ''
        : ` (max of the count and the percentage of ${blast.inScope} in-scope resources)`;
    return {
      ...result(
        'escalate',
        `blast-radius breaker: ${blast.max} remediations already started in the window from ${blast.windowStart}${scope}`,
      ),
      breaker: { kind: 'blast-radius', windowStart: blast.windowStart, max: blast.max },
    };
  }
  return result(
    'remediate',
    `policy entry ${entry.id}: run ${entry.runbook} (approval ${entry.approval.mode})`,
  );
}

/** Plan remediation's result, which becomes the execution's whole state: the validated event and the plan. */
export interface PlannedState {
  event: RemediationEvent;
  plan: PlanResult;
}

export async function planState(input: PlanInput, deps: PlanDeps): Promise<PlannedState> {
  return { event: input.event, plan: await plan(input, deps) };
}
