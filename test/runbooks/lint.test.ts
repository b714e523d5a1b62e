/**
 * Table-driven lint over every first-party runbook (runbooks/DriftRemediation-*.yaml): schema version,
 * AutomationAssumeRole, allowedPattern on every string parameter (never `.*`, never looser than
 * tasks/shared/resource-ids.ts), Markdown description, final verification step, every `{{ }}`
 * reference defined, supported actions only, nextStep/onFailure targets exist; and the policy maps
 * every runbook with parameters the runbook declares.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAutomationDocument } from '../../sandbox/services/ssm/document';
import { loadPolicyFile } from '../../tasks/shared/policy/load';
import { RUNBOOK_PREFIX } from '../../tasks/shared/policy/schema';
import { isValidResourceId } from '../../tasks/shared/resource-ids';
import { lintRunbook } from './lint-rules';

const DIR = 'runbooks';
const files = readdirSync(DIR)
  .filter((f) => f.startsWith(RUNBOOK_PREFIX) && f.endsWith('.yaml'))
  .sort();
const runbooks = files.map((f) => ({
  file: f,
  name: basename(f, '.yaml'),
  text: readFileSync(join(DIR, f), 'utf8'),
}));
const docs = new Map(runbooks.map((r) => [r.name, parseAutomationDocument(r.text, 'YAML')]));

describe('the runbook library', () => {
  it('has the eight first-party runbooks under one prefix, and nothing else in runbooks/ but the policy', () => {
    expect(runbooks.map((r) => r.name)).toEqual([
      'DriftRemediation-BlockS3PublicAccess',
      'DriftRemediation-CloudControlPropertyRevert',
      'DriftRemediation-EnableS3BucketEncryption',
      'DriftRemediation-EnableS3BucketVersioning',
      'DriftRemediation-RestoreIamRolePolicies',
      'DriftRemediation-RestoreLambdaConfiguration',
      'DriftRemediation-RevertSecurityGroupIngress',
      'DriftRemediation-RevertStackDrift',
    ]);
    expect(readdirSync(DIR).filter((f) => !files.includes(f))).toEqual(['policy.yaml']);
  });
});

describe.each(runbooks)('$file', ({ text }) => {
  it('passes every lint rule', () => {
    expect(lintRunbook(text)).toEqual([]);
  });
});

/** Runbook parameters that carry a resource id, and the resource type whose id rule they must not loosen. */
const ID_PARAMETERS: Record<string, string> = {
  GroupId: 'AWS::EC2::SecurityGroup',
  BucketName: 'AWS::S3::Bucket',
  RoleName: 'AWS::IAM::Role',
  FunctionName: 'AWS::Lambda::Function',
  StackName: 'AWS::CloudFormation::Stack',
  Identifier: 'AWS::Generic::Fallback',
};

const VALID_IDS: Record<string, string[]> = {
  GroupId: ['sg-0123abcd', 'sg-0123456789abcdef0'],
  BucketName: ['drift-demo-data-000000000000', 'logs.example.com', 'abc'],
  RoleName: ['drift-demo-reporting', 'Role_With+Chars=,.@-'],
  FunctionName: ['drift-demo-thumbnail', 'fn_1'],
  StackName: [
    'drift-demo-web',
    'arn:aws:cloudformation:us-east-1:000000000000:stack/web/0f3c5c20-8a6b-11ee-b9d1-0242ac120002',
  ],
  Identifier: ['arn:aws:iam::000000000000:policy/demo', 'sg-0123abcd'],
};

const HOSTILE_IDS = [
  '',
  ' ',
  'sg-123',
  'sg-0123456789abcdef0 ',
  'sg-0123456789ABCDEF0',
  'sg-0123abcd;rm -rf',
  'xn--bucket',
  'bucket-s3alias',
  'my..bucket',
  '192.168.1.10',
  '1234.1.1.1',
  '-bucket',
  'Bucket',
  'a',
  'a'.repeat(64),
  'a'.repeat(65),
  'x'.repeat(129),
  '../../etc/passwd',
  'role/with/slash',
  'name with space',
  'name\nnewline',
  '{{ Injected }}',
  '*',
  'arn:aws:iam::000000000000:role/x',
  'arn:aws:cloudformation:us-east-1:000000000000:stack/x',
  '1stack',
  'stack_underscore',
];

/** Deterministic pseudo-random strings over an alphabet that mixes valid and invalid characters. */
function fuzz(count: number): string[] {
  const alphabet = 'abcdefsg0123456789-_.:/@+=,ABZ xn';
  let seed = 42;
  const next = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed;
  };
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const len = 1 + (next() % 70);
    let s = next() % 3 === 0 ? 'sg-' : '';
    while (s.length < len) s += alphabet.charAt(next() % alphabet.length);
    out.push(s);
  }
  return out;
}

describe('resource id parameters are no looser than tasks/shared/resource-ids.ts', () => {
  const cases = runbooks.flatMap((r) =>
    Object.entries(docs.get(r.name)?.parameters ?? {})
      .filter(([name]) => name in ID_PARAMETERS)
      .map(([name, p]) => ({ runbook: r.name, name, pattern: p.allowedPattern ?? '' })),
  );

  it('covers every id parameter of every runbook', () => {
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  it.each(cases)('$runbook $name', ({ name, pattern }) => {
    const type = ID_PARAMETERS[name] ?? '';
    const re = new RegExp(pattern);
    for (const id of VALID_IDS[name] ?? []) expect(re.test(id), `valid id ${id}`).toBe(true);
    for (const id of [...HOSTILE_IDS, ...fuzz(3000), ...(VALID_IDS[name] ?? [])]) {
      if (re.test(id))
        expect(
          isValidResourceId(type, id),
          `${JSON.stringify(id)} passes the runbook but not resource-ids`,
        ).toBe(true);
    }
  });
});

describe('the policy and the runbooks agree', () => {
  const policy = loadPolicyFile('runbooks/policy.yaml', { knownRunbooks: runbooks.map((r) => r.name) });
  const firstParty = policy.entries.filter((e) => e.firstParty);

  it('maps every runbook, and every first-party runbook it names exists', () => {
    expect(new Set(firstParty.map((e) => e.runbook))).toEqual(new Set(runbooks.map((r) => r.name)));
  });

  it.each(firstParty.map((e) => ({ id: e.id, entry: e })))(
    '$id fills exactly parameters the runbook declares, all required ones',
    ({ entry }) => {
      const doc = docs.get(entry.runbook);
      expect(doc).toBeDefined();
      const declared = Object.keys(doc?.parameters ?? {});
      const given = Object.keys(entry.parameters);
      for (const p of given) expect(declared, `${entry.runbook} declares ${p}`).toContain(p);
      const required = Object.entries(doc?.parameters ?? {})
        .filter(([name, p]) => p.default === undefined && name !== 'AutomationAssumeRole')
        .map(([name]) => name);
      for (const p of required) expect(given, `${entry.id} fills required ${p}`).toContain(p);
      expect(given).not.toContain('AutomationAssumeRole');
    },
  );
});

describe('each lint rule fires on a broken runbook', () => {
  const base = runbooks.find((r) => r.name === 'DriftRemediation-EnableS3BucketVersioning')?.text ?? '';
  const broken: Array<[string, (t: string) => string, RegExp]> = [
    ['schema version', (t) => t.replace("schemaVersion: '0.3'", "schemaVersion: '0.2'"), /schemaVersion/],
    [
      'no AssumeRole parameter',
      (t) => t.replace('  AutomationAssumeRole:\n', '  AssumeRoleArn:\n'),
      /AutomationAssumeRole/,
    ],
    [
      'optional AssumeRole',
      (t) => t.replace("    allowedPattern: '^arn", "    default: ''\n    allowedPattern: '^arn"),
      /required/,
    ],
    [
      'missing pattern',
      (t) => t.replace(/ {4}allowedPattern: '\^\(\?!xn--.*\n/, ''),
      /BucketName has no allowedPattern/,
    ],
    [
      '.* pattern',
      (t) => t.replace(/allowedPattern: '\^\(\?!xn--.*'/, () => "allowedPattern: '^.*$'"),
      /\.\*/,
    ],
    [
      'unanchored pattern',
      (t) => t.replace(/allowedPattern: '\^\(\?!xn--.*'/, "allowedPattern: '[a-z]+'"),
      /anchored/,
    ],
    [
      'no Markdown description',
      (t) => t.replace('  # Enable S3 bucket versioning', '  Enable S3 bucket versioning'),
      /heading/,
    ],
    ['undocumented parameter', (t) => t.replace('* **BucketName** (required)', '* the bucket'), /BucketName/],
    ['no never-touches section', (t) => t.replace('## What it never touches', '## Scope'), /never touches/],
    [
      'unsupported action',
      (t) => t.replace('action: aws:executeAwsApi', 'action: aws:executeScript'),
      /not supported/,
    ],
    [
      'undefined reference',
      (t) =>
        t.replace(
          "Bucket: '{{ BucketName }}'\n      VersioningConfiguration",
          "Bucket: '{{ Bucket }}'\n      VersioningConfiguration",
        ),
      /\{\{ Bucket \}\} is not defined/,
    ],
    [
      'undefined step output',
      (t) =>
        t.replace(
          "Bucket: '{{ BucketName }}'\n      VersioningConfiguration",
          "Bucket: '{{ EnableVersioning.Name }}'\n      VersioningConfiguration",
        ),
      /EnableVersioning\.Name/,
    ],
    ['missing nextStep target', (t) => t.replace('    isEnd: true', '    nextStep: Nowhere'), /Nowhere/],
    [
      'missing onFailure target',
      (t) => t.replace('    isEnd: true', '    onFailure: step:Nowhere'),
      /Nowhere/,
    ],
    [
      'last step does not verify',
      (t) =>
        `${t.replace('    isEnd: true\n', '')}  - name: Tail\n    action: aws:sleep\n    inputs: { Duration: PT1S }\n`,
      /last step/,
    ],
  ];
  it.each(broken)('%s', (_label, mutate, expected) => {
    const text = mutate(base);
    expect(text).not.toBe(base);
    const problems = lintRunbook(text);
    expect(problems.join('\n')).toMatch(expected);
  });
});
