/**
 * The approver's two questions, answered from the review summary (pure): what will approving do, in
 * one sentence derived from the runbook and the parameters it will run with ("Detach AdministratorAccess
 * from role drift-demo-reporting"), and does the drift grant privilege or open access (risk cues).
 */
import type { ApprovalSummary } from './record';

/** Parameter values that say nothing: absent, empty, `null`, an empty list or object. */
export function isBlankValue(v: string): boolean {
  const t = v.trim();
  return t === '' || t === 'null' || t === '[]' || t === '{}' || t === '""';
}

function param(s: ApprovalSummary, name: string): string[] {
  return (s.runbook?.parameters[name] ?? []).filter((v) => !isBlankValue(v));
}

/** A list parameter: StringList values, or one JSON array value (`as: json`), flattened. */
function listParam(s: ApprovalSummary, name: string): string[] {
  return param(s, name).flatMap((v) => {
    const parsed = parse(v);
    return Array.isArray(parsed) ? parsed.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : [v];
  });
}

function joinAnd(items: string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

const policyName = (arn: string) => arn.split('/').at(-1) ?? arn;

function parse(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

type Rule = Record<string, unknown>;
const isRule = (v: unknown): v is Rule => typeof v === 'object' && v !== null && !Array.isArray(v);

function firstOf(rule: Rule, key: string, field: string): string | undefined {
  const list = rule[key];
  const first: unknown = Array.isArray(list) ? list[0] : undefined;
  return isRule(first) && typeof first[field] === 'string' ? first[field] : undefined;
}

/** "tcp port 22 from 0.0.0.0/0" for an EC2 IpPermission or a template rule (ingress: from, egress: to). */
export function ruleLabel(rule: Rule, direction: 'from' | 'to'): string {
  const protocol = String(rule.IpProtocol ?? '').toLowerCase();
  const from = rule.FromPort;
  const to = rule.ToPort ?? from;
  const what =
    protocol === '-1' || protocol === 'all'
      ? 'all traffic'
      : from === undefined
        ? protocol
        : `${protocol} port${String(from) === String(to) ? ` ${from}` : `s ${from}-${to}`}`;
  const peer =
    (typeof rule.CidrIp === 'string' && rule.CidrIp) ||
    (typeof rule.CidrIpv6 === 'string' && rule.CidrIpv6) ||
    firstOf(rule, 'IpRanges', 'CidrIp') ||
    firstOf(rule, 'Ipv6Ranges', 'CidrIpv6') ||
    firstOf(rule, 'PrefixListIds', 'PrefixListId') ||
    firstOf(rule, 'UserIdGroupPairs', 'GroupId') ||
    [rule.SourceSecurityGroupId, rule.DestinationSecurityGroupId, rule.SourcePrefixListId].find(
      (x) => typeof x === 'string',
    );
  return peer ? `${what} ${direction} ${String(peer)}` : what;
}

function rules(values: string[], direction: 'from' | 'to'): string[] {
  return values.map((v) => {
    const r = parse(v);
    return isRule(r) ? ruleLabel(r, direction) : v;
  });
}

function rulesClause(verb: string, kind: string, labels: string[]): string {
  return labels.length === 1
    ? `${verb} the ${kind} rule ${labels[0]}`
    : `${verb} ${labels.length} ${kind} rules (${labels.join('; ')})`;
}

function sentence(clauses: string[]): string {
  const text = joinAnd(clauses.filter(Boolean));
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function rolePolicies(s: ApprovalSummary): string {
  const role = param(s, 'RoleName')[0] ?? s.resourceId;
  const detach = listParam(s, 'DetachPolicyArns').map(policyName);
  const attach = listParam(s, 'AttachPolicyArns').map(policyName);
  const inline = s.drift.differences.some((d) => d.path.startsWith('/Policies') || d.path === 'Policies');
  const clauses = [
    detach.length ? `detach ${joinAnd(detach)} from role ${role}` : '',
    attach.length ? `attach ${joinAnd(attach)} to role ${role}` : '',
    inline ? `set the inline policies of role ${role} back to its template` : '',
  ];
  return clauses.some(Boolean)
    ? sentence(clauses)
    : `Make the policies of role ${role} exactly what its template declares`;
}

function groupRules(s: ApprovalSummary, kind: 'ingress' | 'egress'): string {
  const group = param(s, 'GroupId')[0] ?? s.resourceId;
  const key = kind === 'ingress' ? 'Ingress' : 'Egress';
  const direction = kind === 'ingress' ? 'from' : 'to';
  const revoke = rules(listParam(s, `Revoke${key}`), direction);
  const restore = rules(listParam(s, `Authorize${key}`), direction);
  const clauses = [
    revoke.length ? rulesClause('remove', kind, revoke) : '',
    restore.length ? rulesClause('restore', kind, restore) : '',
  ];
  return clauses.some(Boolean)
    ? `${sentence(clauses)} on security group ${group}`
    : `Make the ${kind} rules of security group ${group} what its template declares`;
}

function patchedProperties(s: ApprovalSummary): string[] {
  const ops = parse(param(s, 'PatchDocument')[0] ?? '');
  if (!Array.isArray(ops)) return [];
  return ops
    .map((op: unknown) => (isRule(op) && typeof op.path === 'string' ? op.path.replace(/^\//, '') : ''))
    .filter(Boolean);
}

type Describer = (s: ApprovalSummary) => string;

/** First-party runbooks by base name (a name prefix, #12, may precede `DriftRemediation-`). */
const FIRST_PARTY: Record<string, Describer> = {
  RestoreIamRolePolicies: rolePolicies,
  RevertSecurityGroupIngress: (s) => groupRules(s, 'ingress'),
  RevertSecurityGroupEgress: (s) => groupRules(s, 'egress'),
  EnableS3BucketEncryption: (s) => {
    const algorithm = param(s, 'SSEAlgorithm')[0] ?? 'AES256';
    const key = param(s, 'KMSMasterKeyID')[0];
    return `Turn on default encryption (${algorithm}${key ? ` with key ${key}` : ''}) for bucket ${param(s, 'BucketName')[0] ?? s.resourceId}`;
  },
  EnableS3BucketVersioning: (s) =>
    `Turn on versioning for bucket ${param(s, 'BucketName')[0] ?? s.resourceId}`,
  BlockS3PublicAccess: (s) =>
    `Block all public access to bucket ${param(s, 'BucketName')[0] ?? s.resourceId}`,
  RevertStackDrift: (s) =>
    `Revert the drifted resources of stack ${param(s, 'StackName')[0] ?? s.resourceId} to its template (a drift-aware change set; replacements are refused)`,
  RestoreLambdaConfiguration: (s) => {
    const parts = [
      param(s, 'MemorySize')[0] && `memory (${param(s, 'MemorySize')[0]} MB)`,
      param(s, 'Timeout')[0] && `timeout (${param(s, 'Timeout')[0]} s)`,
      param(s, 'RestoreEnvironment')[0] === 'true' && 'environment variables',
    ].filter((p): p is string => typeof p === 'string' && p !== '');
    return `Set the ${joinAnd(parts.length ? parts : ['configuration'])} of function ${param(s, 'FunctionName')[0] ?? s.resourceId} back to its template`;
  },
  CloudControlPropertyRevert: (s) => {
    const props = patchedProperties(s);
    return `Set ${props.length ? joinAnd(props) : 'the drifted properties'} of ${s.resourceType} ${s.resourceId} back to the template values`;
  },
};

/** One sentence (no final period) saying what approving will do. */
export function approvalSentence(s: ApprovalSummary): string {
  if (!s.runbook) return `Record the drift of ${s.resourceType} ${s.resourceId}; nothing will be changed`;
  const base = /DriftRemediation-(\w+)$/.exec(s.runbook.documentName)?.[1];
  const describe = base ? FIRST_PARTY[base] : undefined;
  return describe
    ? describe(s)
    : `Run the SSM Automation runbook ${s.runbook.documentName} on ${s.resourceType} ${s.resourceId}`;
}

export interface RiskCue {
  kind: 'grants privilege' | 'opens access';
  text: string;
}

const OPEN_TO_WORLD = new Set(['0.0.0.0/0', '::/0']);
const PUBLIC_RULES = /public-access|public-read|public-write/i;
const PRIVILEGE_RULES = /blacklisted-policies|admin|privilege/i;

function addedValues(s: ApprovalSummary, property: string): string[] {
  return s.drift.added.filter((a) => a.property === property).flatMap((a) => a.values);
}

function groupRisks(s: ApprovalSummary): RiskCue[] {
  const added = [...addedValues(s, 'SecurityGroupIngress')].map(parse).filter(isRule);
  const open = added.filter((r) => OPEN_TO_WORLD.has(String(r.CidrIp ?? r.CidrIpv6 ?? '')));
  const cues: RiskCue[] = open.map((r) => ({
    kind: 'opens access',
    text: `${ruleLabel(r, 'from')} is open to the whole internet.`,
  }));
  const other = added.length - open.length;
  if (other > 0)
    cues.push({
      kind: 'opens access',
      text: `${other} ingress rule(s) the template does not declare allow traffic in.`,
    });
  if (!cues.length && /restricted-(ssh|common-ports)/.test(s.ruleName ?? ''))
    cues.push({
      kind: 'opens access',
      text: `Config rule ${s.ruleName} reports ports open to the internet.`,
    });
  return cues;
}

function roleRisks(s: ApprovalSummary): RiskCue[] {
  const attached = addedValues(s, 'ManagedPolicyArns').map(policyName);
  const cues: RiskCue[] = attached.map((name) => ({
    kind: 'grants privilege',
    text: `${name} is attached to ${s.resourceId}, and its template does not declare it.`,
  }));
  if (s.drift.differences.some((d) => d.path.startsWith('/Policies') && d.actual.trim() !== ''))
    cues.push({
      kind: 'grants privilege',
      text: `The inline policies of ${s.resourceId} differ from its template.`,
    });
  if (!cues.length && PRIVILEGE_RULES.test(s.ruleName ?? ''))
    cues.push({
      kind: 'grants privilege',
      text: `Config rule ${s.ruleName} reports a privileged policy attached.`,
    });
  return cues;
}

/** Does the drift grant privilege or open access? Empty when nothing points that way. */
export function riskCues(s: ApprovalSummary): RiskCue[] {
  switch (s.resourceType) {
    case 'AWS::EC2::SecurityGroup':
      return groupRisks(s);
    case 'AWS::IAM::Role':
      return roleRisks(s);
    case 'AWS::IAM::ManagedPolicy':
    case 'AWS::IAM::Policy':
      return s.drift.differences.some((d) => d.path.startsWith('/PolicyDocument'))
        ? [
            {
              kind: 'grants privilege',
              text: `The policy document of ${s.resourceId} differs from its template.`,
            },
          ]
        : [];
    case 'AWS::S3::Bucket':
      return PUBLIC_RULES.test(s.ruleName ?? '') ||
        s.drift.differences.some((d) => d.path.startsWith('/PublicAccessBlockConfiguration'))
        ? [
            {
              kind: 'opens access',
              text: `Public access to bucket ${s.resourceId} is not blocked as its policy requires.`,
            },
          ]
        : [];
    default:
      return [];
  }
}
