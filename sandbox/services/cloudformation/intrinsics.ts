/**
 * CloudFormation intrinsic functions and pseudo parameters, resolved against a deployment context:
 * Ref, Fn::GetAtt (list and "Res.Attr" forms), Fn::Join, Fn::Sub (string and [string, vars] forms,
 * ${AWS::…}, ${Res.Attr}, ${!Literal}), Fn::Select, Fn::Split, Fn::If, Fn::Equals/And/Or/Not, Condition,
 * Fn::FindInMap, Fn::Base64, Fn::GetAZs, Fn::ToJsonString, Fn::ImportValue, Fn::Length.
 * `AWS::NoValue` (directly or through Fn::If) removes the enclosing property or list element.
 * Errors are CloudFormation's ValidationError texts ("Template format error: …", "Template error: …").
 */
import { AwsError } from '../../core/types';

/** A provisioned resource as references see it. */
export interface InstalledResource {
  logicalId: string;
  type: string;
  physicalId: string;
  /** Fn::GetAtt values. */
  attributes: Record<string, string>;
}

export interface ResolveContext {
  region: string;
  accountId: string;
  stackName: string;
  stackId?: string;
  /** Default aws. */
  partition?: string;
  /** Default amazonaws.com. */
  urlSuffix?: string;
  notificationArns?: readonly string[];
  /** Resources provisioned so far (Ref → physical id, GetAtt → attributes). */
  resources: ReadonlyMap<string, InstalledResource>;
  /**
   * Parameter values by name: a string, a list (List<…>/CommaDelimitedList), or a template parameter
   * declaration whose Default is used (so a template's own Parameters block can be passed as is).
   */
  parameters?: Readonly<Record<string, unknown>>;
  mappings?: Readonly<Record<string, unknown>>;
  /** Evaluated conditions (see evaluateConditions in ./template). */
  conditions?: Readonly<Record<string, boolean>>;
  /** Exported output values by export name (Fn::ImportValue). */
  exports?: ReadonlyMap<string, string>;
  /** Called for every Fn::ImportValue that resolves (the stack records what it imports). */
  onImport?: (exportName: string) => void;
}

/** The value of AWS::NoValue: its holder drops the property or element. */
export const NO_VALUE: unique symbol = Symbol('AWS::NoValue');

export const PSEUDO_PARAMETERS = [
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
] as const;

const INTRINSICS = new Set([
  'Ref',
  'Condition',
  'Fn::GetAtt',
  'Fn::Join',
  'Fn::Sub',
  'Fn::Select',
  'Fn::Split',
  'Fn::If',
  'Fn::Equals',
  'Fn::And',
  'Fn::Or',
  'Fn::Not',
  'Fn::FindInMap',
  'Fn::Base64',
  'Fn::GetAZs',
  'Fn::ToJsonString',
  'Fn::ImportValue',
  'Fn::Length',
]);

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function templateError(message: string): AwsError {
  return new AwsError('ValidationError', message);
}

/** The single intrinsic key of `v`, if `v` is an intrinsic function call. */
export function intrinsicName(v: unknown): string | undefined {
  if (!isObj(v)) return undefined;
  const keys = Object.keys(v);
  if (keys.length !== 1) return undefined;
  const k = keys[0] as string;
  return INTRINSICS.has(k) ? k : undefined;
}

function stackUuidOf(ctx: ResolveContext): string {
  return ctx.stackId?.split('/').pop() ?? '00000000-0000-0000-0000-000000000000';
}

function pseudo(name: string, ctx: ResolveContext): unknown {
  switch (name) {
    case 'AWS::Region':
      return ctx.region;
    case 'AWS::AccountId':
      return ctx.accountId;
    case 'AWS::StackName':
      return ctx.stackName;
    case 'AWS::StackId':
      return (
        ctx.stackId ??
        `arn:${ctx.partition ?? 'aws'}:cloudformation:${ctx.region}:${ctx.accountId}:stack/${ctx.stackName}/${stackUuidOf(ctx)}`
      );
    case 'AWS::Partition':
      return ctx.partition ?? 'aws';
    case 'AWS::URLSuffix':
      return ctx.urlSuffix ?? 'amazonaws.com';
    case 'AWS::NotificationARNs':
      return [...(ctx.notificationArns ?? [])];
    case 'AWS::NoValue':
      return NO_VALUE;
    default:
      return undefined;
  }
}

function parameterValue(name: string, ctx: ResolveContext): unknown {
  const params = ctx.parameters;
  if (!params || !Object.hasOwn(params, name)) return undefined;
  const v = params[name];
  if (isObj(v)) {
    // A parameter declaration: its Default, split for list types.
    const def = v.Default;
    if (def === undefined) throw templateError(`Parameters: [${name}] must have values`);
    const type = typeof v.Type === 'string' ? v.Type : 'String';
    if (isListType(type)) return Array.isArray(def) ? def.map(String) : String(def).split(',');
    return Array.isArray(def) ? def.map(String).join(',') : String(def);
  }
  return v;
}

export function isListType(type: string): boolean {
  return (
    type === 'CommaDelimitedList' ||
    type.startsWith('List<') ||
    /^AWS::SSM::Parameter::Value<List<.*>>$/.test(type)
  );
}

/** Ref: parameter value, pseudo parameter or a resource's physical id. */
export function ref(name: string, ctx: ResolveContext): unknown {
  const p = parameterValue(name, ctx);
  if (p !== undefined) return p;
  if (name.startsWith('AWS::')) {
    const v = pseudo(name, ctx);
    if (v === undefined) throw templateError(`Template format error: Unrecognized parameter type: ${name}`);
    return v;
  }
  const r = ctx.resources.get(name);
  if (r) return r.physicalId;
  throw templateError(
    `Template format error: Unresolved resource dependencies [${name}] in the Resources block of the template`,
  );
}

export function getAtt(logicalId: string, attribute: string, ctx: ResolveContext): string {
  const r = ctx.resources.get(logicalId);
  if (!r) {
    throw templateError(`Template error: instance of Fn::GetAtt references undefined resource ${logicalId}`);
  }
  const v = r.attributes[attribute];
  if (v === undefined) {
    throw templateError(
      `Template error: resource ${logicalId} does not support attribute type ${attribute} in Fn::GetAtt`,
    );
  }
  return v;
}

/** A resolved scalar as CloudFormation stringifies it in Join/Sub/Outputs. */
export function asString(v: unknown, fn: string): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw templateError(`Template error: every ${fn} object requires string values, got ${describe(v)}`);
}

function describe(v: unknown): string {
  if (v === NO_VALUE) return 'AWS::NoValue';
  if (Array.isArray(v)) return 'a list';
  if (v === null) return 'null';
  return typeof v === 'object' ? 'an object' : typeof v;
}

function asList(v: unknown, fn: string): unknown[] {
  if (Array.isArray(v)) return v;
  throw templateError(`Template error: ${fn} requires a list, got ${describe(v)}`);
}

function args(v: unknown, fn: string, min: number, max = min): unknown[] {
  if (!Array.isArray(v) || v.length < min || v.length > max) {
    const n = min === max ? `${min}` : `${min} to ${max}`;
    throw templateError(`Template error: ${fn} requires a list of ${n} arguments`);
  }
  return v;
}

function condition(name: string, ctx: ResolveContext): boolean {
  const c = ctx.conditions?.[name];
  if (c === undefined)
    throw templateError(`Template format error: Unresolved condition dependency ${name} in Fn::If`);
  return c;
}

/** Evaluates a condition function (Fn::Equals/And/Or/Not, Condition) to a boolean. */
export function evaluateCondition(v: unknown, ctx: ResolveContext): boolean {
  const r = resolveValue(v, ctx);
  if (typeof r === 'boolean') return r;
  if (r === 'true' || r === 'false') return r === 'true';
  throw templateError(`Template error: a condition must evaluate to a boolean, got ${describe(r)}`);
}

function scalarText(v: unknown): string {
  if (Array.isArray(v)) return v.map(scalarText).join(',');
  if (isObj(v)) return JSON.stringify(v);
  return String(v);
}

const SUB_VAR = /\$\{([^}]*)\}/g;

function sub(template: string, vars: Obj, ctx: ResolveContext): string {
  return template.replace(SUB_VAR, (_whole, inner: string) => {
    if (inner.startsWith('!')) return `\${${inner.slice(1)}}`;
    const name = inner.trim();
    if (Object.hasOwn(vars, name)) return asString(resolveValue(vars[name], ctx), 'Fn::Sub');
    const dot = name.indexOf('.');
    if (dot > 0 && !name.startsWith('AWS::') && parameterValue(name, ctx) === undefined) {
      return getAtt(name.slice(0, dot), name.slice(dot + 1), ctx);
    }
    const value = ref(name, ctx);
    if (value === NO_VALUE) return '';
    return Array.isArray(value) ? value.map(String).join(',') : asString(value, 'Fn::Sub');
  });
}

/** Names a Fn::Sub string refers to (for dependency analysis), excluding its own variables. */
export function subReferences(template: string, vars: Obj = {}): string[] {
  const out: string[] = [];
  for (const m of template.matchAll(SUB_VAR)) {
    const inner = m[1] ?? '';
    if (inner.startsWith('!')) continue;
    const name = inner.trim();
    if (Object.hasOwn(vars, name)) continue;
    const dot = name.indexOf('.');
    out.push(dot > 0 && !name.startsWith('AWS::') ? name.slice(0, dot) : name);
  }
  return out;
}

function findInMap(a: unknown[], ctx: ResolveContext): unknown {
  const [mapName, top, second] = a.slice(0, 3).map((x) => asString(resolveValue(x, ctx), 'Fn::FindInMap'));
  const fallback = isObj(a[3]) && Object.hasOwn(a[3], 'DefaultValue') ? a[3].DefaultValue : undefined;
  const map = mapName === undefined ? undefined : ctx.mappings?.[mapName];
  const level = isObj(map) && top !== undefined ? map[top] : undefined;
  const value = isObj(level) && second !== undefined ? level[second] : undefined;
  if (value === undefined) {
    if (fallback !== undefined) return resolveValue(fallback, ctx);
    throw templateError(`Template error: Unable to get mapping for ${mapName}::${top}::${second}`);
  }
  return value;
}

/** Sorted-key JSON without whitespace (Fn::ToJsonString and drift rendering use it). */
function toJson(v: unknown): string {
  return JSON.stringify(v);
}

function getAttArgs(a: unknown, ctx: ResolveContext): [logicalId: string, attribute: string] {
  if (typeof a === 'string') {
    const dot = a.indexOf('.');
    if (dot <= 0)
      throw templateError('Template error: every Fn::GetAtt object requires two non-empty parameters');
    return [a.slice(0, dot), a.slice(dot + 1)];
  }
  const [l, at] = args(a, 'Fn::GetAtt', 2);
  return [asString(l, 'Fn::GetAtt'), asString(resolveValue(at, ctx), 'Fn::GetAtt')];
}

function select(a: unknown, ctx: ResolveContext): unknown {
  const [index, list] = args(a, 'Fn::Select', 2);
  const i = Number(resolveValue(index, ctx));
  const items = asList(resolveValue(list, ctx), 'Fn::Select');
  if (!Number.isInteger(i) || i < 0 || i >= items.length) {
    throw templateError(`Template error: Fn::Select cannot select nonexistent value at index ${String(i)}`);
  }
  return items[i];
}

function subFn(a: unknown, ctx: ResolveContext): unknown {
  if (typeof a === 'string') return sub(a, {}, ctx);
  const [text, vars] = args(a, 'Fn::Sub', 1, 2);
  if (vars !== undefined && !isObj(vars)) {
    throw templateError('Template error: the second argument of Fn::Sub must be a map of variables');
  }
  return sub(asString(text, 'Fn::Sub'), vars ?? {}, ctx);
}

function importValue(a: unknown, ctx: ResolveContext): unknown {
  const name = asString(resolveValue(a, ctx), 'Fn::ImportValue');
  const v = ctx.exports?.get(name);
  if (v === undefined) throw templateError(`No export named ${name} found.`);
  ctx.onImport?.(name);
  return v;
}

type Intrinsic = (a: unknown, ctx: ResolveContext, fn: string) => unknown;

/** Every intrinsic function and condition function the sandbox resolves, by name. */
const RESOLVERS: Record<string, Intrinsic> = {
  Ref: (a, ctx) => ref(asString(resolveValue(a, ctx), 'Ref'), ctx),
  Condition: (a, ctx) => condition(asString(a, 'Condition'), ctx),
  'Fn::GetAtt': (a, ctx) => getAtt(...getAttArgs(a, ctx), ctx),
  'Fn::Join': (a, ctx) => {
    const [delim, list] = args(a, 'Fn::Join', 2);
    const items = asList(resolveValue(list, ctx), 'Fn::Join').filter((x) => x !== NO_VALUE);
    return items.map((x) => asString(x, 'Fn::Join')).join(asString(delim, 'Fn::Join'));
  },
  'Fn::Sub': subFn,
  'Fn::Select': select,
  'Fn::Split': (a, ctx) => {
    const [delim, text] = args(a, 'Fn::Split', 2);
    return asString(resolveValue(text, ctx), 'Fn::Split').split(asString(delim, 'Fn::Split'));
  },
  'Fn::If': (a, ctx) => {
    const [name, whenTrue, whenFalse] = args(a, 'Fn::If', 3);
    return resolveValue(condition(asString(name, 'Fn::If'), ctx) ? whenTrue : whenFalse, ctx);
  },
  'Fn::Equals': (a, ctx) => {
    const [x, y] = args(a, 'Fn::Equals', 2);
    return scalarText(resolveValue(x, ctx)) === scalarText(resolveValue(y, ctx));
  },
  'Fn::And': (a, ctx, fn) =>
    args(a, fn, 2, 10)
      .map((c) => evaluateCondition(c, ctx))
      .every(Boolean),
  'Fn::Or': (a, ctx, fn) =>
    args(a, fn, 2, 10)
      .map((c) => evaluateCondition(c, ctx))
      .some(Boolean),
  'Fn::Not': (a, ctx) => !evaluateCondition(args(a, 'Fn::Not', 1)[0], ctx),
  'Fn::FindInMap': (a, ctx) => findInMap(args(a, 'Fn::FindInMap', 3, 4), ctx),
  'Fn::Base64': (a, ctx) =>
    Buffer.from(asString(resolveValue(a, ctx), 'Fn::Base64'), 'utf8').toString('base64'),
  'Fn::GetAZs': (a, ctx) => {
    const r = resolveValue(a, ctx);
    const region = r === '' || r === undefined || r === null ? ctx.region : asString(r, 'Fn::GetAZs');
    return ['a', 'b', 'c'].map((s) => `${region}${s}`);
  },
  'Fn::ToJsonString': (a, ctx) => {
    const r = resolveValue(a, ctx);
    return typeof r === 'string' ? r : toJson(r);
  },
  'Fn::ImportValue': importValue,
  'Fn::Length': (a, ctx) => asList(resolveValue(a, ctx), 'Fn::Length').length,
};

function callIntrinsic(fn: string, a: unknown, ctx: ResolveContext): unknown {
  const intrinsic = Object.hasOwn(RESOLVERS, fn) ? RESOLVERS[fn] : undefined;
  if (!intrinsic) throw templateError(`Template format error: Unrecognized function ${fn}`);
  return intrinsic(a, ctx, fn);
}

/**
 * Resolves every intrinsic in `value`. Object members and list elements that resolve to AWS::NoValue
 * are dropped; a top-level AWS::NoValue is returned as NO_VALUE.
 */
export function resolveValue(value: unknown, ctx: ResolveContext): unknown {
  if (Array.isArray(value)) {
    return value.map((v) => resolveValue(v, ctx)).filter((v) => v !== NO_VALUE);
  }
  if (!isObj(value)) return value;
  const fn = intrinsicName(value);
  if (fn) return callIntrinsic(fn, value[fn], ctx);
  const out: Obj = {};
  for (const [k, v] of Object.entries(value)) {
    const r = resolveValue(v, ctx);
    if (r !== NO_VALUE) out[k] = r;
  }
  return out;
}
