/**
 * Confines the automation role's mutating rights to what the policy may remediate (`runbookScope`,
 * docs/security.md "Scoping the automation role"). Reads keep the ARN patterns of runbook-permissions.ts;
 * every other action becomes one statement per way a resource can be in scope:
 *   - it carries the scope tag (`aws:ResourceTag/<key>`), for the resource types whose IAM resource takes
 *     tag conditions (EC2 security groups, Lambda functions, IAM roles and policies, S3 buckets with ABAC,
 *     CloudFormation stacks);
 *   - CloudFormation created it in a stack named in `stacks` (`aws:ResourceTag/aws:cloudformation:stack-name`,
 *     which CloudFormation sets on EC2, Lambda and S3 resources, not on IAM), or it is such a stack;
 *   - its name matches a declared pattern (S3 buckets, IAM roles and customer managed policies).
 * An action whose resource is none of these families cannot be scoped and fails synth.
 */
import type { RunbookScope } from '../tasks/shared/policy/schema';
import type { ArnContext, DerivedStatement } from './runbook-permissions';

export interface ScopedStatement {
  actions: string[];
  resources: string[];
  /** IAM condition block (operator → key → values). */
  conditions?: Record<string, Record<string, string[]>>;
}

/** Read-only API verbs: their statements keep the account-wide ARN patterns. */
const READ_VERB = /^(Get|Describe|List|Head|Detect)/;

/** Whether an IAM action only reads (checked against the IAM service reference in test/infra). */
export function isReadAction(action: string): boolean {
  return READ_VERB.test(action.split(':')[1] ?? '');
}

/** The resource families a mutating action can be scoped in, by the ARN pattern it is granted on. */
type Family =
  | 'security-group'
  | 'function'
  | 'role'
  | 'policy'
  | 'user'
  | 'group'
  | 'bucket'
  | 'stack'
  | 'unscoped';

const FAMILY_BY_ARN: readonly [RegExp, Family][] = [
  [/:security-group\/\*$/, 'security-group'],
  [/:function:\*$/, 'function'],
  [/:role\/\*$/, 'role'],
  [/:policy\/\*$/, 'policy'],
  [/:user\/\*$/, 'user'],
  [/:group\/\*$/, 'group'],
  [/:s3:::\*$/, 'bucket'],
  [/:stack\/\*\/\*$/, 'stack'],
  [/^\*$/, 'unscoped'],
];

function familyOf(resources: readonly string[], actions: readonly string[]): Family {
  const [first, ...rest] = resources;
  const hit = rest.length === 0 && first ? FAMILY_BY_ARN.find(([re]) => re.test(first)) : undefined;
  if (!hit) {
    throw new Error(
      `runbookScope: cannot scope ${actions.join(', ')} on ${resources.join(', ')} to the policy's resources; ` +
        'add the resource family to infra/runbook-scope.ts',
    );
  }
  return hit[1];
}

/**
 * Wildcard-only writes allowed unscoped: Cloud Control calls the resource's service with the caller's
 * credentials (forward access sessions), so the scoped service actions decide what it may change.
 */
const CLOUD_CONTROL_WRITES: ReadonlySet<string> = new Set([
  'cloudformation:CreateResource',
  'cloudformation:UpdateResource',
  'cloudformation:DeleteResource',
]);

const STACK_NAME_TAG = 'aws:ResourceTag/aws:cloudformation:stack-name';
/** Families whose resources CloudFormation tags with aws:cloudformation:stack-name. */
const STACK_TAGGED: ReadonlySet<Family> = new Set(['security-group', 'function', 'bucket']);

/** The ARN of one resource of a family named by a pattern. */
function namedArn(family: Family, pattern: string, ctx: ArnContext): string {
  const { partition: p, region: r, account: a } = ctx;
  switch (family) {
    case 'bucket':
      return `arn:${p}:s3:::${pattern}`;
    case 'role':
      return `arn:${p}:iam::${a}:role/${pattern}`;
    case 'policy':
    case 'user':
    case 'group':
      return `arn:${p}:iam::${a}:${family}/${pattern}`;
    default:
      return `arn:${p}:cloudformation:${r}:${a}:stack/${pattern}/*`;
  }
}

/** The name patterns the scope declares for a family. */
function namePatterns(family: Family, scope: RunbookScope): readonly string[] {
  switch (family) {
    case 'bucket':
      return scope.s3Buckets;
    case 'role':
      return scope.iamRoles;
    case 'policy':
      return scope.iamPolicies;
    case 'user':
      return scope.iamUsers;
    case 'group':
      return scope.iamGroups;
    case 'stack':
      return scope.stacks;
    default:
      return [];
  }
}

/** The in-scope statements for mutating actions granted on `resources` (one family). */
function scopeWrites(
  actions: string[],
  resources: string[],
  scope: RunbookScope,
  ctx: ArnContext,
): ScopedStatement[] {
  const family = familyOf(resources, actions);
  if (family === 'unscoped') {
    const unknown = actions.filter((a) => !CLOUD_CONTROL_WRITES.has(a));
    if (unknown.length > 0)
      throw new Error(`runbookScope: ${unknown.join(', ')} granted on * cannot be scoped`);
    return [{ actions, resources }];
  }
  const out: ScopedStatement[] = [
    {
      actions,
      resources,
      conditions: { StringLike: { [`aws:ResourceTag/${scope.tag.key}`]: scope.tag.values } },
    },
  ];
  if (scope.stacks.length > 0 && STACK_TAGGED.has(family)) {
    out.push({ actions, resources, conditions: { StringLike: { [STACK_NAME_TAG]: [...scope.stacks] } } });
  }
  const names = namePatterns(family, scope);
  if (names.length > 0) out.push({ actions, resources: names.map((n) => namedArn(family, n, ctx)) });
  return out;
}

/** The derived statements with every mutating action confined to the scope. */
export function scopeStatements(
  derived: readonly DerivedStatement[],
  scope: RunbookScope,
  ctx: ArnContext,
): ScopedStatement[] {
  const out: ScopedStatement[] = [];
  for (const st of derived) {
    const reads = st.actions.filter(isReadAction);
    const writes = st.actions.filter((a) => !isReadAction(a));
    if (reads.length > 0) out.push({ actions: reads, resources: st.resources });
    // One family per ARN pattern (IAM's Put/DeleteUserPolicy come with user/* and group/*).
    if (writes.length > 0) for (const r of st.resources) out.push(...scopeWrites(writes, [r], scope, ctx));
  }
  return out;
}
