/**
 * The CloudTrail fast path's data: per resource type, the mutating API calls that can drift it, as
 * CloudTrail names them (eventSource + eventName), and where the call names the resource
 * (requestParameters / responseElements). The EventBridge rule's eventName list is computed from the
 * policy's entries in scope (`fastPathCalls`), never written by hand; the sandbox's CloudTrail emitter
 * and intake read the same table.
 *
 * CloudTrail's eventName is usually the API name; where it is not (S3 public access block, Lambda's
 * versioned operation names) `api` gives the SDK operation the sandbox serves.
 */
import { isRecord } from '../shared/contracts';
import type { NormalizedPolicy } from '../shared/policy/schema';

type Params = Record<string, unknown>;

export interface DriftingCall {
  /** CloudTrail eventName. */
  eventName: string;
  /** SDK operation name when it differs from eventName. */
  api?: string;
}

export interface CallSet {
  /** EventBridge source (aws.ec2) and CloudTrail eventSource (ec2.amazonaws.com). */
  service: string;
  calls: readonly DriftingCall[];
  /** The resource's physical id (the one Config and CloudFormation use) from the call, or undefined. */
  resourceId(request: Params, response: Params): string | undefined;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
/** The object member `key` of `q`, if it is one. */
const nested = (q: Params, key: string): Params | undefined => {
  const v = q[key];
  return isRecord(v) ? v : undefined;
};

/** `arn:aws:lambda:r:a:function:name[:qualifier]` or a plain name → the function name. */
function functionName(v: unknown): string | undefined {
  const s = str(v);
  if (!s) return undefined;
  const m =
    /^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:function:|\d{12}:function:)?([A-Za-z0-9_-]{1,64})(?::[^:]+)?$/.exec(
      s,
    );
  return m?.[1];
}

/** Keyed by CloudFormation resource type (the policy's `resourceTypes`). */
export const DRIFTING_CALLS: Readonly<Record<string, CallSet>> = {
  'AWS::EC2::SecurityGroup': {
    service: 'ec2',
    calls: [
      { eventName: 'AuthorizeSecurityGroupIngress' },
      { eventName: 'AuthorizeSecurityGroupEgress' },
      { eventName: 'RevokeSecurityGroupIngress' },
      { eventName: 'RevokeSecurityGroupEgress' },
      { eventName: 'ModifySecurityGroupRules' },
      { eventName: 'UpdateSecurityGroupRuleDescriptionsIngress' },
    ],
    // ModifySecurityGroupRules is recorded in its query form: requestParameters.ModifySecurityGroupRulesRequest.GroupId.
    resourceId: (q) => str(q.groupId) ?? str(nested(q, 'ModifySecurityGroupRulesRequest')?.GroupId),
  },
  'AWS::S3::Bucket': {
    service: 's3',
    calls: [
      { eventName: 'PutBucketEncryption' },
      { eventName: 'DeleteBucketEncryption' },
      { eventName: 'PutBucketVersioning' },
      { eventName: 'PutBucketPublicAccessBlock', api: 'PutPublicAccessBlock' },
      { eventName: 'DeleteBucketPublicAccessBlock', api: 'DeletePublicAccessBlock' },
      { eventName: 'PutBucketPolicy' },
      { eventName: 'DeleteBucketPolicy' },
      { eventName: 'PutBucketAcl' },
    ],
    resourceId: (q) => str(q.bucketName),
  },
  'AWS::IAM::Role': {
    service: 'iam',
    calls: [
      { eventName: 'AttachRolePolicy' },
      { eventName: 'DetachRolePolicy' },
      { eventName: 'PutRolePolicy' },
      { eventName: 'DeleteRolePolicy' },
      { eventName: 'UpdateAssumeRolePolicy' },
    ],
    resourceId: (q) => str(q.roleName),
  },
  // Config's AWS::IAM::Policy is identified by the policy id; intake maps the ARN the call names to it.
  'AWS::IAM::Policy': {
    service: 'iam',
    calls: [{ eventName: 'CreatePolicyVersion' }, { eventName: 'SetDefaultPolicyVersion' }],
    resourceId: (q) => str(q.policyArn),
  },
  // CloudFormation's AWS::IAM::ManagedPolicy: its physical id is the ARN.
  'AWS::IAM::ManagedPolicy': {
    service: 'iam',
    calls: [{ eventName: 'CreatePolicyVersion' }, { eventName: 'SetDefaultPolicyVersion' }],
    resourceId: (q) => str(q.policyArn),
  },
  'AWS::Lambda::Function': {
    service: 'lambda',
    calls: [
      { eventName: 'UpdateFunctionConfiguration20150331v2', api: 'UpdateFunctionConfiguration' },
      { eventName: 'PutFunctionConcurrency20171031', api: 'PutFunctionConcurrency' },
    ],
    resourceId: (q, r) => functionName(r.functionName) ?? functionName(q.functionName),
  },
};

export const CLOUDTRAIL_DETAIL_TYPE = 'AWS API Call via CloudTrail';
/** Source of the events the fast path sends to the intake queue (detail: a RemediationEvent). */
export const FAST_PATH_SOURCE = 'drift-remediation.fastpath';
/** eventId prefix of fast-path events (how intake's ordering record remembers who claimed it). */
export const FAST_PATH_EVENT_PREFIX = 'cloudtrail:';

/** `ec2` → `ec2.amazonaws.com` (CloudTrail's eventSource) */
export const eventSourceOf = (service: string): string => `${service}.amazonaws.com`;

/**
 * The resource types the policy's entries put in scope: every entry's resourceTypes, plus the types its
 * Config rules evaluate (Config's AWS::IAM::Policy for an entry matching a rule on managed policies).
 */
export function typesInScope(policy: NormalizedPolicy): string[] {
  const types = new Set<string>();
  for (const e of policy.entries) {
    for (const t of e.resourceTypes) types.add(t);
    for (const name of e.configRules) {
      for (const t of policy.configRules.find((r) => r.name === name)?.resourceTypes ?? []) types.add(t);
    }
  }
  return [...types].sort();
}

export interface FastPathCalls {
  /** EventBridge sources (aws.ec2, aws.s3 …). */
  sources: string[];
  /** CloudTrail eventSources (ec2.amazonaws.com …). */
  eventSources: string[];
  eventNames: string[];
}

/** What the fast path's EventBridge rule matches, derived from the policy (empty lists: no rule). */
export function fastPathCalls(policy: NormalizedPolicy): FastPathCalls {
  const sets = typesInScope(policy)
    .map((t) => DRIFTING_CALLS[t])
    .filter((c): c is CallSet => c !== undefined);
  const uniq = (xs: string[]) => [...new Set(xs)].sort();
  return {
    sources: uniq(sets.map((s) => `aws.${s.service}`)),
    eventSources: uniq(sets.map((s) => eventSourceOf(s.service))),
    eventNames: uniq(sets.flatMap((s) => s.calls.map((c) => c.eventName))),
  };
}

/** The resource types in scope a call (eventSource, eventName) can drift. */
export function typesDriftedBy(policy: NormalizedPolicy, eventSource: string, eventName: string): string[] {
  return typesInScope(policy).filter((t) => {
    const set = DRIFTING_CALLS[t];
    return (
      set !== undefined &&
      eventSourceOf(set.service) === eventSource &&
      set.calls.some((c) => c.eventName === eventName)
    );
  });
}

/** The CloudTrail eventName of an SDK operation of `service`, if it can drift a type (sandbox emitter). */
export function cloudTrailEventName(service: string, api: string): string | undefined {
  for (const set of Object.values(DRIFTING_CALLS)) {
    if (set.service !== service) continue;
    const call = set.calls.find((c) => (c.api ?? c.eventName) === api);
    if (call) return call.eventName;
  }
  return undefined;
}
