/**
 * awsQuery / ec2Query codec driven by the SDK clients' own operation schemas (SDK v3 ships them as
 * `<Operation>$` exports). Requests are decoded with the inverse of the SDK's QueryShapeSerializer rules
 * (xmlName, ec2QueryName, flattened lists, `member`/`entry` wrappers); responses are encoded with the SDK's
 * XmlShapeSerializer, so element names (EC2's lowerCamel + `item`, flattened lists) are exactly what the
 * client's deserializer expects. Without a schema, a generic mapping is used.
 */
import { XmlShapeSerializer } from '@aws-sdk/core/protocols';
import { NormalizedSchema } from '@smithy/core/schema';
import type { StaticOperationSchema } from '@smithy/types';
import { outputEncoder, Unsupported } from './xml-encoder';

type Loader = () => Promise<Record<string, unknown>>;

/** SDK client packages whose schemas describe the query-protocol services, by signing name. */
const CLIENTS: Record<string, Loader> = {
  ec2: () => import('@aws-sdk/client-ec2') as unknown as Promise<Record<string, unknown>>,
  iam: () => import('@aws-sdk/client-iam') as unknown as Promise<Record<string, unknown>>,
  cloudformation: () =>
    import('@aws-sdk/client-cloudformation') as unknown as Promise<Record<string, unknown>>,
  sns: () => import('@aws-sdk/client-sns') as unknown as Promise<Record<string, unknown>>,
  sts: () => import('@aws-sdk/client-sts') as unknown as Promise<Record<string, unknown>>,
  // awsJson1.0 with awsQueryCompatible: its schemas keep the query names (xmlName, xmlFlattened)
  sqs: () => import('@aws-sdk/client-sqs') as unknown as Promise<Record<string, unknown>>,
};

const loaded = new Map<string, Promise<Record<string, unknown> | undefined>>();

function loadClient(signingName: string): Promise<Record<string, unknown> | undefined> {
  let p = loaded.get(signingName);
  if (!p) {
    const loader = CLIENTS[signingName];
    p = loader ? loader().catch(() => undefined) : Promise.resolve(undefined);
    loaded.set(signingName, p);
  }
  return p;
}

export interface OperationSchemas {
  input: NormalizedSchema;
  output: NormalizedSchema;
}

function isOperationSchema(v: unknown): v is StaticOperationSchema {
  return Array.isArray(v) && v[0] === 9 && v.length === 6;
}

function resolveRef(ref: unknown): unknown {
  return typeof ref === 'function' ? (ref as () => unknown)() : ref;
}

/** Starts loading a query service's SDK schemas in the background (the EC2 client is large). */
export function preloadSchemas(signingName: string): void {
  void loadClient(signingName);
}

/** Normalized once per operation: each request of the operation reuses them. */
const normalized = new Map<string, OperationSchemas | undefined>();

/** The SDK's input/output schemas for an operation, or undefined when no client ships them. */
export async function operationSchemas(
  signingName: string,
  operation: string,
): Promise<OperationSchemas | undefined> {
  const key = `${signingName}:${operation}`;
  if (normalized.has(key)) return normalized.get(key);
  const client = await loadClient(signingName);
  const op = client?.[`${operation}$`];
  const schemas = isOperationSchema(op)
    ? {
        input: NormalizedSchema.of(resolveRef(op[4]) as StaticOperationSchema[4]),
        output: NormalizedSchema.of(resolveRef(op[5]) as StaticOperationSchema[5]),
      }
    : undefined;
  normalized.set(key, schemas);
  return schemas;
}

// ---------------------------------------------------------------- request decoding

/** Form parameters plus every dotted prefix, to know which nested structures are present. */
class Params {
  readonly values = new Map<string, string>();
  private readonly prefixes = new Set<string>();
  constructor(form: URLSearchParams) {
    for (const [k, v] of form) {
      if (k === 'Action' || k === 'Version') continue;
      this.values.set(k, v);
      const parts = k.split('.');
      for (let i = 1; i < parts.length; i++) this.prefixes.add(parts.slice(0, i).join('.'));
    }
  }
  has(key: string): boolean {
    return this.values.has(key) || this.prefixes.has(key);
  }
  hasChildren(key: string): boolean {
    return this.prefixes.has(key);
  }
}

const capitalize = (s: string): string => (s ? s.charAt(0).toUpperCase() + s.slice(1) : s);

function memberKey(member: NormalizedSchema, memberName: string, ec2: boolean): string {
  const traits = member.getMergedTraits();
  if (ec2) {
    const q = traits.ec2QueryName;
    if (typeof q === 'string') return q;
    return capitalize(traits.xmlName ?? memberName);
  }
  return traits.xmlName ?? memberName;
}

function decodeScalar(ns: NormalizedSchema, raw: string): unknown {
  if (ns.isBooleanSchema()) return raw === 'true';
  if (ns.isNumericSchema()) return Number(raw);
  if (ns.isBigIntegerSchema()) return BigInt(raw);
  if (ns.isTimestampSchema()) return /^\d+(\.\d+)?$/.test(raw) ? new Date(Number(raw) * 1000) : new Date(raw);
  if (ns.isBlobSchema()) return new Uint8Array(Buffer.from(raw, 'base64'));
  return raw;
}

function decodeValue(ns: NormalizedSchema, params: Params, key: string, ec2: boolean): unknown {
  if (ns.isListSchema()) {
    if (params.values.get(key) === '' && !params.hasChildren(key)) return [];
    if (!params.hasChildren(key)) return undefined;
    const item = ns.getValueSchema();
    const flat = ec2 || Boolean(ns.getMergedTraits().xmlFlattened);
    const itemTraits = item.getMergedTraits();
    const base = flat
      ? key
      : `${key}.${(ec2 ? itemTraits.ec2QueryName : undefined) ?? itemTraits.xmlName ?? 'member'}`;
    const out: unknown[] = [];
    for (let i = 1; params.has(`${base}.${i}`); i++) {
      out.push(decodeValue(item, params, `${base}.${i}`, ec2));
    }
    return out;
  }
  if (ns.isMapSchema()) {
    if (!params.hasChildren(key)) return undefined;
    const flat = Boolean(ns.getMergedTraits().xmlFlattened);
    const keyName = ns.getKeySchema().getMergedTraits().xmlName ?? 'key';
    const valueSchema = ns.getValueSchema();
    const valueName = valueSchema.getMergedTraits().xmlName ?? 'value';
    const base = flat ? key : `${key}.entry`;
    const out: Record<string, unknown> = {};
    for (let i = 1; params.has(`${base}.${i}`); i++) {
      const k = params.values.get(`${base}.${i}.${keyName}`);
      if (k === undefined) continue;
      out[k] = decodeValue(valueSchema, params, `${base}.${i}.${valueName}`, ec2);
    }
    return out;
  }
  if (ns.isStructSchema()) {
    if (!params.hasChildren(key)) return undefined;
    return decodeStruct(ns, params, `${key}.`, ec2);
  }
  if (ns.isDocumentSchema()) {
    return params.values.get(key);
  }
  const raw = params.values.get(key);
  return raw === undefined ? undefined : decodeScalar(ns, raw);
}

function decodeStruct(
  ns: NormalizedSchema,
  params: Params,
  prefix: string,
  ec2: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [memberName, member] of ns.structIterator()) {
    const v = decodeValue(member, params, prefix + memberKey(member, memberName, ec2), ec2);
    if (v !== undefined) out[memberName] = v;
  }
  return out;
}

/** Decodes a query/ec2 form body into the SDK-shaped input. */
export function decodeQueryInput(
  schemas: OperationSchemas | undefined,
  form: URLSearchParams,
  ec2: boolean,
): Record<string, unknown> {
  const params = new Params(form);
  if (schemas?.input.isStructSchema()) return decodeStruct(schemas.input, params, '', ec2);
  return decodeGeneric(params);
}

/** Without a schema: `A.member.1.B=x` / `A.1.B=x` → { A: [{ B: 'x' }] }, `M.entry.1.key/value` → map. */
function decodeGeneric(params: Params): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [key, value] of params.values) {
    const parts = key.split('.').filter((p) => p !== 'member');
    let node: Record<string, unknown> | unknown[] = root;
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i] as string;
      const last = i === parts.length - 1;
      const nextIsIndex = !last && /^\d+$/.test(parts[i + 1] as string);
      const slot: string | number = Array.isArray(node) ? Number(part) - 1 : part;
      const container = node as Record<string | number, unknown>;
      if (last) {
        container[slot] = value;
      } else {
        if (container[slot] === undefined) container[slot] = nextIsIndex ? [] : {};
        node = container[slot] as Record<string, unknown> | unknown[];
      }
    }
  }
  return root;
}

// ---------------------------------------------------------------- response encoding

/** Coerces handler output (ISO strings for timestamps, numeric strings …) to what the XML serializer takes. */
function coerce(ns: NormalizedSchema, value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (ns.isListSchema()) {
    if (!Array.isArray(value)) return undefined;
    const item = ns.getValueSchema();
    return value.map((v) => coerce(item, v)).filter((v) => v !== undefined);
  }
  if (ns.isMapSchema()) {
    if (typeof value !== 'object') return undefined;
    const vs = ns.getValueSchema();
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const c = coerce(vs, v);
      if (c !== undefined) out[k] = c;
    }
    return out;
  }
  if (ns.isStructSchema()) {
    if (typeof value !== 'object') return undefined;
    const src = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [name, member] of ns.structIterator()) {
      const c = coerce(member, src[name]);
      if (c !== undefined) out[name] = c;
    }
    return out;
  }
  if (ns.isTimestampSchema()) {
    if (value instanceof Date) return value;
    if (typeof value === 'number') return new Date(value > 1e11 ? value : value * 1000);
    if (typeof value === 'string') return new Date(value);
    return undefined;
  }
  if (ns.isBooleanSchema()) return typeof value === 'boolean' ? value : value === 'true';
  if (ns.isNumericSchema()) return typeof value === 'number' ? value : Number(value);
  if (ns.isBlobSchema()) return typeof value === 'string' ? new Uint8Array(Buffer.from(value)) : value;
  if (ns.isStringSchema())
    return typeof value === 'string'
      ? value
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value);
  return value;
}

const escapeXml = (s: string): string =>
  s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');

/**
 * Inner XML of an output structure (its members): the encoder compiled for its schema (./xml-encoder.ts),
 * else (a schema or value it does not take) the SDK's XmlShapeSerializer.
 */
function encodeMembers(schemas: OperationSchemas | undefined, output: unknown, ec2: boolean): string {
  if (!schemas) return encodeGeneric(output, ec2);
  const out = schemas.output;
  if (!out.isStructSchema()) return '';
  const compiled = outputEncoder(out);
  if (compiled) {
    try {
      return compiled((output ?? {}) as Record<string, unknown>);
    } catch (err) {
      if (!(err instanceof Unsupported)) throw err;
    }
  }
  return serializeMembers(out, output);
}

/** Inner XML of an output structure via the SDK's XmlShapeSerializer (the reference encoding). */
export function serializeMembers(out: NormalizedSchema, output: unknown): string {
  const value = coerce(out, output ?? {});
  const serializer = new XmlShapeSerializer({
    timestampFormat: { useTrait: true, default: 5 },
    httpBindings: false,
    serviceNamespace: '',
  } as ConstructorParameters<typeof XmlShapeSerializer>[0]);
  serializer.write(out, value);
  const xml = String(serializer.flush());
  if (/^<[^>]*\/>$/.test(xml)) return '';
  const open = xml.indexOf('>');
  const close = xml.lastIndexOf('</');
  return open < 0 || close < 0 ? '' : xml.slice(open + 1, close);
}

/** Without a schema: objects → elements, arrays → `member` (or `item` for EC2) lists. */
function encodeGeneric(value: unknown, ec2: boolean): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) {
    const tag = ec2 ? 'item' : 'member';
    return value.map((v) => `<${tag}>${encodeGeneric(v, ec2)}</${tag}>`).join('');
  }
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'object') {
    return Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined && v !== null)
      .map(([k, v]) => {
        const tag = ec2 ? k.charAt(0).toLowerCase() + k.slice(1) : k;
        return `<${tag}>${encodeGeneric(v, ec2)}</${tag}>`;
      })
      .join('');
  }
  return escapeXml(String(value));
}

/** `<OpResponse xmlns><OpResult>…</OpResult><ResponseMetadata><RequestId/></ResponseMetadata></OpResponse>` */
export function encodeQueryResponse(
  schemas: OperationSchemas | undefined,
  operation: string,
  output: unknown,
  xmlNamespace: string,
  requestId: string,
): string {
  const inner = encodeMembers(schemas, output, false);
  const hasResult = !schemas?.output.isUnitSchema();
  const result = hasResult ? `<${operation}Result>${inner}</${operation}Result>` : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${operation}Response xmlns="${xmlNamespace}">${result}<ResponseMetadata><RequestId>${requestId}</RequestId></ResponseMetadata></${operation}Response>`;
}

/** EC2: `<OpResponse xmlns><requestId/>…members…</OpResponse>` */
export function encodeEc2Response(
  schemas: OperationSchemas | undefined,
  operation: string,
  output: unknown,
  xmlNamespace: string,
  requestId: string,
): string {
  const inner = encodeMembers(schemas, output, true);
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${operation}Response xmlns="${xmlNamespace}"><requestId>${requestId}</requestId>${inner}</${operation}Response>`;
}

export function encodeQueryError(
  code: string,
  message: string,
  fault: string,
  requestId: string,
  xmlNamespace: string,
): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${xmlNamespace}"><Error><Type>${fault}</Type><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>${requestId}</RequestId></ErrorResponse>`;
}

export function encodeEc2Error(code: string, message: string, requestId: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${requestId}</RequestID></Response>`;
}

export { escapeXml };
