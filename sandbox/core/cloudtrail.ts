/**
 * CloudTrail, as EventBridge sees it: every mutating call to a resource service (EC2, S3, IAM, Lambda by
 * default) becomes an "AWS API Call via CloudTrail" event (source aws.<service>) on the default bus, after a
 * configurable delivery delay on the sandbox clock (AWS: typically seconds to a few minutes).
 *
 * The detail follows CloudTrail's record: eventVersion, userIdentity (the caller: an assumed-role session
 * with its sessionIssuer, or an IAM user), eventTime, eventSource (`ec2.amazonaws.com`), eventName (CloudTrail's
 * name, e.g. PutBucketPublicAccessBlock for PutPublicAccessBlock), awsRegion, sourceIPAddress, userAgent,
 * requestParameters / responseElements (the SDK-shaped input/output with camel-cased member names; S3's
 * `Bucket` is `bucketName`), errorCode / errorMessage for a failed call, requestID, eventID, readOnly false,
 * eventType AwsApiCall, managementEvent, recipientAccountId, eventCategory Management. Simplification:
 * EC2's list members are not wrapped in `items`.
 *
 * The caller is whoever the request carries: the principal IAM resolved (an assumed-role session or user),
 * else the signing access key. A call with neither — the emulated services acting in-process — records
 * nothing, as the services' own internal work does not show up as the customer's API calls. A service
 * acting for a customer (CloudFormation provisioning, `recordServiceCall`) is recorded as the identity it
 * acts as, with `invokedBy` and sourceIPAddress / userAgent naming the service.
 */
import { createHash, randomUUID } from 'node:crypto';
import { cloudTrailEventName } from '../../tasks/fast-path/calls';
import type { RequestContext, SandboxContext } from './types';

export interface CloudTrailOptions {
  /** Emulated seconds between a call and its event on the bus (default 5; AWS: seconds to minutes). */
  deliverySeconds?: number;
  /** Services whose mutating calls are recorded (default ec2, s3, iam, lambda). */
  services?: readonly string[];
  /** false: record nothing. */
  enabled?: boolean;
}

/** Who made a call, as the request carries it. */
export interface CallIdentity {
  /** The principal IAM resolved (sandbox/core/authz.ts): an assumed-role session ARN (with its role) or a user ARN. */
  caller?: { arn: string; roleArn?: string } | undefined;
  /** The SigV4 access key of a signed request. */
  accessKeyId?: string | undefined;
  /** The AWS service that made the call with the caller's (or a role's) credentials: `cloudformation.amazonaws.com`. */
  invokedBy?: string | undefined;
}

export interface RecordedCall extends CallIdentity {
  service: string;
  operation: string;
  region: string;
  requestId: string;
  input: Record<string, unknown>;
  output?: unknown;
  error?: unknown;
}

export const DEFAULT_CLOUDTRAIL: Required<CloudTrailOptions> = {
  deliverySeconds: 5,
  services: ['ec2', 's3', 'iam', 'lambda'],
  enabled: true,
};

const settings = new WeakMap<SandboxContext, Required<CloudTrailOptions>>();

/** A role's or user's unique id (AROA…, AIDA…) by its ARN, as the sandbox's IAM issued it; undefined: unknown. */
export type UniqueIdOf = (arn: string) => string | undefined;
const uniqueIds = new WeakMap<SandboxContext, UniqueIdOf>();

/** The IAM module tells CloudTrail the unique ids it issues (sandbox/services/iam). */
export function setUniqueIds(ctx: SandboxContext, of: UniqueIdOf): void {
  uniqueIds.set(ctx.home, of);
}

/** The unique id IAM issued for `arn`, else a stable one of the same shape (prefix + 17 of [A-Z0-9]). */
function uniqueIdOf(ctx: SandboxContext, prefix: 'AROA' | 'AIDA', arn: string): string {
  const issued = uniqueIds.get(ctx.home)?.(arn);
  if (issued) return issued;
  const digest = createHash('sha256').update(arn).digest();
  let id = prefix;
  for (const b of digest.subarray(0, 17)) id += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'[b % 36];
  return id;
}

/** Sets (or changes) the sandbox's CloudTrail delivery; unset options keep their current value. */
export function configureCloudTrail(ctx: SandboxContext, options: CloudTrailOptions): void {
  settings.set(ctx.home, { ...(settings.get(ctx.home) ?? DEFAULT_CLOUDTRAIL), ...options });
}

const READ_ONLY =
  /^(Describe|Get|List|Head|Lookup|Search|Select|Scan|Query|BatchGet|Simulate|Generate|Estimate|Preview|Validate|Check|Test)/;

const camel = (k: string): string => (/^[A-Z]/.test(k) ? k.charAt(0).toLowerCase() + k.slice(1) : k);

/** SDK-shaped members → CloudTrail's camel-cased ones (binary and dates as strings). */
function toTrail(value: unknown, depth = 0): unknown {
  if (depth > 12) return undefined;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return undefined;
  if (Array.isArray(value)) return value.map((v) => toTrail(v, depth + 1));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === '$metadata') continue;
      out[k === 'Bucket' ? 'bucketName' : camel(k)] = toTrail(v, depth + 1);
    }
    return out;
  }
  return value;
}

/**
 * A call's `requestParameters` as CloudTrail writes them: the SDK-shaped input camel-cased, except for the
 * EC2 calls CloudTrail records in their query form. ModifySecurityGroupRules is one: its parameters sit in
 * `ModifySecurityGroupRulesRequest` with AWS's own member names (`GroupId`, and `SecurityGroupRule` holding
 * each update, `{ SecurityGroupRuleId, SecurityGroupRule }` — one object for one update, a list for more).
 */
function requestParameters(service: string, operation: string, input: unknown): unknown {
  if (service === 'ec2' && operation === 'ModifySecurityGroupRules' && input && typeof input === 'object') {
    const { GroupId, SecurityGroupRules } = input as { GroupId?: unknown; SecurityGroupRules?: unknown };
    const updates = Array.isArray(SecurityGroupRules) ? SecurityGroupRules : [];
    return {
      ModifySecurityGroupRulesRequest: {
        GroupId,
        SecurityGroupRule: updates.length === 1 ? updates[0] : updates,
      },
    };
  }
  return toTrail(input) ?? null;
}

function userIdentity(ctx: SandboxContext, who: CallIdentity): Record<string, unknown> | undefined {
  const identity = callerIdentity(ctx, who);
  return identity && who.invokedBy ? { ...identity, invokedBy: who.invokedBy } : identity;
}

function callerIdentity(ctx: SandboxContext, who: CallIdentity): Record<string, unknown> | undefined {
  const caller = who.caller;
  const key = who.accessKeyId ? { accessKeyId: who.accessKeyId } : {};
  if (caller) {
    const session = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(caller.arn);
    if (session) {
      const [, partition, account, role = '', name = ''] = session;
      const roleArn = caller.roleArn ?? `arn:${partition}:iam::${account}:role/${role}`;
      const roleId = uniqueIdOf(ctx, 'AROA', roleArn);
      return {
        type: 'AssumedRole',
        principalId: `${roleId}:${name}`,
        arn: caller.arn,
        accountId: account,
        ...key,
        sessionContext: {
          sessionIssuer: {
            type: 'Role',
            principalId: roleId,
            arn: roleArn,
            accountId: account,
            userName: role,
          },
          attributes: { mfaAuthenticated: 'false' },
        },
      };
    }
    const user = /^arn:aws[a-z-]*:iam::(\d{12}):user\/(?:.*\/)?([^/]+)$/.exec(caller.arn);
    return {
      type: 'IAMUser',
      principalId: uniqueIdOf(ctx, 'AIDA', caller.arn),
      arn: caller.arn,
      accountId: user?.[1] ?? ctx.accountId,
      ...(user ? { userName: user[2] } : {}),
      ...key,
    };
  }
  if (!who.accessKeyId) return undefined;
  const arn = `arn:aws:iam::${ctx.accountId}:user/${who.accessKeyId}`;
  return {
    type: 'IAMUser',
    principalId: uniqueIdOf(ctx, 'AIDA', arn),
    arn,
    accountId: ctx.accountId,
    ...key,
    userName: who.accessKeyId,
  };
}

/**
 * Who made a call: the caller IAM resolved when there is one (RequestContext.caller), else, for a request
 * that came through the endpoint (signed), its access key, else the sandbox administrator (what IAM assumes
 * for keys it did not mint). In-process calls with no caller (the emulated services' own work) have none.
 */
export function callIdentity(
  ctx: SandboxContext,
  rc: RequestContext,
  meta: { region: string; signed?: boolean | undefined; accessKeyId?: string | undefined },
): CallIdentity {
  const caller = rc.caller;
  if (caller) return { caller, accessKeyId: meta.accessKeyId };
  if (!meta.signed) return {};
  return {
    caller: { arn: `arn:aws:iam::${ctx.accountId}:user/sandbox-admin` },
    accessKeyId: meta.accessKeyId,
  };
}

/** The detail of the CloudTrail record of `call` (undefined: not recorded). */
export function cloudTrailDetail(
  ctx: SandboxContext,
  call: RecordedCall,
): Record<string, unknown> | undefined {
  const identity = userIdentity(ctx, call);
  if (!identity || READ_ONLY.test(call.operation)) return undefined;
  const err = call.error instanceof Error ? (call.error as Error & { code?: string }) : undefined;
  return {
    eventVersion: '1.09',
    userIdentity: identity,
    eventTime: ctx.clock
      .now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z'),
    eventSource: `${call.service}.amazonaws.com`,
    eventName: cloudTrailEventName(call.service, call.operation) ?? call.operation,
    awsRegion: call.region,
    // A service acting for the caller is named as the source, as CloudTrail does.
    sourceIPAddress: call.invokedBy ?? '127.0.0.1',
    userAgent: call.invokedBy ?? 'aws-sdk-js/3 (drift-remediation sandbox)',
    requestParameters: requestParameters(call.service, call.operation, call.input),
    responseElements: err ? null : (toTrail(call.output) ?? null),
    ...(err ? { errorCode: err.code ?? err.name, errorMessage: err.message } : {}),
    requestID: call.requestId,
    eventID: randomUUID(),
    readOnly: false,
    eventType: 'AwsApiCall',
    managementEvent: true,
    recipientAccountId: ctx.accountId,
    eventCategory: 'Management',
  };
}

/**
 * The request pipeline's observer: records a finished call (its output or its error) and delivers the event
 * after the configured delay. Never throws and never delays the call.
 */
export function recordApiCall(ctx: SandboxContext, call: RecordedCall): void {
  const s = settings.get(ctx.home) ?? DEFAULT_CLOUDTRAIL;
  if (!s.enabled || !s.services.includes(call.service)) return;
  const detail = cloudTrailDetail(ctx, call);
  if (!detail) return;
  void (async () => {
    if (s.deliverySeconds > 0) await ctx.clock.sleep(s.deliverySeconds);
    await ctx.putEvent({
      source: `aws.${call.service}`,
      'detail-type': 'AWS API Call via CloudTrail',
      resources: [],
      detail,
      time: String(detail.eventTime),
    });
  })().catch((e: unknown) =>
    ctx.log(`cloudtrail: delivery failed: ${e instanceof Error ? e.message : String(e)}`),
  );
}

/**
 * A call an emulated service makes itself for a customer (CloudFormation provisioning a stack's resource):
 * recorded with the identity it acts as and `invokedBy` the service, as CloudTrail shows it.
 */
export function recordServiceCall(
  ctx: SandboxContext,
  call: Omit<RecordedCall, 'requestId' | 'region'> & { region?: string; invokedBy: string },
): void {
  recordApiCall(ctx, { region: ctx.region, requestId: randomUUID(), ...call });
}

/** Runs `handler` and records the call's result (or error) as CloudTrail would. */
export async function observed<T>(
  ctx: SandboxContext,
  call: Omit<RecordedCall, 'output' | 'error'>,
  handler: () => Promise<T> | T,
): Promise<T> {
  try {
    const output = await handler();
    recordApiCall(ctx, { ...call, output });
    return output;
  } catch (error) {
    recordApiCall(ctx, { ...call, error });
    throw error;
  }
}
