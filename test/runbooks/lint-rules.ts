/**
 * The runbook lint: every rule a first-party runbook must satisfy, as a function returning the list of
 * problems (empty = clean), so the table-driven test can assert each file is clean and the rule tests
 * can show each rule firing on a broken document.
 */
import { parse as parseYaml } from 'yaml';
import {
  type AutomationDocument,
  loopSteps,
  parseAutomationDocument,
  type StepDef,
} from '../../sandbox/services/ssm/document';
import { SUPPORTED_ACTIONS } from '../../sandbox/services/ssm/engine';
import { references } from '../../sandbox/services/ssm/values';

const VERIFY_ACTIONS = new Set(['aws:assertAwsResourceProperty', 'aws:waitForAwsResourceProperty']);
const BUILTINS = new Set([
  'automation:EXECUTION_ID',
  'global:ACCOUNT_ID',
  'global:REGION',
  'global:AWS_PARTITION',
  'global:DATE',
  'global:DATE_TIME',
]);
const STRING_TYPES = new Set(['String', 'StringList']);

/** Outputs each step defines (aws:loop: CurrentIteration / CurrentIteratorValue). */
function outputsOf(step: StepDef): string[] {
  const own = (step.outputs ?? []).map((o) => o.Name);
  return step.action === 'aws:loop' ? [...own, 'CurrentIteration', 'CurrentIteratorValue'] : own;
}

function allSteps(steps: readonly StepDef[]): StepDef[] {
  return steps.flatMap((s) => [s, ...allSteps(loopSteps(s))]);
}

/** Parses a runbook's YAML text; the document or the parse/structure error as a problem. */
export function parseRunbook(text: string): { doc?: AutomationDocument; problems: string[] } {
  try {
    return { doc: parseAutomationDocument(text, 'YAML'), problems: [] };
  } catch (err) {
    return {
      problems: [
        `does not parse as an Automation document: ${err instanceof Error ? err.message : String(err)}`,
      ],
    };
  }
}

/** AutomationAssumeRole (a required String, the document's assumeRole) and every string parameter's pattern and description. */
function parameterProblems(doc: AutomationDocument): string[] {
  const problems: string[] = [];
  // AutomationAssumeRole: a required String parameter, used as the document's assumeRole.
  const role = doc.parameters.AutomationAssumeRole;
  if (!role) problems.push('no AutomationAssumeRole parameter');
  else {
    if (role.type !== 'String') problems.push('AutomationAssumeRole must be a String');
    if (role.default !== undefined) problems.push('AutomationAssumeRole must be required (no default)');
  }
  if (!/^\{\{\s*AutomationAssumeRole\s*\}\}$/.test(doc.assumeRole ?? ''))
    problems.push("assumeRole must be '{{ AutomationAssumeRole }}'");

  // Patterns on every string parameter: anchored, and never `.*`.
  for (const [name, p] of Object.entries(doc.parameters)) {
    if (!STRING_TYPES.has(p.type)) continue;
    if (!p.allowedPattern) {
      problems.push(`parameter ${name} has no allowedPattern`);
      continue;
    }
    if (p.allowedPattern.includes('.*') || p.allowedPattern.includes('.+'))
      problems.push(`parameter ${name}: allowedPattern uses .* or .+`);
    if (!p.allowedPattern.startsWith('^') || !/\$(\(\?<!.+\))?$/.test(p.allowedPattern)) {
      problems.push(`parameter ${name}: allowedPattern must be anchored with ^ and $`);
    }
    if (!p.description) problems.push(`parameter ${name} has no description`);
  }
  return problems;
}

export function lintRunbook(text: string): string[] {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    return [`is not valid YAML: ${err instanceof Error ? err.message : String(err)}`];
  }
  const rawSchema =
    raw && typeof raw === 'object' ? (raw as Record<string, unknown>).schemaVersion : undefined;
  if (rawSchema !== '0.3')
    return [`schemaVersion must be the string '0.3', got ${JSON.stringify(rawSchema)}`];
  const { doc, problems } = parseRunbook(text);
  if (!doc) return problems;

  problems.push(...parameterProblems(doc));

  // A Markdown description: heading, parameters, what it never touches; every parameter mentioned.
  const d = doc.description ?? '';
  if (!/^# \S/m.test(d)) problems.push('description must start with a Markdown heading');
  if (!/^## Parameters$/m.test(d)) problems.push('description has no "## Parameters" section');
  if (!/^## What it never touches$/m.test(d))
    problems.push('description has no "## What it never touches" section');
  for (const name of Object.keys(doc.parameters)) {
    if (!d.includes(`**${name}**`)) problems.push(`description does not document parameter ${name}`);
  }

  // Supported actions only.
  const steps = allSteps(doc.mainSteps);
  for (const s of steps) {
    if (!(SUPPORTED_ACTIONS as readonly string[]).includes(s.action))
      problems.push(`step ${s.name}: action ${s.action} is not supported`);
  }

  // Ends with a verification; every isEnd step verifies.
  const last = doc.mainSteps.at(-1);
  if (!last || !VERIFY_ACTIONS.has(last.action))
    problems.push('the last step must be a verification (assert/waitFor)');
  for (const s of doc.mainSteps) {
    if (s.isEnd && !VERIFY_ACTIONS.has(s.action))
      problems.push(`step ${s.name} ends the runbook but does not verify`);
  }

  // Every {{ }} reference is defined: a parameter, a built-in, or an output of a step.
  const outputs = new Map(steps.map((s) => [s.name, new Set(outputsOf(s))]));
  const check = (ref: string, where: string): void => {
    if (BUILTINS.has(ref) || ref in doc.parameters) return;
    const dot = ref.indexOf('.');
    if (dot > 0 && outputs.get(ref.slice(0, dot))?.has(ref.slice(dot + 1))) return;
    problems.push(`${where}: {{ ${ref} }} is not defined`);
  };
  for (const s of steps) {
    const inputs = s.action === 'aws:loop' ? { ...s.inputs, Steps: undefined } : s.inputs;
    for (const ref of references(inputs ?? {})) check(ref, `step ${s.name}`);
  }
  for (const ref of references(doc.assumeRole ?? '')) check(ref, 'assumeRole');
  for (const o of doc.outputs ?? []) check(o, 'outputs');
  return problems;
}
