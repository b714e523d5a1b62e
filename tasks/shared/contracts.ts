/**
 * The execution state, as the state machine carries it (JSONPath, `$`), and each task's slice of it.
 * Every task parses its input with these schemas (bad input → InvalidInputError, nothing changed)
 * and returns the documented result, which the state machine stores at the named ResultPath.
 *
 *   $.event         RemediationEvent      execution input, from intake; as Plan validated it from then on
 *   $.plan          PlanResult            Plan remediation (its result { event, plan } replaces the state:
 *                                         no other key of the execution input outlives it)
 *   $.confirmation  ConfirmationResult    Confirm non-compliance
 *   $.drift         DriftState            Detect drift / Check drift detection / Describe drift
 *   $.approval      ApprovalDecision      Request approval (only when required)
 *   $.slot          SlotState             Acquire remediation slot / Release remediation slot
 *   $.runbook       RunbookState          Start runbook (its callback: the automation's end)
 *   $.verification  VerificationState     Re-check drift / Wait for compliance (its callback)
 *   $.error         { Error, Cause }      any Catch
 *   $.outcome       OutcomeRecord         Record outcome
 *
 * The execution itself (id, name, start time) is not in the state: each task that needs it gets
 * `execution` from the context object (`$$.Execution`) in its Parameters (tasks/shared/execution-ref.ts).
 */

import * as v from 'valibot';
import { AUDIT_OUTCOME_NAMES, OUTCOME_NAMES } from './outcome-names';
import { isoDateTime } from './validation';

export const ACCOUNT_ID = /^\d{12}$/;
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

export const EventSource = v.picklist(['config', 'cloudformation', 'sweep', 'manual']);
export type EventSource = v.InferOutput<typeof EventSource>;

/** A normalized drift/non-compliance event. Produced by intake (and the sweep), the execution input's `event`. */
export const RemediationEvent = v.object({
  /** EventBridge event id, or a synthetic id for sweep/manual. */
  eventId: v.pipe(v.string(), v.minLength(1), v.maxLength(128)),
  source: EventSource,
  /** Config rule name; absent for CloudFormation stack-drift events. */
  configRuleName: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_\-.]{1,128}$/))),
  /**
   * CloudFormation resource type, e.g. AWS::EC2::SecurityGroup (Config uses the same names), or Config's
   * account pseudo-type `AWS::::Account` (intake checks Config events' types against Config's list).
   */
  resourceType: v.pipe(v.string(), v.regex(/^AWS::(?:[A-Za-z0-9]+)?::[A-Za-z0-9]+$/)),
  /** Physical id: sg-…, bucket name, role name (intake resolves Config's AROA… ids), function name, stack name. */
  resourceId: v.pipe(v.string(), v.minLength(1), v.maxLength(2048)),
  /**
   * The id Config records the resource by, when it is not the physical id: an IAM role's unique id
   * (AROA…). Config reads (compliance, waits) use it; everything else uses resourceId.
   */
  configResourceId: v.optional(v.pipe(v.string(), v.regex(/^[A-Z0-9]{16,128}$/))),
  awsAccountId: v.pipe(v.string(), v.regex(ACCOUNT_ID)),
  awsRegion: v.pipe(v.string(), v.regex(REGION)),
  /** NON_COMPLIANT for Config, DRIFTED for CloudFormation. */
  complianceType: v.picklist(['NON_COMPLIANT', 'DRIFTED']),
  /** ISO-8601; Config's newEvaluationResult.resultRecordedTime / orderingTimestamp. Newer wins. */
  orderingTimestamp: isoDateTime(),
  stackName: v.optional(v.string()),
  stackId: v.optional(v.string()),
  logicalResourceId: v.optional(v.string()),
  /**
   * CloudFormation drift events: the drifted property paths (dotted, list indices dropped, e.g.
   * `SecurityGroupEgress`), so a policy entry can match on them (tasks/shared/policy/match.ts).
   */
  driftedProperties: v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.regex(/^[A-Za-z0-9]+(\.[A-Za-z0-9]+)*$/), v.maxLength(256))),
      v.maxLength(64),
    ),
  ),
  /**
   * Sweep re-finds of an evaluation whose execution ended without VERIFIED: 1, 2, … (absent: 0). Part of
   * the execution name, so each generation is a new execution and a redelivery of one is absorbed.
   */
  generation: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(100))),
  /**
   * Who asked for a manual start. Set by the manual-start entry to the caller's IAM principal ARN (with
   * `requesterProof`); from anywhere else it is only a claim (tasks/shared/approvals/requester.ts).
   */
  requestedBy: v.optional(v.pipe(v.string(), v.maxLength(256))),
  /** The manual-start entry's HMAC over the event's fields and `requestedBy`; request-approval checks it. */
  requesterProof: v.optional(v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{43}$/))),
});
export type RemediationEvent = v.InferOutput<typeof RemediationEvent>;

/** The event as Config names its resource (configResourceId as the id), for Config reads and wait keys. */
export function configSubjectOf<T extends Pick<RemediationEvent, 'resourceId' | 'configResourceId'>>(
  event: T,
): T {
  return event.configResourceId ? { ...event, resourceId: event.configResourceId } : event;
}

/** The execution input. */
export const ExecutionInput = v.object({ event: RemediationEvent });
export type ExecutionInput = v.InferOutput<typeof ExecutionInput>;

export const ApprovalMode = v.picklist(['auto', 'required', 'notify-only']);
export type ApprovalMode = v.InferOutput<typeof ApprovalMode>;

/** A runbook parameter source in the policy: a literal, or a dotted path into { event, drift, plan }. */
export const ParameterSource = v.union([
  v.strictObject({ value: v.union([v.string(), v.array(v.string())]) }),
  v.strictObject({
    /** e.g. event.resourceId, drift.expected.SecurityGroupIngress, drift.propertyDifferences */
    from: v.pipe(v.string(), v.regex(/^(event|drift|plan)(\.[A-Za-z0-9_]+)*$/)),
    /**
     * string (default): String(value); json: JSON.stringify(value); list: one string per element.
     * Named conversions (tasks/shared/parameters.ts): ec2IpPermissions, jsonPatchSet,
     * cloudControlPatch, present.
     */
    as: v.optional(
      v.picklist([
        'string',
        'json',
        'list',
        'ec2IpPermissions',
        'jsonPatchSet',
        'cloudControlPatch',
        'present',
      ]),
      'string',
    ),
    /** Used when the path resolves to nothing (e.g. drift fields for a resource outside any stack). */
    default: v.optional(v.union([v.string(), v.array(v.string())])),
  }),
]);
export type ParameterSource = v.InferOutput<typeof ParameterSource>;

/** `$.plan`: the resolved policy entry and the decision. */
export const PlanResult = v.object({
  decision: v.picklist(['remediate', 'skip', 'escalate']),
  reason: v.string(),
  /** account/region/type/id; the key for leases, outcomes and the loop breaker. */
  resourceKey: v.string(),
  policyEntryId: v.optional(v.string()),
  /** `plan`: the entry is in plan mode — after drift detection the workflow records PLANNED and changes nothing. */
  mode: v.optional(v.literal('plan')),
  runbook: v.optional(
    v.object({
      documentName: v.string(),
      firstParty: v.boolean(),
      parameters: v.record(v.string(), ParameterSource),
    }),
  ),
  approval: v.object({
    mode: ApprovalMode,
    /** true when the workflow must wait for a decision (mode required). */
    required: v.boolean(),
    approvers: v.array(v.string()),
    ttlSeconds: v.pipe(v.number(), v.safeInteger(), v.gtValue(0)),
  }),
  concurrency: v.object({
    perRunbook: v.pipe(v.number(), v.safeInteger(), v.gtValue(0)),
    global: v.pipe(v.number(), v.safeInteger(), v.gtValue(0)),
    /** Longest wait in the slot queue (TimeoutSecondsPath of Acquire remediation slot); set by plan. */
    maxQueueSeconds: v.optional(v.pipe(v.number(), v.safeInteger(), v.gtValue(0))),
    /** Cap per account and region of the resource (policy concurrency.perAccountRegion); absent: none. */
    perAccountRegion: v.optional(v.pipe(v.number(), v.safeInteger(), v.gtValue(0))),
  }),
  attempts: v.object({
    max: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(5)),
    retryAfterSeconds: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  }),
  /** Set when a breaker decided the escalation: the blast-radius window (one aggregated notice per window). */
  breaker: v.optional(
    v.object({
      kind: v.literal('blast-radius'),
      windowStart: v.string(),
      max: v.pipe(v.number(), v.safeInteger(), v.gtValue(0)),
    }),
  ),
  verification: v.object({
    timeoutSeconds: v.pipe(v.number(), v.safeInteger(), v.gtValue(0)),
    intervalSeconds: v.pipe(v.number(), v.safeInteger(), v.gtValue(0)),
    /** Verification polls allowed (timeoutSeconds / intervalSeconds, rounded up, capped). */
    maxPolls: v.pipe(v.number(), v.safeInteger(), v.gtValue(0)),
  }),
});
export type PlanResult = v.InferOutput<typeof PlanResult>;

/** `$.confirmation` */
export const ConfirmationResult = v.object({
  stillNonCompliant: v.boolean(),
  resourceExists: v.boolean(),
  /** Config's current complianceType for (rule, resource), or NOT_APPLICABLE when no rule applies. */
  currentCompliance: v.string(),
  reason: v.string(),
});
export type ConfirmationResult = v.InferOutput<typeof ConfirmationResult>;

export const PropertyDifference = v.object({
  PropertyPath: v.string(),
  ExpectedValue: v.string(),
  ActualValue: v.string(),
  DifferenceType: v.picklist(['ADD', 'REMOVE', 'NOT_EQUAL']),
});
export type PropertyDifference = v.InferOutput<typeof PropertyDifference>;

/** `$.drift`: built up by Detect drift, Check drift detection, Describe drift. */
export const DriftState = v.object({
  /** false when the resource is not managed by a CloudFormation stack (policy-only remediation). */
  inStack: v.boolean(),
  mode: v.picklist(['resource', 'stack', 'none']),
  stackName: v.optional(v.string()),
  logicalResourceId: v.optional(v.string()),
  /** DetectStackDrift id (stack mode). */
  detectionId: v.optional(v.string()),
  /** DETECTION_IN_PROGRESS | DETECTION_COMPLETE | DETECTION_FAILED */
  detectionStatus: v.string(),
  /** Polls done so far; bounded by maxPolls. */
  polls: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  maxPolls: v.pipe(v.number(), v.safeInteger(), v.gtValue(0)),
  /** Next Wait (SecondsPath $.drift.waitSeconds): sized so the lag stays ≤ 10 % of the detection time. */
  waitSeconds: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  /** ISO time the stack-level detection began (stack mode): later waits are 10 % of the time elapsed since. */
  detectionStartedAt: v.optional(v.string()),
  /** Set by Describe drift. IN_SYNC | MODIFIED | DELETED | NOT_CHECKED | UNKNOWN */
  resourceDriftStatus: v.optional(v.string()),
  expected: v.optional(v.record(v.string(), v.unknown())),
  actual: v.optional(v.record(v.string(), v.unknown())),
  propertyDifferences: v.optional(v.array(PropertyDifference)),
  /** Per top-level list property: elements present in actual but not in expected (e.g. an extra ingress rule). */
  added: v.optional(v.record(v.string(), v.array(v.unknown()))),
  /** Per top-level list property: elements expected but missing from actual (e.g. a detached policy). */
  removed: v.optional(v.record(v.string(), v.array(v.unknown()))),
  /** IN_SYNC with the template but still NON_COMPLIANT: the template itself violates the rule. */
  templateViolatesRule: v.optional(v.boolean()),
});
export type DriftState = v.InferOutput<typeof DriftState>;

/** `$.approval`: the SendTaskSuccess output of Request approval. */
export const ApprovalDecision = v.object({
  approvalId: v.string(),
  decision: v.literal('approved'),
  approver: v.string(),
  comment: v.optional(v.string()),
  decidedAt: v.string(),
});
export type ApprovalDecision = v.InferOutput<typeof ApprovalDecision>;

/** Cause carried by SendTaskFailure(error = ApprovalRejected) (JSON string). */
export const ApprovalRejection = v.object({
  approvalId: v.string(),
  decision: v.literal('rejected'),
  approver: v.string(),
  comment: v.optional(v.string()),
  decidedAt: v.string(),
});
export type ApprovalRejection = v.InferOutput<typeof ApprovalRejection>;

/** `$.slot`: the lease Acquire remediation slot's token is completed with (or what a release left). */
export const SlotState = v.object({
  acquired: v.boolean(),
  /** Admission scopes this execution holds a unit of (`global`, `runbook#<doc>`). */
  scopes: v.array(v.string()),
  grantedAt: v.optional(v.string()),
  /** Seconds spent in the slot queue. */
  queuedSeconds: v.optional(v.pipe(v.number(), v.minValue(0))),
});
export type SlotState = v.InferOutput<typeof SlotState>;

/** `$.runbook` */
export const RunbookState = v.object({
  /** 1-based attempt number of the current automation (0 before the first start). */
  attempt: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  automationExecutionId: v.optional(v.string()),
  documentName: v.optional(v.string()),
  /** Pending | InProgress | Waiting | Success | Failed | TimedOut | Cancelled | … (SSM's statuses). */
  status: v.optional(v.string()),
  /** Success → done; Failed → retry or give up; running only inside the wait (never seen by the workflow). */
  phase: v.picklist(['not-started', 'running', 'succeeded', 'failed']),
  /** true when phase=failed and attempts remain. */
  retryable: v.optional(v.boolean()),
  failureMessage: v.optional(v.string()),
  /** Wait before a re-attempt (SecondsPath $.runbook.waitSeconds): full-jitter backoff from the plan's retryAfterSeconds. */
  waitSeconds: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
});
export type RunbookState = v.InferOutput<typeof RunbookState>;

/** `$.verification` */
export const VerificationState = v.object({
  /** pending → keep polling; verified → VERIFIED; failed → NOT_VERIFIED. */
  status: v.picklist(['pending', 'verified', 'failed']),
  driftStatus: v.optional(v.string()),
  compliance: v.optional(v.string()),
  polls: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  maxPolls: v.pipe(v.number(), v.safeInteger(), v.gtValue(0)),
  waitSeconds: v.pipe(v.number(), v.safeInteger(), v.minValue(1)),
  reason: v.optional(v.string()),
  /** Whether a Config re-evaluation was requested (or coalesced into one already pending). */
  reevaluationRequested: v.optional(v.boolean()),
  /** ISO time verification began (set by the first Re-check drift); compliance results older than it do not verify. */
  startedAt: v.optional(v.string()),
  /** DetectStackDrift id of the verification's own stack-level re-check (stack mode, no Config rule). */
  detectionId: v.optional(v.string()),
});
export type VerificationState = v.InferOutput<typeof VerificationState>;

export const Outcome = v.picklist(OUTCOME_NAMES);
export type Outcome = v.InferOutput<typeof Outcome>;
/**
 * What the OUTCOMES table records: the workflow's outcomes plus ABORTED, recorded by abort-cleanup for an
 * execution that ended outside its own states (stopped, timed out, or failed outside a Catch).
 */
export const AuditOutcome = v.picklist(AUDIT_OUTCOME_NAMES);
export type AuditOutcome = v.InferOutput<typeof AuditOutcome>;
/** Outcomes that end the execution in Succeed; the others end in Fail (and alarm). */
export const SUCCESS_OUTCOMES: readonly Outcome[] = ['VERIFIED', 'SKIPPED', 'REJECTED', 'PLANNED'];

/** `$.error`, as a Catch writes it. */
export const CaughtError = v.object({ Error: v.string(), Cause: v.optional(v.string()) });
export type CaughtError = v.InferOutput<typeof CaughtError>;

/** `$.outcome` */
export const OutcomeRecord = v.object({
  outcome: Outcome,
  reason: v.string(),
  resourceKey: v.string(),
  executionId: v.string(),
  recordedAt: v.string(),
  /** true when the execution should end in Succeed. */
  succeeded: v.boolean(),
});
export type OutcomeRecord = v.InferOutput<typeof OutcomeRecord>;

/** A plain object (not null, not an array). */
export const isRecord = (o: unknown): o is Record<string, unknown> =>
  !!o && typeof o === 'object' && !Array.isArray(o);

/**
 * The input of a task given the whole state: a task whose slices may not exist yet on every path to it
 * gets `'state.$': '$'` (a JSONPath Parameters path that does not exist fails the state) and, beside it,
 * what is not in the state (the `execution` from the context object, a task token, …). This lifts the
 * state's keys to the top level; a key beside `state` wins over the state's own. Input without `state`
 * is returned as it is.
 */
export function liftState(input: unknown): unknown {
  if (!isRecord(input)) return input;
  const { state, ...rest } = input;
  return isRecord(state) ? { ...state, ...rest } : rest;
}

/** The resource key used everywhere a resource is identified. */
export function resourceKeyOf(
  e: Pick<RemediationEvent, 'awsAccountId' | 'awsRegion' | 'resourceType' | 'resourceId'>,
) {
  return `${e.awsAccountId}/${e.awsRegion}/${e.resourceType}/${e.resourceId}`;
}
