/**
 * Account-level name prefix (#12): two deployments with different prefixes create no account-level
 * resource of the same fixed name (Config rules, first-party SSM documents, the state machine), a rule the
 * policy adopts (deploy: false) is not deployed but still routed by name, and AWS-managed documents keep theirs.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TASK_METADATA_KEY } from '../../infra/drift-remediation';
import { parsePolicyText } from '../../tasks/shared/policy/load';
import { withNamePrefix } from '../../tasks/shared/policy/prefix';
import { policyFromEnv, resetPolicyCache } from '../../tasks/shared/policy-env';
import { synth } from './synth';

type Resources = Record<
  string,
  { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
>;

const ADOPTED = 'restricted-ssh';
const dir = mkdtempSync(join(tmpdir(), 'name-prefix-'));
const adoptingPolicy = join(dir, 'policy.yaml');
const adoptingText = readFileSync('runbooks/policy.yaml', 'utf8').replace(
  `{ name: ${ADOPTED}, sourceIdentifier: INCOMING_SSH_DISABLED, resourceTypes: [AWS::EC2::SecurityGroup], deploy: true }`,
  `{ name: ${ADOPTED}, sourceIdentifier: INCOMING_SSH_DISABLED, resourceTypes: [AWS::EC2::SecurityGroup], deploy: false }`,
);
writeFileSync(adoptingPolicy, adoptingText);
/** The tasks read the policy as JSON (as infra bundles it). */
const asJson = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(parsePolicyText(text)));
  return path;
};
const repoJson = asJson('repo.json', readFileSync('runbooks/policy.yaml', 'utf8'));
const adoptingJson = asJson('adopting.json', adoptingText);

const a = synth({ remediation: { namePrefix: 'team-a-' } }).json.Resources as Resources;
const b = synth({ remediation: { namePrefix: 'team-b-', policyFile: adoptingPolicy } }).json
  .Resources as Resources;

const ruleNames = (r: Resources) =>
  Object.values(r)
    .filter((x) => x.Type === 'AWS::Config::ConfigRule')
    .map((x) => String(x.Properties?.ConfigRuleName));
const intakePattern = (r: Resources) => {
  const rule = Object.values(r).find(
    (x) =>
      x.Type === 'AWS::Events::Rule' &&
      JSON.stringify(x.Properties?.EventPattern).includes('Config Rules Compliance Change') &&
      JSON.stringify(x.Properties?.Targets).includes('IntakeQueue'),
  );
  return (
    (rule?.Properties?.EventPattern as { detail?: { configRuleName?: string[] } } | undefined)?.detail
      ?.configRuleName ?? []
  );
};
const envOf = (r: Resources, task: string) =>
  (
    Object.values(r).find(
      (x) => x.Type === 'AWS::Lambda::Function' && x.Metadata?.[TASK_METADATA_KEY] === task,
    )?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined
  )?.Variables ?? {};

/**
 * Every fixed name the template gives a resource (a `…Name` property with a literal value), except the
 * ones scoped below the account: inline policies (per role), display and metric names (not identifiers).
 */
const NOT_ACCOUNT_LEVEL = new Set(['PolicyName', 'DisplayName', 'MetricName']);
const fixedNames = (r: Resources) =>
  Object.values(r).flatMap((x) =>
    Object.entries(x.Properties ?? {})
      .filter(([k, v]) => k.endsWith('Name') && !NOT_ACCOUNT_LEVEL.has(k) && typeof v === 'string')
      .map(([k, v]) => `${x.Type} ${k} ${String(v)}`),
  );
const nameOf = (entry: string) => entry.split(' ')[2] ?? '';

describe('name prefix', () => {
  it('two deployments with different prefixes share no fixed account-level name', () => {
    const namesA = fixedNames(a);
    const namesB = fixedNames(b);
    const types = new Set(namesA.map((n) => n.split(' ').slice(0, 2).join(' ')));
    expect([...types].sort()).toEqual([
      'AWS::Config::ConfigRule ConfigRuleName',
      'AWS::SSM::Document Name',
      'AWS::StepFunctions::StateMachine StateMachineName',
    ]);
    expect(namesA.filter((n) => !nameOf(n).startsWith('team-a-'))).toEqual([]);
    expect(namesB.filter((n) => !nameOf(n).startsWith('team-b-'))).toEqual([]);
    const setB = new Set(namesB.map(nameOf));
    expect(namesA.map(nameOf).filter((n) => setB.has(n))).toEqual([]);
  });

  it('start-runbook may start exactly the prefixed first-party documents', () => {
    const docs = Object.values(a)
      .filter((x) => x.Type === 'AWS::SSM::Document')
      .map((x) => String(x.Properties?.Name));
    expect(docs).toContain('team-a-DriftRemediation-RevertSecurityGroupIngress');
    const startPolicy = Object.values(a).find(
      (x) =>
        x.Type === 'AWS::IAM::Policy' &&
        JSON.stringify(x.Properties).includes('ssm:StartAutomationExecution'),
    );
    const text = JSON.stringify(startPolicy?.Properties);
    for (const d of docs) expect(text).toContain(`:document/${d}`);
    expect(text).not.toMatch(/:document\/DriftRemediation-/);
  });

  it('the tasks name the prefixed document; an AWS-managed document keeps its name', () => {
    resetPolicyCache();
    const p = policyFromEnv({ POLICY_FILE: repoJson, NAME_PREFIX: 'team-a-' });
    expect(p.entries.find((e) => e.id === 'sg-ingress')?.runbook).toBe(
      'team-a-DriftRemediation-RevertSecurityGroupIngress',
    );
    const plain = policyFromEnv({ POLICY_FILE: repoJson });
    const managed = {
      ...plain,
      entries: plain.entries.map((e) => ({
        ...e,
        runbook: 'AWS-EnableS3BucketEncryption',
        firstParty: false,
      })),
    };
    expect(new Set(withNamePrefix(managed, 'team-a-').entries.map((e) => e.runbook))).toEqual(
      new Set(['AWS-EnableS3BucketEncryption']),
    );
    expect(() => withNamePrefix(plain, 'aws-')).toThrow(/reserves/);
  });

  it('two deployments with different prefixes share no Config rule name', () => {
    const namesA = ruleNames(a);
    const namesB = ruleNames(b);
    expect(namesA.length).toBeGreaterThan(3);
    expect(namesA.every((n) => n.startsWith('team-a-'))).toBe(true);
    expect(namesB.every((n) => n.startsWith('team-b-'))).toBe(true);
    expect(namesA.filter((n) => namesB.includes(n))).toEqual([]);
    expect(intakePattern(a)).toContain('team-a-restricted-ssh');
    expect(envOf(a, 'intake').NAME_PREFIX).toBe('team-a-');
    expect(envOf(a, 'plan').NAME_PREFIX).toBe('team-a-');
  });

  it('an adopted rule (deploy: false) is not deployed, keeps its name, and its events still reach intake', () => {
    expect(ruleNames(b)).not.toContain(`team-b-${ADOPTED}`);
    expect(ruleNames(b)).not.toContain(ADOPTED);
    expect(intakePattern(b)).toContain(ADOPTED);
    expect(String(envOf(b, 'sweep').CONFIG_RULES).split(',')).toContain(ADOPTED);
  });

  it('the tasks apply the same prefix to the policy they load (NAME_PREFIX)', () => {
    resetPolicyCache();
    const p = policyFromEnv({ POLICY_FILE: repoJson, NAME_PREFIX: 'team-a-' });
    const entry = p.entries.find((e) => e.id === 'sg-ingress');
    expect(entry?.configRules).toEqual(['team-a-restricted-ssh', 'team-a-restricted-common-ports']);
    const adopted = policyFromEnv({ POLICY_FILE: adoptingJson, NAME_PREFIX: 'team-b-' });
    expect(adopted.entries.find((e) => e.id === 'sg-ingress')?.configRules).toEqual([
      ADOPTED,
      'team-b-restricted-common-ports',
    ]);
    expect(() => policyFromEnv({ POLICY_FILE: repoJson, NAME_PREFIX: 'bad prefix!' })).toThrow(/name prefix/);
  });
});
