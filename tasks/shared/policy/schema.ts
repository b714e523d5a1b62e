/**
 * The remediation policy: the one registry that maps a Config rule or a drifted resource type to a
 * runbook, with approvals, concurrency caps, attempts, loop breaker and exceptions.
 * Reference: docs/policy.md. The CDK app, the sandbox and the tests all load the same file.
 */
import * as z from 'zod';
import { ApprovalMode, ParameterSource } from '../contracts';

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
  .regex(/^[A-Za-z0-9_\-.]{1,128}$/, 'must be a Config rule name (letters, digits, _ - .)');
const ResourceType = z
  .string()
  .regex(/^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$/, 'must look like AWS::Service::Type');
/** A dotted path into a resource's template properties: `SecurityGroupEgress`, `BucketEncryption.ServerSideEncryptionConfiguration`. */
export const PropertyPath = z
  .string()
  .regex(
    /^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z][A-Za-z0-9]*){0,3}$/,
    'must be a dotted property path like SecurityGroupEgress',
  );
const Duration = (max: number) => z.number().int().positive().max(max);

const Approval = z
  .object({
    mode: ApprovalMode,
    /** Who may decide (emails or IAM principal names). Required when mode is `required`. */
    approvers: z.array(z.string().min(3).max(256)),
    ttlSeconds: Duration(MAX_APPROVAL_TTL_SECONDS),
  })
  .strict();

const Concurrency = z
  .object({
    /** Remediations running this runbook at once. */
    perRunbook: z.number().int().min(1).max(100),
    /** Remediations running at once across all runbooks. */
    global: z.number().int().min(1).max(1000),
    /** How long an execution waits in the slot queue before it is escalated (Step Functions task timeout). */
    maxQueueSeconds: Duration(MAX_QUEUE_SECONDS).default(DEFAULT_MAX_QUEUE_SECONDS),
  })
  .strict();

const Attempts = z
  .object({
    max: z.number().int().min(1).max(MAX_ATTEMPTS),
    retryAfterSeconds: Duration(3600),
  })
  .strict();

const LoopBreaker = z
  .object({
    /** Look-back window. */
    windowSeconds: Duration(30 * 24 * 3600),
    /** Remediations of one resource (successful ones included) allowed in the window before escalating. */
    maxRemediations: z.number().int().min(1).max(100),
  })
  .strict();

const BlastRadius = z
  .object({
    windowSeconds: Duration(24 * 3600),
    /** Remediations started across all resources in the window before new ones escalate instead. */
    maxRemediations: z.number().int().min(1).max(10_000),
    /**
     * Or this percentage of the in-scope resources (Config's count of the policy's resource types), when
     * larger: the budget is max(maxRemediations, ceil(maxPercent % × in-scope)), so it grows with the fleet.
     */
    maxPercent: z.number().positive().max(100).optional(),
  })
  .strict();

const Verification = z
  .object({
    timeoutSeconds: Duration(24 * 3600),
    intervalSeconds: Duration(3600),
  })
  .strict();

const Exception = z
  .object({
    resourceId: z.string().min(1),
    /** Restrict to one resource type (default: any). */
    resourceType: ResourceType.optional(),
    reason: z.string().min(3),
    /** ISO date or date-time; the exception stops applying after it. */
    expires: z.union([z.iso.date(), z.iso.datetime({ offset: true })]),
  })
  .strict();

const Defaults = z
  .object({
    approval: Approval,
    concurrency: Concurrency,
    attempts: Attempts,
    loopBreaker: LoopBreaker,
    blastRadius: BlastRadius,
    verification: Verification,
  })
  .strict();

const Entry = z
  .object({
    /** Stable id, used in outcomes and metrics. */
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'must be lowercase letters, digits and hyphens'),
    description: z.string().optional(),
    match: z
      .object({
        /** Config rule names this entry handles (NON_COMPLIANT events). */
        configRules: z.array(RuleName).default([]),
        /** Resource types this entry handles; for CloudFormation drift events, the drifted resource's type. */
        resourceTypes: z.array(ResourceType).min(1),
        /** Also handle CloudFormation drift events (no Config rule) for these types. */
        cloudFormationDrift: z.boolean().default(false),
        /**
         * Drifted property paths this entry handles (CloudFormation drift events only): it matches an event
         * whose every drifted property is at or under one of these, and then wins over an entry for the same
         * type that names none. Empty: any drift of these types.
         */
        properties: z.array(PropertyPath).default([]),
      })
      .strict(),
    /** First-party (DriftRemediation-…, a file in runbooks/) or AWS-managed (AWS-…, AWSConfigRemediation-…) document name. */
    runbook: z.string().regex(/^[A-Za-z0-9_.-]{3,128}$/),
    /** Runbook parameters; AutomationAssumeRole is added by the workflow. */
    parameters: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9]*$/), ParameterSource).default({}),
    approval: Approval.partial().optional(),
    concurrency: Concurrency.pick({ perRunbook: true }).partial().optional(),
    attempts: Attempts.partial().optional(),
    loopBreaker: LoopBreaker.partial().optional(),
    verification: Verification.partial().optional(),
    /** Explicit exceptions: these resources are never remediated by this entry until `expires`. */
    exceptions: z.array(Exception).default([]),
  })
  .strict();

/** Tag keys AWS reserves (`aws:`) cannot be set by anyone, so a scope on one could never be opted into. */
const ScopeTagKey = z
  .string()
  .min(1)
  .max(128)
  .refine((k) => !k.toLowerCase().startsWith('aws:'), 'must not start with aws: (reserved by AWS)');

/**
 * Which resources the deployed Config rules evaluate: those carrying this tag (and value). Resources opt
 * in by tag, so the project's own resources — which never carry it (synth test) — are never evaluated.
 */
export const RuleScope = z
  .object({ tagKey: ScopeTagKey, tagValue: z.string().min(1).max(256).optional() })
  .strict();
export type RuleScope = z.infer<typeof RuleScope>;
export const DEFAULT_RULE_SCOPE = { tagKey: 'drift-remediation:scope', tagValue: 'managed' } as const;

/** `*` and `?` wildcards as IAM's StringLike/ARN matching reads them. */
const NamePattern = (what: string, chars: string) =>
  z
    .string()
    .min(1)
    .max(512)
    .regex(
      new RegExp(`^[${chars}*?]+$`),
      `must be a ${what} pattern (${chars.replaceAll('\\', '')} and * ?)`,
    );

/**
 * What the runbooks may change (docs/security.md "Scoping the automation role"). Every mutating right of
 * the AutomationAssumeRole is confined to resources that match: carrying `tag` (services with tag
 * conditions: EC2, Lambda, IAM, S3 buckets with ABAC on, CloudFormation stacks), belonging to a stack named
 * in `stacks` (the aws:cloudformation:stack-name tag CloudFormation sets on EC2, Lambda and S3 resources;
 * the stack ARN for change sets), or named by a name/path pattern (S3 buckets without ABAC, IAM roles and
 * customer managed policies, which CloudFormation does not tag). The project's own stack is always denied.
 */
const RunbookScope = z
  .object({
    /** The opt-in tag (values may use * and ?). Default: the policy's `scope` tag, the one the Config rules use. */
    tag: z
      .object({ key: ScopeTagKey, values: z.array(z.string().min(1).max(256)).min(1) })
      .strict()
      .optional(),
    /** CloudFormation stack name patterns whose resources may be changed. */
    stacks: z.array(NamePattern('stack name', 'A-Za-z0-9\\-')).default([]),
    /** S3 bucket name patterns (S3 evaluates tag conditions only on buckets with ABAC enabled). */
    s3Buckets: z.array(NamePattern('bucket name', 'a-z0-9.\\-')).default([]),
    /** IAM role names with path (`app-*`, `workloads/*`): CloudFormation puts no aws:cloudformation tags on IAM. */
    iamRoles: z.array(NamePattern('role name with path', 'A-Za-z0-9+=,.@_/\\-')).default([]),
    /** Customer managed policy names with path. */
    iamPolicies: z.array(NamePattern('policy name with path', 'A-Za-z0-9+=,.@_/\\-')).default([]),
    /** IAM user and group names with path (AWS-managed runbooks that detach policies from them). */
    iamUsers: z.array(NamePattern('user name with path', 'A-Za-z0-9+=,.@_/\\-')).default([]),
    iamGroups: z.array(NamePattern('group name with path', 'A-Za-z0-9+=,.@_/\\-')).default([]),
    /**
     * Resource types the in-scope stacks contain, beyond the remediated ones: the stack-drift check role
     * may read them (their schemas' read handler permissions), so drift detection covers whole stacks.
     */
    stackResourceTypes: z.array(ResourceType).default([]),
  })
  .strict();
/** runbookScope with its tag resolved. */
export type RunbookScope = Omit<z.infer<typeof RunbookScope>, 'tag'> & {
  tag: { key: string; values: string[] };
};

const ConfigRuleDecl = z
  .object({
    name: RuleName,
    /** AWS managed rule identifier, e.g. INCOMING_SSH_DISABLED. */
    sourceIdentifier: z.string().regex(/^[A-Z0-9_]+$/),
    resourceTypes: z.array(ResourceType).min(1),
    inputParameters: z.record(z.string(), z.string()).optional(),
    /** Create this rule with the stack (false: it already exists in the account). */
    deploy: z.boolean().default(false),
    /** This rule's scope instead of the policy's `scope` (deployed rules only). */
    scope: RuleScope.optional(),
  })
  .strict();

/**
 * A principal the CloudTrail fast path leaves alone: an IAM role or user ARN, or an assumed-role session ARN,
 * with `*` matching any run of characters (`arn:aws:iam::123456789012:role/deploy-*`).
 */
export const PrincipalPattern = z
  .string()
  .max(2048)
  .regex(
    /^arn:(aws[a-z-]*|\*):(iam|sts)::(\d{12}|\*):[A-Za-z0-9+=,.@_/*-]+$/,
    'must be an IAM role/user ARN or an assumed-role session ARN (may use *)',
  );

/** The CloudTrail fast path ("AWS API Call via CloudTrail" → suspected drift → checked at once). */
export const FastPath = z
  .object({
    /** false: no CloudTrail rule is deployed; Config and CloudFormation drift detection only. */
    enabled: z.boolean().default(true),
    /** Principals whose changes are intended (deployment pipelines): their calls never start a remediation. */
    trustedDeployers: z.array(PrincipalPattern).max(50).default([]),
  })
  .strict();
export type FastPath = z.infer<typeof FastPath>;

export const PolicyDocument = z
  .object({
    version: z.literal(1),
    defaults: Defaults,
    /** Resource tag whose value is an ISO date: remediation is skipped until then. */
    exceptionTag: z
      .object({ key: z.string().min(1).max(128) })
      .strict()
      .default({ key: 'drift-remediation:exempt-until' }),
    /** The scope of every deployed Config rule (a rule's own `scope` wins). */
    scope: RuleScope.default(DEFAULT_RULE_SCOPE),
    /** What the runbooks may change (the automation role's scope). */
    runbookScope: RunbookScope.default(() => RunbookScope.parse({})),
    configRules: z.array(ConfigRuleDecl).default([]),
    fastPath: FastPath.default({ enabled: true, trustedDeployers: [] }),
    remediations: z.array(Entry).min(1),
  })
  .strict();

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
  entries: ResolvedEntry[];
}
