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
  usedNames: string[];
  usedVals: string[];
}

/** Content-dependent checks in dynalite's condition grammar: not cached. */
const CONTENT_CHECKED = /between|attribute_type/i;
const TYPES = ['S', 'N', 'B', 'NULL', 'BOOL', 'SS', 'NS', 'BS', 'L', 'M'] as const;
const MAX_SHAPES = 2000;

function typeOf(v: AttrValue | undefined): string {
  if (!v || typeof v !== 'object') return '?';
  return TYPES.find((t) => v[t] !== undefined && v[t] !== null) ?? '?';
}

function shapeKey(which: string, input: string, ctx: ParseContext): string {
  const vals = ctx.attrVals ? Object.entries(ctx.attrVals).map(([k, v]) => `${k}=${typeOf(v)}`) : [];
  return JSON.stringify([which, input, ctx.attrNames ?? null, vals]);
}

/** A copy of `tree` (prototypes and shared references kept) with each stand-in replaced by its real value. */
function rebind(tree: unknown, standIns: Map<AttrValue, string>, vals: Record<string, AttrValue>): unknown {
  const seen = new Map<object, unknown>();
  const copy = (node: unknown): unknown => {
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
    for (const [k, v] of Object.entries(node)) out[k] = copy(v);
    return out;
  };
  return copy(tree);
}

/** Parses once per shape with stand-in values; undefined when the parse fails (not cached). */
function learn(parser: Parser['parse'], input: string, ctx: ParseContext): Shape | undefined {
  const standIns = new Map<AttrValue, string>();
  const vals: Record<string, AttrValue> = {};
  for (const [k, v] of Object.entries(ctx.attrVals ?? {})) {
    const standIn = { ...v };
    standIns.set(standIn, k);
    vals[k] = standIn;
  }
  const unusedNames = Object.fromEntries(Object.keys(ctx.attrNames ?? {}).map((k) => [k, true]));
  const unusedVals = Object.fromEntries(Object.keys(vals).map((k) => [k, true]));
  let tree: unknown;
  try {
    tree = parser(input, {
      context: { ...ctx, attrVals: vals, unusedAttrNames: unusedNames, unusedAttrVals: unusedVals },
    });
  } catch {
    return undefined;
  }
  if (typeof tree === 'string') return undefined; // a semantic error, reported from the request's own parse
  return {
    tree,
    standIns,
    usedNames: Object.keys(ctx.attrNames ?? {}).filter((k) => !(k in unusedNames)),
    usedVals: Object.keys(vals).filter((k) => !(k in unusedVals)),
  };
}

/** `parse` of one dynalite parser module, memoized by expression shape. */
function memoized(which: string, parser: Parser['parse'], shapes: Map<string, Shape>): Parser['parse'] {
  return (input, options) => {
    const ctx = options.context;
    if (CONTENT_CHECKED.test(input)) return parser(input, options);
    const key = shapeKey(which, input, ctx);
    let shape = shapes.get(key);
    if (!shape) {
      shape = learn(parser, input, ctx);
      // A failed parse is dynalite's to report, from the request's own values.
      if (!shape) return parser(input, options);
      if (shapes.size >= MAX_SHAPES) shapes.clear();
      shapes.set(key, shape);
    }
    for (const k of shape.usedNames) if (ctx.unusedAttrNames) delete ctx.unusedAttrNames[k];
    for (const k of shape.usedVals) if (ctx.unusedAttrVals) delete ctx.unusedAttrVals[k];
    return rebind(shape.tree, shape.standIns, ctx.attrVals ?? {});
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
