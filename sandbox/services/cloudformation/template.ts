/**
 * The CloudFormation template engine: parse (JSON, or YAML with the short-form tags via yaml-cfn),
 * validate, resolve Parameters (defaults, AllowedValues, AllowedPattern, lengths, ranges, NoEcho),
 * evaluate Conditions, order Resources by their dependencies (Ref, Fn::GetAtt, Fn::Sub, DependsOn) with
 * cycle detection, and resolve properties and Outputs with the intrinsics of ./intrinsics. Exported for
 * reuse by the installer, which resolves the remediation stack's own synthesized template with it.
 */
import { yamlParse } from 'yaml-cfn';
import {
  evaluateCondition,
  intrinsicName,
  isListType,
  NO_VALUE,
  PSEUDO_PARAMETERS,
  type ResolveContext,
  resolveValue,
  subReferences,
  templateError,
} from './intrinsics';

export type { InstalledResource, ResolveContext } from './intrinsics';
export { NO_VALUE, resolveValue } from './intrinsics';

type Obj = Record<string, unknown>;

export interface CfnParameter {
  Type: string;
  Default?: unknown;
  AllowedValues?: unknown[];
  AllowedPattern?: string;
  Description?: string;
  NoEcho?: boolean | string;
  MinLength?: number | string;
  MaxLength?: number | string;
  MinValue?: number | string;
  MaxValue?: number | string;
  ConstraintDescription?: string;
}

export interface CfnResource {
  Type: string;
  Properties?: Obj;
  DependsOn?: string | string[];
  Condition?: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  Metadata?: Obj;
}

export interface CfnOutput {
  Value: unknown;
  Description?: string;
  Condition?: string;
  Export?: { Name: unknown };
}

export interface CfnTemplate {
  AWSTemplateFormatVersion?: string;
  Description?: string;
  Transform?: unknown;
  Metadata?: Obj;
  Parameters?: Record<string, CfnParameter>;
  Mappings?: Record<string, Record<string, Record<string, unknown>>>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, CfnResource>;
  Outputs?: Record<string, CfnOutput>;
}

const SECTIONS = new Set([
  'AWSTemplateFormatVersion',
  'Description',
  'Transform',
  'Metadata',
  'Parameters',
  'Rules',
  'Mappings',
  'Conditions',
  'Resources',
  'Outputs',
  'Hooks',
]);

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses a template body (JSON or YAML with !Ref/!Sub/!GetAtt … tags) and checks its structure. */
export function parseTemplate(body: string): CfnTemplate {
  const text = body.trim();
  let parsed: unknown;
  if (text.startsWith('{')) {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw templateError('Template format error: JSON not well-formed.');
    }
  } else {
    try {
      parsed = yamlParse(text) as unknown;
    } catch (err) {
      const m = err instanceof Error ? /\((\d+):(\d+)\)/.exec(err.message) : null;
      throw templateError(
        `Template format error: YAML not well-formed.${m ? ` (line ${m[1]}, column ${m[2]})` : ''}`,
      );
    }
  }
  return validateTemplate(parsed);
}

/** Structural checks CloudFormation makes before anything is provisioned. */
export function validateTemplate(t: unknown): CfnTemplate {
  if (!isObj(t)) throw templateError('Template format error: JSON not well-formed.');
  for (const key of Object.keys(t)) {
    if (!SECTIONS.has(key))
      throw templateError(`Template format error: Unrecognized template section ${key}`);
  }
  const version = t.AWSTemplateFormatVersion;
  if (version !== undefined && String(version) !== '2010-09-09') {
    throw templateError(`Template format error: Unsupported template version: ${String(version)}`);
  }
  const resources = t.Resources;
  if (!isObj(resources) || Object.keys(resources).length === 0) {
    throw templateError('Template format error: At least one Resources member must be defined.');
  }
  for (const [id, r] of Object.entries(resources)) {
    if (!/^[A-Za-z0-9]+$/.test(id)) {
      throw templateError(`Template format error: Resource name ${id} is non alphanumeric.`);
    }
    if (!isObj(r) || typeof r.Type !== 'string') {
      throw templateError(
        `Template format error: [/Resources/${id}] Every Resources object must contain a Type member.`,
      );
    }
    if (r.Properties !== undefined && !isObj(r.Properties)) {
      throw templateError(
        `Template format error: [/Resources/${id}/Properties] Properties must be an object`,
      );
    }
  }
  const params = t.Parameters;
  if (params !== undefined) {
    if (!isObj(params)) throw templateError('Template format error: Parameters must be an object');
    for (const [name, p] of Object.entries(params)) {
      if (!isObj(p) || typeof p.Type !== 'string') {
        throw templateError(`Template format error: Every Parameters object must contain a Type member.`);
      }
      if (Object.hasOwn(resources, name)) {
        throw templateError(`Template format error: Parameter and resource names must be unique: ${name}`);
      }
    }
  }
  const outputs = t.Outputs;
  if (outputs !== undefined) {
    if (!isObj(outputs)) throw templateError('Template format error: Outputs must be an object');
    for (const [name, o] of Object.entries(outputs)) {
      if (!isObj(o) || o.Value === undefined) {
        throw templateError(
          `Template format error: Every Outputs member must contain a Value object, the Outputs member ${name} does not.`,
        );
      }
    }
  }
  return t as unknown as CfnTemplate;
}

// ---------------------------------------------------------------- parameters

export interface ParameterInput {
  ParameterKey?: string;
  ParameterValue?: string;
  UsePreviousValue?: boolean;
  ResolvedValue?: string;
}

export interface ResolvedParameters {
  /** Values by name (lists for List<…>/CommaDelimitedList). */
  values: Record<string, string | string[]>;
  /** As DescribeStacks reports them (NoEcho values masked as ****). */
  described: { ParameterKey: string; ParameterValue: string; ResolvedValue?: string }[];
}

const noEcho = (p: CfnParameter): boolean => p.NoEcho === true || p.NoEcho === 'true';

/**
 * Resolves parameter values from the call's Parameters (UsePreviousValue against `previous`), falling
 * back to Defaults, and applies the constraints CloudFormation checks. `ssmValue` fetches
 * AWS::SSM::Parameter::Value<…> parameters.
 */
export async function resolveParameters(
  template: CfnTemplate,
  inputs: readonly ParameterInput[] = [],
  previous: Readonly<Record<string, string | string[]>> = {},
  ssmValue?: (name: string) => Promise<string | undefined>,
): Promise<ResolvedParameters> {
  const declared = template.Parameters ?? {};
  const given = new Map<string, string>();
  const unknown: string[] = [];
  for (const p of inputs) {
    const key = p.ParameterKey ?? '';
    if (!Object.hasOwn(declared, key)) {
      unknown.push(key);
      continue;
    }
    if (p.UsePreviousValue) {
      const prev = previous[key];
      if (prev === undefined)
        throw templateError(
          `Invalid input for parameter key ${key}. Cannot specify usePreviousValue as true for a parameter key not in the previous template`,
        );
      given.set(key, Array.isArray(prev) ? prev.join(',') : prev);
    } else if (p.ParameterValue !== undefined) {
      given.set(key, p.ParameterValue);
    }
  }
  if (unknown.length > 0)
    throw templateError(`Parameters: [${unknown.join(', ')}] do not exist in the template`);
  const missing = Object.entries(declared)
    .filter(([k, p]) => !given.has(k) && p.Default === undefined)
    .map(([k]) => k);
  if (missing.length > 0) throw templateError(`Parameters: [${missing.join(', ')}] must have values`);

  const values: Record<string, string | string[]> = {};
  const described: ResolvedParameters['described'] = [];
  for (const [name, p] of Object.entries(declared)) {
    const raw =
      given.get(name) ?? (Array.isArray(p.Default) ? p.Default.map(String).join(',') : String(p.Default));
    checkConstraints(name, p, raw);
    let resolved: string | undefined;
    const ssm = /^AWS::SSM::Parameter::Value<(.+)>$/.exec(p.Type);
    if (ssm) {
      resolved = ssmValue ? await ssmValue(raw) : undefined;
      if (resolved === undefined) {
        throw templateError(`Unable to fetch parameters [${raw}] from parameter store for this account.`);
      }
    }
    const effective = resolved ?? raw;
    values[name] = isListType(p.Type)
      ? effective === ''
        ? []
        : effective.split(',').map((s) => s.trim())
      : effective;
    described.push({
      ParameterKey: name,
      ParameterValue: noEcho(p) ? '****' : raw,
      ...(resolved !== undefined && !noEcho(p) ? { ResolvedValue: resolved } : {}),
    });
  }
  return { values, described };
}

function checkConstraints(name: string, p: CfnParameter, value: string): void {
  const fail = (why: string): never => {
    throw templateError(
      p.ConstraintDescription
        ? `Parameter '${name}' failed to satisfy constraint: ${p.ConstraintDescription}`
        : `Parameter '${name}' ${why}`,
    );
  };
  const items = isListType(p.Type) ? value.split(',').map((s) => s.trim()) : [value];
  for (const v of items) {
    if (p.AllowedValues && !p.AllowedValues.map(String).includes(v)) fail('must be one of AllowedValues');
    if (p.AllowedPattern && !new RegExp(`^(?:${p.AllowedPattern})$`).test(v)) {
      fail(`must match pattern ${p.AllowedPattern}`);
    }
    if (p.Type === 'Number' || p.Type === 'List<Number>') {
      if (v.trim() === '' || !Number.isFinite(Number(v))) fail('must be a number');
      if (p.MinValue !== undefined && Number(v) < Number(p.MinValue))
        fail(`must be a number not less than ${p.MinValue}`);
      if (p.MaxValue !== undefined && Number(v) > Number(p.MaxValue))
        fail(`must be a number not greater than ${p.MaxValue}`);
    }
  }
  if (p.MinLength !== undefined && value.length < Number(p.MinLength)) {
    fail(`cannot be shorter than ${p.MinLength} characters`);
  }
  if (p.MaxLength !== undefined && value.length > Number(p.MaxLength)) {
    fail(`cannot be longer than ${p.MaxLength} characters`);
  }
}

// ---------------------------------------------------------------- conditions

/** Evaluates every named condition (conditions may reference each other; cycles are an error). */
export function evaluateConditions(
  template: CfnTemplate,
  ctx: Omit<ResolveContext, 'conditions'>,
): Record<string, boolean> {
  const defs = template.Conditions ?? {};
  const done: Record<string, boolean> = {};
  const visiting = new Set<string>();
  const conditions = new Proxy(done, {
    get(target, prop) {
      if (typeof prop !== 'string') return undefined;
      if (Object.hasOwn(target, prop)) return target[prop];
      if (!Object.hasOwn(defs, prop)) return undefined;
      return evaluate(prop);
    },
  });
  const evaluate = (name: string): boolean => {
    if (visiting.has(name))
      throw templateError(`Template error: circular condition dependency involving ${name}`);
    visiting.add(name);
    const value = evaluateCondition(defs[name], { ...ctx, conditions });
    visiting.delete(name);
    done[name] = value;
    return value;
  };
  for (const name of Object.keys(defs)) if (!Object.hasOwn(done, name)) evaluate(name);
  return { ...done };
}

/** Whether a resource or output is in the stack (no Condition, or its Condition is true). */
export function included(
  conditionName: string | undefined,
  conditions: Readonly<Record<string, boolean>>,
): boolean {
  if (conditionName === undefined) return true;
  const c = conditions[conditionName];
  if (c === undefined)
    throw templateError(`Template format error: Unresolved condition dependency ${conditionName}`);
  return c;
}

// ---------------------------------------------------------------- dependencies

function collectRefs(v: unknown, out: Set<string>): void {
  if (Array.isArray(v)) {
    for (const x of v) collectRefs(x, out);
    return;
  }
  if (!isObj(v)) return;
  const fn = intrinsicName(v);
  if (fn === 'Ref' && typeof v.Ref === 'string') {
    out.add(v.Ref);
    return;
  }
  if (fn === 'Fn::GetAtt') {
    const a = v['Fn::GetAtt'];
    if (typeof a === 'string') out.add(a.split('.')[0] ?? a);
    else if (Array.isArray(a) && typeof a[0] === 'string') {
      out.add(a[0]);
      collectRefs(a.slice(1), out);
    }
    return;
  }
  if (fn === 'Fn::Sub') {
    const a = v['Fn::Sub'];
    if (typeof a === 'string') for (const r of subReferences(a)) out.add(r);
    else if (Array.isArray(a) && typeof a[0] === 'string') {
      const vars = isObj(a[1]) ? a[1] : {};
      for (const r of subReferences(a[0], vars)) out.add(r);
      collectRefs(vars, out);
    }
    return;
  }
  for (const x of Object.values(v)) collectRefs(x, out);
}

/** The resources each resource depends on (Ref, Fn::GetAtt, Fn::Sub references and DependsOn). */
export function resourceDependencies(
  template: CfnTemplate,
  conditions: Readonly<Record<string, boolean>> = {},
): Map<string, Set<string>> {
  const resources = template.Resources;
  const params = template.Parameters ?? {};
  const active = (id: string): boolean => {
    const r = resources[id];
    return r !== undefined && (r.Condition === undefined || conditions[r.Condition] !== false);
  };
  const deps = new Map<string, Set<string>>();
  const unresolved = new Set<string>();
  for (const [id, r] of Object.entries(resources)) {
    if (!active(id)) continue;
    const refs = new Set<string>();
    collectRefs(r.Properties ?? {}, refs);
    const explicit =
      r.DependsOn === undefined ? [] : Array.isArray(r.DependsOn) ? r.DependsOn : [r.DependsOn];
    const mine = new Set<string>();
    for (const name of refs) {
      if (Object.hasOwn(params, name) || (PSEUDO_PARAMETERS as readonly string[]).includes(name)) continue;
      if (Object.hasOwn(resources, name)) {
        if (active(name)) mine.add(name);
      } else unresolved.add(name);
    }
    for (const name of explicit) {
      if (!Object.hasOwn(resources, name)) {
        throw templateError(
          `Template format error: Unresolved resource dependencies [${name}] in the Resources block of the template`,
        );
      }
      if (active(name)) mine.add(name);
    }
    deps.set(id, mine);
  }
  if (unresolved.size > 0) {
    throw templateError(
      `Template format error: Unresolved resource dependencies [${[...unresolved].join(', ')}] in the Resources block of the template`,
    );
  }
  return deps;
}

/**
 * Logical ids in an order where every resource comes after those it depends on (template order among
 * independent ones). A cycle is CloudFormation's ValidationError "Circular dependency between resources: […]".
 */
export function deploymentOrder(
  template: CfnTemplate,
  conditions: Readonly<Record<string, boolean>> = {},
): string[] {
  const deps = resourceDependencies(template, conditions);
  const order: string[] = [];
  const placed = new Set<string>();
  const pending = [...deps.keys()];
  while (pending.length > 0) {
    const i = pending.findIndex((id) => [...(deps.get(id) ?? [])].every((d) => placed.has(d)));
    if (i < 0) {
      throw templateError(
        `Circular dependency between resources: [${cycleMembers(pending, deps).join(', ')}]`,
      );
    }
    const [id] = pending.splice(i, 1) as [string];
    order.push(id);
    placed.add(id);
  }
  return order;
}

/** Resources on a cycle, or (if none is found from a start) all unplaceable ones. */
function cycleMembers(pending: string[], deps: Map<string, Set<string>>): string[] {
  const left = new Set(pending);
  // Peel off resources that merely depend on the cycle: keep only those that are reachable from themselves.
  const reaches = (from: string, to: string): boolean => {
    const seen = new Set<string>();
    const stack = [...(deps.get(from) ?? [])];
    while (stack.length > 0) {
      const n = stack.pop() as string;
      if (n === to) return true;
      if (seen.has(n) || !left.has(n)) continue;
      seen.add(n);
      stack.push(...(deps.get(n) ?? []));
    }
    return false;
  };
  const onCycle = pending.filter((id) => reaches(id, id));
  return onCycle.length > 0 ? onCycle : pending;
}

// ---------------------------------------------------------------- resolution helpers

/** A resource's resolved Properties (intrinsics evaluated, AWS::NoValue members dropped). */
export function resolveProperties(resource: CfnResource, ctx: ResolveContext): Obj {
  const r = resolveValue(resource.Properties ?? {}, ctx);
  return isObj(r) ? r : {};
}

export interface ResolvedOutput {
  OutputKey: string;
  OutputValue: string;
  Description?: string;
  ExportName?: string;
}

function outputText(v: unknown): string {
  if (Array.isArray(v)) return v.map(outputText).join(',');
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v === NO_VALUE) return '';
  return JSON.stringify(v);
}

/** The stack's Outputs (those whose Condition holds), values stringified as DescribeStacks shows them. */
export function resolveOutputs(template: CfnTemplate, ctx: ResolveContext): ResolvedOutput[] {
  const out: ResolvedOutput[] = [];
  for (const [key, o] of Object.entries(template.Outputs ?? {})) {
    if (!included(o.Condition, ctx.conditions ?? {})) continue;
    const value = outputText(resolveValue(o.Value, ctx));
    const exportName = o.Export ? outputText(resolveValue(o.Export.Name, ctx)) : undefined;
    const description =
      o.Description === undefined ? undefined : outputText(resolveValue(o.Description, ctx));
    out.push({
      OutputKey: key,
      OutputValue: value,
      ...(description !== undefined ? { Description: description } : {}),
      ...(exportName !== undefined ? { ExportName: exportName } : {}),
    });
  }
  return out;
}

/** IAM resource types that need CAPABILITY_IAM, and the name property that makes them need CAPABILITY_NAMED_IAM. */
const IAM_TYPES: Record<string, string | undefined> = {
  'AWS::IAM::Role': 'RoleName',
  'AWS::IAM::ManagedPolicy': 'ManagedPolicyName',
  'AWS::IAM::Policy': undefined,
  'AWS::IAM::User': 'UserName',
  'AWS::IAM::Group': 'GroupName',
  'AWS::IAM::InstanceProfile': 'InstanceProfileName',
  'AWS::IAM::AccessKey': undefined,
  'AWS::IAM::UserToGroupAddition': undefined,
};

/** The capability a template requires (InsufficientCapabilitiesException when it is not acknowledged). */
export function requiredCapability(
  template: CfnTemplate,
): 'CAPABILITY_IAM' | 'CAPABILITY_NAMED_IAM' | undefined {
  let need: 'CAPABILITY_IAM' | 'CAPABILITY_NAMED_IAM' | undefined;
  for (const r of Object.values(template.Resources)) {
    if (!Object.hasOwn(IAM_TYPES, r.Type)) continue;
    const nameProp = IAM_TYPES[r.Type];
    if (nameProp && r.Properties && r.Properties[nameProp] !== undefined) return 'CAPABILITY_NAMED_IAM';
    need = 'CAPABILITY_IAM';
  }
  return need;
}

/** Template parameters as ValidateTemplate reports them. */
export function describeParameters(template: CfnTemplate): {
  ParameterKey: string;
  DefaultValue?: string;
  NoEcho: boolean;
  Description?: string;
}[] {
  return Object.entries(template.Parameters ?? {}).map(([k, p]) => ({
    ParameterKey: k,
    ...(p.Default !== undefined
      ? { DefaultValue: Array.isArray(p.Default) ? p.Default.join(',') : String(p.Default) }
      : {}),
    NoEcho: noEcho(p),
    ...(p.Description !== undefined ? { Description: p.Description } : {}),
  }));
}

export { intrinsicName };
