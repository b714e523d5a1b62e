/**
 * Config rule scope (#12): every deployed rule is scoped by the policy's tag, and nothing this stack
 * creates carries that tag, so no rule ever evaluates the project's own functions, roles or tables.
 */
import { describe, expect, it } from 'vitest';
import { loadPolicyFile } from '../../tasks/shared/policy/load';
import { synth } from './synth';

const policy = loadPolicyFile('runbooks/policy.yaml');
const { json } = synth();
const resources = Object.entries(json.Resources ?? {});

interface Tag {
  Key?: unknown;
  Value?: unknown;
}

/** Tag keys a resource declares, in either shape CloudFormation uses (list of {Key, Value} or a map). */
function tagKeys(properties: Record<string, unknown> | undefined): string[] {
  const tags = properties?.Tags;
  if (Array.isArray(tags)) return tags.map((t: Tag) => String(t.Key));
  if (tags && typeof tags === 'object') return Object.keys(tags);
  return [];
}

describe('Config rule scope', () => {
  const rules = resources.filter(([, r]) => r.Type === 'AWS::Config::ConfigRule');

  it('scopes every deployed rule (LAMBDA_FUNCTION_SETTINGS_CHECK included) by the policy scope tag', () => {
    expect(rules.length).toBe(policy.configRules.filter((r) => r.deploy).length);
    const sources = rules.map(
      ([, r]) => (r.Properties?.Source as { SourceIdentifier?: string } | undefined)?.SourceIdentifier,
    );
    expect(sources).toContain('LAMBDA_FUNCTION_SETTINGS_CHECK');
    for (const [id, r] of rules) {
      const decl = policy.configRules.find((c) => c.name === r.Properties?.ConfigRuleName);
      const want = decl?.scope ?? policy.scope;
      const scope = r.Properties?.Scope as Record<string, unknown> | undefined;
      expect(scope, id).toEqual({ TagKey: want.tagKey, TagValue: want.tagValue });
    }
  });

  it("no resource of the project's own stack carries a scope tag", () => {
    const keys = new Set([
      policy.scope.tagKey,
      ...policy.configRules.flatMap((c) => (c.scope ? [c.scope.tagKey] : [])),
    ]);
    const tagged = resources.filter(([, r]) =>
      tagKeys(r.Properties as Record<string, unknown> | undefined).some((k) => keys.has(k)),
    );
    expect(tagged.map(([id]) => id)).toEqual([]);
  });
});
