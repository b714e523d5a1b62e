/**
 * The tags IAM sees on a resource (`aws:ResourceTag/<key>` condition keys): the resource's own tags, and
 * for a resource CloudFormation created, what CloudFormation puts on it — its stack's tags and
 * `aws:cloudformation:stack-name` / `stack-id` / `logical-id`. Read through the emulated services
 * themselves (not authorized: IAM's own view).
 */

import { cachedRead } from '../../core/changes';
import type { SandboxContext } from '../../core/types';

type Out = Record<string, unknown>;
type TagList = Array<{ Key?: unknown; Value?: unknown }>;

function fromList(list: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of Array.isArray(list) ? (list as TagList) : []) {
    if (typeof t.Key === 'string') out[t.Key] = String(t.Value ?? '');
  }
  return out;
}

/** The resource's own tags and its physical id, by the ARN's service and resource type. */
async function ownTags(
  sandbox: SandboxContext,
  arn: string,
): Promise<{ id: string; tags: Record<string, string> }> {
  const [, , service = '', , , rest = ''] = arn.split(':');
  const resource = arn.split(':').slice(5).join(':');
  if (service === 'ec2' && rest.startsWith('security-group-rule/')) {
    const id = rest.slice('security-group-rule/'.length);
    const out = await cachedRead(sandbox, 'ec2', 'DescribeSecurityGroupRules', {
      SecurityGroupRuleIds: [id],
    });
    const rule = (Array.isArray(out.SecurityGroupRules) ? out.SecurityGroupRules : [])[0] as Out | undefined;
    return { id, tags: fromList(rule?.Tags) };
  }
  if (service === 'ec2' && rest.startsWith('security-group/')) {
    const id = rest.slice('security-group/'.length);
    const out = await cachedRead(sandbox, 'ec2', 'DescribeSecurityGroups', { GroupIds: [id] });
    const group = (Array.isArray(out.SecurityGroups) ? out.SecurityGroups : [])[0] as Out | undefined;
    return { id, tags: fromList(group?.Tags) };
  }
  if (service === 'lambda' && resource.startsWith('function:')) {
    const out = await cachedRead(sandbox, 'lambda', 'ListTags', { Resource: arn });
    return { id: resource.split(':')[1] ?? '', tags: (out.Tags as Record<string, string> | undefined) ?? {} };
  }
  if (service === 's3' && !resource.includes('/')) {
    const out = await cachedRead(sandbox, 's3', 'GetBucketTagging', { Bucket: resource });
    return { id: resource, tags: fromList(out.TagSet) };
  }
  if (service === 'iam' && resource.startsWith('role/')) {
    const name = resource.slice(resource.lastIndexOf('/') + 1);
    return {
      id: name,
      tags: fromList((await cachedRead(sandbox, 'iam', 'ListRoleTags', { RoleName: name })).Tags),
    };
  }
  return { id: resource.slice(resource.lastIndexOf('/') + 1), tags: {} };
}

/** `aws:ResourceTag/<key>` (and EC2's `ec2:ResourceTag/<key>`) context keys for this ARN (none for `*`). */
export async function resourceTagContext(
  sandbox: SandboxContext,
  arn: string,
): Promise<Record<string, string>> {
  // `…/*`: a resource being created (EC2's CreateSecurityGroup), which has no tags yet.
  if (!arn.startsWith('arn:') || arn.endsWith('/*')) return {};
  const tags: Record<string, string> = {};
  const stackArn = /^arn:[^:]+:cloudformation:[^:]*:[^:]*:stack\//.test(arn) ? arn : undefined;
  const { id, tags: own } = stackArn ? { id: '', tags: {} } : await ownTags(sandbox, arn);
  let stackName = stackArn;
  let logicalId: string | undefined;
  if (!stackArn && id) {
    const out = await cachedRead(sandbox, 'cloudformation', 'DescribeStackResources', {
      PhysicalResourceId: id,
    });
    const r = (Array.isArray(out.StackResources) ? out.StackResources : [])[0] as Out | undefined;
    stackName = typeof r?.StackName === 'string' ? r.StackName : undefined;
    logicalId = typeof r?.LogicalResourceId === 'string' ? r.LogicalResourceId : undefined;
  }
  if (stackName) {
    const out = await cachedRead(sandbox, 'cloudformation', 'DescribeStacks', { StackName: stackName });
    const stack = (Array.isArray(out.Stacks) ? out.Stacks : [])[0] as Out | undefined;
    Object.assign(tags, fromList(stack?.Tags));
    if (typeof stack?.StackName === 'string') tags['aws:cloudformation:stack-name'] = stack.StackName;
    if (typeof stack?.StackId === 'string') tags['aws:cloudformation:stack-id'] = stack.StackId;
    if (logicalId) tags['aws:cloudformation:logical-id'] = logicalId;
  }
  Object.assign(tags, own);
  // EC2 also publishes the tags under its own key (ec2:ResourceTag/…), which EC2 policies use.
  const prefixes = arn.split(':')[2] === 'ec2' ? ['aws', 'ec2'] : ['aws'];
  return Object.fromEntries(
    Object.entries(tags).flatMap(([k, v]) => prefixes.map((p) => [`${p}:ResourceTag/${k}`, v])),
  );
}
