/**
 * EC2 calls that create a resource, as IAM evaluates them (the Service Authorization Reference and EC2's
 * tag-on-create rules): the resource to be has no id yet, so it is `arn:aws:ec2:REGION:ACCOUNT:TYPE/*`,
 * with the tags the request's TagSpecifications put on it as `aws:RequestTag/<key>` and `aws:TagKeys`.
 * CreateSecurityGroup always acts on the group to be; AuthorizeSecurityGroupIngress/Egress act on the
 * rules they create only when they tag them (the reference lists `security-group-rule` as optional). A
 * request that tags what it creates also needs `ec2:CreateTags` on it, with `ec2:CreateAction` the
 * creating operation — so a policy can allow tagging only on creation.
 */
import { tagsFrom } from '../state';

export type RequestContext = Record<string, string | string[]>;

/** One authorization question of a call: `action` on `resource`, with these request condition keys. */
export interface IamCheck {
  action: string;
  resource: string;
  context: RequestContext;
}

/** The EC2 resource type each creating action creates. */
const CREATES: Record<string, string> = {
  'ec2:CreateSecurityGroup': 'security-group',
  'ec2:AuthorizeSecurityGroupIngress': 'security-group-rule',
  'ec2:AuthorizeSecurityGroupEgress': 'security-group-rule',
};

/** The tags the request's TagSpecifications put on a created resource of `type`. */
function requestTags(input: Record<string, unknown>, type: string): Record<string, string> {
  const specs = Array.isArray(input.TagSpecifications) ? input.TagSpecifications : [];
  const tags: Record<string, string> = {};
  for (const spec of specs as Array<Record<string, unknown>>) {
    const of = typeof spec.ResourceType === 'string' ? spec.ResourceType : type;
    if (of === type) for (const t of tagsFrom(spec.Tags)) tags[t.Key] = t.Value;
  }
  return tags;
}

/**
 * The checks of an EC2 call that creates a resource: the created resource (first for CreateSecurityGroup,
 * the call's main resource; after the group for a rule) and the tag-on-create ec2:CreateTags. Other
 * calls' checks are returned as they are.
 */
export function withCreated(
  action: string,
  input: Record<string, unknown>,
  where: { region: string; account: string },
  checks: IamCheck[],
): IamCheck[] {
  const type = CREATES[action];
  if (!type) return checks;
  const tags = requestTags(input, type);
  const keys = Object.keys(tags);
  if (keys.length === 0 && type !== 'security-group') return checks;
  const resource = `arn:aws:ec2:${where.region}:${where.account}:${type}/*`;
  const context: RequestContext =
    keys.length === 0
      ? {}
      : {
          ...Object.fromEntries(keys.map((k) => [`aws:RequestTag/${k}`, tags[k] ?? ''])),
          'aws:TagKeys': keys,
        };
  const created = { action, resource, context };
  const out = type === 'security-group' ? [created, ...checks] : [...checks, created];
  if (keys.length === 0) return out;
  const operation = action.slice(action.indexOf(':') + 1);
  return [
    ...out,
    { action: 'ec2:CreateTags', resource, context: { ...context, 'ec2:CreateAction': operation } },
  ];
}
