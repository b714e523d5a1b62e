/**
 * SSM Automation value handling: `{{ }}` interpolation, output selectors (JSONPath) with type
 * conversion, aws:branch conditions and ISO-8601 durations. Pure functions; the engine supplies the
 * variable scope.
 */
import { JSONPath } from 'jsonpath-plus';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** A step failure with the message SSM shows in FailureMessage. */
export class StepFailure extends Error {
  constructor(
    message: string,
    readonly failureType: 'Verification' | 'Invocation' | 'Unknown' = 'Unknown',
    readonly status: 'Failed' | 'TimedOut' | 'Cancelled' = 'Failed',
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Any JS value to Json (Dates as ISO strings, undefined members dropped). */
export function toJson(v: unknown): Json {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(toJson);
  if (isRecord(v)) {
    const out: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toJson(x);
    return out;
  }
  return String(v);
}

/** How a value is rendered inside a larger string (and in StepExecution Inputs/Outputs). */
export function stringify(v: Json): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

const REF = /\{\{\s*([A-Za-z0-9_:.-]+)\s*\}\}/g;
const WHOLE = /^\{\{\s*([A-Za-z0-9_:.-]+)\s*\}\}$/;

/** Resolves one variable name (Param, step.Output, automation:EXECUTION_ID, global:REGION …). */
export type Resolver = (name: string) => Json | undefined;

/** Every `{{ name }}` referenced anywhere in a value. */
export function references(value: unknown, out: Set<string> = new Set()): Set<string> {
  if (typeof value === 'string') {
    for (const m of value.matchAll(REF)) if (m[1]) out.add(m[1]);
  } else if (Array.isArray(value)) {
    for (const x of value) references(x, out);
  } else if (isRecord(value)) {
    for (const x of Object.values(value)) references(x, out);
  }
  return out;
}

/**
 * Interpolates `{{ }}` references. A string that is exactly one reference keeps the referenced value's
 * type (a StringList stays a list, a StringMap a map); references inside a longer string are rendered
 * as text (lists and maps as JSON). An unresolvable reference is a step failure.
 */
export function interpolate(value: Json, resolve: Resolver): Json {
  if (typeof value === 'string') {
    const lookup = (name: string): Json => {
      const v = resolve(name);
      if (v === undefined)
        throw new StepFailure(
          `Unable to resolve the variable {{ ${name} }}: no such parameter or step output`,
        );
      return v;
    };
    const whole = WHOLE.exec(value.trim());
    if (whole?.[1]) return lookup(whole[1]);
    return value.replace(REF, (_m, name: string) => stringify(lookup(name)));
  }
  if (Array.isArray(value)) return value.map((x) => interpolate(x, resolve));
  if (isRecord(value)) {
    const out: Record<string, Json> = {};
    for (const [k, x] of Object.entries(value)) out[k] = interpolate(x, resolve);
    return out;
  }
  return value;
}

/** Evaluates a JSONPath selector against an API response: the matched values (empty when none). */
export function select(response: Json, selector: string): Json[] {
  if (!selector.startsWith('$'))
    throw new StepFailure(`Invalid selector ${selector}: a JSONPath must start with $`);
  const found: unknown = JSONPath({ path: selector, json: response as object, wrap: true, eval: 'safe' });
  return Array.isArray(found) ? found.map(toJson) : [];
}

export type OutputType = 'String' | 'Integer' | 'Boolean' | 'StringList' | 'StringMap' | 'MapList';
export const OUTPUT_TYPES: readonly OutputType[] = [
  'String',
  'Integer',
  'Boolean',
  'StringList',
  'StringMap',
  'MapList',
];

/** One value from a selection: a single match as is, several as a list. */
function collapse(matches: Json[]): Json | undefined {
  if (matches.length === 0) return undefined;
  if (matches.length === 1) return matches[0] ?? null;
  return matches;
}

function scalarToString(v: Json, what: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new StepFailure(`${what}: cannot convert ${JSON.stringify(v)} to String`);
}

/**
 * Converts a selected value to an output type with the conversions SSM documents: String ↔ Integer /
 * Boolean / StringList, and one-element lists to their element. Undefined when nothing matched.
 */
export function convertOutput(matches: Json[], type: OutputType, what: string): Json | undefined {
  const v = collapse(matches);
  if (v === undefined || v === null) return undefined;
  const single = Array.isArray(v) && v.length === 1 ? (v[0] ?? null) : v;
  switch (type) {
    case 'String':
      return scalarToString(single, what);
    case 'Integer': {
      const n = typeof single === 'number' ? single : Number(scalarToString(single, what));
      if (!Number.isInteger(n))
        throw new StepFailure(`${what}: cannot convert ${JSON.stringify(single)} to Integer`);
      return n;
    }
    case 'Boolean': {
      if (typeof single === 'boolean') return single;
      const s = scalarToString(single, what).toLowerCase();
      if (s !== 'true' && s !== 'false')
        throw new StepFailure(`${what}: cannot convert ${JSON.stringify(single)} to Boolean`);
      return s === 'true';
    }
    case 'StringList':
      return (Array.isArray(v) ? v : [v]).map((x) =>
        isRecord(x) || Array.isArray(x) ? JSON.stringify(x) : scalarToString(x, what),
      );
    case 'StringMap':
      if (!isRecord(single))
        throw new StepFailure(`${what}: cannot convert ${JSON.stringify(single)} to StringMap`);
      return single;
    case 'MapList': {
      const list = Array.isArray(v) ? v : [v];
      if (!list.every(isRecord))
        throw new StepFailure(`${what}: cannot convert ${JSON.stringify(v)} to MapList`);
      return list;
    }
  }
}

/** Values a property selector yields for assertions: one match that is a list counts as its elements. */
export function assertionValues(matches: Json[]): string[] {
  const flat = matches.length === 1 && Array.isArray(matches[0]) ? matches[0] : matches;
  return flat.map((x) => (typeof x === 'string' ? x : JSON.stringify(x)));
}

/** aws:branch: the operators SSM supports in Choices. */
export const BRANCH_OPERATORS = [
  'StringEquals',
  'EqualsIgnoreCase',
  'StartsWith',
  'EndsWith',
  'Contains',
  'NumericEquals',
  'NumericGreater',
  'NumericLesser',
  'NumericGreaterOrEquals',
  'NumericLesserOrEquals',
  'BooleanEquals',
] as const;

function asNumber(v: Json, what: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : Number.NaN;
  if (!Number.isFinite(n)) throw new StepFailure(`${what}: ${JSON.stringify(v)} is not a number`);
  return n;
}

/** Evaluates one Choices condition (Variable + operator, or And / Or / Not). */
export function evaluateCondition(cond: unknown, resolve: Resolver): boolean {
  if (!isRecord(cond)) throw new StepFailure(`Invalid branch condition ${JSON.stringify(cond)}`);
  if (Array.isArray(cond.And)) return cond.And.every((c) => evaluateCondition(c, resolve));
  if (Array.isArray(cond.Or)) return cond.Or.some((c) => evaluateCondition(c, resolve));
  if (cond.Not !== undefined) return !evaluateCondition(cond.Not, resolve);
  if (typeof cond.Variable !== 'string')
    throw new StepFailure('A branch condition needs a Variable, And, Or or Not');
  const value = interpolate(cond.Variable, resolve);
  const op = BRANCH_OPERATORS.find((o) => o in cond);
  if (!op) throw new StepFailure(`Branch condition on ${cond.Variable} has no supported operator`);
  const operand = interpolate(toJson(cond[op]), resolve);
  const what = `${op} on ${cond.Variable}`;
  const str = (x: Json): string => (typeof x === 'string' ? x : JSON.stringify(x));
  switch (op) {
    case 'StringEquals':
      return str(value) === str(operand);
    case 'EqualsIgnoreCase':
      return str(value).toLowerCase() === str(operand).toLowerCase();
    case 'StartsWith':
      return str(value).startsWith(str(operand));
    case 'EndsWith':
      return str(value).endsWith(str(operand));
    case 'Contains':
      return Array.isArray(value)
        ? value.some((x) => str(x) === str(operand))
        : str(value).includes(str(operand));
    case 'NumericEquals':
      return asNumber(value, what) === asNumber(operand, what);
    case 'NumericGreater':
      return asNumber(value, what) > asNumber(operand, what);
    case 'NumericLesser':
      return asNumber(value, what) < asNumber(operand, what);
    case 'NumericGreaterOrEquals':
      return asNumber(value, what) >= asNumber(operand, what);
    case 'NumericLesserOrEquals':
      return asNumber(value, what) <= asNumber(operand, what);
    case 'BooleanEquals':
      return String(value).toLowerCase() === String(operand).toLowerCase();
  }
}

const DURATION = /^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

/** ISO-8601 duration (PT10S, PT5M, P1DT2H) to seconds; aws:sleep allows up to 7 days. */
export function parseDuration(text: string): number {
  const m = DURATION.exec(text);
  if (!m || text === 'P' || text.endsWith('T'))
    throw new StepFailure(`Invalid ISO-8601 duration ${JSON.stringify(text)}`);
  const [, d, h, min, s] = m;
  const seconds = Number(d ?? 0) * 86400 + Number(h ?? 0) * 3600 + Number(min ?? 0) * 60 + Number(s ?? 0);
  if (seconds > 7 * 86400) throw new StepFailure(`Duration ${text} exceeds the 7-day maximum of aws:sleep`);
  return seconds;
}
