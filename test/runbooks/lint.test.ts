/**
 * Table-driven lint over every first-party runbook, discovered from runbooks/DriftRemediation-*.yaml and
 * runbooks/policy.yaml (no runbook is named here): schema version, AutomationAssumeRole, allowedPattern on
 * every string parameter (never `.*`, never looser than tasks/shared/resource-ids.ts for the ids the policy
 * feeds it), Markdown description, final verification step, every `{{ }}` reference defined, supported
 * actions only, nextStep/onFailure targets exist; a section in docs/runbooks.md; and the policy maps every
 * runbook with parameters the runbook declares.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAutomationDocument } from '../../sandbox/services/ssm/document';
import { AWS_MANAGED_TABLE_FILE } from '../../tasks/shared/policy/aws-managed';
import { loadPolicyFile } from '../../tasks/shared/policy/load';
import { type ResolvedEntry, RUNBOOK_PREFIX } from '../../tasks/shared/policy/schema';
import {
  GENERIC_RESOURCE_ID,
  ID_SOURCE_TYPES,
  type ResourceIdRule,
  resourceIdRule,
} from '../../tasks/shared/resource-ids';
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
/** The `## …` headings of docs/runbooks.md. */
const runbookDocSections = [...readFileSync('docs/runbooks.md', 'utf8').matchAll(/^## (\S+)\s*$/gm)].map(
  (m) => m[1] ?? '',
);

describe('the runbook library', () => {
  it('holds first-party runbooks under one prefix, and nothing else in runbooks/ but the policy and the AWS-managed table', () => {
    expect(runbooks.length).toBeGreaterThan(0);
    for (const r of runbooks) expect(r.name).toMatch(/^DriftRemediation-[A-Z][A-Za-z0-9]+$/);
    expect(readdirSync(DIR).filter((f) => !files.includes(f))).toEqual([
      AWS_MANAGED_TABLE_FILE,
      'policy.yaml',
    ]);
  });

  it.each(runbooks)('$name has its section in docs/runbooks.md', ({ name }) => {
    expect(runbookDocSections, `docs/runbooks.md needs a "## ${name}" section`).toContain(name);
  });

  it('docs/runbooks.md documents no runbook that does not exist', () => {
    const names = runbooks.map((r) => r.name);
    for (const section of runbookDocSections.filter((h) => h.startsWith(RUNBOOK_PREFIX)))
      expect(names, `docs/runbooks.md section ${section}`).toContain(section);
  });
});

describe.each(runbooks)('$file', ({ text }) => {
  it('passes every lint rule', () => {
    expect(lintRunbook(text)).toEqual([]);
  });
});

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

const policy = loadPolicyFile('runbooks/policy.yaml', { knownRunbooks: runbooks.map((r) => r.name) });
const firstParty = policy.entries.filter((e) => e.firstParty);

/**
 * The id rules a parameter filled from `from` must not loosen, derived from the policy: `event.resourceId`
 * carries an id of the entry's types (any type's, when the runbook takes its type from the event too);
 * ID_SOURCE_TYPES names the other id-carrying sources.
 */
function idRulesFor(entry: ResolvedEntry, from: string): Array<{ type: string; rule: ResourceIdRule }> {
  if (from === 'event.resourceId') {
    const typeFromEvent = Object.values(entry.parameters).some(
      (p) => 'from' in p && p.from === 'event.resourceType',
    );
    if (typeFromEvent) return [{ type: 'any type (generic)', rule: GENERIC_RESOURCE_ID }];
    return entry.resourceTypes.map((type) => ({ type, rule: resourceIdRule(type) }));
  }
  const type = ID_SOURCE_TYPES[from];
  return type ? [{ type, rule: resourceIdRule(type) }] : [];
}

const passes = (rule: ResourceIdRule, id: string): boolean =>
  rule.pattern.test(id) && !(rule.refuse ?? []).some((r) => r.test(id));

describe('resource id parameters are no looser than tasks/shared/resource-ids.ts', () => {
  const cases = firstParty.flatMap((entry) =>
    Object.entries(entry.parameters).flatMap(([name, src]) =>
      'from' in src
        ? idRulesFor(entry, src.from).map(({ type, rule }) => ({
            entry: entry.id,
            runbook: entry.runbook,
            name,
            type,
            rule,
            pattern: docs.get(entry.runbook)?.parameters[name]?.allowedPattern ?? '',
          }))
        : [],
    ),
  );

  it('covers the resource id parameter of every first-party entry', () => {
    for (const e of firstParty)
      expect(
        cases.some((c) => c.entry === e.id),
        `${e.id} fills a parameter from event.resourceId`,
      ).toBe(true);
  });

  it.each(cases)('$entry: $runbook $name ($type)', ({ rule, pattern }) => {
    expect(pattern, 'the parameter has an allowedPattern').not.toBe('');
    const re = new RegExp(pattern);
    for (const id of rule.examples) expect(re.test(id), `valid id ${id}`).toBe(true);
    for (const id of [...HOSTILE_IDS, ...fuzz(3000), ...rule.examples]) {
      if (re.test(id))
        expect(passes(rule, id), `${JSON.stringify(id)} passes the runbook but not resource-ids`).toBe(true);
    }
  });
});

describe('the policy and the runbooks agree', () => {
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
      (t) => t.replace('action: aws:executeAwsApi', 'action: aws:runCommand'),
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
