/**
 * How often the deployed Config rules with a periodic trigger run (MaximumExecutionFrequency): the
 * stack-drift rule's comes from the policy (`configRules[].maximumExecutionFrequency`), else AWS's
 * default of 24 hours, written into the template; change-triggered rules carry none (AWS refuses it).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml, stringify } from 'yaml';
import { PolicyError } from '../../tasks/shared/errors';
import { normalizePolicy } from '../../tasks/shared/policy/load';
import type { CfnTemplate } from '../../workflows/local';
import { synth } from './synth';

type RawRule = Record<string, unknown> & { name: string; sourceIdentifier: string };
const DRIFT = 'CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK';

/** The shipped policy with `edit` applied to each of its Config rule declarations. */
function policyWith(edit: (rule: RawRule) => RawRule): Record<string, unknown> {
  const raw = parseYaml(readFileSync('runbooks/policy.yaml', 'utf8')) as Record<string, unknown>;
  raw.configRules = (raw.configRules as RawRule[]).map(edit);
  return raw;
}

function policyFile(raw: Record<string, unknown>): string {
  const file = join(mkdtempSync(join(tmpdir(), 'config-frequency-')), 'policy.yaml');
  writeFileSync(file, stringify(raw));
  return file;
}

/** ConfigRuleName (no prefix) → its MaximumExecutionFrequency in the template. */
function frequencies(json: CfnTemplate): Record<string, unknown> {
  return Object.fromEntries(
    Object.values(json.Resources ?? {})
      .filter((r) => r.Type === 'AWS::Config::ConfigRule')
      .map((r) => [r.Properties?.ConfigRuleName, r.Properties?.MaximumExecutionFrequency]),
  );
}

function loadError(raw: Record<string, unknown>): string {
  try {
    normalizePolicy(raw);
  } catch (err) {
    expect(err).toBeInstanceOf(PolicyError);
    return (err as Error).message;
  }
  throw new Error('the policy loaded');
}

describe('Config rule MaximumExecutionFrequency', () => {
  it('the shipped stack-drift rule runs every 24 hours, written out; change-triggered rules carry none', () => {
    const got = frequencies(synth({ nag: false }).json);
    expect(got['cloudformation-stack-drift-detection-check']).toBe('TwentyFour_Hours');
    const others = Object.entries(got).filter(
      ([name]) => name !== 'cloudformation-stack-drift-detection-check',
    );
    expect(others.length).toBeGreaterThan(0);
    for (const [name, frequency] of others) expect(frequency, name).toBeUndefined();
  });

  it("the policy's frequency reaches the deployed rule", () => {
    const raw = policyWith((r) =>
      r.sourceIdentifier === DRIFT ? { ...r, maximumExecutionFrequency: 'Six_Hours' } : r,
    );
    const got = frequencies(synth({ nag: false, remediation: { policyFile: policyFile(raw) } }).json);
    expect(got['cloudformation-stack-drift-detection-check']).toBe('Six_Hours');
  }, 120_000);

  it('refuses a frequency AWS would refuse, naming the field', () => {
    const ssh = policyWith((r) =>
      r.sourceIdentifier === 'INCOMING_SSH_DISABLED' ? { ...r, maximumExecutionFrequency: 'One_Hour' } : r,
    );
    expect(loadError(ssh)).toMatch(
      /policy\.configRules\[0\]\.maximumExecutionFrequency: INCOMING_SSH_DISABLED is triggered by configuration changes only/,
    );
    const adopted = policyWith((r) =>
      r.sourceIdentifier === DRIFT ? { ...r, deploy: false, maximumExecutionFrequency: 'One_Hour' } : r,
    );
    expect(loadError(adopted)).toMatch(/maximumExecutionFrequency: only a rule the stack deploys/);
    const typo = policyWith((r) =>
      r.sourceIdentifier === DRIFT ? { ...r, maximumExecutionFrequency: '6h' } : r,
    );
    expect(loadError(typo)).toMatch(/maximumExecutionFrequency: Invalid type: Expected \("One_Hour"/);
  });
});
