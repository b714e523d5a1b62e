/**
 * The evaluation logic of the AWS managed Config rules the policy uses, as pure functions over a
 * resource's configuration. One copy, two callers: the sandbox's Config emulation
 * (sandbox/services/config/evaluators.ts, over its stores) and the CloudTrail fast path
 * (tasks/intake/fast-path-check.ts, over what the SDK reads), so a suspected drift is judged exactly as
 * the Config rule will judge it minutes later.
 *
 * Each check follows the rule's documented definition and parameter defaults.
 */

export type ComplianceType = 'COMPLIANT' | 'NON_COMPLIANT' | 'NOT_APPLICABLE';

export interface Verdict {
  compliance: ComplianceType;
  annotation?: string;
}

const COMPLIANT: Verdict = { compliance: 'COMPLIANT' };
const WORLD = ['0.0.0.0/0', '::/0'];

/** One security-group rule, as EC2 DescribeSecurityGroupRules returns it (camel-cased). */
export interface SgRuleView {
  isEgress: boolean;
  /** tcp, udp, icmp, -1 (all), or a protocol number. */
  ipProtocol: string;
  fromPort: number;
  toPort: number;
  cidrIpv4?: string | undefined;
  cidrIpv6?: string | undefined;
}

function openTo(r: SgRuleView, port: number): boolean {
  if (r.isEgress) return false;
  const world =
    (r.cidrIpv4 !== undefined && WORLD.includes(r.cidrIpv4)) ||
    (r.cidrIpv6 !== undefined && WORLD.includes(r.cidrIpv6));
  if (!world) return false;
  if (r.ipProtocol === '-1') return true;
  return r.ipProtocol === 'tcp' && r.fromPort <= port && port <= r.toPort;
}

/** INCOMING_SSH_DISABLED: port 22. */
export const SSH_PORTS = (): number[] => [22];

/** RESTRICTED_INCOMING_TRAFFIC: blockedPort1..5, defaults 20, 21, 3389, 3306, 4333. */
export function restrictedPorts(params: Record<string, string>): number[] {
  const defaults: Record<string, number> = {
    blockedPort1: 20,
    blockedPort2: 21,
    blockedPort3: 3389,
    blockedPort4: 3306,
    blockedPort5: 4333,
  };
  return Object.entries(defaults).map(([k, d]) => {
    const v = params[k];
    return v !== undefined && v !== '' && Number.isInteger(Number(v)) ? Number(v) : d;
  });
}

/** A security group with one of `ports` open to 0.0.0.0/0 or ::/0 (tcp or all traffic) is NON_COMPLIANT. */
export function securityGroupVerdict(rules: readonly SgRuleView[], ports: number[], what: string): Verdict {
  const open = ports.filter((p) => rules.some((r) => openTo(r, p)));
  if (open.length === 0) return COMPLIANT;
  return {
    compliance: 'NON_COMPLIANT',
    annotation: `The security group allows unrestricted incoming ${what} traffic (tcp/${open.join(', tcp/')}) from 0.0.0.0/0 or ::/0.`,
  };
}

/** S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED */
export function encryptionVerdict(rulesCount: number): Verdict {
  return rulesCount > 0
    ? COMPLIANT
    : {
        compliance: 'NON_COMPLIANT',
        annotation: 'The bucket has no default server-side encryption configuration.',
      };
}

/** S3_BUCKET_VERSIONING_ENABLED (isMfaDeleteEnabled optional). */
export function versioningVerdict(
  versioning: { Status?: string | undefined; MFADelete?: string | undefined } | undefined,
  params: Record<string, string>,
): Verdict {
  if (versioning?.Status !== 'Enabled') {
    return {
      compliance: 'NON_COMPLIANT',
      annotation: `Versioning is ${versioning?.Status ?? 'not enabled'}.`,
    };
  }
  if (params.isMfaDeleteEnabled === 'true' && versioning.MFADelete !== 'Enabled') {
    return { compliance: 'NON_COMPLIANT', annotation: 'MFA delete is not enabled.' };
  }
  return COMPLIANT;
}

export interface PublicAccessBlockView {
  BlockPublicAcls?: boolean | undefined;
  IgnorePublicAcls?: boolean | undefined;
  BlockPublicPolicy?: boolean | undefined;
  RestrictPublicBuckets?: boolean | undefined;
}
const PAB_FLAGS = [
  'BlockPublicAcls',
  'IgnorePublicAcls',
  'BlockPublicPolicy',
  'RestrictPublicBuckets',
] as const;

/** S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED (excludedPublicBuckets optional); no configuration: all off. */
export function publicAccessVerdict(
  bucket: string,
  pab: PublicAccessBlockView | undefined,
  params: Record<string, string>,
): Verdict {
  const excluded = (params.excludedPublicBuckets ?? '').split(',').map((s) => s.trim());
  if (excluded.includes(bucket)) return COMPLIANT;
  const off = PAB_FLAGS.filter((k) => !pab?.[k]);
  return off.length === 0
    ? COMPLIANT
    : {
        compliance: 'NON_COMPLIANT',
        annotation: `Bucket-level public access block settings not enabled: ${off.join(', ')}.`,
      };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function statements(doc: unknown): Obj[] {
  if (!isObj(doc)) return [];
  const st = doc.Statement;
  return (Array.isArray(st) ? st : [st]).filter(isObj);
}

function includesStar(v: unknown): boolean {
  return v === '*' || (Array.isArray(v) && v.includes('*'));
}

/** Has an Allow statement with Action "*" over Resource "*" (the rule's documented definition). */
export function hasAdminStatement(document: string): boolean {
  let doc: unknown;
  try {
    doc = JSON.parse(document);
  } catch {
    return false;
  }
  return statements(doc).some(
    (s) => s.Effect === 'Allow' && includesStar(s.Action) && includesStar(s.Resource),
  );
}

/** IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS over the policy's default version document (JSON). */
export function adminAccessVerdict(document: string): Verdict {
  return hasAdminStatement(document)
    ? {
        compliance: 'NON_COMPLIANT',
        annotation: 'The policy has a statement that allows Action "*" on Resource "*".',
      }
    : COMPLIANT;
}

export interface FunctionSettingsView {
  runtime?: string | undefined;
  role?: string | undefined;
  timeout?: number | undefined;
  memorySize?: number | undefined;
}

/** LAMBDA_FUNCTION_SETTINGS_CHECK: runtime (required), role, timeout (default 3), memorySize (default 128). */
export function functionSettingsVerdict(fn: FunctionSettingsView, params: Record<string, string>): Verdict {
  const problems: string[] = [];
  const runtimes = (params.runtime ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (runtimes.length > 0 && !runtimes.includes(fn.runtime ?? ''))
    problems.push(`runtime is ${fn.runtime ?? 'unset'} (expected ${runtimes.join(' or ')})`);
  if (params.role && params.role !== fn.role) problems.push(`role is ${fn.role} (expected ${params.role})`);
  const timeout = Number(params.timeout ?? '3');
  if (fn.timeout !== timeout) problems.push(`timeout is ${fn.timeout} (expected ${timeout})`);
  const memory = Number(params.memorySize ?? '128');
  if (fn.memorySize !== memory) problems.push(`memorySize is ${fn.memorySize} (expected ${memory})`);
  return problems.length === 0 ? COMPLIANT : { compliance: 'NON_COMPLIANT', annotation: problems.join('; ') };
}
