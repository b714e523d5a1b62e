/**
 * Account-level name prefix (docs/policy.md, "Name prefix"): the Config rules a stack deploys are named
 * `${prefix}${name}`, so a second deployment (another prefix) or a pre-existing rule of the same name does
 * not collide. Rules the policy adopts (`deploy: false`) keep their own name: they already exist. Entries
 * follow the renaming, so events (which carry the deployed name) find their entry. The CDK app applies it
 * to the policy it deploys; the tasks that load the policy apply it from NAME_PREFIX.
 */
import { PolicyError } from '../errors';
import type { NormalizedPolicy } from './schema';

/** Letters, digits and `_ - .` (what a Config rule name allows), at most 32 characters. */
export const NAME_PREFIX_PATTERN = /^[A-Za-z0-9_.-]{0,32}$/;
const MAX_RULE_NAME = 128;

export function withNamePrefix(policy: NormalizedPolicy, prefix: string): NormalizedPolicy {
  if (!NAME_PREFIX_PATTERN.test(prefix))
    throw new PolicyError(`name prefix ${JSON.stringify(prefix)}: use up to 32 letters, digits, _ - or .`);
  if (prefix === '') return policy;
  const renamed = new Map(
    policy.configRules.filter((r) => r.deploy).map((r) => [r.name, `${prefix}${r.name}`] as const),
  );
  for (const name of renamed.values()) {
    if (name.length > MAX_RULE_NAME)
      throw new PolicyError(`Config rule name ${name} is longer than ${MAX_RULE_NAME} characters`);
  }
  const rename = (n: string) => renamed.get(n) ?? n;
  return {
    ...policy,
    configRules: policy.configRules.map((r) => ({ ...r, name: rename(r.name) })),
    entries: policy.entries.map((e) => ({ ...e, configRules: e.configRules.map(rename) })),
  };
}
