/**
 * EventBridge event pattern matching (content filtering), as documented in "Content filtering in Amazon
 * EventBridge event patterns": exact values, prefix / suffix (optionally equals-ignore-case),
 * equals-ignore-case, wildcard, anything-but (value, list, prefix, suffix, equals-ignore-case, wildcard),
 * numeric ranges, exists, cidr (IPv4 and IPv6), `$or`, nested objects, and event arrays matching when any
 * element matches. `validatePattern` throws the messages PutRule answers with InvalidEventPatternException.
 */

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type JsonObject = { [k: string]: Json };

export class InvalidPatternError extends Error {
  override readonly name = 'InvalidPatternError';
}

const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses and validates a pattern (string or object); throws InvalidPatternError. */
export function parsePattern(pattern: string | unknown): JsonObject {
  let parsed: unknown = pattern;
  if (typeof pattern === 'string') {
    try {
      parsed = JSON.parse(pattern);
    } catch (err) {
      throw new InvalidPatternError(
        `Event pattern is not valid JSON: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  if (!isObject(parsed)) throw new InvalidPatternError('Event pattern must be a JSON object.');
  validatePattern(parsed);
  return parsed;
}

export function validatePattern(pattern: JsonObject, path = ''): void {
  for (const [key, value] of Object.entries(pattern)) {
    const where = path ? `${path}.${key}` : key;
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2) {
        throw new InvalidPatternError(
          `"$or" at ${where || 'root'} must be an array of at least two patterns.`,
        );
      }
      for (const sub of value) {
        if (!isObject(sub))
          throw new InvalidPatternError(`"$or" at ${where || 'root'} must contain objects.`);
        validatePattern(sub, path);
      }
    } else if (Array.isArray(value)) {
      if (value.length === 0) throw new InvalidPatternError(`Empty arrays are not allowed (at "${where}").`);
      for (const m of value) validateMatcher(m, where);
    } else if (isObject(value)) {
      validatePattern(value, where);
    } else {
      throw new InvalidPatternError(`"${where}" must be an object or an array.`);
    }
  }
}

const STRING_OR_IGNORE_CASE = (v: Json): boolean =>
  typeof v === 'string' ||
  (isObject(v) && Object.keys(v).length === 1 && typeof v['equals-ignore-case'] === 'string');

function validateMatcher(m: Json, where: string): void {
  if (!isObject(m)) return; // exact value: string, number, boolean, null
  const keys = Object.keys(m);
  if (keys.length !== 1)
    throw new InvalidPatternError(`Only one key allowed in a match expression (at "${where}").`);
  const op = keys[0] as string;
  const arg = m[op] as Json;
  switch (op) {
    case 'prefix':
    case 'suffix':
      if (!STRING_OR_IGNORE_CASE(arg))
        throw new InvalidPatternError(`${op} match pattern must be a string (at "${where}").`);
      return;
    case 'equals-ignore-case':
      if (typeof arg !== 'string')
        throw new InvalidPatternError(`equals-ignore-case match pattern must be a string (at "${where}").`);
      return;
    case 'wildcard':
      if (typeof arg !== 'string')
        throw new InvalidPatternError(`wildcard match pattern must be a string (at "${where}").`);
      if (/\*\*/.test(arg.replace(/\\\*/g, '')))
        throw new InvalidPatternError(`Consecutive wildcard characters are not allowed (at "${where}").`);
      return;
    case 'exists':
      if (typeof arg !== 'boolean')
        throw new InvalidPatternError(`exists match pattern must be true or false (at "${where}").`);
      return;
    case 'cidr':
      if (typeof arg !== 'string' || !parseCidr(arg))
        throw new InvalidPatternError(`Malformed CIDR "${String(arg)}" (at "${where}").`);
      return;
    case 'numeric':
      parseNumeric(arg, where);
      return;
    case 'anything-but': {
      if (typeof arg === 'string' || typeof arg === 'number') return;
      if (Array.isArray(arg)) {
        const allStrings = arg.every((x) => typeof x === 'string');
        const allNumbers = arg.every((x) => typeof x === 'number');
        if (arg.length === 0 || (!allStrings && !allNumbers)) {
          throw new InvalidPatternError(
            `Inside anything-but list, all values must be strings or all numbers (at "${where}").`,
          );
        }
        return;
      }
      if (isObject(arg)) {
        const inner = Object.keys(arg);
        const innerOp = inner[0];
        const innerArg = innerOp === undefined ? undefined : arg[innerOp];
        if (inner.length !== 1)
          throw new InvalidPatternError(`anything-but takes one expression (at "${where}").`);
        if ((innerOp === 'prefix' || innerOp === 'suffix') && typeof innerArg === 'string') return;
        if ((innerOp === 'equals-ignore-case' || innerOp === 'wildcard') && isStringOrStrings(innerArg))
          return;
        throw new InvalidPatternError(
          `Unsupported anything-but expression ${JSON.stringify(arg)} (at "${where}").`,
        );
      }
      throw new InvalidPatternError(`Unsupported anything-but value (at "${where}").`);
    }
    default:
      throw new InvalidPatternError(`Unrecognized match type ${op} (at "${where}").`);
  }
}

const isStringOrStrings = (v: unknown): boolean =>
  typeof v === 'string' || (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string'));

type Comparison = { op: '<' | '<=' | '=' | '>=' | '>'; value: number };

function parseNumeric(arg: Json, where: string): Comparison[] {
  if (!Array.isArray(arg) || arg.length === 0 || arg.length % 2 !== 0) {
    throw new InvalidPatternError(`numeric match must be a list of operator/value pairs (at "${where}").`);
  }
  const out: Comparison[] = [];
  for (let i = 0; i < arg.length; i += 2) {
    const op = arg[i];
    const value = arg[i + 1];
    if (op !== '<' && op !== '<=' && op !== '=' && op !== '>=' && op !== '>') {
      throw new InvalidPatternError(
        `Unrecognized numeric range operator ${JSON.stringify(op)} (at "${where}").`,
      );
    }
    if (typeof value !== 'number')
      throw new InvalidPatternError(`Value of ${op} must be numeric (at "${where}").`);
    out.push({ op, value });
  }
  if (out.some((c) => c.op === '=') && out.length > 1) {
    throw new InvalidPatternError(`"=" cannot be combined with other numeric operators (at "${where}").`);
  }
  return out;
}

// ------------------------------------------------------------------ CIDR

interface Cidr {
  v6: boolean;
  bits: bigint;
  prefix: number;
}

function ipToBigInt(ip: string): { v6: boolean; value: bigint } | undefined {
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(ip)) {
    const parts = ip.split('.').map(Number);
    if (parts.some((p) => p > 255)) return undefined;
    return { v6: false, value: parts.reduce((acc, p) => (acc << 8n) | BigInt(p), 0n) };
  }
  if (!ip.includes(':')) return undefined;
  const halves = ip.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] ? (halves[0] as string).split(':') : [];
  const tail = halves.length === 2 && halves[1] ? (halves[1] as string).split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const groups = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...tail];
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  return { v6: true, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n) };
}

export function parseCidr(cidr: string): Cidr | undefined {
  const [ip, len] = cidr.split('/');
  if (ip === undefined || len === undefined || !/^\d+$/.test(len)) return undefined;
  const addr = ipToBigInt(ip);
  if (!addr) return undefined;
  const prefix = Number(len);
  if (prefix > (addr.v6 ? 128 : 32)) return undefined;
  return { v6: addr.v6, bits: addr.value, prefix };
}

function inCidr(ip: string, cidr: Cidr): boolean {
  const addr = ipToBigInt(ip);
  if (!addr || addr.v6 !== cidr.v6) return false;
  const width = BigInt(cidr.v6 ? 128 : 32);
  const shift = width - BigInt(cidr.prefix);
  return addr.value >> shift === cidr.bits >> shift;
}

// ------------------------------------------------------------------ matching

function wildcardToRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '\\' && pattern[i + 1] === '*') {
      re += '\\*';
      i++;
    } else if (c === '*') {
      re += '.*';
    } else {
      re += c.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${re}$`, 's');
}

function stringOp(arg: Json, value: string, test: (v: string, p: string) => boolean): boolean {
  if (typeof arg === 'string') return test(value, arg);
  if (isObject(arg) && typeof arg['equals-ignore-case'] === 'string') {
    return test(value.toLowerCase(), arg['equals-ignore-case'].toLowerCase());
  }
  return false;
}

const asList = (v: Json | undefined): Json[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

/** Whether one leaf value (never an array) satisfies one matcher. */
function matchLeaf(matcher: Json, value: Json): boolean {
  if (!isObject(matcher)) {
    if (typeof matcher === 'number' && typeof value === 'number') return matcher === value;
    return matcher === value;
  }
  const op = Object.keys(matcher)[0];
  const arg = op === undefined ? null : (matcher[op] as Json);
  switch (op) {
    case 'prefix':
      return typeof value === 'string' && stringOp(arg, value, (v, p) => v.startsWith(p));
    case 'suffix':
      return typeof value === 'string' && stringOp(arg, value, (v, p) => v.endsWith(p));
    case 'equals-ignore-case':
      return (
        typeof value === 'string' && typeof arg === 'string' && value.toLowerCase() === arg.toLowerCase()
      );
    case 'wildcard':
      return typeof value === 'string' && typeof arg === 'string' && wildcardToRegExp(arg).test(value);
    case 'numeric': {
      if (typeof value !== 'number') return false;
      return parseNumeric(arg, '').every(({ op: o, value: n }) =>
        o === '<'
          ? value < n
          : o === '<='
            ? value <= n
            : o === '='
              ? value === n
              : o === '>='
                ? value >= n
                : value > n,
      );
    }
    case 'cidr': {
      const c = typeof arg === 'string' ? parseCidr(arg) : undefined;
      return typeof value === 'string' && c !== undefined && inCidr(value, c);
    }
    case 'anything-but': {
      if (isObject(arg)) {
        const innerOp = Object.keys(arg)[0];
        const innerArg = innerOp === undefined ? undefined : arg[innerOp];
        if (typeof value !== 'string') return true;
        switch (innerOp) {
          case 'prefix':
            return typeof innerArg === 'string' && !value.startsWith(innerArg);
          case 'suffix':
            return typeof innerArg === 'string' && !value.endsWith(innerArg);
          case 'equals-ignore-case':
            return !asList(innerArg).some(
              (s) => typeof s === 'string' && s.toLowerCase() === value.toLowerCase(),
            );
          case 'wildcard':
            return !asList(innerArg).some((s) => typeof s === 'string' && wildcardToRegExp(s).test(value));
          default:
            return false;
        }
      }
      return !asList(arg).some((x) => x === value);
    }
    default:
      return false;
  }
}

/** Matchers for one field against the field's value (undefined when absent). */
function matchField(matchers: Json[], value: Json | undefined): boolean {
  const present = value !== undefined && !(Array.isArray(value) && value.length === 0);
  const leaves: Json[] = Array.isArray(value) ? value : value === undefined ? [] : [value];
  return matchers.some((m) => {
    if (isObject(m) && 'exists' in m) {
      if (m.exists === false) return !present;
      return present && leaves.some((l) => !isObject(l));
    }
    return leaves.some((l) => !isObject(l) && !Array.isArray(l) && matchLeaf(m, l));
  });
}

function matchObject(pattern: JsonObject, event: Json | undefined): boolean {
  for (const [key, sub] of Object.entries(pattern)) {
    if (key === '$or') {
      if (!Array.isArray(sub) || !sub.some((alt) => isObject(alt) && matchObject(alt, event))) return false;
      continue;
    }
    const value = isObject(event) ? event[key] : undefined;
    if (Array.isArray(sub)) {
      if (!matchField(sub, value)) return false;
    } else if (isObject(sub)) {
      // a nested pattern: the event value must be an object (or an array holding one that matches)
      const candidates = Array.isArray(value) ? value : [value];
      const nestedExistsFalseOnly = Object.values(sub).every(
        (v) => Array.isArray(v) && v.every((m) => isObject(m) && m.exists === false),
      );
      if (value === undefined) {
        if (!nestedExistsFalseOnly) return false;
        continue;
      }
      if (!candidates.some((c) => isObject(c) && matchObject(sub, c))) return false;
    } else {
      return false;
    }
  }
  return true;
}

/** Whether `event` (the full envelope) matches `pattern` (object or JSON string). */
export function matchesPattern(pattern: string | JsonObject, event: unknown): boolean {
  const p = typeof pattern === 'string' ? parsePattern(pattern) : pattern;
  return matchObject(p, event as Json);
}

export type { Json, JsonObject };
