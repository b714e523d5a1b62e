/**
 * Account-level name prefix (docs/policy.md, "Name prefix"): the Config rules and the first-party SSM
 * documents a stack deploys are named `${prefix}${name}`, so a second deployment (another prefix) or a
 * pre-existing rule or document of the same name does not collide. Rules the policy adopts (`deploy: false`)
 * and AWS-managed documents keep their own name: they already exist. Entries follow the renaming, so events
 * (which carry the deployed rule name) find their entry and plan hands start-runbook the deployed document
 * name. The CDK app applies it to the policy it deploys; the tasks that load the policy apply it from NAME_PREFIX.
 */
import { PolicyError } from '../errors';
import type { NormalizedPolicy } from './schema';

/** Letters, digits and `_ - .` (what a Config rule name allows), at most 32 characters. */
export const NAME_PREFIX_PATTERN = /^[A-Za-z0-9_.-]{0,32}$/;
const MAX_RULE_NAME = 128;
/** SSM reserves document names beginning with these (CreateDocument refuses them). */
const RESERVED_DOCUMENT_PREFIX = /^(aws|amazon|amzn)/i;
const MAX_DOCUMENT_NAME = 128;

export function withNamePrefix(policy: NormalizedPolicy, prefix: string): NormalizedPolicy {
  if (!NAME_PREFIX_PATTERN.test(prefix))
    throw new PolicyError(`name prefix ${JSON.stringify(prefix)}: use up to 32 letters, digits, _ - or .`);
  if (prefix === '') return policy;
  if (RESERVED_DOCUMENT_PREFIX.test(prefix))
    throw new PolicyError(
      `name prefix ${JSON.stringify(prefix)}: SSM reserves names beginning with aws, amazon or amzn`,
    );
  const renamed = new Map(
    policy.configRules.filter((r) => r.deploy).map((r) => [r.name, `${prefix}${r.name}`] as const),
  );
  for (const name of renamed.values()) {
    if (name.length > MAX_RULE_NAME)
      throw new PolicyError(`Config rule name ${name} is longer than ${MAX_RULE_NAME} characters`);
  }
  const rename = (n: string) => renamed.get(n) ?? n;
  const documentName = (e: { runbook: string; firstParty: boolean }) => {
    if (!e.firstParty) return e.runbook;
    const name = `${prefix}${e.runbook}`;
    if (name.length > MAX_DOCUMENT_NAME)
      throw new PolicyError(`SSM document name ${name} is longer than ${MAX_DOCUMENT_NAME} characters`);
    return name;
  };
  return {
    ...policy,
    configRules: policy.configRules.map((r) => ({ ...r, name: rename(r.name) })),
    entries: policy.entries.map((e) => ({
      ...e,
      configRules: e.configRules.map(rename),
      runbook: documentName(e),
    })),
  };
}
