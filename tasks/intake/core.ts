/**
 * intake: SQS-triggered; turns EventBridge envelopes into remediation executions.
 *
 * Input (IntakeInput): an SQS event `{ Records: [{ messageId, body, … }] }`; each body is an
 * EventBridge envelope `{ id, source, 'detail-type', account, region, time, detail }`:
 *   - source `aws.config`, detail-type `Config Rules Compliance Change`: detail { configRuleName, resourceType,
 *     resourceId, awsAccountId, awsRegion, newEvaluationResult: { complianceType, resultRecordedTime,
 *     evaluationResultIdentifier: { orderingTimestamp } } }. Only NON_COMPLIANT starts anything.
 *   - source `aws.cloudformation`, detail-type `CloudFormation Drift Detection Status Change`: detail
 *     { 'stack-id', 'status-details': { 'stack-drift-status', 'detection-status' } }. DRIFTED fans out to one
 *     event per MODIFIED/DELETED resource that a `cloudFormationDrift` policy entry matches (by type and
 *     drifted property paths, which the event carries as `driftedProperties`).
 *   - source `drift-remediation.manual` / `drift-remediation.sweep`: detail is a RemediationEvent.
 * Output: `{ batchItemFailures: [{ itemIdentifier }] }` (SQS partial batch response): only records that
 * failed transiently (or on an infrastructure error) are redelivered; SQS moves them to the DLQ after
 * maxReceiveCount.
 *
 * Per event: validate (contract + per-type resource id) → policy entry → not while this resource's previous
 * execution (for the same rule or source) is still RUNNING (GetItem ORDERING + DescribeExecution) → ordering
 * check (ORDERING table, a strictly newer orderingTimestamp wins, and the item unchanged since the running
 * check read it, so two events for one resource handled at once cannot both start) → StartExecution with a
 * deterministic name (ExecutionAlreadyExists = duplicate absorbed). Every event intake drops gets a SKIPPED
 * outcome item, except a result that starts nothing by its nature (Config's COMPLIANT, NOT_APPLICABLE, …):
 * its recorded outcome is the ordering mark it moves (the item keeps its event id, time and result; metric
 * IntakeResultsRecorded and a log line), one conditional write instead of two; only such a result that is
 * older than the mark (it moves nothing) gets a SKIPPED item, reason `out of order`.
 *
 * Tie rule: a result whose orderingTimestamp equals the mark already recorded never moves the mark and never
 * starts an execution (COMPLIANT(t) then NON_COMPLIANT(t) starts nothing; recorded SKIPPED with the reason).
 * The one exception is the same actionable result delivered again (same execution name, and the mark was
 * claimed to start it): it proceeds to StartExecution, which starts it if the first delivery failed before
 * starting, or absorbs it as a duplicate.
 *
 * Sweep generations: a sweep re-find names the execution of the evaluation it re-finds (absorbed as a
 * duplicate) unless that execution ended without VERIFIED (Fail: ESCALATED, EXPIRED, FAILED, NOT_VERIFIED,
 * or timed out/aborted); then it starts the next generation (`event.generation`, part of the execution name),
 * at most the entry's loop-breaker maxRemediations generations, each still subject to the loop breaker.
 *
 * Keys: ordering, break-glass and outcome keys go through `boundedKey` (tables.ts), so an event with an
 * oversized id (e.g. a 2 KB stack id) is still recorded; the DLQ holds only infrastructure failures.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import {
  type CloudFormationClient,
  DescribeStackResourceDriftsCommand,
  type StackResourceDrift,
} from '@aws-sdk/client-cloudformation';
import type { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { DescribeExecutionCommand, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import * as v from 'valibot';
import { forPlace, type PerPlace } from '../shared/accounts';
import { RemediationEvent, resourceKeyOf } from '../shared/contracts';
import { awsCall, DriftRemediationError, isStackMissing } from '../shared/errors';
import { canonicalTimestamp, executionName, ruleOrSource } from '../shared/execution-name';
import { formatIssues } from '../shared/handler';
import { MANUAL_SOURCE } from '../shared/manual-start';
import { metrics } from '../shared/metrics';
import { INVALID_EVENT_RESOURCE_KEY, putOutcome } from '../shared/outcomes';
import { driftedPropertyPaths, findEntry } from '../shared/policy/match';
import type { NormalizedPolicy } from '../shared/policy/schema';
import { outOfScope } from '../shared/policy/scope';
import { logger } from '../shared/powertools';
import { isValidResourceId } from '../shared/resource-ids';
import { isUniqueId, nameOfUniqueId } from '../shared/resource-ids-config';
import { orderingKey } from '../shared/tables';
import { FAST_PATH_SOURCE, type OrderingRead, sameDriftAsFastPath } from './cloudtrail';

export const SOURCES = {
  config: 'aws.config',
  cloudFormation: 'aws.cloudformation',
  manual: MANUAL_SOURCE,
  sweep: 'drift-remediation.sweep',
} as const;
export const DETAIL_TYPES = {
  config: 'Config Rules Compliance Change',
  drift: 'CloudFormation Drift Detection Status Change',
} as const;

const STACK_TYPE = 'AWS::CloudFormation::Stack';

export const IntakeInput = v.object({
  Records: v.array(v.looseObject({ messageId: v.pipe(v.string(), v.minLength(1)), body: v.string() })),
});
export type IntakeInput = v.InferOutput<typeof IntakeInput>;

export interface IntakeDeps {
  sfn: SFNClient;
  /** Resolves IAM unique ids (AROA…) to names (ListDiscoveredResources), in the event's account-region. */
  config: PerPlace<ConfigServiceClient>;
  ddb: DynamoDBDocumentClient;
  /** Reads a drifted stack's resource drifts, in the stack's account-region. */
  cloudFormation: PerPlace<CloudFormationClient>;
  policy: NormalizedPolicy;
  /** The deployment's own account (always in the organization); undefined: not known (single account). */
  centralAccountId?: string | undefined;
  stateMachineArn: string;
  orderingTable: string;
  outcomesTable: string;
  now: () => Date;
}

/** What happened to one normalized event. */
export type EventOutcome =
  | { status: 'started'; executionName: string; executionArn: string; resourceKey: string }
  | { status: 'duplicate'; executionName: string; resourceKey: string }
  | { status: 'skipped'; reason: string; resourceKey: string; executionName: string };

const Envelope = v.object({
  id: v.optional(v.string()),
  source: v.string(),
  'detail-type': v.string(),
  account: v.optional(v.string()),
  region: v.optional(v.string()),
  time: v.optional(v.string()),
  detail: v.unknown(),
});
type Envelope = v.InferOutput<typeof Envelope>;

const ConfigDetail = v.object({
  configRuleName: v.string(),
  resourceType: v.string(),
  resourceId: v.string(),
  awsAccountId: v.string(),
  awsRegion: v.string(),
  newEvaluationResult: v.object({
    complianceType: v.string(),
    resultRecordedTime: v.optional(v.string()),
    evaluationResultIdentifier: v.optional(v.object({ orderingTimestamp: v.optional(v.string()) })),
  }),
});

const DriftDetail = v.object({
  'stack-id': v.pipe(v.string(), v.minLength(1)),
  'status-details': v.object({
    'stack-drift-status': v.string(),
    'detection-status': v.optional(v.string()),
  }),
});

/** A drop: recorded as SKIPPED; `resourceKey`/`name` are best effort for malformed input. */
interface Drop {
  drop: true;
  reason: string;
  resourceKey: string;
  name: string;
  ruleName?: string | undefined;
}
/** A candidate event (not yet validated) plus whether it can start anything. */
interface Candidate {
  drop: false;
  raw: Record<string, unknown>;
  /** false: compliant/in-sync result; advance the ordering record but start nothing. */
  actionable: boolean;
  skipReason?: string;
  /** Config's complianceType of a result that is not actionable (kept on the ordering mark). */
  result?: string;
}

const tsOrUndefined = (ts: string | undefined): string | undefined => {
  if (!ts || Number.isNaN(Date.parse(ts))) return undefined;
  return canonicalTimestamp(ts);
};

function normalizeConfig(env: Envelope, messageId: string): Drop | Candidate {
  const d = v.safeParse(ConfigDetail, env.detail);
  if (!d.success) {
    return invalid(`Config event detail invalid: ${formatIssues(d).join('; ')}`, messageId);
  }
  const r = d.output;
  const ordering =
    tsOrUndefined(r.newEvaluationResult.evaluationResultIdentifier?.orderingTimestamp) ??
    tsOrUndefined(r.newEvaluationResult.resultRecordedTime) ??
    tsOrUndefined(env.time);
  const compliance = r.newEvaluationResult.complianceType;
  return {
    drop: false,
    raw: {
      eventId: env.id ?? messageId,
      source: 'config',
      configRuleName: r.configRuleName,
      resourceType: r.resourceType,
      resourceId: r.resourceId,
      awsAccountId: r.awsAccountId,
      awsRegion: r.awsRegion,
      // The contract only knows NON_COMPLIANT; a compliant result is never started (actionable: false).
      complianceType: 'NON_COMPLIANT',
      orderingTimestamp: ordering,
    },
    actionable: compliance === 'NON_COMPLIANT',
    ...(compliance === 'NON_COMPLIANT'
      ? {}
      : { skipReason: `Config reports ${compliance}: nothing to remediate`, result: compliance }),
  };
}

function invalid(reason: string, messageId: string, ruleName?: string): Drop {
  return {
    drop: true,
    reason: `invalid event: ${reason}`,
    resourceKey: INVALID_EVENT_RESOURCE_KEY,
    name: `intake-${messageId}`,
    ruleName,
  };
}

/** A stack name: a letter, then letters, digits and hyphens, at most 128 characters. */
const STACK_NAME = /^[A-Za-z][A-Za-z0-9-]{0,127}$/;

/** `arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>` → parts. */
function parseStackArn(arn: string): { region?: string; account?: string; stackName?: string } {
  const m = /^arn:aws[a-z-]*:cloudformation:([a-z0-9-]+):(\d{12}):stack\/([^/]+)\//.exec(arn);
  if (!m) return {};
  return { region: m[1], account: m[2], stackName: m[3] };
}

async function stackResourceDrifts(
  cfn: CloudFormationClient,
  stackId: string,
): Promise<StackResourceDrift[]> {
  const out: StackResourceDrift[] = [];
  let token: string | undefined;
  do {
    const r = await awsCall('DescribeStackResourceDrifts', () =>
      cfn.send(
        new DescribeStackResourceDriftsCommand({
          StackName: stackId,
          StackResourceDriftStatusFilters: ['MODIFIED', 'DELETED'],
          NextToken: token,
          MaxResults: 100,
        }),
      ),
    );
    out.push(...(r.StackResourceDrifts ?? []));
    token = r.NextToken;
  } while (token);
  return out;
}

/** The stack a drift event names (account and region from the envelope first, as EventBridge sets them). */
interface DriftStack {
  stackId: string;
  stackName: string;
  account: string;
  region: string;
  /** The stack's resource key, for what is dropped. */
  key: string;
}

function driftStackOf(env: Envelope, stackId: string): DriftStack {
  const arn = parseStackArn(stackId);
  const account = env.account ?? arn.account ?? '';
  const region = env.region ?? arn.region ?? '';
  const stackName = arn.stackName ?? stackId;
  return {
    stackId,
    stackName,
    account,
    region,
    key: `${account}/${region}/AWS::CloudFormation::Stack/${stackName}`,
  };
}

const dropStack = (stack: DriftStack, reason: string, messageId: string): Drop => ({
  drop: true,
  reason,
  resourceKey: stack.key,
  name: `intake-${messageId}`,
});

/** One candidate per drifted resource (its own event id, timestamp and drifted property paths). */
function resourceCandidates(
  env: Envelope,
  messageId: string,
  stack: DriftStack,
  drifts: StackResourceDrift[],
): Candidate[] {
  const eventBase = env.id ?? messageId;
  return drifts.map(
    (r): Candidate => ({
      drop: false,
      raw: {
        eventId: `${eventBase}/${r.LogicalResourceId ?? ''}`.slice(0, 128),
        source: 'cloudformation',
        resourceType: r.ResourceType ?? '',
        resourceId: r.PhysicalResourceId ?? '',
        awsAccountId: stack.account,
        awsRegion: stack.region,
        complianceType: 'DRIFTED',
        orderingTimestamp: r.Timestamp ? r.Timestamp.toISOString() : tsOrUndefined(env.time),
        stackName: stack.stackName,
        stackId: r.StackId ?? stack.stackId,
        logicalResourceId: r.LogicalResourceId,
        driftedProperties: driftedPropertyPaths(r.PropertyDifferences),
      },
      actionable: true,
    }),
  );
}

/** The whole stack as one candidate (the policy's stack-level entry: REVERT_DRIFT of the stack). */
function stackCandidate(
  env: Envelope,
  messageId: string,
  stack: DriftStack,
  drifts: StackResourceDrift[],
): Candidate {
  const latest = drifts.map((r) => r.Timestamp?.getTime() ?? 0).reduce((x, y) => Math.max(x, y), 0);
  return {
    drop: false,
    raw: {
      eventId: `${env.id ?? messageId}/stack`.slice(0, 128),
      source: 'cloudformation',
      resourceType: STACK_TYPE,
      resourceId: stack.stackName,
      awsAccountId: stack.account,
      awsRegion: stack.region,
      complianceType: 'DRIFTED',
      orderingTimestamp: latest > 0 ? new Date(latest).toISOString() : tsOrUndefined(env.time),
      stackName: stack.stackName,
      stackId: stack.stackId,
    },
    actionable: true,
  };
}

/**
 * Which drifted resources to remediate, and how: a resource type with its own cloudFormationDrift entry
 * resource by resource; a type some Config-rule entry handles when its rule reports it (not again from
 * here). A stack-level entry (REVERT_DRIFT of the whole stack) only runs when no drifted resource has an
 * entry of its own and some drifted resource is covered by nothing else: the two never touch the same stack
 * at once, and whatever is left drifted is picked up by the next drift detection.
 */
function chooseDriftCandidates(
  deps: IntakeDeps,
  perResource: Candidate[],
  stackWide: () => Candidate,
  drop: (reason: string) => Drop,
): Array<Drop | Candidate> {
  const typeOf = (c: Candidate) => String(c.raw.resourceType);
  // Every candidate is in the drifted stack's account and region.
  const place = {
    awsAccountId: String(perResource[0]?.raw.awsAccountId),
    awsRegion: String(perResource[0]?.raw.awsRegion),
  };
  const ownEntry = (c: Candidate) =>
    !!findEntry(deps.policy, {
      ...place,
      resourceType: typeOf(c),
      driftedProperties: Array.isArray(c.raw.driftedProperties)
        ? c.raw.driftedProperties.map(String)
        : undefined,
    });
  const ruleCovered = (c: Candidate) =>
    deps.policy.entries.some((e) => e.configRules.length > 0 && e.resourceTypes.includes(typeOf(c)));
  const own = perResource.filter(ownEntry);
  const uncovered = perResource.filter((c) => !ownEntry(c) && !ruleCovered(c));
  const stackEntry = findEntry(deps.policy, { ...place, resourceType: STACK_TYPE });
  if (own.length === 0 && stackEntry && uncovered.length > 0) return [stackWide()];
  const out = [...own, ...uncovered];
  if (out.length > 0) return out;
  const types = [...new Set(perResource.map(typeOf))].join(', ');
  return [drop(`drifted resources (${types}) are remediated through their Config rules`)];
}

async function normalizeDrift(
  env: Envelope,
  messageId: string,
  deps: IntakeDeps,
): Promise<Array<Drop | Candidate>> {
  const d = v.safeParse(DriftDetail, env.detail);
  if (!d.success)
    return [invalid(`CloudFormation event detail invalid: ${formatIssues(d).join('; ')}`, messageId)];
  const stack = driftStackOf(env, d.output['stack-id']);
  const drop = (reason: string) => dropStack(stack, reason, messageId);
  const status = d.output['status-details']['stack-drift-status'];
  if (!STACK_NAME.test(stack.stackName)) {
    return [
      drop(
        `invalid event: stack-id (${stack.stackId.length} characters) names no valid stack (a letter, then up to 127 letters, digits or hyphens)`,
      ),
    ];
  }
  if (status !== 'DRIFTED') return [drop(`stack drift status ${status}: nothing to remediate`)];
  const place = { awsAccountId: stack.account, awsRegion: stack.region };
  // Out of the organization or its regions: nothing is read or assumed there.
  const scope = outOfScope(deps.policy, place, deps.centralAccountId);
  if (scope) return [drop(scope)];
  let drifts: StackResourceDrift[];
  try {
    drifts = await stackResourceDrifts(forPlace(deps.cloudFormation, place), stack.stackId);
  } catch (err) {
    if (isStackMissing(err)) return [drop('stack no longer exists')];
    throw err;
  }
  if (drifts.length === 0) return [drop('stack reported DRIFTED but no resource is MODIFIED or DELETED')];
  return chooseDriftCandidates(
    deps,
    resourceCandidates(env, messageId, stack, drifts),
    () => stackCandidate(env, messageId, stack, drifts),
    drop,
  );
}

function normalizeFromDetail(env: Envelope, messageId: string): Drop | Candidate {
  if (!env.detail || typeof env.detail !== 'object' || Array.isArray(env.detail)) {
    return invalid(`${env.source} event has no detail object`, messageId);
  }
  const detail = env.detail as Record<string, unknown>;
  // EventBridge sets the envelope's account and region (the caller cannot): they win over the detail's.
  // A manual request is `manual` whatever its detail claims, so it never passes for an automatic event
  // (whose approval has no requester to check; tasks/shared/approvals/requester.ts).
  const raw =
    env.source === SOURCES.manual
      ? {
          ...detail,
          source: 'manual',
          ...(env.account ? { awsAccountId: env.account } : {}),
          ...(env.region ? { awsRegion: env.region } : {}),
        }
      : detail;
  return { drop: false, raw, actionable: true };
}

/** Turns one SQS message body into candidate events (or drops). Throws only on transient/infrastructure errors. */
export async function normalize(
  body: string,
  messageId: string,
  deps: IntakeDeps,
): Promise<Array<Drop | Candidate>> {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return [invalid('message body is not JSON', messageId)];
  }
  const env = v.safeParse(Envelope, json);
  if (!env.success) return [invalid(`not an EventBridge event: ${formatIssues(env).join('; ')}`, messageId)];
  const e = env.output;
  if (e.source === SOURCES.config && e['detail-type'] === DETAIL_TYPES.config)
    return [normalizeConfig(e, messageId)];
  if (e.source === SOURCES.cloudFormation && e['detail-type'] === DETAIL_TYPES.drift)
    return normalizeDrift(e, messageId, deps);
  if (e.source === SOURCES.manual || e.source === SOURCES.sweep || e.source === FAST_PATH_SOURCE)
    return [normalizeFromDetail(e, messageId)];
  return [
    invalid(`unsupported event ${JSON.stringify(e.source)} / ${JSON.stringify(e['detail-type'])}`, messageId),
  ];
}

async function recordSkip(
  deps: IntakeDeps,
  d: Omit<Drop, 'drop'>,
  extra: Record<string, unknown> = {},
): Promise<EventOutcome> {
  await putOutcome(deps.ddb, deps.outcomesTable, {
    resourceKey: d.resourceKey,
    executionName: d.name,
    outcome: 'SKIPPED',
    reason: d.reason,
    recordedAt: deps.now().toISOString(),
    ruleName: d.ruleName,
    extra: { recordedBy: 'intake', ...extra },
  });
  metrics.addMetric('IntakeSkipped', MetricUnit.Count, 1);
  logger.info('event skipped', { reason: d.reason, resourceKey: d.resourceKey });
  return { status: 'skipped', reason: d.reason, resourceKey: d.resourceKey, executionName: d.name };
}

/** How long a claim whose execution does not exist yet counts as "starting" (StartExecution follows the claim). */
export const STARTING_GRACE_MS = 60_000;

/** The ordering item as the running check read it; an actionable claim is conditional on it being unchanged. */
interface SeenClaim {
  exists: boolean;
  executionName?: string | undefined;
  lastOrderingTimestamp?: string | undefined;
}

/**
 * Conditional put: true when this orderingTimestamp is newer than the last one seen (the tie rule: an equal
 * one only passes for the same actionable result delivered again, see the module comment). With
 * `seen` (an event about to start an execution) the put is also conditional on the item still holding
 * what the running check read, so of two events for the same resource handled at once only one claims
 * (the other re-checks and finds this one starting); the claim records `startingAt`.
 */
async function claimOrdering(
  deps: IntakeDeps,
  event: RemediationEvent,
  name: string,
  seen?: SeenClaim,
  previousGeneration?: string,
): Promise<boolean> {
  const key = orderingKey(ruleOrSource(event), resourceKeyOf(event));
  // Canonical ISO (UTC, milliseconds) so the string comparison in the condition is a time comparison.
  const ts = canonicalTimestamp(event.orderingTimestamp);
  const now = deps.now().toISOString();
  let condition = 'attribute_not_exists(#k) OR #t < :t';
  const names: Record<string, string> = { '#k': 'key', '#t': 'lastOrderingTimestamp' };
  const values: Record<string, unknown> = { ':t': ts };
  if (seen) {
    names['#e'] = 'executionName';
    if (!seen.exists) condition = 'attribute_not_exists(#k) OR (#t < :t AND attribute_not_exists(#e))';
    else if (seen.executionName === undefined) condition = '#t < :t AND attribute_not_exists(#e)';
    else if (previousGeneration !== undefined && seen.executionName === previousGeneration) {
      // A sweep's next generation of the same evaluation: the mark is still that evaluation's.
      condition = '#e = :e AND #t <= :t';
      values[':e'] = seen.executionName;
    } else {
      // Equal timestamps only for this very execution's earlier claim (it carries startingAt; a
      // non-actionable result's mark does not).
      names['#s'] = 'startingAt';
      condition = '#e = :e AND (#t < :t OR (#t = :t AND #e = :n AND attribute_exists(#s)))';
      values[':e'] = seen.executionName;
      values[':n'] = name;
    }
    // DynamoDB rejects names the expression does not use.
    if (!condition.includes('#k')) delete names['#k'];
  }
  try {
    await awsCall('PutItem(ordering)', () =>
      deps.ddb.send(
        new PutCommand({
          TableName: deps.orderingTable,
          Item: {
            key,
            lastOrderingTimestamp: ts,
            executionName: name,
            eventId: event.eventId,
            updatedAt: now,
            ...(seen ? { startingAt: now } : {}),
          },
          ConditionExpression: condition,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        }),
      ),
    );
    return true;
  } catch (err) {
    if (err instanceof Error && err.name === 'ConditionalCheckFailedException') return false;
    throw err;
  }
}

/**
 * Moves the ordering mark forward for a result that starts nothing (COMPLIANT): newer-or-equal wins, and
 * the execution the item names (and its startingAt) are left as they are. The item records the result
 * (`lastResult`, `eventId`, `updatedAt`): it is that event's recorded outcome. False when an even newer
 * result was already seen (nothing moved).
 */
async function advanceOrdering(deps: IntakeDeps, event: RemediationEvent, result: string): Promise<boolean> {
  const key = orderingKey(ruleOrSource(event), resourceKeyOf(event));
  const ts = canonicalTimestamp(event.orderingTimestamp);
  try {
    await awsCall('UpdateItem(ordering)', () =>
      deps.ddb.send(
        new UpdateCommand({
          TableName: deps.orderingTable,
          Key: { key },
          UpdateExpression: 'SET #t = :t, #ev = :ev, #u = :u, #r = :r',
          ConditionExpression: 'attribute_not_exists(#k) OR #t <= :t',
          ExpressionAttributeNames: {
            '#k': 'key',
            '#t': 'lastOrderingTimestamp',
            '#ev': 'eventId',
            '#u': 'updatedAt',
            '#r': 'lastResult',
          },
          ExpressionAttributeValues: {
            ':t': ts,
            ':ev': event.eventId,
            ':u': deps.now().toISOString(),
            ':r': result,
          },
        }),
      ),
    );
    return true;
  } catch (err) {
    if (!(err instanceof Error && err.name === 'ConditionalCheckFailedException')) throw err;
    return false;
  }
}

/**
 * A result that starts nothing: recorded on the ordering mark it moves (no audit item: a compliant result
 * is not a finding, and Config sends one after every remediation); one older than the mark moves nothing
 * and is recorded SKIPPED (out of order) like any other dropped event.
 */
async function recordResult(deps: IntakeDeps, event: RemediationEvent, c: Candidate): Promise<EventOutcome> {
  const resourceKey = resourceKeyOf(event);
  const name = executionName(event);
  const reason = c.skipReason ?? 'not actionable';
  if (!(await advanceOrdering(deps, event, c.result ?? 'NOT_ACTIONABLE'))) {
    metrics.addMetric('IntakeOutOfOrder', MetricUnit.Count, 1);
    const stale = `out of order: a newer result than ${event.orderingTimestamp} was already seen (${reason})`;
    return recordSkip(deps, { reason: stale, resourceKey, name, ruleName: event.configRuleName });
  }
  metrics.addMetric('IntakeResultsRecorded', MetricUnit.Count, 1);
  logger.info('result recorded on the ordering mark', { reason, resourceKey, eventId: event.eventId });
  return { status: 'skipped', reason, resourceKey, executionName: name };
}

/** `arn:…:stateMachine:<sm>` + name → `arn:…:execution:<sm>:<name>`. */
export function executionArnOf(stateMachineArn: string, name: string): string {
  return `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
}

/**
 * The execution last started for this (rule or source, resource), if it is still RUNNING (or was claimed
 * less than STARTING_GRACE_MS ago and is not started yet) and is not this event's own execution. At most
 * one remediation per resource and rule runs at a time: a newer result that arrives meanwhile (often
 * caused by the remediation itself, e.g. the drift detection it runs) is not started; if the resource
 * stays non-compliant, the sweep re-finds it later. Judged from `item`, the ordering item as read; also
 * returns what it held.
 */
async function runningExecution(
  deps: IntakeDeps,
  item: Record<string, unknown> | undefined,
  name: string,
): Promise<{ running?: string; seen: SeenClaim }> {
  const previous = typeof item?.executionName === 'string' ? item.executionName : undefined;
  const seen: SeenClaim = {
    exists: item !== undefined,
    executionName: previous,
    lastOrderingTimestamp:
      typeof item?.lastOrderingTimestamp === 'string' ? item.lastOrderingTimestamp : undefined,
  };
  if (previous === undefined || previous === name) return { seen };
  try {
    const e = await awsCall('DescribeExecution', () =>
      deps.sfn.send(
        new DescribeExecutionCommand({ executionArn: executionArnOf(deps.stateMachineArn, previous) }),
      ),
    );
    return e.status === 'RUNNING' ? { running: previous, seen } : { seen };
  } catch (err) {
    if (err instanceof DriftRemediationError) throw err;
    const startingAt = typeof item?.startingAt === 'string' ? Date.parse(item.startingAt) : Number.NaN;
    if (
      err instanceof Error &&
      err.name === 'ExecutionDoesNotExist' &&
      deps.now().getTime() - startingAt < STARTING_GRACE_MS
    ) {
      // Claimed by another event a moment ago; its StartExecution has not happened yet.
      return { running: previous, seen };
    }
    // Gone from history (ExecutionDoesNotExist) or not readable: nothing known to be running.
    logger.warn('could not read the previous execution; assuming it is not running', {
      executionName: previous,
      errorName: err instanceof Error ? err.name : typeof err,
    });
    return { seen };
  }
}

/** The validated event, or the recorded drop of an invalid one. */
async function validated(
  c: Candidate,
  deps: IntakeDeps,
): Promise<{ event: RemediationEvent } | { skipped: EventOutcome }> {
  const messageName = `intake-${String(c.raw.eventId ?? 'unknown')
    .replace(/[^A-Za-z0-9_-]/g, '-')
    .slice(0, 60)}`;
  const ruleName = typeof c.raw.configRuleName === 'string' ? c.raw.configRuleName : undefined;
  const parsed = v.safeParse(RemediationEvent, c.raw);
  if (!parsed.success) {
    const reason = `invalid event: ${formatIssues(parsed).join('; ')}`;
    return {
      skipped: await recordSkip(deps, {
        reason,
        resourceKey: INVALID_EVENT_RESOURCE_KEY,
        name: messageName,
        ruleName,
      }),
    };
  }
  const event = parsed.output;
  if (isValidResourceId(event.resourceType, event.resourceId)) return { event };
  const skipped = await recordSkip(
    deps,
    {
      reason: `invalid event: resource id is not a valid ${event.resourceType} id`,
      resourceKey: INVALID_EVENT_RESOURCE_KEY,
      name: messageName,
      ruleName,
    },
    { resourceType: event.resourceType, resourceIdPrefix: event.resourceId.slice(0, 80) },
  );
  return { skipped };
}

/**
 * IAM unique ids (AROA…, as Config reports roles, or as a person copied one) become names before anything
 * else: the ordering key, the execution name and every parameter use the name; Config reads use the id
 * (`configResourceId`). An actionable event whose id names no role is recorded SKIPPED.
 */
async function resolveUniqueIds(
  deps: IntakeDeps,
  event: RemediationEvent,
  actionable: boolean,
): Promise<{ event: RemediationEvent } | { skipped: EventOutcome }> {
  if (!isUniqueId(event.resourceType, event.resourceId)) return { event };
  const name = await nameOfUniqueId(forPlace(deps.config, event), event.resourceType, event.resourceId);
  if (name !== undefined && isValidResourceId(event.resourceType, name)) {
    return { event: { ...event, resourceId: name, configResourceId: event.resourceId } };
  }
  if (!actionable) return { event };
  const reason = `resource no longer exists: AWS Config knows no ${event.resourceType} with unique id ${event.resourceId}`;
  const skipped = await recordSkip(deps, {
    reason,
    resourceKey: resourceKeyOf(event),
    name: executionName(event),
    ruleName: event.configRuleName,
  });
  return { skipped };
}

/** Execution statuses after which a sweep re-find starts a new generation (the run ended without VERIFIED). */
const ENDED_UNVERIFIED = new Set(['FAILED', 'TIMED_OUT', 'ABORTED']);

/**
 * Sweep re-finds: the generation of the execution to start. A re-find of an evaluation already handled
 * names the same execution (absorbed), unless that execution ended without VERIFIED (in Fail: ESCALATED,
 * EXPIRED, FAILED, NOT_VERIFIED; or timed out / aborted): then the next generation, at most the entry's
 * loop-breaker maxRemediations of them. Deterministic, so a redelivered re-find names the same generation.
 */
async function sweepGeneration(
  deps: IntakeDeps,
  event: RemediationEvent,
  max: number,
): Promise<{ generation: number; previous?: string } | { exhausted: true }> {
  for (let generation = 0; generation <= max; generation++) {
    const name = executionName({ ...event, generation });
    let status: string | undefined;
    try {
      const d = await awsCall('DescribeExecution', () =>
        deps.sfn.send(
          new DescribeExecutionCommand({ executionArn: executionArnOf(deps.stateMachineArn, name) }),
        ),
      );
      status = d.status;
    } catch (err) {
      if (!(err instanceof Error && err.name === 'ExecutionDoesNotExist')) throw err;
    }
    if (status === undefined || !ENDED_UNVERIFIED.has(status)) {
      if (generation === 0 || status !== undefined) return { generation };
      return { generation, previous: executionName({ ...event, generation: generation - 1 }) };
    }
  }
  return { exhausted: true };
}

/** The ordering item as stored now (a consistent GetItem). */
async function readOrdering(deps: IntakeDeps, key: string): Promise<Record<string, unknown> | undefined> {
  const r = await awsCall('GetItem(ordering)', () =>
    deps.ddb.send(new GetCommand({ TableName: deps.orderingTable, Key: { key }, ConsistentRead: true })),
  );
  return r.Item;
}

/**
 * Check, then claim conditionally on what was checked; a claim lost to a concurrent event is re-checked
 * once. The first check uses `read` (the fast-path check's read of the same item, for a Config result)
 * instead of reading again: the claim is conditional on what was read, whenever it was read.
 */
async function claim(
  deps: IntakeDeps,
  event: RemediationEvent,
  name: string,
  previousGeneration: string | undefined,
  read?: OrderingRead,
): Promise<{ claimed: true } | { skip: string }> {
  const key = orderingKey(ruleOrSource(event), resourceKeyOf(event));
  let known = read?.key === key ? read : undefined;
  for (let attempt = 1; ; attempt++) {
    const item = known ? known.item : await readOrdering(deps, key);
    known = undefined;
    const { running, seen } = await runningExecution(deps, item, name);
    if (running) {
      metrics.addMetric('IntakeInFlight', MetricUnit.Count, 1);
      return { skip: `execution ${running} for this resource is still running; not starting another` };
    }
    if (await claimOrdering(deps, event, name, seen, previousGeneration)) return { claimed: true };
    if (attempt >= 2) {
      metrics.addMetric('IntakeOutOfOrder', MetricUnit.Count, 1);
      const tie = seen.lastOrderingTimestamp === canonicalTimestamp(event.orderingTimestamp);
      return {
        skip: tie
          ? `tie: a result with the same orderingTimestamp ${event.orderingTimestamp} was already seen; an equal-timestamp later result never starts an execution`
          : `out of order: a newer result than ${event.orderingTimestamp} was already seen`,
      };
    }
  }
}

async function start(
  deps: IntakeDeps,
  event: RemediationEvent,
  name: string,
  entryId: string,
): Promise<EventOutcome> {
  const resourceKey = resourceKeyOf(event);
  try {
    const r = await awsCall('StartExecution', () =>
      deps.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: deps.stateMachineArn,
          name,
          input: JSON.stringify({ event }),
        }),
      ),
    );
    metrics.addMetric('ExecutionsStarted', MetricUnit.Count, 1);
    logger.info('execution started', { executionName: name, resourceKey, policyEntry: entryId });
    return { status: 'started', executionName: name, executionArn: r.executionArn ?? '', resourceKey };
  } catch (err) {
    if (err instanceof Error && err.name === 'ExecutionAlreadyExists') {
      metrics.addMetric('DuplicatesAbsorbed', MetricUnit.Count, 1);
      logger.info('duplicate absorbed', { executionName: name, resourceKey });
      return { status: 'duplicate', executionName: name, resourceKey };
    }
    throw err;
  }
}

/** Validates, orders and starts one candidate event. */
export async function handleCandidate(
  c: Candidate,
  deps: IntakeDeps,
  read?: OrderingRead,
): Promise<EventOutcome> {
  const v = await validated(c, deps);
  if ('skipped' in v) return v.skipped;
  // Out of the organization, its regions, or a paused member: recorded, nothing read, assumed or started.
  const scope = outOfScope(deps.policy, v.event, deps.centralAccountId);
  if (scope) {
    const name = executionName(v.event);
    const ruleName = v.event.configRuleName;
    return recordSkip(deps, { reason: scope, resourceKey: resourceKeyOf(v.event), name, ruleName });
  }
  const r = await resolveUniqueIds(deps, v.event, c.actionable);
  if ('skipped' in r) return r.skipped;
  let event = r.event;
  const ruleName = event.configRuleName;
  const resourceKey = resourceKeyOf(event);
  // A compliant result still moves the ordering mark forward, so an older NON_COMPLIANT result
  // delivered late never starts a remediation. It keeps the item's execution (a COMPLIANT result
  // arriving while a remediation runs must not hide that execution from the running check).
  if (!c.actionable) return recordResult(deps, event, c);
  const entry = findEntry(deps.policy, event);
  if (!entry) {
    const what = event.configRuleName ? `rule ${event.configRuleName}` : 'CloudFormation drift';
    const reason = `no policy entry for ${what} and type ${event.resourceType}`;
    return recordSkip(deps, { reason, resourceKey, name: executionName(event), ruleName });
  }
  let previousGeneration: string | undefined;
  if (event.source === 'sweep') {
    const g = await sweepGeneration(deps, event, entry.loopBreaker.maxRemediations);
    if ('exhausted' in g) {
      const reason = `re-found after ${entry.loopBreaker.maxRemediations + 1} executions that ended without VERIFIED (loop breaker maxRemediations ${entry.loopBreaker.maxRemediations}); not starting another`;
      return recordSkip(deps, { reason, resourceKey, name: executionName(event), ruleName });
    }
    if (g.generation > 0) event = { ...event, generation: g.generation };
    previousGeneration = g.previous;
  }
  const name = executionName(event);
  const claimed = await claim(deps, event, name, previousGeneration, read);
  if ('skip' in claimed) return recordSkip(deps, { reason: claimed.skip, resourceKey, name, ruleName });
  return start(deps, event, name, entry.id);
}

/** The SKIPPED record of a well-formed candidate that starts nothing (its execution name and key). */
function skipOf(c: Candidate, reason: string): Omit<Drop, 'drop'> {
  const event = v.parse(RemediationEvent, c.raw);
  const ruleName = event.configRuleName;
  return { reason, resourceKey: resourceKeyOf(event), name: executionName(event), ruleName };
}

/** The out-of-scope reason of a candidate that names an account and region (policy/scope.ts). */
function scopeOfRaw(raw: Record<string, unknown>, deps: IntakeDeps): string | undefined {
  const { awsAccountId, awsRegion } = raw;
  if (typeof awsAccountId !== 'string' || typeof awsRegion !== 'string') return undefined;
  return outOfScope(deps.policy, { awsAccountId, awsRegion }, deps.centralAccountId);
}

/** Processes one SQS message body end to end. Throws (→ record redelivered) only on transient/infrastructure errors. */
export async function processMessage(
  body: string,
  messageId: string,
  deps: IntakeDeps,
): Promise<EventOutcome[]> {
  const candidates = await normalize(body, messageId, deps);
  const out: EventOutcome[] = [];
  for (const c of candidates) {
    // A Config result for a drift the CloudTrail fast path already remediated starts nothing new
    // (an event out of scope is not looked up: handleCandidate records it).
    const same =
      c.drop || !c.actionable || scopeOfRaw(c.raw, deps) ? {} : await sameDriftAsFastPath(c.raw, deps);
    if (c.drop || same.reason) {
      out.push(await recordSkip(deps, c.drop ? c : skipOf(c, same.reason ?? '')));
    } else out.push(await handleCandidate(c, deps, same.read));
  }
  return out;
}

export async function intake(
  input: IntakeInput,
  deps: IntakeDeps,
  context?: Context,
): Promise<SQSBatchResponse> {
  const processor = new BatchProcessor(EventType.SQS);
  const recordHandler = async (record: { messageId: string; body: string }) => {
    try {
      return await processMessage(record.body, record.messageId, deps);
    } catch (err) {
      const e = err as Error;
      logger.warn('record failed; SQS will redeliver it', {
        messageId: record.messageId,
        errorName: e.name,
        errorMessage: e.message,
      });
      throw err;
    }
  };
  return processPartialResponse(input, recordHandler, processor, {
    ...(context ? { context } : {}),
    throwOnFullBatchFailure: false,
  });
}
