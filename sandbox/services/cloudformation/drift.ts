/**
 * Drift comparison as CloudFormation reports it (DescribeStackResourceDrifts / DetectStackResourceDrift):
 * - only properties set in the template are compared (nested objects: only the members the template sets,
 *   except inside JSON documents and maps — policy documents, Lambda environment Variables — where a
 *   member added live is an ADD);
 * - lists are compared as unordered collections (rules, tags, policy ARNs, statements): an element of the
 *   live list that matches no template element is an ADD at `/<Property>/<index in the live list>`
 *   (ExpectedValue "null"), a template element that matches nothing live is a REMOVE at
 *   `/<Property>/<index in the template list>` (ActualValue "null");
 * - a template property missing from the live resource is a REMOVE; a differing scalar a NOT_EQUAL with a
 *   path into the nested value (e.g. `/RedrivePolicy/maxReceiveCount`);
 * - scalars compare by their text ("128" equals 128, "true" equals true); JSON policy documents given as
 *   strings are parsed; in them a single value equals a one-element list (IAM's own equivalence);
 * - values are rendered as strings: scalars as their text, objects and lists as compact JSON with sorted keys.
 */

export type DifferenceType = 'ADD' | 'REMOVE' | 'NOT_EQUAL';

export interface PropertyDifference {
  PropertyPath: string;
  ExpectedValue: string;
  ActualValue: string;
  DifferenceType: DifferenceType;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const k of Object.keys(v).sort()) if (v[k] !== undefined) out[k] = sortKeys(v[k]);
  return out;
}

/** Compact JSON with object keys sorted (ExpectedProperties/ActualProperties and rendered values). */
export function canonicalJson(v: unknown): string {
  return JSON.stringify(sortKeys(v)) ?? 'null';
}

/** A value as PropertyDifference renders it. */
export function renderValue(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return canonicalJson(v);
}

function parseJsonObject(v: unknown): unknown {
  if (typeof v !== 'string') return v;
  const t = decodeURIComponentSafe(v.trim());
  if (!t.startsWith('{') && !t.startsWith('[')) return v;
  try {
    return JSON.parse(t);
  } catch {
    return v;
  }
}

function decodeURIComponentSafe(s: string): string {
  if (!/%7B|%22/i.test(s)) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

const escapePath = (k: string): string => k.replace(/~/g, '~0').replace(/\//g, '~1');

interface Options {
  /** Inside a JSON policy document: a scalar equals a one-element list. */
  policy: boolean;
  /**
   * Inside a JSON document or a map (policy documents, Lambda environment Variables): members the
   * template does not set are compared too (a member added live is an ADD).
   */
  exact: boolean;
}

const MAP_KEYS = /^Variables$/;

function childOptions(opts: Options, key: string): Options {
  const policy = opts.policy || POLICY_KEYS.test(key);
  return { policy, exact: policy || opts.exact || MAP_KEYS.test(key) };
}

const POLICY_KEYS = /PolicyDocument$|^PolicyText$/;

function compare(
  expected: unknown,
  actual: unknown,
  path: string,
  opts: Options,
  out: PropertyDifference[],
): void {
  if (actual === undefined || actual === null) {
    if (expected === undefined || expected === null) return;
    out.push({
      PropertyPath: path,
      ExpectedValue: renderValue(expected),
      ActualValue: 'null',
      DifferenceType: 'REMOVE',
    });
    return;
  }
  let e: unknown = expected;
  let a: unknown = actual;
  if (isObj(e) || Array.isArray(e)) a = parseJsonObject(a);
  if (isObj(a) || Array.isArray(a)) e = parseJsonObject(e);
  if (opts.policy) {
    if (Array.isArray(e) && !Array.isArray(a) && !isObj(a)) a = [a];
    if (Array.isArray(a) && !Array.isArray(e) && !isObj(e)) e = [e];
  }
  if (Array.isArray(e) && Array.isArray(a)) {
    compareLists(e, a, path, opts, out);
    return;
  }
  if (isObj(e) && isObj(a)) {
    for (const k of Object.keys(e)) {
      if (e[k] === undefined) continue;
      compare(e[k], a[k], `${path}/${escapePath(k)}`, childOptions(opts, k), out);
    }
    if (opts.exact) {
      for (const k of Object.keys(a)) {
        if (e[k] !== undefined || a[k] === undefined || a[k] === null) continue;
        out.push({
          PropertyPath: `${path}/${escapePath(k)}`,
          ExpectedValue: 'null',
          ActualValue: renderValue(a[k]),
          DifferenceType: 'ADD',
        });
      }
    }
    return;
  }
  if (isObj(e) || isObj(a) || Array.isArray(e) || Array.isArray(a) || String(e) !== String(a)) {
    out.push({
      PropertyPath: path,
      ExpectedValue: renderValue(e),
      ActualValue: renderValue(a),
      DifferenceType: 'NOT_EQUAL',
    });
  }
}

function matches(e: unknown, a: unknown, opts: Options): boolean {
  const d: PropertyDifference[] = [];
  compare(e, a, '', opts, d);
  return d.length === 0;
}

function compareLists(
  e: unknown[],
  a: unknown[],
  path: string,
  opts: Options,
  out: PropertyDifference[],
): void {
  const used = new Set<number>();
  const removed: number[] = [];
  e.forEach((item, i) => {
    const j = a.findIndex((x, k) => !used.has(k) && matches(item, x, opts));
    if (j < 0) removed.push(i);
    else used.add(j);
  });
  for (const i of removed) {
    out.push({
      PropertyPath: `${path}/${i}`,
      ExpectedValue: renderValue(e[i]),
      ActualValue: 'null',
      DifferenceType: 'REMOVE',
    });
  }
  a.forEach((item, k) => {
    if (used.has(k)) return;
    out.push({
      PropertyPath: `${path}/${k}`,
      ExpectedValue: 'null',
      ActualValue: renderValue(item),
      DifferenceType: 'ADD',
    });
  });
}

/**
 * The differences between a resource's expected properties (as deployed from the template) and its live
 * properties, in CloudFormation's PropertyDifference format. `ignored` lists properties drift detection
 * does not check for this type.
 */
export function propertyDifferences(
  expected: Readonly<Obj>,
  actual: Readonly<Obj>,
  ignored: readonly string[] = [],
): PropertyDifference[] {
  const out: PropertyDifference[] = [];
  for (const k of Object.keys(expected)) {
    if (ignored.includes(k) || expected[k] === undefined) continue;
    compare(
      expected[k],
      actual[k],
      `/${escapePath(k)}`,
      childOptions({ policy: false, exact: false }, k),
      out,
    );
  }
  return out;
}

/** The expected properties drift detection compares (the template's, minus ignored ones). */
export function checkedProperties(expected: Readonly<Obj>, ignored: readonly string[] = []): Obj {
  const out: Obj = {};
  for (const [k, v] of Object.entries(expected)) if (!ignored.includes(k) && v !== undefined) out[k] = v;
  return out;
}

/** The live properties reported next to them: those the template sets. */
export function reportedActual(expected: Readonly<Obj>, actual: Readonly<Obj>): Obj {
  const out: Obj = {};
  for (const k of Object.keys(expected)) if (actual[k] !== undefined) out[k] = actual[k];
  return out;
}
