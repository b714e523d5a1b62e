/**
 * Automation documents: parsing (YAML or JSON), structural validation as CreateDocument does it
 * (schema version, step names, nextStep/onFailure targets, parameter declarations), and the
 * StartAutomationExecution parameter check (unknown/missing, types, allowedPattern, allowedValues)
 * that runs before anything executes.
 */
import { RE2JS } from 're2js';
import { parse as parseYaml } from 'yaml';
import * as z from 'zod';
import { AwsError } from '../../core/types';
import { isRecord, type Json, OUTPUT_TYPES, toJson } from './values';

export const PARAMETER_TYPES = [
  'String',
  'StringList',
  'Integer',
  'Boolean',
  'MapList',
  'StringMap',
] as const;
export type ParameterType = (typeof PARAMETER_TYPES)[number];

const ParameterDef = z
  .object({
    type: z.enum(PARAMETER_TYPES),
    description: z.string().optional(),
    default: z.unknown().optional(),
    allowedPattern: z.string().optional(),
    allowedValues: z.array(z.union([z.string(), z.number(), z.boolean()])).optional(),
    minItems: z.number().int().min(0).optional(),
    maxItems: z.number().int().min(0).optional(),
    minChars: z.number().int().min(0).optional(),
    maxChars: z.number().int().min(0).optional(),
    displayType: z.string().optional(),
  })
  .passthrough();
export type ParameterDef = z.infer<typeof ParameterDef>;

const STEP_NAME = /^[a-zA-Z0-9_]{1,100}$/;

const OutputDef = z.object({
  Name: z.string().min(1),
  Selector: z.string().min(1),
  Type: z.enum(OUTPUT_TYPES).optional(),
});

interface StepShape {
  name: string;
  action: string;
  description?: string | undefined;
  inputs?: Record<string, unknown> | undefined;
  outputs?: Array<z.infer<typeof OutputDef>> | undefined;
  onFailure?: string | undefined;
  onCancel?: string | undefined;
  maxAttempts?: number | undefined;
  timeoutSeconds?: number | undefined;
  isEnd?: boolean | undefined;
  nextStep?: string | undefined;
  isCritical?: boolean | undefined;
}

const StepDef: z.ZodType<StepShape> = z
  .object({
    name: z.string().regex(STEP_NAME, 'step names are 1-100 letters, digits and underscores'),
    action: z.string().regex(/^aws:[A-Za-z]+$/, 'actions look like aws:executeAwsApi'),
    description: z.string().optional(),
    inputs: z.record(z.string(), z.unknown()).optional(),
    outputs: z.array(OutputDef).optional(),
    onFailure: z.string().optional(),
    onCancel: z.string().optional(),
    maxAttempts: z.number().int().min(1).max(100).optional(),
    timeoutSeconds: z.number().int().min(1).optional(),
    isEnd: z.boolean().optional(),
    nextStep: z.string().optional(),
    isCritical: z.boolean().optional(),
  })
  .passthrough();
export type StepDef = StepShape;

const AutomationDocument = z
  .object({
    schemaVersion: z.literal('0.3', { message: 'Automation documents use schemaVersion 0.3' }),
    description: z.string().optional(),
    assumeRole: z.string().optional(),
    parameters: z.record(z.string().regex(/^[a-zA-Z0-9_.-]{1,50}$/), ParameterDef).default({}),
    mainSteps: z.array(StepDef).min(1),
    outputs: z.array(z.string().regex(/^[a-zA-Z0-9_]+\.[a-zA-Z0-9_]+$/)).optional(),
    files: z.unknown().optional(),
  })
  .passthrough();
export type AutomationDocument = z.infer<typeof AutomationDocument>;

/**
 * An allowedPattern as SSM evaluates it (Java regular expressions, which take inline flags such as
 * `(?i:…)` and `(?i)`): a native RegExp when JavaScript accepts the pattern, else RE2 (re2js, a
 * maintained port), which takes inline flags but no lookaround or backreferences. Search semantics, as
 * before: a pattern matches when it matches somewhere in the value (anchor it with ^…$).
 * Undefined when neither engine accepts the pattern.
 */
export function allowedPatternMatcher(pattern: string): ((value: string) => boolean) | undefined {
  try {
    const re = new RegExp(pattern);
    return (value) => re.test(value);
  } catch {
    // fall through to RE2
  }
  try {
    const re = RE2JS.compile(pattern);
    return (value) => re.matcher(value).find();
  } catch {
    return undefined;
  }
}

function invalidContent(message: string): AwsError {
  return new AwsError('InvalidDocumentContent', message);
}

/** Steps nested in aws:loop inputs.Steps, parsed. */
export function loopSteps(step: StepDef): readonly StepDef[] {
  if (step.action !== 'aws:loop') return [];
  const known = parsedLoops.get(step);
  if (known) return known;
  const raw = step.inputs?.Steps;
  const r = z.array(StepDef).min(1).safeParse(raw);
  if (!r.success) throw invalidContent(`Step ${step.name}: aws:loop needs inputs.Steps (a list of steps)`);
  parsedLoops.set(step, r.data);
  return r.data;
}

/**
 * Each loop step's nested steps, parsed once: a stored document's steps are the same objects for every
 * execution, and the parse was most of a loop's CPU. (Nothing changes a parsed step.)
 */
const parsedLoops = new WeakMap<StepDef, readonly StepDef[]>();

function checkTargets(steps: readonly StepDef[], scope: string): void {
  const names = new Set<string>();
  for (const s of steps) {
    if (names.has(s.name)) throw invalidContent(`Duplicate step name ${s.name}${scope}`);
    names.add(s.name);
  }
  for (const s of steps) {
    const targets: string[] = [];
    if (s.nextStep !== undefined) targets.push(s.nextStep);
    for (const h of [s.onFailure, s.onCancel]) {
      if (h === undefined || h === 'Abort' || (h === 'Continue' && h === s.onFailure)) continue;
      if (!h.startsWith('step:'))
        throw invalidContent(`Step ${s.name}: onFailure/onCancel must be Abort, Continue or step:<name>`);
      targets.push(h.slice(5));
    }
    if (s.action === 'aws:branch') {
      const choices = s.inputs?.Choices;
      if (!Array.isArray(choices) || choices.length === 0)
        throw invalidContent(`Step ${s.name}: aws:branch needs Choices`);
      for (const c of choices) {
        if (!isRecord(c) || typeof c.NextStep !== 'string')
          throw invalidContent(`Step ${s.name}: every choice needs a NextStep`);
        targets.push(c.NextStep);
      }
      if (typeof s.inputs?.Default === 'string') targets.push(s.inputs.Default);
    }
    for (const t of targets) {
      if (!names.has(t))
        throw invalidContent(`Step ${s.name} refers to step ${t}, which does not exist${scope}`);
    }
    const nested = loopSteps(s);
    if (nested.length) checkTargets(nested, ` in loop ${s.name}`);
  }
}

/** Parses and validates Automation document content (YAML or JSON). Throws InvalidDocumentContent. */
export function parseAutomationDocument(content: string, format: 'YAML' | 'JSON'): AutomationDocument {
  let raw: unknown;
  try {
    raw = format === 'JSON' ? JSON.parse(content) : parseYaml(content);
  } catch (err) {
    throw invalidContent(
      `Document content is not valid ${format}: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  if (isRecord(raw) && raw.schemaVersion !== undefined && raw.schemaVersion !== '0.3') {
    throw new AwsError(
      'InvalidDocumentSchemaVersion',
      `Automation documents require schemaVersion 0.3, got ${String(raw.schemaVersion)}`,
    );
  }
  const r = AutomationDocument.safeParse(raw);
  if (!r.success) {
    const first = r.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || '(document)'}: ${i.message}`)
      .join('; ');
    throw invalidContent(`Invalid Automation document: ${first}`);
  }
  checkTargets(r.data.mainSteps, '');
  for (const [name, p] of Object.entries(r.data.parameters)) {
    if (p.allowedPattern !== undefined && !allowedPatternMatcher(p.allowedPattern)) {
      throw invalidContent(`Parameter ${name}: allowedPattern is not a valid regular expression`);
    }
  }
  return r.data;
}

/** DocumentDescription.Parameters shape. */
export function describeParameters(doc: AutomationDocument): Array<Record<string, string>> {
  return Object.entries(doc.parameters).map(([Name, p]) => {
    const out: Record<string, string> = { Name, Type: p.type };
    if (p.description !== undefined) out.Description = p.description;
    if (p.default !== undefined)
      out.DefaultValue = typeof p.default === 'string' ? p.default : JSON.stringify(p.default);
    return out;
  });
}

function parseJsonValue(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** One parameter's strings converted to its declared type; problems are collected. */
function typedValue(name: string, def: ParameterDef, list: string[], problems: string[]): Json | undefined {
  const one = (): string | undefined => {
    if (list.length === 1) return list[0];
    problems.push(`Parameter "${name}" of type ${def.type} takes exactly one value, got ${list.length}`);
    return undefined;
  };
  let value: Json | undefined;
  switch (def.type) {
    case 'String':
      value = one();
      break;
    case 'StringList':
      value = list;
      break;
    case 'Integer': {
      const s = one();
      if (s === undefined) break;
      if (/^-?\d+$/.test(s.trim())) value = Number(s.trim());
      else problems.push(`Parameter "${name}" must be an Integer, got ${JSON.stringify(s.slice(0, 40))}`);
      break;
    }
    case 'Boolean': {
      const s = one();
      if (s === undefined) break;
      if (s === 'true' || s === 'false') value = s === 'true';
      else
        problems.push(
          `Parameter "${name}" must be a Boolean (true or false), got ${JSON.stringify(s.slice(0, 40))}`,
        );
      break;
    }
    case 'StringMap': {
      const s = one();
      if (s === undefined) break;
      const parsed = parseJsonValue(s);
      if (isRecord(parsed)) value = toJson(parsed);
      else problems.push(`Parameter "${name}" must be a StringMap (a JSON object)`);
      break;
    }
    case 'MapList': {
      // Each element a JSON object, or a single element holding a JSON array of objects.
      const first = list.length === 1 && list[0] !== undefined ? parseJsonValue(list[0]) : undefined;
      const items = Array.isArray(first) ? first : list.map(parseJsonValue);
      if (items.every(isRecord)) value = toJson(items);
      else problems.push(`Parameter "${name}" must be a MapList (JSON objects)`);
      break;
    }
  }
  return value;
}

/** allowedPattern, allowedValues, min/max chars and items of one typed parameter value. */
function checkConstraints(name: string, def: ParameterDef, value: Json, problems: string[]): void {
  const strings =
    typeof value === 'string'
      ? [value]
      : Array.isArray(value) && def.type === 'StringList'
        ? (value as string[])
        : [];
  const matches = def.allowedPattern !== undefined ? allowedPatternMatcher(def.allowedPattern) : undefined;
  if (def.allowedPattern !== undefined && matches) {
    for (const s of strings) {
      if (!matches(s)) {
        problems.push(
          `Parameter "${name}" value ${JSON.stringify(s.slice(0, 80))} does not match the allowed pattern ${def.allowedPattern}`,
        );
      }
    }
  }
  if (def.allowedValues !== undefined) {
    const allowed = def.allowedValues.map(String);
    const candidates = strings.length ? strings : [typeof value === 'string' ? value : JSON.stringify(value)];
    for (const s of candidates) {
      if (!allowed.includes(s))
        problems.push(
          `Parameter "${name}" value ${JSON.stringify(s.slice(0, 80))} is not one of ${allowed.join(', ')}`,
        );
    }
  }
  for (const s of strings) {
    if (def.minChars !== undefined && s.length < def.minChars)
      problems.push(`Parameter "${name}" is shorter than ${def.minChars} characters`);
    if (def.maxChars !== undefined && s.length > def.maxChars)
      problems.push(`Parameter "${name}" is longer than ${def.maxChars} characters`);
  }
  if (Array.isArray(value)) {
    if (def.minItems !== undefined && value.length < def.minItems)
      problems.push(`Parameter "${name}" needs at least ${def.minItems} items`);
    if (def.maxItems !== undefined && value.length > def.maxItems)
      problems.push(`Parameter "${name}" allows at most ${def.maxItems} items`);
  }
}

/**
 * Converts StartAutomationExecution's Parameters (Record<string, string[]>) to typed values and
 * checks them against the document. Every problem is collected; any problem throws
 * InvalidAutomationExecutionParametersException, so nothing runs with a bad parameter.
 */
export function validateExecutionParameters(
  doc: AutomationDocument,
  given: Record<string, unknown> | undefined,
): Record<string, Json> {
  const problems: string[] = [];
  const values: Record<string, Json> = {};
  const supplied = given ?? {};
  for (const name of Object.keys(supplied)) {
    if (!(name in doc.parameters)) problems.push(`Parameter "${name}" is not defined in the document`);
  }
  for (const [name, def] of Object.entries(doc.parameters)) {
    const raw = supplied[name];
    if (raw === undefined) {
      if (def.default === undefined) problems.push(`Parameter "${name}" is required but was not provided`);
      else values[name] = toJson(def.default);
      continue;
    }
    if (!Array.isArray(raw) || !raw.every((x) => typeof x === 'string')) {
      problems.push(`Parameter "${name}" must be a list of strings`);
      continue;
    }
    const value = typedValue(name, def, raw as string[], problems);
    if (value === undefined) continue;
    checkConstraints(name, def, value, problems);
    values[name] = value;
  }
  if (problems.length) {
    throw new AwsError('InvalidAutomationExecutionParametersException', problems.join('. '));
  }
  return values;
}
