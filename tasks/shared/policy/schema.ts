/**
 * The remediation policy: the one registry that maps a Config rule or a drifted resource type to a
 * runbook, with approvals, concurrency caps, attempts, loop breaker and exceptions.
 * Reference: docs/policy.md. The CDK app, the sandbox and the tests all load the same file.
 */

import { ACCOUNT_ID, ApprovalMode, ParameterSource, REGION } from '../contracts';
import { NotificationsPolicy } from '../notifications-policy';
import * as z from '../zod';

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

const RuleName = z
  .string()
  .check(z.regex(/^[A-Za-z0-9_\-.]{1,128}$/, 'must be a Config rule name (letters, digits, _ - .)'));
const ResourceType = z
  .string()
  .check(z.regex(/^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$/, 'must look like AWS::Service::Type'));
/** A dotted path into a resource's template properties: `SecurityGroupEgress`, `BucketEncryption.ServerSideEncryptionConfiguration`. */
export const PropertyPath = z
  .string()
  .check(
    z.regex(
      /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*){0,3}$/,
      'must be a dotted property path like SecurityGroupEgress',
    ),
  );
const AccountId = z.string().check(z.regex(ACCOUNT_ID, 'must be a 12-digit account id'));
const RegionName = z.string().check(z.regex(REGION, 'must be a region name like us-west-2'));
const OuId = z
  .string()
  .check(z.regex(/^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$/, 'must be an OU id like ou-ab12-cd34ef56'));
/** What an entry does with a confirmed drift: run the runbook, or only record what it would run (PLANNED). */
export const EntryMode = z.enum(['remediate', 'plan']);
export type EntryMode = z.infer<typeof EntryMode>;
const Duration = (max: number) => z.number().check(z.int(), z.positive(), z.lte(max));

const Approval = z.strictObject({
  mode: ApprovalMode,
  /** Who may decide (emails or IAM principal names). Required when mode is `required`. */
  approvers: z.array(z.string().check(z.minLength(3), z.maxLength(256))),
  ttlSeconds: Duration(MAX_APPROVAL_TTL_SECONDS),
});

const Concurrency = z.strictObject({
  /** Remediations running this runbook at once. */
  perRunbook: z.number().check(z.int(), z.gte(1), z.lte(100)),
  /** Remediations running at once across all runbooks. */
  global: z.number().check(z.int(), z.gte(1), z.lte(1000)),
  /** Remediations running at once on the resources of one account and region (any runbook); unset: no such cap. */
  perAccountRegion: z.optional(z.number().check(z.int(), z.gte(1), z.lte(1000))),
  /** How long an execution waits in the slot queue before it is escalated (Step Functions task timeout). */
  maxQueueSeconds: z._default(Duration(MAX_QUEUE_SECONDS), DEFAULT_MAX_QUEUE_SECONDS),
});

const Attempts = z.strictObject({
  max: z.number().check(z.int(), z.gte(1), z.lte(MAX_ATTEMPTS)),
  retryAfterSeconds: Duration(3600),
});

const LoopBreaker = z.strictObject({
  /** Look-back window. */
  windowSeconds: Duration(30 * 24 * 3600),
  /** Remediations of one resource (successful ones included) allowed in the window before escalating. */
  maxRemediations: z.number().check(z.int(), z.gte(1), z.lte(100)),
});

const BlastRadius = z.strictObject({
  windowSeconds: Duration(24 * 3600),
  /** Remediations started across all resources in the window before new ones escalate instead. */
  maxRemediations: z.number().check(z.int(), z.gte(1), z.lte(10_000)),
  /**
   * Or this percentage of the in-scope resources (Config's count of the policy's resource types), when
   * larger: the budget is max(maxRemediations, ceil(maxPercent % × in-scope)), so it grows with the fleet.
   */
  maxPercent: z.optional(z.number().check(z.positive(), z.lte(100))),
});

const Verification = z.strictObject({
  timeoutSeconds: Duration(24 * 3600),
  intervalSeconds: Duration(3600),
});

const Exception = z.strictObject({
  resourceId: z.string().check(z.minLength(1)),
  /** Restrict to one resource type (default: any). */
  resourceType: z.optional(ResourceType),
  reason: z.string().check(z.minLength(3)),
  /** ISO date or date-time; the exception stops applying after it. */
  expires: z.union([z.iso.date(), z.iso.datetime({ offset: true })]),
});

const Defaults = z.strictObject({
  approval: Approval,
  concurrency: Concurrency,
  attempts: Attempts,
  loopBreaker: LoopBreaker,
  blastRadius: BlastRadius,
  verification: Verification,
});

const Entry = z.strictObject({
  /** Stable id, used in outcomes and metrics. */
  id: z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and hyphens')),
  description: z.optional(z.string()),
  match: z.strictObject({
    /** Config rule names this entry handles (NON_COMPLIANT events). */
    configRules: z._default(z.array(RuleName), []),
    /** Resource types this entry handles; for CloudFormation drift events, the drifted resource's type. */
    resourceTypes: z.array(ResourceType).check(z.minLength(1)),
    /** Also handle CloudFormation drift events (no Config rule) for these types. */
    cloudFormationDrift: z._default(z.boolean(), false),
    /**
     * Drifted property paths this entry handles (CloudFormation drift events only): it matches an event
     * whose every drifted property is at or under one of these, and then wins over an entry for the same
     * type that names none. Empty: any drift of these types.
     */
    properties: z._default(z.array(PropertyPath), []),
    /** Only events from these accounts (with `ous`: either). Empty with `ous` empty: any account in scope. */
    accounts: z._default(z.array(AccountId), []),
    /** Only events from accounts in these OUs (the `organization.members` list says which OU an account is in). */
    ous: z._default(z.array(OuId), []),
    /** Only events from these regions. Empty: any region in scope. */
    regions: z._default(z.array(RegionName), []),
  }),
  /**
   * `remediate` (default): run the runbook. `plan`: a dry run — detect drift, confirm non-compliance and
   * plan as usual, then record PLANNED with the runbook, its resolved parameters and the diff; no slot, no
   * approval, no runbook, no blast-radius budget spent.
   */
  mode: z._default(EntryMode, 'remediate'),
  /** First-party (DriftRemediation-…, a file in runbooks/) or AWS-managed (AWS-…, AWSConfigRemediation-…) document name. */
  runbook: z.string().check(z.regex(/^[A-Za-z0-9_.-]{3,128}$/)),
  /** Runbook parameters; AutomationAssumeRole is added by the workflow. */
  parameters: z._default(z.record(z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9]*$/)), ParameterSource), {}),
  approval: z.optional(z.partial(Approval)),
  concurrency: z.optional(z.partial(z.pick(Concurrency, { perRunbook: true }))),
  attempts: z.optional(z.partial(Attempts)),
  loopBreaker: z.optional(z.partial(LoopBreaker)),
  verification: z.optional(z.partial(Verification)),
  /** Explicit exceptions: these resources are never remediated by this entry until `expires`. */
  exceptions: z._default(z.array(Exception), []),
});

/** Tag keys AWS reserves (`aws:`) cannot be set by anyone, so a scope on one could never be opted into. */
const ScopeTagKey = z.string().check(
  z.minLength(1),
  z.maxLength(128),
  z.refine((k) => !k.toLowerCase().startsWith('aws:'), 'must not start with aws: (reserved by AWS)'),
);

/**
 * Which resources the deployed Config rules evaluate: those carrying this tag (and value). Resources opt
 * in by tag, so the project's own resources — which never carry it (synth test) — are never evaluated.
 */
export const RuleScope = z.strictObject({
  tagKey: ScopeTagKey,
  tagValue: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
});
export type RuleScope = z.infer<typeof RuleScope>;
export const DEFAULT_RULE_SCOPE = { tagKey: 'drift-remediation:scope', tagValue: 'managed' } as const;

/** `*` and `?` wildcards as IAM's StringLike/ARN matching reads them. */
const NamePattern = (what: string, chars: string) =>
  z
    .string()
    .check(
      z.minLength(1),
      z.maxLength(512),
      z.regex(
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
const RunbookScope = z.strictObject({
  /** The opt-in tag (values may use * and ?). Default: the policy's `scope` tag, the one the Config rules use. */
  tag: z.optional(
    z.strictObject({
      key: ScopeTagKey,
      values: z.array(z.string().check(z.minLength(1), z.maxLength(256))).check(z.minLength(1)),
    }),
  ),
  /** CloudFormation stack name patterns whose resources may be changed. */
  stacks: z._default(z.array(NamePattern('stack name', 'A-Za-z0-9\\-')), []),
  /** S3 bucket name patterns (S3 evaluates tag conditions only on buckets with ABAC enabled). */
  s3Buckets: z._default(z.array(NamePattern('bucket name', 'a-z0-9.\\-')), []),
  /** IAM role names with path (`app-*`, `workloads/*`): CloudFormation puts no aws:cloudformation tags on IAM. */
  iamRoles: z._default(z.array(NamePattern('role name with path', 'A-Za-z0-9+=,.@_/\\-')), []),
  /** Customer managed policy names with path. */
  iamPolicies: z._default(z.array(NamePattern('policy name with path', 'A-Za-z0-9+=,.@_/\\-')), []),
  /** IAM user and group names with path (AWS-managed runbooks that detach policies from them). */
  iamUsers: z._default(z.array(NamePattern('user name with path', 'A-Za-z0-9+=,.@_/\\-')), []),
  iamGroups: z._default(z.array(NamePattern('group name with path', 'A-Za-z0-9+=,.@_/\\-')), []),
  /**
   * Resource types the in-scope stacks contain, beyond the remediated ones: the stack-drift check role
   * may read them (their schemas' read handler permissions), so drift detection covers whole stacks.
   */
  stackResourceTypes: z._default(z.array(ResourceType), []),
});
/** runbookScope with its tag resolved. */
export type RunbookScope = Omit<z.infer<typeof RunbookScope>, 'tag'> & {
  tag: { key: string; values: string[] };
};

const ConfigRuleDecl = z.strictObject({
  name: RuleName,
  /** AWS managed rule identifier, e.g. INCOMING_SSH_DISABLED. */
  sourceIdentifier: z.string().check(z.regex(/^[A-Z0-9_]+$/)),
  resourceTypes: z.array(ResourceType).check(z.minLength(1)),
  inputParameters: z.optional(z.record(z.string(), z.string())),
  /** Create this rule with the stack (false: it already exists in the account). */
  deploy: z._default(z.boolean(), false),
  /** This rule's scope instead of the policy's `scope` (deployed rules only). */
  scope: z.optional(RuleScope),
});

/**
 * A principal the CloudTrail fast path leaves alone: an IAM role or user ARN, or an assumed-role session ARN,
 * with `*` matching any run of characters (`arn:aws:iam::123456789012:role/deploy-*`).
 */
export const PrincipalPattern = z
  .string()
  .check(
    z.maxLength(2048),
    z.regex(
      /^arn:(aws[a-z-]*|\*):(iam|sts)::(\d{12}|\*):[A-Za-z0-9+=,.@_/*-]+$/,
      'must be an IAM role/user ARN or an assumed-role session ARN (may use *)',
    ),
  );

/** The CloudTrail fast path ("AWS API Call via CloudTrail" → suspected drift → checked at once). */
export const FastPath = z.strictObject({
  /** false: no CloudTrail rule is deployed; Config and CloudFormation drift detection only. */
  enabled: z._default(z.boolean(), true),
  /** Principals whose changes are intended (deployment pipelines): their calls never start a remediation. */
  trustedDeployers: z._default(z.array(PrincipalPattern).check(z.maxLength(50)), []),
});
export type FastPath = z.infer<typeof FastPath>;

/** A member account of the organization (docs/policy.md "Organization"). */
const Member = z.strictObject({
  account: AccountId,
  /** The OU the account is in, for entries scoped with `match.ous`. */
  ou: z.optional(OuId),
  /** true: events from this account are recorded SKIPPED (with `pausedReason`); nothing is assumed or run. */
  paused: z._default(z.boolean(), false),
  pausedReason: z.optional(z.string().check(z.minLength(3), z.maxLength(256))),
});

/** Name of the member execution role the member stack creates in every member account. */
export const DEFAULT_MEMBER_ROLE_NAME = 'DriftRemediationMember';

/**
 * Organization scale: which accounts and regions the central deployment acts in. Absent: the central
 * account only, in any region (single-account deployments, as before).
 */
export const Organization = z.strictObject({
  /** The organization id; the central event bus admits only principals of it (aws:PrincipalOrgID). */
  id: z.string().check(z.regex(/^o-[a-z0-9]{10,32}$/, 'must be an organization id like o-a1b2c3d4e5')),
  /** Regions acted in (the member stack's StackSet regions). */
  regions: z.array(RegionName).check(z.minLength(1)),
  /** The member accounts; an event from any other account (but the central one) is SKIPPED. */
  members: z._default(z.array(Member), []),
  /** The member execution role's name (the member stack's `memberRoleName`). */
  memberRoleName: z._default(
    z.string().check(z.regex(/^[A-Za-z0-9+=,.@_-]{1,64}$/, 'must be an IAM role name')),
    DEFAULT_MEMBER_ROLE_NAME,
  ),
});
export type Organization = z.infer<typeof Organization>;

export const PolicyDocument = z.strictObject({
  version: z.literal(1),
  defaults: Defaults,
  /** Resource tag whose value is an ISO date: remediation is skipped until then. */
  exceptionTag: z._default(z.strictObject({ key: z.string().check(z.minLength(1), z.maxLength(128)) }), {
    key: 'drift-remediation:exempt-until',
  }),
  /** The scope of every deployed Config rule (a rule's own `scope` wins). */
  scope: z._default(RuleScope, DEFAULT_RULE_SCOPE),
  /** What the runbooks may change (the automation role's scope). */
  runbookScope: z._default(RunbookScope, () => RunbookScope.parse({})),
  configRules: z._default(z.array(ConfigRuleDecl), []),
  fastPath: z._default(FastPath, { enabled: true, trustedDeployers: [] }),
  organization: z.optional(Organization),
  /** Slack and signed-webhook notifications per outcome (docs/operations.md "Notifications"). */
  notifications: z.optional(NotificationsPolicy),
  remediations: z.array(Entry).check(z.minLength(1)),
});

export type PolicyDocument = z.infer<typeof PolicyDocument>;
export type PolicyEntry = z.infer<typeof Entry>;
export type ConfigRuleDecl = z.infer<typeof ConfigRuleDecl>;
export type PolicyException = z.infer<typeof Exception>;

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
  approval: z.infer<typeof Approval>;
  concurrency: z.infer<typeof Concurrency>;
  attempts: z.infer<typeof Attempts>;
  loopBreaker: z.infer<typeof LoopBreaker>;
  verification: z.infer<typeof Verification>;
  exceptions: PolicyException[];
}

/** The normalized policy: defaults folded into each entry. Serialized next to the plan handler. */
export interface NormalizedPolicy {
  version: 1;
  exceptionTag: { key: string };
  blastRadius: z.infer<typeof BlastRadius>;
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
