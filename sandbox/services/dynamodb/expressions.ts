/**
 * dynalite parses every request's expressions (Condition, KeyCondition, Filter, Update, Projection) with
 * its generated PEG parsers, and that parse was the largest single item of the sandbox's DynamoDB CPU (≈ 6 %
 * of the emulator's event loop in the throughput bench): the tasks send the same few expressions over and
 * over with different values. This memoizes the parse per expression *shape*: the parser, the expression,
 * the ExpressionAttributeNames and the type of each ExpressionAttributeValue.
 *
 * A shape's first request is parsed with stand-ins for its values (copies: same type, same content, other
 * identity); later requests of the shape get a copy of that tree with their own value objects where the
 * stand-ins were — what dynalite's parser would have built, since outside the value-content checks below
 * it reads a value only for its type. Expressions whose validity depends on a value's content (BETWEEN's
 * bounds, attribute_type's type name) and failed parses (dynalite's error messages name the input) are
 * never cached. The parser also marks which names and values it used (`unusedAttrNames`/`unusedAttrVals`):
 * those deletions are replayed.
 *
 * Names take part in the shape by which of them are equal, not by what they say (the lease table's
 * `#h` is a different holder id in every request, which made every admission a new shape): the parser
 * compares names only with each other and with the expression's own words (document paths that overlap
 * or conflict), so a name is parsed as a stand-in string, one per distinct value, and replaced by the
 * request's own name in the copy (in strings and in the tree's keys, `nestedPaths`/`pathHeads`). A name
 * that also occurs as a word of the expression, is empty (dynalite's "not defined" error) or looks like
 * a list index (it would order the tree's keys otherwise) keeps its value in the shape.
 */
import { createRequire } from 'node:module';

type AttrValue = Record<string, unknown>;

/** What dynalite's validations pass its parsers (validations/index.js `parse`). */
interface ParseContext {
  attrNames?: Record<string, string>;
  attrVals?: Record<string, AttrValue>;
  unusedAttrNames?: Record<string, boolean>;
  unusedAttrVals?: Record<string, boolean>;
  [other: string]: unknown;
}

interface Parser {
  parse(input: string, options: { context: ParseContext }): unknown;
}

interface Shape {
  tree: unknown;
  /** The stand-in of each value, by its `:name`. */
  standIns: Map<AttrValue, string>;
  /** The stand-in of each name (a string the expression cannot contain), by its `#name`. */
  nameStandIns: Map<string, string>;
  usedNames: string[];
  usedVals: string[];
}

/** How a request's names enter its shape: the shape key's part, and the names parsed as stand-ins. */
interface NameShape {
  key: string[];
  /** `#name` → stand-in, for the names whose value the shape does not keep. */
  standIns: Map<string, string>;
}

/** Content-dependent checks in dynalite's condition grammar: not cached. */
const CONTENT_CHECKED = /between|attribute_type/i;
const TYPES = ['S', 'N', 'B', 'NULL', 'BOOL', 'SS', 'NS', 'BS', 'L', 'M'] as const;
const MAX_SHAPES = 2000;

function typeOf(v: AttrValue | undefined): string {
  if (!v || typeof v !== 'object') return '?';
  return TYPES.find((t) => v[t] !== undefined && v[t] !== null) ?? '?';
}

/** A stand-in name: `\u0001` cannot occur in an expression's words, so no literal path equals it. */
const STAND_IN = '\u0001';
const WORD = /[A-Za-z0-9_]+/g;
const INDEX_LIKE = /^\d+$/;

function nameShape(input: string, names: Record<string, string> | undefined): NameShape {
  const standIns = new Map<string, string>();
  if (!names) return { key: [], standIns };
  let words: Set<string> | undefined;
  const classes = new Map<string, string>();
  const key = Object.entries(names).map(([k, v]) => {
    if (typeof v !== 'string' || v === '' || INDEX_LIKE.test(v) || v.includes(STAND_IN)) return `${k}=${v}`;
    words ??= new Set(input.match(WORD) ?? []);
    if (words.has(v)) return `${k}=${v}`;
    let standIn = classes.get(v);
    if (standIn === undefined) {
      standIn = `${STAND_IN}${classes.size}`;
      classes.set(v, standIn);
    }
    standIns.set(k, standIn);
    return `${k}~${standIn}`;
  });
  return { key, standIns };
}

function shapeKey(which: string, input: string, ctx: ParseContext, names: NameShape): string {
  const vals = ctx.attrVals ? Object.entries(ctx.attrVals).map(([k, v]) => `${k}=${typeOf(v)}`) : [];
  return JSON.stringify([which, input, ctx.isKeyCondition === true, names.key, vals]);
}

/** The request's own name for each stand-in name of the shape. */
function realNames(shape: Shape, names: Record<string, string> | undefined): Map<string, string> {
  const real = new Map<string, string>();
  for (const [k, standIn] of shape.nameStandIns) real.set(standIn, names?.[k] ?? standIn);
  return real;
}

/**
 * A copy of `tree` (prototypes and shared references kept) with each stand-in value replaced by the
 * request's value object and each stand-in name (a string or a key) by the request's name.
 */
function rebind(tree: unknown, shape: Shape, ctx: ParseContext): unknown {
  const { standIns } = shape;
  const vals = ctx.attrVals ?? {};
  const names = shape.nameStandIns.size ? realNames(shape, ctx.attrNames) : undefined;
  const seen = new Map<object, unknown>();
  const copy = (node: unknown): unknown => {
    if (typeof node === 'string') return names?.get(node) ?? node;
    if (!node || typeof node !== 'object') return node;
    const name = standIns.get(node as AttrValue);
    if (name !== undefined) return vals[name];
    const known = seen.get(node);
    if (known !== undefined) return known;
    if (Array.isArray(node)) {
      const out: unknown[] = [];
      seen.set(node, out);
      for (const item of node) out.push(copy(item));
      return out;
    }
    const out = Object.create(Object.getPrototypeOf(node)) as Record<string, unknown>;
    seen.set(node, out);
    for (const [k, v] of Object.entries(node)) out[names?.get(k) ?? k] = copy(v);
    return out;
  };
  return copy(tree);
}

/** Whether every stand-in name in `tree` (strings and keys) is a whole string: else it cannot be replaced. */
function standInsWhole(tree: unknown, whole: Set<string>): boolean {
  const ok = (s: string) => !s.includes(STAND_IN) || whole.has(s);
  const seen = new Set<object>();
  const check = (node: unknown): boolean => {
    if (typeof node === 'string') return ok(node);
    if (!node || typeof node !== 'object' || seen.has(node)) return true;
    seen.add(node);
    return Object.entries(node).every(([k, v]) => ok(k) && check(v));
  };
  return check(tree);
}

/** Parses once per shape with stand-in values and names; undefined when the parse fails (not cached). */
function learn(
  parser: Parser['parse'],
  input: string,
  ctx: ParseContext,
  names: NameShape,
): Shape | undefined {
  const standIns = new Map<AttrValue, string>();
  const vals: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(ctx.attrVals ?? {})) {
    const standIn = { ...v };
    standIns.set(standIn, k);
    vals[k] = standIn;
  }
  const attrNames = ctx.attrNames ? { ...ctx.attrNames } : undefined;
  for (const [k, standIn] of names.standIns) if (attrNames) attrNames[k] = standIn;
  const unusedNames = Object.fromEntries(Object.keys(ctx.attrNames ?? {}).map((k) => [k, true]));
  const unusedVals = Object.fromEntries(Object.keys(vals).map((k) => [k, true]));
  let tree: unknown;
  try {
    tree = parser(input, {
      context: {
        ...ctx,
        attrNames,
        attrVals: vals,
        unusedAttrNames: unusedNames,
        unusedAttrVals: unusedVals,
      },
    });
  } catch {
    return undefined;
  }
  if (typeof tree === 'string') return undefined; // a semantic error, reported from the request's own parse
  if (names.standIns.size && !standInsWhole(tree, new Set(names.standIns.values()))) return undefined;
  return {
    tree,
    standIns,
    nameStandIns: names.standIns,
    usedNames: Object.keys(ctx.attrNames ?? {}).filter((k) => !(k in unusedNames)),
    usedVals: Object.keys(vals).filter((k) => !(k in unusedVals)),
  };
}

/** `parse` of one dynalite parser module, memoized by expression shape. */
function memoized(which: string, parser: Parser['parse'], shapes: Map<string, Shape>): Parser['parse'] {
  return (input, options) => {
    const ctx = options.context;
    if (CONTENT_CHECKED.test(input)) return parser(input, options);
    const names = nameShape(input, ctx.attrNames);
    const key = shapeKey(which, input, ctx, names);
    let shape = shapes.get(key);
    if (!shape) {
      shape = learn(parser, input, ctx, names);
      // A failed parse is dynalite's to report, from the request's own values.
      if (!shape) return parser(input, options);
      if (shapes.size >= MAX_SHAPES) shapes.clear();
      shapes.set(key, shape);
    }
    for (const k of shape.usedNames) if (ctx.unusedAttrNames) delete ctx.unusedAttrNames[k];
    for (const k of shape.usedVals) if (ctx.unusedAttrVals) delete ctx.unusedAttrVals[k];
    return rebind(shape.tree, shape, ctx);
  };
}

let installed = false;

/**
 * Replaces the `parse` of dynalite's three expression parsers (one module instance per process, shared
 * by every dynalite engine) with the memoized one; idempotent.
 */
export function memoizeDynaliteExpressions(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const shapes = new Map<string, Shape>();
  for (const which of ['conditionParser', 'updateParser', 'projectionParser']) {
    const mod = require(`./db/${which}`) as Parser;
    mod.parse = memoized(which, mod.parse.bind(mod), shapes);
  }
}
