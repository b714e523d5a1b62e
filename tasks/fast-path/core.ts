/**
 * fast-path: the CloudTrail fast path. Invoked by EventBridge with an "AWS API Call via CloudTrail" event for
 * a call that can drift a resource type in the policy (the rule's call list: tasks/fast-path/calls.ts). The
 * call is a *suspected* drift:
 *
 *   1. failed call (errorCode), unknown call, a call naming no resource → SKIPPED with the reason;
 *   2. the caller: the remediation's own roles (automation role, task roles), CloudFormation acting for a
 *      stack, and the policy's `fastPath.trustedDeployers` → SKIPPED (never fight ourselves or the pipeline);
 *   3. the resource is read at once (Cloud Control): gone, or outside the rules' tag scope → SKIPPED;
 *   4. judged as Config will judge it: for each Config rule of the policy that evaluates the type, the rule's
 *      own logic (tasks/shared/rule-checks.ts) over the live configuration; for a resource a stack manages,
 *      also DetectStackResourceDrift (IN_SYNC yet NON_COMPLIANT: the template itself violates the rule, which
 *      the Config path escalates; the fast path leaves it). Entries keyed by CloudFormation drift act on
 *      MODIFIED/DELETED of a stack-managed resource.
 *   5. a real drift becomes a RemediationEvent exactly like Config's (source config + configRuleName, or
 *      source cloudformation), ordered at the call's eventTime, eventId `cloudtrail:<eventID>`, sent to the
 *      intake queue (source drift-remediation.fastpath): intake's ordering, running check and deterministic
 *      execution name apply, then the normal workflow (break-glass, exceptions, approval, loop breaker).
 *
 * The Config result for the same change, minutes later, is recognised by intake (tasks/intake/cloudtrail.ts).
 * Output: what happened to each candidate. Throws only on transient errors (EventBridge/Lambda retry).
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import type { Place } from '../shared/accounts';
import { RemediationEvent, resourceKeyOf } from '../shared/contracts';
import { awsCall } from '../shared/errors';
import { canonicalTimestamp, executionName } from '../shared/execution-name';
import { formatIssues } from '../shared/handler';
import { putOutcome } from '../shared/outcomes';
import { driftedPropertyPaths, findEntry } from '../shared/policy/match';
import type { ConfigRuleDecl, NormalizedPolicy, RuleScope } from '../shared/policy/schema';
import { DEFAULT_RULE_SCOPE } from '../shared/policy/schema';
import { outOfScope } from '../shared/policy/scope';
import { logger } from '../shared/powertools';
import { isoDateTime } from '../shared/validation';
import {
  CLOUDTRAIL_DETAIL_TYPE,
  DRIFTING_CALLS,
  FAST_PATH_EVENT_PREFIX,
  FAST_PATH_SOURCE,
  typesDriftedBy,
} from './calls';
import {
  type CheckClients,
  detectResourceDrift,
  type ResourceSnapshot,
  readResource,
  type StackMembership,
  stackOf,
} from './check';

export const FAST_PATH_DETAIL_TYPE = 'Suspected Drift Confirmed';

export interface FastPathDeps extends CheckClients {
  policy: NormalizedPolicy;
  sqs: SQSClient;
  ddb: DynamoDBDocumentClient;
  intakeQueueUrl: string;
  outcomesTable: string;
  /** Names (or ARNs) of the remediation's own roles: automation role and every task role. */
  ownRoles: readonly string[];
  now: () => Date;
  /** The clients in the call's account-region (tasks/shared/accounts.ts); absent: the deps' own. */
  clientsIn?: ((place: Place) => CheckClients) | undefined;
  /** The deployment's own account (always in the organization). */
  centralAccountId?: string | undefined;
}

export type FastPathDrop = { drop: true; reason: string; resourceKey: string };
export type FastPathCandidate = { drop: false; raw: Record<string, unknown> };

const UserIdentity = v.looseObject({
  type: v.optional(v.string()),
  arn: v.optional(v.string()),
  accountId: v.optional(v.string()),
  invokedBy: v.optional(v.string()),
  sessionContext: v.optional(
    v.looseObject({
      sessionIssuer: v.optional(
        v.looseObject({ arn: v.optional(v.string()), userName: v.optional(v.string()) }),
      ),
    }),
  ),
});
type UserIdentity = v.InferOutput<typeof UserIdentity>;

const Params = v.nullish(v.record(v.string(), v.unknown()));
export const CloudTrailDetail = v.looseObject({
  eventVersion: v.optional(v.string()),
  eventID: v.pipe(v.string(), v.minLength(1), v.maxLength(100)),
  eventTime: isoDateTime(),
  eventSource: v.pipe(v.string(), v.minLength(1)),
  eventName: v.pipe(v.string(), v.minLength(1)),
  awsRegion: v.pipe(v.string(), v.minLength(1)),
  recipientAccountId: v.optional(v.string()),
  sourceIPAddress: v.optional(v.string()),
  userAgent: v.optional(v.string()),
  userIdentity: UserIdentity,
  requestParameters: Params,
  responseElements: Params,
  errorCode: v.optional(v.string()),
  errorMessage: v.optional(v.string()),
});
export type CloudTrailDetail = v.InferOutput<typeof CloudTrailDetail>;

interface Envelope {
  id?: string | undefined;
  account?: string | undefined;
  region?: string | undefined;
  detail: unknown;
}

const CLOUDFORMATION = 'cloudformation.amazonaws.com';

/** `arn:aws:sts::123:assumed-role/Name/session` or `arn:aws:iam::123:role/path/Name` → Name. */
function roleNameOf(arn: string | undefined): string | undefined {
  const m = /:assumed-role\/([^/]+)\/|:role\/(?:.*\/)?([^/]+)$/.exec(arn ?? '');
  return m?.[1] ?? m?.[2];
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

/** Why the caller's change is intended (and left alone), or undefined when it is a suspected drift. */
export function intendedBy(
  who: UserIdentity,
  detail: Pick<CloudTrailDetail, 'sourceIPAddress' | 'userAgent'>,
  ownRoles: readonly string[],
  trusted: readonly string[],
): string | undefined {
  if (
    who.invokedBy === CLOUDFORMATION ||
    detail.sourceIPAddress === CLOUDFORMATION ||
    detail.userAgent === CLOUDFORMATION
  ) {
    return 'made by CloudFormation on behalf of a stack';
  }
  const issuer = who.sessionContext?.sessionIssuer?.arn;
  const role = roleNameOf(issuer) ?? roleNameOf(who.arn);
  const own = new Set(ownRoles.map((r) => roleNameOf(r) ?? r));
  if (role && own.has(role)) return `made by the remediation's own role ${role}`;
  const names = [who.arn, issuer].filter((a): a is string => !!a);
  const hit = trusted.find((p) => names.some((n) => globMatch(p, n)));
  if (hit) return `made by a trusted deployer (${hit})`;
  return undefined;
}

function scopeOf(policy: NormalizedPolicy, rule?: ConfigRuleDecl): RuleScope {
  return rule?.scope ?? policy.scope ?? DEFAULT_RULE_SCOPE;
}

function inScope(scope: RuleScope, tags: Record<string, string>, stack?: StackMembership): boolean {
  const v = tags[scope.tagKey] ?? stack?.stackTags[scope.tagKey];
  return v !== undefined && (scope.tagValue === undefined || scope.tagValue === v);
}

interface Suspect {
  detail: CloudTrailDetail;
  account: string;
  resourceType: string;
  physicalId: string;
  snapshot: ResourceSnapshot;
  stack?: StackMembership | undefined;
}

/** Shared fields of the candidate events one call produces. */
function base(s: Suspect, suffix: string): Record<string, unknown> {
  return {
    eventId: `${FAST_PATH_EVENT_PREFIX}${s.detail.eventID}${suffix}`.slice(0, 128),
    resourceType: s.resourceType,
    resourceId: s.snapshot.configId,
    awsAccountId: s.account,
    awsRegion: s.detail.awsRegion,
    orderingTimestamp: canonicalTimestamp(s.detail.eventTime),
    ...(s.stack
      ? {
          stackName: s.stack.stackName,
          stackId: s.stack.stackId,
          logicalResourceId: s.stack.logicalResourceId,
        }
      : {}),
  };
}

/** Judges the suspect; returns candidates (real drift) and what each check found (for a SKIPPED reason). */
async function judge(s: Suspect, deps: FastPathDeps) {
  const { policy } = deps;
  const out: FastPathCandidate[] = [];
  const found: string[] = [];
  const drift = s.stack ? await detectResourceDrift(deps, s.stack) : undefined;
  const driftStatus = drift?.StackResourceDriftStatus;
  const drifted = driftStatus === 'MODIFIED' || driftStatus === 'DELETED';
  const place = { awsAccountId: s.account, awsRegion: s.detail.awsRegion };
  const rules = policy.configRules.filter(
    (r) =>
      r.resourceTypes.includes(s.resourceType) &&
      findEntry(policy, { ...place, configRuleName: r.name, resourceType: s.resourceType }),
  );
  for (const rule of rules) {
    if (!inScope(scopeOf(policy, rule), s.snapshot.tags, s.stack)) {
      found.push(`${rule.name}: outside its scope`);
      continue;
    }
    const v = s.snapshot.judge(rule.sourceIdentifier, rule.inputParameters ?? {});
    found.push(`${rule.name}: ${v?.compliance ?? 'not checkable directly'}`);
    if (v?.compliance !== 'NON_COMPLIANT') continue;
    if (s.stack && !drifted) {
      found.push(
        `${s.stack.logicalResourceId} is ${driftStatus ?? 'UNKNOWN'} with its template (left to Config)`,
      );
      continue;
    }
    const raw = { ...base(s, `/${rule.name}`), source: 'config', configRuleName: rule.name };
    out.push({ drop: false, raw: { ...raw, complianceType: 'NON_COMPLIANT' } });
  }
  if (drift && drifted && inScope(scopeOf(policy), s.snapshot.tags, s.stack)) {
    const driftedProperties = driftedPropertyPaths(drift.PropertyDifferences);
    const entry = findEntry(policy, { ...place, resourceType: s.resourceType, driftedProperties });
    if (entry?.cloudFormationDrift) {
      const raw = { ...base(s, '/drift'), source: 'cloudformation', driftedProperties };
      out.push({ drop: false, raw: { ...raw, complianceType: 'DRIFTED' } });
    }
  }
  if (drift) found.push(`drift detection: ${driftStatus ?? 'UNKNOWN'}`);
  return { out, found };
}

/** The call's validated detail, or the drop that ends it (invalid, failed, unknown, intended). */
function screen(
  env: Envelope,
  deps: FastPathDeps,
): { detail: CloudTrailDetail; account: string; types: string[] } | FastPathDrop {
  const d = v.safeParse(CloudTrailDetail, env.detail);
  if (!d.success) {
    const reason = `invalid event: CloudTrail detail invalid: ${formatIssues(d).join('; ')}`;
    return { drop: true, reason, resourceKey: 'cloudtrail/invalid' };
  }
  const detail = d.output;
  const call = `${detail.eventSource} ${detail.eventName}`;
  const account = detail.recipientAccountId ?? env.account ?? detail.userIdentity.accountId ?? '';
  const resourceKey = `${account}/${detail.awsRegion}/cloudtrail/${detail.eventName}`;
  const dropped = (reason: string): FastPathDrop => ({ drop: true, reason, resourceKey });
  if (detail.errorCode) return dropped(`failed call ${call} (${detail.errorCode}): nothing changed`);
  if (deps.policy.fastPath?.enabled === false) return dropped('the CloudTrail fast path is disabled');
  const types = typesDriftedBy(deps.policy, detail.eventSource, detail.eventName);
  if (types.length === 0) return dropped(`unknown call ${call}: it drifts no resource type in the policy`);
  const trusted = deps.policy.fastPath?.trustedDeployers ?? [];
  const why = intendedBy(detail.userIdentity, detail, deps.ownRoles, trusted);
  if (why) return dropped(`intended change: ${call} ${why}`);
  // Out of the organization, its regions, or a paused member: nothing is read or assumed there.
  const scope = outOfScope(
    deps.policy,
    { awsAccountId: account, awsRegion: detail.awsRegion },
    deps.centralAccountId,
  );
  if (scope) return dropped(scope);
  return { detail, account, types };
}

/** Turns a CloudTrail event into candidate events (real drift) or one drop. Throws only on transient errors. */
export async function judgeCall(
  env: Envelope,
  deps: FastPathDeps,
): Promise<Array<FastPathDrop | FastPathCandidate>> {
  const screened = screen(env, deps);
  if ('drop' in screened) return [screened];
  const { detail, account, types } = screened;
  const call = `${detail.eventSource} ${detail.eventName}`;
  const out: FastPathCandidate[] = [];
  const found: string[] = [];
  let resourceKey = `${account}/${detail.awsRegion}/cloudtrail/${detail.eventName}`;
  const place = { awsAccountId: account, awsRegion: detail.awsRegion };
  const here: FastPathDeps = deps.clientsIn ? { ...deps, ...deps.clientsIn(place) } : deps;
  for (const resourceType of types) {
    const request = detail.requestParameters ?? {};
    const physicalId = DRIFTING_CALLS[resourceType]?.resourceId(request, detail.responseElements ?? {});
    if (!physicalId)
      return [{ drop: true, reason: `invalid event: ${call} names no ${resourceType}`, resourceKey }];
    resourceKey = `${account}/${detail.awsRegion}/${resourceType}/${physicalId}`;
    const snapshot = await readResource(here, resourceType, physicalId);
    if (!snapshot) {
      found.push(`${resourceType} ${physicalId} no longer exists`);
      continue;
    }
    const stack = await stackOf(here, physicalId);
    const r = await judge({ detail, account, resourceType, physicalId, snapshot, stack }, here);
    out.push(...r.out);
    found.push(...r.found);
  }
  if (out.length > 0) return out;
  const reason = `not drifted: ${call} left the resource within the policy (${found.join('; ') || 'no entry applies'})`;
  return [{ drop: true, reason, resourceKey }];
}

export const FastPathInput = v.looseObject({
  id: v.optional(v.string()),
  source: v.string(),
  'detail-type': v.literal(CLOUDTRAIL_DETAIL_TYPE),
  account: v.optional(v.string()),
  region: v.optional(v.string()),
  detail: v.unknown(),
});
export type FastPathInput = v.InferOutput<typeof FastPathInput>;

export type FastPathOutcome =
  | { status: 'forwarded'; executionName: string; resourceKey: string }
  | { status: 'skipped'; reason: string; resourceKey: string };

/** Judges one CloudTrail event: real drifts go to the intake queue, everything else is recorded as SKIPPED. */
export async function fastPath(input: FastPathInput, deps: FastPathDeps): Promise<FastPathOutcome[]> {
  const results = await judgeCall(input, deps);
  const out: FastPathOutcome[] = [];
  for (const r of results) {
    if (r.drop) {
      await putOutcome(deps.ddb, deps.outcomesTable, {
        resourceKey: r.resourceKey,
        executionName: `fast-path-${String(input.id ?? 'event')
          .replace(/[^A-Za-z0-9_-]/g, '-')
          .slice(0, 60)}`,
        outcome: 'SKIPPED',
        reason: r.reason,
        recordedAt: deps.now().toISOString(),
        extra: { recordedBy: 'fast-path' },
      });
      logger.info('CloudTrail call skipped', { reason: r.reason, resourceKey: r.resourceKey });
      out.push({ status: 'skipped', reason: r.reason, resourceKey: r.resourceKey });
      continue;
    }
    const event = v.parse(RemediationEvent, r.raw);
    await forward(event, deps);
    logger.info('suspected drift confirmed; sent to intake', { resourceKey: resourceKeyOf(event) });
    out.push({ status: 'forwarded', executionName: executionName(event), resourceKey: resourceKeyOf(event) });
  }
  return out;
}

async function forward(event: RemediationEvent, deps: FastPathDeps): Promise<void> {
  const envelope = {
    version: '0',
    id: event.eventId,
    'detail-type': FAST_PATH_DETAIL_TYPE,
    source: FAST_PATH_SOURCE,
    account: event.awsAccountId,
    region: event.awsRegion,
    time: deps.now().toISOString(),
    detail: event,
  };
  await awsCall('SendMessage(intake)', () =>
    deps.sqs.send(
      new SendMessageCommand({ QueueUrl: deps.intakeQueueUrl, MessageBody: JSON.stringify(envelope) }),
    ),
  );
}
