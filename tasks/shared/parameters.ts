/**
 * Resolves a policy entry's runbook parameter sources against the execution state into SSM's
 * Parameters shape (Record<string, string[]>). Pure; used by Request approval (to show the approver
 * exactly what will run) and by Start runbook (to run it), so both see the same values.
 */
import {
  type DriftState,
  isRecord,
  type ParameterSource,
  type PlanResult,
  type RemediationEvent,
} from './contracts';
import { InvalidInputError } from './errors';

export interface ParameterContext {
  event: RemediationEvent;
  drift?: DriftState | undefined;
  plan?: PlanResult | undefined;
}

function lookup(ctx: ParameterContext, path: string): unknown {
  let cur: unknown = ctx;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

type Conversion = 'string' | 'json' | 'list' | 'ec2IpPermissions' | 'jsonPatchSet' | 'cloudControlPatch';

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

function listOf(name: string, v: unknown): unknown[] {
  if (!Array.isArray(v))
    throw new InvalidInputError('runbook parameter is not a list', [`${name}: ${text(v).slice(0, 80)}`]);
  return v;
}

/**
 * A CloudFormation AWS::EC2::SecurityGroup ingress or egress rule (template shape) as an EC2 API
 * IpPermission (what Authorize/RevokeSecurityGroupIngress and …Egress take), one rule per permission.
 * The peer is CidrIp, CidrIpv6, or the Source… (ingress) / Destination… (egress) prefix list or group.
 */
export function toEc2IpPermission(rule: unknown): Record<string, unknown> {
  if (!isRecord(rule) || rule.IpProtocol === undefined) {
    throw new InvalidInputError('not a security group rule', [text(rule).slice(0, 120)]);
  }
  const protocol = String(rule.IpProtocol).toLowerCase();
  const perm: Record<string, unknown> = { IpProtocol: protocol };
  if (protocol !== '-1' && protocol !== 'all') {
    if (rule.FromPort !== undefined) perm.FromPort = Number(rule.FromPort);
    if (rule.ToPort !== undefined) perm.ToPort = Number(rule.ToPort);
  }
  const desc = typeof rule.Description === 'string' ? { Description: rule.Description } : {};
  const prefixList = rule.SourcePrefixListId ?? rule.DestinationPrefixListId;
  const group = rule.SourceSecurityGroupId ?? rule.DestinationSecurityGroupId;
  if (typeof rule.CidrIp === 'string') perm.IpRanges = [{ CidrIp: rule.CidrIp, ...desc }];
  else if (typeof rule.CidrIpv6 === 'string') perm.Ipv6Ranges = [{ CidrIpv6: rule.CidrIpv6, ...desc }];
  else if (typeof prefixList === 'string') perm.PrefixListIds = [{ PrefixListId: prefixList, ...desc }];
  else if (typeof group === 'string') {
    const owner =
      typeof rule.SourceSecurityGroupOwnerId === 'string' ? { UserId: rule.SourceSecurityGroupOwnerId } : {};
    perm.UserIdGroupPairs = [{ GroupId: group, ...owner, ...desc }];
  } else {
    throw new InvalidInputError('security group rule has no source or destination', [
      text(rule).slice(0, 120),
    ]);
  }
  return perm;
}

/**
 * An RFC 6902 patch (for Cloud Control UpdateResource) that sets every top-level property named in
 * the drift's PropertyDifferences back to its expected (template) value, or removes it when the
 * template does not declare it. Whole top-level values, so list reordering cannot misplace elements.
 */
export function cloudControlPatch(drift: unknown): Array<Record<string, unknown>> {
  if (!isRecord(drift)) throw new InvalidInputError('cloudControlPatch needs the drift state');
  const expected = isRecord(drift.expected) ? drift.expected : {};
  const diffs = Array.isArray(drift.propertyDifferences) ? drift.propertyDifferences : [];
  const tops: string[] = [];
  for (const d of diffs) {
    const path = isRecord(d) && typeof d.PropertyPath === 'string' ? d.PropertyPath : '';
    const top = path.split('/')[1];
    if (!top || !/^[A-Za-z0-9]+$/.test(top))
      throw new InvalidInputError('unusable PropertyPath in drift', [path.slice(0, 120)]);
    if (!tops.includes(top)) tops.push(top);
  }
  return tops.map((top) =>
    top in expected
      ? { op: 'add', path: `/${top}`, value: expected[top] }
      : { op: 'remove', path: `/${top}` },
  );
}

function convert(name: string, from: string, as: Conversion, v: unknown): string[] {
  switch (as) {
    case 'json':
      return [JSON.stringify(v)];
    case 'list':
      return (Array.isArray(v) ? v : [v]).map(text);
    case 'ec2IpPermissions':
      return listOf(name, v).map((r) => JSON.stringify(toEc2IpPermission(r)));
    case 'jsonPatchSet': {
      const prop = from.split('.').at(-1) ?? '';
      return [JSON.stringify([{ op: 'add', path: `/${prop}`, value: v }])];
    }
    case 'cloudControlPatch':
      return [JSON.stringify(cloudControlPatch(v))];
    default:
      return [text(v)];
  }
}

export function resolveParameters(
  sources: Record<string, ParameterSource>,
  ctx: ParameterContext,
  automationAssumeRoleArn?: string,
): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const missing: string[] = [];
  for (const [name, src] of Object.entries(sources)) {
    if ('value' in src) {
      out[name] = Array.isArray(src.value) ? src.value : [src.value];
      continue;
    }
    const found = lookup(ctx, src.from);
    if (src.as === 'present') {
      out[name] = [found === undefined || found === null ? 'false' : 'true'];
      continue;
    }
    if (found === undefined || found === null) {
      // A default is written as the SSM value itself: it is used as is, never converted.
      if (src.default === undefined) missing.push(`${name} (from ${src.from})`);
      else out[name] = Array.isArray(src.default) ? src.default : [src.default];
      continue;
    }
    out[name] = convert(name, src.from, src.as, found);
  }
  if (missing.length) throw new InvalidInputError('runbook parameters could not be resolved', missing);
  if (automationAssumeRoleArn) out.AutomationAssumeRole = [automationAssumeRoleArn];
  return out;
}
