/**
 * A sandbox scenario for every policy entry, derived from data the registry and the sandbox already
 * hold (nothing here names a runbook or an entry):
 *   - the resource: the sandbox provider's `sample` of the entry's type, deployed in a stack of its own
 *     (a stack entry gets the first sampled type's resource);
 *   - the drift: for a Config-rule entry, the rule evaluator's `violation` API calls; for a drift entry,
 *     a generic change (through Cloud Control) to the first property the entry is about: its
 *     `match.properties`, else the properties its parameters read (`drift.added.ManagedPolicyArns` …),
 *     else any declared property;
 *   - the check: CloudFormation drift detection IN_SYNC (and the evaluator COMPLIANT for a rule).
 */
import type { Operation } from 'fast-json-patch';
import type { ApiCallSpec, ResourceProvider } from '../../../sandbox/core/types';
import { allProviders } from '../../../sandbox/services';
import type { ResolvedEntry } from '../../../tasks/shared/policy/schema';
import type { SandboxClientConfig } from '../../sandbox/helpers';

export const STACK_TYPE = 'AWS::CloudFormation::Stack';
export const SUBJECT = 'Subject';

const providers = new Map(allProviders().map((p) => [p.type, p]));

/** The types the sandbox has a sample of, sorted. */
export function sampledTypes(): string[] {
  return [...providers.values()]
    .filter((p) => p.sample)
    .map((p) => p.type)
    .sort();
}

/** The resource type a scenario deploys for an entry's type (a stack entry: the first sampled type). */
export function subjectTypeFor(type: string): string {
  if (type !== STACK_TYPE) return type;
  const first = sampledTypes()[0];
  if (!first) throw new Error('no sandbox provider has a sample');
  return first;
}

/** Deep copy with `{{ Key }}` in every string replaced. */
export function fill<T>(value: T, vars: Record<string, string>): T {
  const text = JSON.stringify(value).replace(/\{\{\s*(\w+)\s*\}\}/g, (m, k: string) => vars[k] ?? m);
  return JSON.parse(text) as T;
}

function providerOf(type: string): ResourceProvider & { sample: Readonly<Record<string, unknown>> } {
  const p = providers.get(type);
  if (!p?.sample) {
    throw new Error(
      `the sandbox has no sample ${type}: add \`sample\` (template properties) to its provider in sandbox/services`,
    );
  }
  return p as ResourceProvider & { sample: Readonly<Record<string, unknown>> };
}

/** The sample's template properties (what drift detection would report as `expected`). */
export function sampleProperties(type: string, name: string): Record<string, unknown> {
  return fill({ ...providerOf(subjectTypeFor(type)).sample }, { Name: name });
}

/** A template of the provider's sample (logical id SUBJECT, output Id = its Ref) and the resources it needs. */
export function sampleTemplate(type: string, name: string): string {
  const p = providerOf(type);
  const others = fill(p.sampleResources ?? {}, { Name: name });
  const after = Object.keys(others);
  const subject = { Type: type, Properties: fill(p.sample, { Name: name }) };
  const template = {
    AWSTemplateFormatVersion: '2010-09-09',
    Resources: { ...others, [SUBJECT]: after.length > 0 ? { ...subject, DependsOn: after } : subject },
    Outputs: { Id: { Value: { Ref: SUBJECT } } },
  };
  return JSON.stringify(template);
}

/** The properties a drift entry is about, most telling first. */
export function driftProperties(entry: ResolvedEntry, type: string): string[] {
  if (entry.properties.length > 0) return entry.properties;
  const fromParameters = Object.values(entry.parameters).flatMap((p) => {
    const m = 'from' in p ? /^drift\.(?:expected|actual|added|removed)\.([A-Za-z0-9]+)/.exec(p.from) : null;
    return m?.[1] ? [m[1]] : [];
  });
  return fromParameters.length > 0 ? fromParameters : Object.keys(providerOf(type).sample);
}

/** One patch operation that makes `value` (at JSON pointer `at`) differ: drop a list element, change a number or flag. */
function mutation(value: unknown, at: string): Operation | undefined {
  if (Array.isArray(value)) return value.length > 0 ? { op: 'remove', path: `${at}/0` } : undefined;
  if (typeof value === 'number') return { op: 'replace', path: at, value: value * 2 };
  if (typeof value === 'boolean') return { op: 'replace', path: at, value: !value };
  if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      const op = mutation(v, `${at}/${k}`);
      if (op) return op;
    }
  }
  return undefined;
}

/**
 * A Cloud Control patch that drifts the first of the entry's properties the sample declares and can be
 * changed in place (not replacement-only, not ignored by drift detection).
 */
export function genericDrift(entry: ResolvedEntry, type: string): Operation[] {
  const p = providerOf(type);
  const candidates = driftProperties(entry, type);
  for (const path of candidates) {
    const top = path.split('.')[0] ?? path;
    if (p.requiresReplacement?.(top) || p.driftIgnoredProperties?.includes(top)) continue;
    let value: unknown = p.sample;
    for (const k of path.split('.')) value = (value as Record<string, unknown> | undefined)?.[k];
    const op = mutation(value, `/${path.split('.').join('/')}`);
    if (op) return [op];
  }
  throw new Error(
    `cannot derive a drift of ${type} for entry ${entry.id} from ${candidates.join(', ')}: the sample declares no list, number or flag there`,
  );
}

/** Sends one API call described as data through the real SDK v3 client of its service. */
export async function callApi(
  spec: ApiCallSpec,
  vars: Record<string, string>,
  config: SandboxClientConfig,
): Promise<unknown> {
  const mod = (await import(`@aws-sdk/client-${spec.service}`)) as Record<string, unknown>;
  const clientName = Object.keys(mod).find((k) => /^[A-Z][A-Za-z0-9]*Client$/.test(k));
  const Client = clientName ? mod[clientName] : undefined;
  const Command = mod[`${spec.api}Command`];
  if (typeof Client !== 'function' || typeof Command !== 'function')
    throw new Error(`no SDK client or command for ${spec.service}:${spec.api}`);
  const ClientCtor = Client as new (c: object) => { send(c: unknown): Promise<unknown>; destroy(): void };
  const CommandCtor = Command as new (input: object) => unknown;
  const client = new ClientCtor({ ...config, ...(spec.service === 's3' ? { forcePathStyle: true } : {}) });
  try {
    return await client.send(new CommandCtor(fill(spec.input, vars)));
  } finally {
    client.destroy();
  }
}
