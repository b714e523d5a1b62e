/**
 * The remediation policy: the one registry that maps a Config rule or a drifted resource type to a
 * runbook, with approvals, concurrency caps, attempts, loop breaker and exceptions.
 * Reference: docs/policy.md. The CDK app, the sandbox and the tests all load the same file.
 */

import * as v from 'valibot';
import { ACCOUNT_ID, ApprovalMode, ParameterSource, REGION } from '../contracts';
import { NotificationsPolicy } from '../notifications-policy';
import { isoDate, isoDateTime } from '../validation';

/** Step Functions TimeoutSeconds above ~2,147,483 s overflows Node timers in the local engine; AWS allows a year. We cap approvals at 7 days. */
export const MAX_APPROVAL_TTL_SECONDS = 7 * 24 * 3600;
export const MAX_ATTEMPTS = 5;
/** How long an execution may wait in the remediation-slot queue: default 6 h, at most 7 days (as approvals). */
export const DEFAULT_MAX_QUEUE_SECONDS = 6 * 3600;
export const MAX_QUEUE_SECONDS = 7 * 24 * 3600;
/** First-party runbooks are named `${RUNBOOK_PREFIX}<Name>` and live in runbooks/<full name>.yaml. */
export const RUNBOOK_PREFIX = 'DriftRemediation-';
const AWS_MANAGED_PREFIXES = ['AWS-', 'AWSConfigRemediation-', 'AWSSupport-'];

export function isFirstPartyRunbook(name: string): boolean {
  return name.startsWith(RUNBOOK_PREFIX);
}
export function isAwsManagedRunbook(name: string): boolean {
  return AWS_MANAGED_PREFIXES.some((p) => name.startsWith(p));
}

const RuleName = v.pipe(
  v.string(),
  v.regex(/^[A-Za-z0-9_\-.]{1,128}$/, 'must be a Config rule name (letters, digits, _ - .)'),
);
const ResourceType = v.pipe(
  v.string(),
  v.regex(/^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$/, 'must look like AWS::Service::Type'),
);
/** A dotted path into a resource's template properties: `SecurityGroupEgress`, `BucketEncryption.ServerSideEncryptionConfiguration`. */
export const PropertyPath = v.pipe(
  v.string(),
  v.regex(
    /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*){0,3}$/,
    'must be a dotted property path like SecurityGroupEgress',
  ),
);
const AccountId = v.pipe(v.string(), v.regex(ACCOUNT_ID, 'must be a 12-digit account id'));
const RegionName = v.pipe(v.string(), v.regex(REGION, 'must be a region name like us-west-2'));
const OuId = v.pipe(
  v.string(),
  v.regex(/^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/, 'must be an OU id like ou-ab12-cd34ef56'),
);
/** What an entry does with a confirmed drift: run the runbook, or only record what it would run (PLANNED). */
export const EntryMode = v.picklist(['remediate', 'plan']);
export type EntryMode = v.InferOutput<typeof EntryMode>;
const Duration = (max: number) => v.pipe(v.number(), v.safeInteger(), v.gtValue(0), v.maxValue(max));

const Approval = v.strictObject({
  mode: ApprovalMode,
  /** Who may decide (emails or IAM principal names). Required when mode is `required`. */
  approvers: v.array(v.pipe(v.string(), v.minLength(3), v.maxLength(256))),
  ttlSeconds: Duration(MAX_APPROVAL_TTL_SECONDS),
});

const Concurrency = v.strictObject({
  /** Remediations running this runbook at once. */
  perRunbook: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(100)),
  /** Remediations running at once across all runbooks. */
  global: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(1000)),
  /** Remediations running at once on the resources of one account and region (any runbook); unset: no such cap. */
  perAccountRegion: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(1000))),
  /** How long an execution waits in the slot queue before it is escalated (Step Functions task timeout). */
  maxQueueSeconds: v.optional(Duration(MAX_QUEUE_SECONDS), DEFAULT_MAX_QUEUE_SECONDS),
});

const Attempts = v.strictObject({
  max: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(MAX_ATTEMPTS)),
  retryAfterSeconds: Duration(3600),
});

const LoopBreaker = v.strictObject({
  /** Look-back window. */
  windowSeconds: Duration(30 * 24 * 3600),
  /** Remediations of one resource (successful ones included) allowed in the window before escalating. */
  maxRemediations: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(100)),
});

const BlastRadius = v.strictObject({
  windowSeconds: Duration(24 * 3600),
  /** Remediations started across all resources in the window before new ones escalate instead. */
  maxRemediations: v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(10_000)),
  /**
   * Or this percentage of the in-scope resources (Config's count of the policy's resource types), when
   * larger: the budget is max(maxRemediations, ceil(maxPercent % × in-scope)), so it grows with the fleet.
   */
  maxPercent: v.optional(v.pipe(v.number(), v.gtValue(0), v.maxValue(100))),
});

const Verification = v.strictObject({
  timeoutSeconds: Duration(24 * 3600),
  intervalSeconds: Duration(3600),
});

const Exception = v.strictObject({
  resourceId: v.pipe(v.string(), v.minLength(1)),
  /** Restrict to one resource type (default: any). */
  resourceType: v.optional(ResourceType),
  reason: v.pipe(v.string(), v.minLength(3)),
  /** ISO date or date-time; the exception stops applying after it. */
  expires: v.union([isoDate(), isoDateTime()]),
});

const Defaults = v.strictObject({
  approval: Approval,
  concurrency: Concurrency,
  attempts: Attempts,
  loopBreaker: LoopBreaker,
  blastRadius: BlastRadius,
  verification: Verification,
});

const Entry = v.strictObject({
  /** Stable id, used in outcomes and metrics. */
  id: v.pipe(
    v.string(),
    v.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and hyphens'),
  ),
  description: v.optional(v.string()),
  match: v.strictObject({
    /** Config rule names this entry handles (NON_COMPLIANT events). */
    configRules: v.optional(v.array(RuleName), []),
    /** Resource types this entry handles; for CloudFormation drift events, the drifted resource's type. */
    resourceTypes: v.pipe(v.array(ResourceType), v.minLength(1)),
    /** Also handle CloudFormation drift events (no Config rule) for these types. */
    cloudFormationDrift: v.optional(v.boolean(), false),
    /**
     * Drifted property paths this entry handles (CloudFormation drift events only): it matches an event
     * whose every drifted property is at or under one of these, and then wins over an entry for the same
     * type that names none. Empty: any drift of these types.
     */
    properties: v.optional(v.array(PropertyPath), []),
    /** Only events from these accounts (with `ous`: either). Empty with `ous` empty: any account in scope. */
    accounts: v.optional(v.array(AccountId), []),
    /** Only events from accounts in these OUs (the `organization.members` list says which OU an account is in). */
    ous: v.optional(v.array(OuId), []),
    /** Only events from these regions. Empty: any region in scope. */
    regions: v.optional(v.array(RegionName), []),
  }),
  /**
   * `remediate` (default): run the runbook. `plan`: a dry run — detect drift, confirm non-compliance and
   * plan as usual, then record PLANNED with the runbook, its resolved parameters and the diff; no slot, no
   * approval, no runbook, no blast-radius budget spent.
   */
  mode: v.optional(EntryMode, 'remediate'),
  /** First-party (DriftRemediation-…, a file in runbooks/) or AWS-managed (AWS-…, AWSConfigRemediation-…) document name. */
  runbook: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{3,128}$/)),
  /** Runbook parameters; AutomationAssumeRole is added by the workflow. */
  parameters: v.optional(
    v.record(v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9]*$/)), ParameterSource),
    {},
  ),
  approval: v.optional(v.partial(Approval)),
  concurrency: v.optional(v.partial(v.pick(Concurrency, ['perRunbook']))),
  attempts: v.optional(v.partial(Attempts)),
  loopBreaker: v.optional(v.partial(LoopBreaker)),
  verification: v.optional(v.partial(Verification)),
  /** Explicit exceptions: these resources are never remediated by this entry until `expires`. */
  exceptions: v.optional(v.array(Exception), []),
});

/** Tag keys AWS reserves (`aws:`) cannot be set by anyone, so a scope on one could never be opted into. */
const ScopeTagKey = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(128),
  v.check((k) => !k.toLowerCase().startsWith('aws:'), 'must not start with aws: (reserved by AWS)'),
);

/**
 * Which resources the deployed Config rules evaluate: those carrying this tag (and value). Resources opt
 * in by tag, so the project's own resources — which never carry it (synth test) — are never evaluated.
 */
export const RuleScope = v.strictObject({
  tagKey: ScopeTagKey,
  tagValue: v.optional(v.pipe(v.string(), v.minLength(1), v.maxLength(256))),
});
export type RuleScope = v.InferOutput<typeof RuleScope>;
export const DEFAULT_RULE_SCOPE = { tagKey: 'drift-remediation:scope', tagValue: 'managed' } as const;

/** `*` and `?` wildcards as IAM's StringLike/ARN matching reads them. */
const NamePattern = (what: string, chars: string) =>
  v.pipe(
    v.string(),
    v.minLength(1),
    v.maxLength(512),
    v.regex(
      new RegExp(`^[${chars}*?]+$`),
      `must be a ${what} pattern (${chars.replaceAll('\\', '')} and * ?)`,
    ),
  );

/**
 * What the runbooks may change (docs/security.md "Scoping the automation role"). Every mutating right of
 * the AutomationAssumeRole is confined to resources that match: carrying `tag` (services with tag
 * conditions: EC2, Lambda, IAM, S3 buckets with ABAC on, CloudFormation stacks), belonging to a stack named
 * in `stacks` (the aws:cloudformation:stack-name tag CloudFormation sets on EC2, Lambda and S3 resources;
 * the stack ARN for change sets), or named by a name/path pattern (S3 buckets without ABAC, IAM roles and
 * customer managed policies, which CloudFormation does not tag). The project's own stack is always denied.
 */
const RunbookScope = v.strictObject({
  /** The opt-in tag (values may use * and ?). Default: the policy's `scope` tag, the one the Config rules use. */
  tag: v.optional(
    v.strictObject({
      key: ScopeTagKey,
      values: v.pipe(v.array(v.pipe(v.string(), v.minLength(1), v.maxLength(256))), v.minLength(1)),
    }),
  ),
  /** CloudFormation stack name patterns whose resources may be changed. */
  stacks: v.optional(v.array(NamePattern('stack name', 'A-Za-z0-9\\-')), []),
  /** S3 bucket name patterns (S3 evaluates tag conditions only on buckets with ABAC enabled). */
  s3Buckets: v.optional(v.array(NamePattern('bucket name', 'a-z0-9.\\-')), []),
  /** IAM role names with path (`app-*`, `workloads/*`): CloudFormation puts no aws:cloudformation tags on IAM. */
  iamRoles: v.optional(v.array(NamePattern('role name with path', 'A-Za-z0-9+=,.@_/\\-')), []),
  /** Customer managed policy names with path. */
  iamPolicies: v.optional(v.array(NamePattern('policy name with path', 'A-Za-z0-9+=,.@_/\\-')), []),
  /** IAM user and group names with path (AWS-managed runbooks that detach policies from them). */
  iamUsers: v.optional(v.array(NamePattern('user name with path', 'A-Za-z0-9+=,.@_/\\-')), []),
  iamGroups: v.optional(v.array(NamePattern('group name with path', 'A-Za-z0-9+=,.@_/\\-')), []),
  /**
   * Resource types the in-scope stacks contain, beyond the remediated ones: the stack-drift check role
   * may read them (their schemas' read handler permissions), so drift detection covers whole stacks.
   */
  stackResourceTypes: v.optional(v.array(ResourceType), []),
});
/** runbookScope with its tag resolved. */
export type RunbookScope = Omit<v.InferOutput<typeof RunbookScope>, 'tag'> & {
  tag: { key: string; values: string[] };
};

/** AWS Config's MaximumExecutionFrequency values (ConfigRule API). */
export const EXECUTION_FREQUENCIES = [
  'One_Hour',
  'Three_Hours',
  'Six_Hours',
  'Twelve_Hours',
  'TwentyFour_Hours',
] as const;
export type ExecutionFrequency = (typeof EXECUTION_FREQUENCIES)[number];

/**
 * AWS managed rules triggered by configuration changes only: AWS refuses a MaximumExecutionFrequency on
 * them ("A maximum execution frequency for this rule is not allowed because only a change in resources
 * triggers this managed rule."). The ones this project's policy uses; others are left to AWS to judge.
 */
export const CHANGE_TRIGGERED_RULES: ReadonlySet<string> = new Set([
  'INCOMING_SSH_DISABLED',
  'RESTRICTED_INCOMING_TRAFFIC',
  'S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED',
  'S3_BUCKET_VERSIONING_ENABLED',
  'S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED',
  'IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS',
  'LAMBDA_FUNCTION_SETTINGS_CHECK',
  'IAM_POLICY_BLACKLISTED_CHECK',
]);

const ConfigRuleDecl = v.strictObject({
  name: RuleName,
  /** AWS managed rule identifier, e.g. INCOMING_SSH_DISABLED. */
  sourceIdentifier: v.pipe(v.string(), v.regex(/^[A-Z0-9_]+$/)),
  resourceTypes: v.pipe(v.array(ResourceType), v.minLength(1)),
  inputParameters: v.optional(v.record(v.string(), v.string())),
  /** Create this rule with the stack (false: it already exists in the account). */
  deploy: v.optional(v.boolean(), false),
  /** This rule's scope instead of the policy's `scope` (deployed rules only). */
  scope: v.optional(RuleScope),
  /**
   * How often a deployed rule with a periodic trigger runs (its MaximumExecutionFrequency). Absent: AWS's
   * default, 24 hours (the stack-drift rule's is written into the template as `TwentyFour_Hours`).
   */
  maximumExecutionFrequency: v.optional(v.picklist(EXECUTION_FREQUENCIES)),
});

/**
 * A principal the CloudTrail fast path leaves alone: an IAM role or user ARN, or an assumed-role session ARN,
 * with `*` matching any run of characters (`arn:aws:iam::123456789012:role/deploy-*`).
 */
export const PrincipalPattern = v.pipe(
  v.string(),
  v.maxLength(2048),
  v.regex(
    /^arn:(aws[a-z-]*|\*):(iam|sts)::(\d{12}|\*):[A-Za-z0-9+=,.@_/*-]+$/,
    'must be an IAM role/user ARN or an assumed-role session ARN (may use *)',
  ),
);

/** The CloudTrail fast path ("AWS API Call via CloudTrail" → suspected drift → checked at once). */
export const FastPath = v.strictObject({
  /** false: no CloudTrail rule is deployed; Config and CloudFormation drift detection only. */
  enabled: v.optional(v.boolean(), true),
  /** Principals whose changes are intended (deployment pipelines): their calls never start a remediation. */
  trustedDeployers: v.optional(v.pipe(v.array(PrincipalPattern), v.maxLength(50)), []),
});
export type FastPath = v.InferOutput<typeof FastPath>;

/** A member account of the organization (docs/policy.md "Organization"). */
const Member = v.strictObject({
  account: AccountId,
  /** The OU the account is in, for entries scoped with `match.ous`. */
  ou: v.optional(OuId),
  /** true: events from this account are recorded SKIPPED (with `pausedReason`); nothing is assumed or run. */
  paused: v.optional(v.boolean(), false),
  pausedReason: v.optional(v.pipe(v.string(), v.minLength(3), v.maxLength(256))),
});

/** Name of the member execution role the member stack creates in every member account. */
export const DEFAULT_MEMBER_ROLE_NAME = 'DriftRemediationMember';

/**
 * Organization scale: which accounts and regions the central deployment acts in. Absent: the central
 * account only, in any region (single-account deployments, as before).
 */
export const Organization = v.strictObject({
  /** The organization id; the central event bus admits only principals of it (aws:PrincipalOrgID). */
  id: v.pipe(v.string(), v.regex(/^o-[a-z0-9]{10,32}$/, 'must be an organization id like o-a1b2c3d4e5')),
  /** Regions acted in (the member stack's StackSet regions). */
  regions: v.pipe(v.array(RegionName), v.minLength(1)),
  /** The member accounts; an event from any other account (but the central one) is SKIPPED. */
  members: v.optional(v.array(Member), []),
  /** The member execution role's name (the member stack's `memberRoleName`). */
  memberRoleName: v.optional(
    v.pipe(v.string(), v.regex(/^[A-Za-z0-9+=,.@_-]{1,64}$/, 'must be an IAM role name')),
    DEFAULT_MEMBER_ROLE_NAME,
  ),
});
export type Organization = v.InferOutput<typeof Organization>;

export const PolicyDocument = v.strictObject({
  version: v.literal(1),
  defaults: Defaults,
  /** Resource tag whose value is an ISO date: remediation is skipped until then. */
  exceptionTag: v.optional(v.strictObject({ key: v.pipe(v.string(), v.minLength(1), v.maxLength(128)) }), {
    key: 'drift-remediation:exempt-until',
  }),
  /** The scope of every deployed Config rule (a rule's own `scope` wins). */
  scope: v.optional(RuleScope, DEFAULT_RULE_SCOPE),
  /** What the runbooks may change (the automation role's scope). */
  runbookScope: v.optional(RunbookScope, {}),
  configRules: v.optional(v.array(ConfigRuleDecl), []),
  fastPath: v.optional(FastPath, { enabled: true, trustedDeployers: [] }),
  organization: v.optional(Organization),
  /** Slack and signed-webhook notifications per outcome (docs/operations.md "Notifications"). */
  notifications: v.optional(NotificationsPolicy),
  remediations: v.pipe(v.array(Entry), v.minLength(1)),
});

export type PolicyDocument = v.InferOutput<typeof PolicyDocument>;
export type PolicyEntry = v.InferOutput<typeof Entry>;
export type ConfigRuleDecl = v.InferOutput<typeof ConfigRuleDecl>;
export type PolicyException = v.InferOutput<typeof Exception>;

/** A policy entry with every default applied: what the plan task works from. */
export interface ResolvedEntry {
  id: string;
  description?: string;
  configRules: string[];
  resourceTypes: string[];
  cloudFormationDrift: boolean;
  /** Drifted property paths this entry is limited to (empty: any). */
  properties: string[];
  /** Account, OU and region scope (each empty or absent: any). */
  accounts?: string[];
  ous?: string[];
  regions?: string[];
  /** `plan`: a dry run that records PLANNED (absent: remediate). */
  mode?: EntryMode;
  runbook: string;
  firstParty: boolean;
  parameters: Record<string, ParameterSource>;
  approval: v.InferOutput<typeof Approval>;
  concurrency: v.InferOutput<typeof Concurrency>;
  attempts: v.InferOutput<typeof Attempts>;
  loopBreaker: v.InferOutput<typeof LoopBreaker>;
  verification: v.InferOutput<typeof Verification>;
  exceptions: PolicyException[];
}

/** The normalized policy: defaults folded into each entry. Serialized next to the plan handler. */
export interface NormalizedPolicy {
  version: 1;
  exceptionTag: { key: string };
  blastRadius: v.InferOutput<typeof BlastRadius>;
  globalConcurrency: number;
  /** The default scope of deployed Config rules. */
  scope: RuleScope;
  configRules: ConfigRuleDecl[];
  /** What the runbooks may change. */
  runbookScope: RunbookScope;
  /** The CloudTrail fast path's settings (absent: enabled, no trusted deployers). */
  fastPath?: FastPath;
  /** The organization's accounts and regions (absent: single account). */
  organization?: Organization;
  /** Notification channels and which outcomes each hears (absent: SNS only). */
  notifications?: NotificationsPolicy;
  entries: ResolvedEntry[];
}
