/**
 * How an event finds its policy entry (tasks/shared/policy/match.ts): Config rule + type; CloudFormation
 * drift by type and drifted property paths, most specific wins; every overlap refused at load.
 */
import { describe, expect, it } from 'vitest';
import { resourceSchema } from '../../infra/runbook-permissions';
import { PolicyError } from '../../tasks/shared/errors';
import { findEntry, loadPolicyFile, normalizePolicy } from '../../tasks/shared/policy/load';
import { driftedPropertyPaths } from '../../tasks/shared/policy/match';

const SG = 'AWS::EC2::SecurityGroup';
const defaults = {
  approval: { mode: 'auto', approvers: [], ttlSeconds: 3600 },
  concurrency: { perRunbook: 5, global: 20 },
  attempts: { max: 3, retryAfterSeconds: 60 },
  loopBreaker: { windowSeconds: 86400, maxRemediations: 3 },
  blastRadius: { windowSeconds: 3600, maxRemediations: 50 },
  verification: { timeoutSeconds: 900, intervalSeconds: 30 },
};
const entry = (id: string, match: Record<string, unknown>) => ({
  id,
  match,
  runbook: `DriftRemediation-${id.replace(/(^|-)(\w)/g, (_m, _d, c: string) => c.toUpperCase())}`,
});
const policyOf = (...remediations: unknown[]) => normalizePolicy({ version: 1, defaults, remediations });
const loadError = (...remediations: unknown[]): string => {
  try {
    policyOf(...remediations);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as Error).message;
  }
  throw new Error('the policy loaded');
};

describe('drifted property paths from CloudFormation PropertyDifferences', () => {
  it('drops list indices, de-duplicates and sorts', () => {
    expect(
      driftedPropertyPaths([
        { PropertyPath: '/SecurityGroupEgress/1' },
        { PropertyPath: '/SecurityGroupEgress/0/CidrIp' },
        { PropertyPath: '/SecurityGroupEgress/1' },
        { PropertyPath: '/Tags/0/Value' },
      ]),
    ).toEqual(['SecurityGroupEgress', 'SecurityGroupEgress.CidrIp', 'Tags.Value']);
    expect(driftedPropertyPaths(undefined)).toEqual([]);
    expect(driftedPropertyPaths([{ PropertyPath: '/' }, {}])).toEqual([]);
  });

  it('folds more than 64 distinct paths to their top-level names', () => {
    const many = Array.from({ length: 70 }, (_, i) => ({ PropertyPath: `/Tags/${i}/Key${i}` }));
    expect(driftedPropertyPaths(many)).toEqual(['Tags']);
  });
});

describe('matching', () => {
  const policy = policyOf(
    entry('sg-ingress', { configRules: ['restricted-ssh'], resourceTypes: [SG] }),
    entry('sg-egress', {
      resourceTypes: [SG],
      cloudFormationDrift: true,
      properties: ['SecurityGroupEgress'],
    }),
    entry('sg-tags', { resourceTypes: [SG], cloudFormationDrift: true, properties: ['Tags'] }),
    entry('sg-any', { resourceTypes: [SG], cloudFormationDrift: true }),
  );
  const drift = (...driftedProperties: string[]) =>
    findEntry(policy, { resourceType: SG, driftedProperties })?.id;

  it('a Config event matches by rule and type, whatever drifted', () => {
    expect(
      findEntry(policy, {
        configRuleName: 'restricted-ssh',
        resourceType: SG,
        driftedProperties: ['SecurityGroupEgress'],
      })?.id,
    ).toBe('sg-ingress');
    expect(findEntry(policy, { configRuleName: 'other', resourceType: SG })).toBeUndefined();
  });

  it('drift covered entirely by an entry’s properties goes to it (most specific wins)', () => {
    expect(drift('SecurityGroupEgress')).toBe('sg-egress');
    expect(drift('SecurityGroupEgress', 'SecurityGroupEgress.CidrIp')).toBe('sg-egress');
    expect(drift('Tags.Value')).toBe('sg-tags');
  });

  it('drift that no property-scoped entry covers goes to the type-wide entry', () => {
    expect(drift('SecurityGroupEgress', 'SecurityGroupIngress')).toBe('sg-any');
    expect(drift('SecurityGroupEgress', 'Tags')).toBe('sg-any');
    expect(drift('SecurityGroupEgressExtra')).toBe('sg-any');
    expect(drift()).toBe('sg-any');
    expect(findEntry(policy, { resourceType: SG })?.id).toBe('sg-any');
  });

  it('the order of entries in the file decides nothing', () => {
    const reversed = policyOf(
      entry('sg-any', { resourceTypes: [SG], cloudFormationDrift: true }),
      entry('sg-tags', { resourceTypes: [SG], cloudFormationDrift: true, properties: ['Tags'] }),
      entry('sg-egress', {
        resourceTypes: [SG],
        cloudFormationDrift: true,
        properties: ['SecurityGroupEgress'],
      }),
    );
    for (const paths of [['SecurityGroupEgress'], ['Tags'], ['Tags', 'SecurityGroupIngress'], []])
      expect(findEntry(reversed, { resourceType: SG, driftedProperties: paths })?.id).toBe(
        findEntry(policy, { resourceType: SG, driftedProperties: paths })?.id,
      );
  });

  it('with no type-wide entry, uncovered drift matches nothing', () => {
    const only = policyOf(
      entry('sg-egress', {
        resourceTypes: [SG],
        cloudFormationDrift: true,
        properties: ['SecurityGroupEgress'],
      }),
    );
    expect(
      findEntry(only, { resourceType: SG, driftedProperties: ['SecurityGroupIngress'] }),
    ).toBeUndefined();
    expect(findEntry(only, { resourceType: SG })).toBeUndefined();
  });

  it('the shipped policy: egress drift → sg-egress, SSH rule → sg-ingress, ingress drift → no drift entry', () => {
    const shipped = loadPolicyFile('runbooks/policy.yaml');
    expect(findEntry(shipped, { resourceType: SG, driftedProperties: ['SecurityGroupEgress'] })?.id).toBe(
      'sg-egress',
    );
    expect(findEntry(shipped, { configRuleName: 'restricted-ssh', resourceType: SG })?.id).toBe('sg-ingress');
    expect(
      findEntry(shipped, { resourceType: SG, driftedProperties: ['SecurityGroupIngress'] }),
    ).toBeUndefined();
  });
});

describe('ambiguous policies fail at load with a clear message', () => {
  it('overlapping property paths for one type', () => {
    const msg = loadError(
      entry('sg-egress', {
        resourceTypes: [SG],
        cloudFormationDrift: true,
        properties: ['SecurityGroupEgress'],
      }),
      entry('sg-egress-cidr', {
        resourceTypes: [SG],
        cloudFormationDrift: true,
        properties: ['Tags', 'SecurityGroupEgress.CidrIp'],
      }),
    );
    expect(msg).toContain(
      `drift of SecurityGroupEgress.CidrIp on ${SG} is matched by both sg-egress (SecurityGroupEgress) and sg-egress-cidr`,
    );
  });

  it('the same paths twice', () => {
    expect(
      loadError(
        entry('a', { resourceTypes: [SG], cloudFormationDrift: true, properties: ['Tags'] }),
        entry('b', { resourceTypes: [SG], cloudFormationDrift: true, properties: ['Tags'] }),
      ),
    ).toMatch(/drift of Tags on AWS::EC2::SecurityGroup is matched by both a \(Tags\) and b \(Tags\)/);
  });

  it('two type-wide drift entries, or one rule/type pair twice', () => {
    expect(
      loadError(
        entry('a', { resourceTypes: [SG], cloudFormationDrift: true }),
        entry('b', { resourceTypes: [SG], cloudFormationDrift: true }),
      ),
    ).toContain(`drift / ${SG} is matched by both a and b`);
    expect(
      loadError(
        entry('a', { configRules: ['r'], resourceTypes: [SG] }),
        entry('b', { configRules: ['r'], resourceTypes: [SG] }),
      ),
    ).toContain(`rule r / ${SG} is matched by both a and b`);
  });

  it('properties on an entry Config events reach', () => {
    expect(
      loadError(entry('a', { configRules: ['r'], resourceTypes: [SG], properties: ['SecurityGroupEgress'] })),
    ).toContain('policy.remediations[0].match.properties: only CloudFormation drift events carry');
    expect(
      loadError(
        entry('a', {
          configRules: ['r'],
          resourceTypes: [SG],
          cloudFormationDrift: true,
          properties: ['Tags'],
        }),
      ),
    ).toContain('match.properties');
  });

  it('a malformed property path', () => {
    expect(
      loadError(entry('a', { resourceTypes: [SG], cloudFormationDrift: true, properties: ['/Tags/0'] })),
    ).toContain('policy.remediations[0].match.properties[0]: must be a dotted property path');
  });

  it('disjoint paths for one type coexist', () => {
    expect(() =>
      policyOf(
        entry('a', { resourceTypes: [SG], cloudFormationDrift: true, properties: ['SecurityGroupEgress'] }),
        entry('b', { resourceTypes: [SG], cloudFormationDrift: true, properties: ['SecurityGroupIngress'] }),
        entry('c', { resourceTypes: [SG], cloudFormationDrift: true }),
      ),
    ).not.toThrow();
  });
});

describe('the shipped policy names real properties', () => {
  const scoped = loadPolicyFile('runbooks/policy.yaml').entries.flatMap((e) =>
    e.properties.flatMap((path) => e.resourceTypes.map((type) => ({ id: e.id, path, type }))),
  );
  it('has property-scoped entries', () => {
    expect(scoped.length).toBeGreaterThan(0);
  });
  it.each(scoped)(
    '$id: $path is a property of $type (its CloudFormation resource schema)',
    ({ path, type }) => {
      const top = path.split('.')[0] ?? path;
      expect(Object.keys(resourceSchema(type).properties ?? {})).toContain(top);
    },
  );
});
