/**
 * The execution state, as the state machine carries it (JSONPath, `$`), and each task's slice of it.
 * Every task parses its input with these schemas (bad input → InvalidInputError, nothing changed)
 * and returns the documented result, which the state machine stores at the named ResultPath.
 *
 *   $.event         RemediationEvent      execution input, from intake
 *   $.plan          PlanResult            Plan remediation
 *   $.confirmation  ConfirmationResult    Confirm non-compliance
 *   $.drift         DriftState            Detect drift / Check drift detection / Describe drift
 *   $.approval      ApprovalDecision      Request approval (only when required)
 *   $.slot          SlotState             Acquire remediation slot / Release remediation slot
 *   $.runbook       RunbookState          Start runbook (its callback: the automation's end)
 *   $.verification  VerificationState     Re-check drift / Wait for compliance (its callback)
 *   $.error         { Error, Cause }      any Catch
 *   $.outcome       OutcomeRecord         Record outcome
 */
import { AUDIT_OUTCOME_NAMES, OUTCOME_NAMES } from './outcome-names';
import * as z from './zod';

export const ACCOUNT_ID = /^\d{12}$/;
export const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

export const EventSource = z.enum(['config', 'cloudformation', 'sweep', 'manual']);
export type EventSource = z.infer<typeof EventSource>;

/** A normalized drift/non-compliance event. Produced by intake (and the sweep), the execution input's `event`. */
export const RemediationEvent = z.object({
  /** EventBridge event id, or a synthetic id for sweep/manual. */
  eventId: z.string().check(z.minLength(1), z.maxLength(128)),
  source: EventSource,
  /** Config rule name; absent for CloudFormation stack-drift events. */
  configRuleName: z.optional(z.string().check(z.regex(/^[A-Za-z0-9_\-.]{1,128}$/))),
  /**
   * CloudFormation resource type, e.g. AWS::EC2::SecurityGroup (Config uses the same names), or Config's
   * account pseudo-type `AWS::::Account` (intake checks Config events' types against Config's list).
   */
  resourceType: z.string().check(z.regex(/^AWS::(?:[A-Za-z0-9]+)?::[A-Za-z0-9]+$/)),
  /** Physical id: sg-…, bucket name, role name (intake resolves Config's AROA… ids), function name, stack name. */
  resourceId: z.string().check(z.minLength(1), z.maxLength(2048)),
  /**
   * The id Config records the resource by, when it is not the physical id: an IAM role's unique id
   * (AROA…). Config reads (compliance, waits) use it; everything else uses resourceId.
   */
  configResourceId: z.optional(z.string().check(z.regex(/^[A-Z0-9]{16,128}$/))),
  awsAccountId: z.string().check(z.regex(ACCOUNT_ID)),
  awsRegion: z.string().check(z.regex(REGION)),
  /** NON_COMPLIANT for Config, DRIFTED for CloudFormation. */
  complianceType: z.enum(['NON_COMPLIANT', 'DRIFTED']),
  /** ISO-8601; Config's newEvaluationResult.resultRecordedTime / orderingTimestamp. Newer wins. */
  orderingTimestamp: z.iso.datetime({ offset: true }),
  stackName: z.optional(z.string()),
  stackId: z.optional(z.string()),
  logicalResourceId: z.optional(z.string()),
  /**
   * CloudFormation drift events: the drifted property paths (dotted, list indices dropped, e.g.
   * `SecurityGroupEgress`), so a policy entry can match on them (tasks/shared/policy/match.ts).
   */
  driftedProperties: z.optional(
    z
      .array(z.string().check(z.regex(/^[A-Za-z0-9]+(\.[A-Za-z0-9]+)*$/), z.maxLength(256)))
      .check(z.maxLength(64)),
  ),
  /**
   * Sweep re-finds of an evaluation whose execution ended without VERIFIED: 1, 2, … (absent: 0). Part of
   * the execution name, so each generation is a new execution and a redelivery of one is absorbed.
   */
  generation: z.optional(z.number().check(z.int(), z.gte(1), z.lte(100))),
  /** Who asked for a manual start (IAM principal / email); they may not approve their own request. */
  requestedBy: z.optional(z.string().check(z.maxLength(256))),
});
export type RemediationEvent = z.infer<typeof RemediationEvent>;

/** The event as Config names its resource (configResourceId as the id), for Config reads and wait keys. */
export function configSubjectOf<T extends Pick<RemediationEvent, 'resourceId' | 'configResourceId'>>(
  event: T,
): T {
  return event.configResourceId ? { ...event, resourceId: event.configResourceId } : event;
}

/** The execution input. */
export const ExecutionInput = z.object({ event: RemediationEvent });
export type ExecutionInput = z.infer<typeof ExecutionInput>;

export const ApprovalMode = z.enum(['auto', 'required', 'notify-only']);
export type ApprovalMode = z.infer<typeof ApprovalMode>;

/** A runbook parameter source in the policy: a literal, or a dotted path into { event, drift, plan }. */
export const ParameterSource = z.union([
  z.strictObject({ value: z.union([z.string(), z.array(z.string())]) }),
  z.strictObject({
    /** e.g. event.resourceId, drift.expected.SecurityGroupIngress, drift.propertyDifferences */
    from: z.string().check(z.regex(/^(event|drift|plan)(\.[A-Za-z0-9_]+)*$/)),
    /**
     * string (default): String(value); json: JSON.stringify(value); list: one string per element.
     * Named conversions (tasks/shared/parameters.ts): ec2IpPermissions, jsonPatchSet,
     * cloudControlPatch, present.
     */
    as: z._default(
      z.enum(['string', 'json', 'list', 'ec2IpPermissions', 'jsonPatchSet', 'cloudControlPatch', 'present']),
      'string',
    ),
    /** Used when the path resolves to nothing (e.g. drift fields for a resource outside any stack). */
    default: z.optional(z.union([z.string(), z.array(z.string())])),
  }),
]);
export type ParameterSource = z.infer<typeof ParameterSource>;

/** `$.plan`: the resolved policy entry and the decision. */
export const PlanResult = z.object({
  decision: z.enum(['remediate', 'skip', 'escalate']),
  reason: z.string(),
  /** account/region/type/id; the key for leases, outcomes and the loop breaker. */
  resourceKey: z.string(),
  policyEntryId: z.optional(z.string()),
  /** `plan`: the entry is in plan mode — after drift detection the workflow records PLANNED and changes nothing. */
  mode: z.optional(z.literal('plan')),
  runbook: z.optional(
    z.object({
      documentName: z.string(),
      firstParty: z.boolean(),
      parameters: z.record(z.string(), ParameterSource),
    }),
  ),
  approval: z.object({
    mode: ApprovalMode,
    /** true when the workflow must wait for a decision (mode required). */
    required: z.boolean(),
    approvers: z.array(z.string()),
    ttlSeconds: z.number().check(z.int(), z.positive()),
  }),
  concurrency: z.object({
    perRunbook: z.number().check(z.int(), z.positive()),
    global: z.number().check(z.int(), z.positive()),
    /** Longest wait in the slot queue (TimeoutSecondsPath of Acquire remediation slot); set by plan. */
    maxQueueSeconds: z.optional(z.number().check(z.int(), z.positive())),
    /** Cap per account and region of the resource (policy concurrency.perAccountRegion); absent: none. */
    perAccountRegion: z.optional(z.number().check(z.int(), z.positive())),
  }),
  attempts: z.object({
    max: z.number().check(z.int(), z.gte(1), z.lte(5)),
    retryAfterSeconds: z.number().check(z.int(), z.gte(1)),
  }),
  /** Set when a breaker decided the escalation: the blast-radius window (one aggregated notice per window). */
  breaker: z.optional(
    z.object({
      kind: z.literal('blast-radius'),
      windowStart: z.string(),
      max: z.number().check(z.int(), z.positive()),
    }),
  ),
  verification: z.object({
    timeoutSeconds: z.number().check(z.int(), z.positive()),
    intervalSeconds: z.number().check(z.int(), z.positive()),
    /** Verification polls allowed (timeoutSeconds / intervalSeconds, rounded up, capped). */
    maxPolls: z.number().check(z.int(), z.positive()),
  }),
});
export type PlanResult = z.infer<typeof PlanResult>;

/** `$.confirmation` */
export const ConfirmationResult = z.object({
  stillNonCompliant: z.boolean(),
  resourceExists: z.boolean(),
  /** Config's current complianceType for (rule, resource), or NOT_APPLICABLE when no rule applies. */
  currentCompliance: z.string(),
  reason: z.string(),
});
export type ConfirmationResult = z.infer<typeof ConfirmationResult>;

export const PropertyDifference = z.object({
  PropertyPath: z.string(),
  ExpectedValue: z.string(),
  ActualValue: z.string(),
  DifferenceType: z.enum(['ADD', 'REMOVE', 'NOT_EQUAL']),
});
export type PropertyDifference = z.infer<typeof PropertyDifference>;

/** `$.drift`: built up by Detect drift, Check drift detection, Describe drift. */
export const DriftState = z.object({
  /** false when the resource is not managed by a CloudFormation stack (policy-only remediation). */
  inStack: z.boolean(),
  mode: z.enum(['resource', 'stack', 'none']),
  stackName: z.optional(z.string()),
  logicalResourceId: z.optional(z.string()),
  /** DetectStackDrift id (stack mode). */
  detectionId: z.optional(z.string()),
  /** DETECTION_IN_PROGRESS | DETECTION_COMPLETE | DETECTION_FAILED */
  detectionStatus: z.string(),
  /** Polls done so far; bounded by maxPolls. */
  polls: z.number().check(z.int(), z.gte(0)),
  maxPolls: z.number().check(z.int(), z.positive()),
  /** Next Wait (SecondsPath $.drift.waitSeconds): sized so the lag stays ≤ 10 % of the detection time. */
  waitSeconds: z.number().check(z.int(), z.gte(1)),
  /** ISO time the stack-level detection began (stack mode): later waits are 10 % of the time elapsed since. */
  detectionStartedAt: z.optional(z.string()),
  /** Set by Describe drift. IN_SYNC | MODIFIED | DELETED | NOT_CHECKED | UNKNOWN */
  resourceDriftStatus: z.optional(z.string()),
  expected: z.optional(z.record(z.string(), z.unknown())),
  actual: z.optional(z.record(z.string(), z.unknown())),
  propertyDifferences: z.optional(z.array(PropertyDifference)),
  /** Per top-level list property: elements present in actual but not in expected (e.g. an extra ingress rule). */
  added: z.optional(z.record(z.string(), z.array(z.unknown()))),
  /** Per top-level list property: elements expected but missing from actual (e.g. a detached policy). */
  removed: z.optional(z.record(z.string(), z.array(z.unknown()))),
  /** IN_SYNC with the template but still NON_COMPLIANT: the template itself violates the rule. */
  templateViolatesRule: z.optional(z.boolean()),
});
export type DriftState = z.infer<typeof DriftState>;

/** `$.approval`: the SendTaskSuccess output of Request approval. */
export const ApprovalDecision = z.object({
  approvalId: z.string(),
  decision: z.literal('approved'),
  approver: z.string(),
  comment: z.optional(z.string()),
  decidedAt: z.string(),
});
export type ApprovalDecision = z.infer<typeof ApprovalDecision>;

/** Cause carried by SendTaskFailure(error = ApprovalRejected) (JSON string). */
export const ApprovalRejection = z.object({
  approvalId: z.string(),
  decision: z.literal('rejected'),
  approver: z.string(),
  comment: z.optional(z.string()),
  decidedAt: z.string(),
});
export type ApprovalRejection = z.infer<typeof ApprovalRejection>;

/** `$.slot`: the lease Acquire remediation slot's token is completed with (or what a release left). */
export const SlotState = z.object({
  acquired: z.boolean(),
  /** Admission scopes this execution holds a unit of (`global`, `runbook#<doc>`). */
  scopes: z.array(z.string()),
  grantedAt: z.optional(z.string()),
  /** Seconds spent in the slot queue. */
  queuedSeconds: z.optional(z.number().check(z.gte(0))),
});
export type SlotState = z.infer<typeof SlotState>;

/** `$.runbook` */
export const RunbookState = z.object({
  /** 1-based attempt number of the current automation (0 before the first start). */
  attempt: z.number().check(z.int(), z.gte(0)),
  automationExecutionId: z.optional(z.string()),
  documentName: z.optional(z.string()),
  /** Pending | InProgress | Waiting | Success | Failed | TimedOut | Cancelled | … (SSM's statuses). */
  status: z.optional(z.string()),
  /** Success → done; Failed → retry or give up; running only inside the wait (never seen by the workflow). */
  phase: z.enum(['not-started', 'running', 'succeeded', 'failed']),
  /** true when phase=failed and attempts remain. */
  retryable: z.optional(z.boolean()),
  failureMessage: z.optional(z.string()),
  /** Wait before a re-attempt (SecondsPath $.runbook.waitSeconds): full-jitter backoff from the plan's retryAfterSeconds. */
  waitSeconds: z.number().check(z.int(), z.gte(1)),
});
export type RunbookState = z.infer<typeof RunbookState>;

/** `$.verification` */
export const VerificationState = z.object({
  /** pending → keep polling; verified → VERIFIED; failed → NOT_VERIFIED. */
  status: z.enum(['pending', 'verified', 'failed']),
  driftStatus: z.optional(z.string()),
  compliance: z.optional(z.string()),
  polls: z.number().check(z.int(), z.gte(0)),
  maxPolls: z.number().check(z.int(), z.positive()),
  waitSeconds: z.number().check(z.int(), z.gte(1)),
  reason: z.optional(z.string()),
  /** Whether a Config re-evaluation was requested (or coalesced into one already pending). */
  reevaluationRequested: z.optional(z.boolean()),
  /** ISO time verification began (set by the first Re-check drift); compliance results older than it do not verify. */
  startedAt: z.optional(z.string()),
  /** DetectStackDrift id of the verification's own stack-level re-check (stack mode, no Config rule). */
  detectionId: z.optional(z.string()),
});
export type VerificationState = z.infer<typeof VerificationState>;

export const Outcome = z.enum(OUTCOME_NAMES);
export type Outcome = z.infer<typeof Outcome>;
/**
 * What the OUTCOMES table records: the workflow's outcomes plus ABORTED, recorded by abort-cleanup for an
 * execution that ended outside its own states (stopped, timed out, or failed outside a Catch).
 */
export const AuditOutcome = z.enum(AUDIT_OUTCOME_NAMES);
export type AuditOutcome = z.infer<typeof AuditOutcome>;
/** Outcomes that end the execution in Succeed; the others end in Fail (and alarm). */
export const SUCCESS_OUTCOMES: readonly Outcome[] = ['VERIFIED', 'SKIPPED', 'REJECTED', 'PLANNED'];

/** `$.error`, as a Catch writes it. */
export const CaughtError = z.object({ Error: z.string(), Cause: z.optional(z.string()) });
export type CaughtError = z.infer<typeof CaughtError>;

/** `$.outcome` */
export const OutcomeRecord = z.object({
  outcome: Outcome,
  reason: z.string(),
  resourceKey: z.string(),
  executionId: z.string(),
  recordedAt: z.string(),
  /** true when the execution should end in Succeed. */
  succeeded: z.boolean(),
});
export type OutcomeRecord = z.infer<typeof OutcomeRecord>;

/** The resource key used everywhere a resource is identified. */
export function resourceKeyOf(
  e: Pick<RemediationEvent, 'awsAccountId' | 'awsRegion' | 'resourceType' | 'resourceId'>,
) {
  return `${e.awsAccountId}/${e.awsRegion}/${e.resourceType}/${e.resourceId}`;
}
