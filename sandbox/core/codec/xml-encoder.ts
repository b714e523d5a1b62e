/**
 * The query codec's response encoder, compiled once per output schema: the same bytes as coercing the
 * handler's output (./query.ts `coerce`) and writing it with the SDK's XmlShapeSerializer, without the
 * serializer's per-value work (a NormalizedSchema per member per value, an XmlNode tree, then its text).
 * CloudFormation's DescribeStackResources (a stack's every resource, for each remediation) made that work
 * the emulator's largest codec cost.
 *
 * Only what the query services' output schemas use is compiled: structures, lists and maps (wrapped or
 * flattened, with their xmlName traits), strings, booleans, numbers, timestamps and blobs. A schema with
 * anything else anywhere in it (XML attributes or namespaces, unions, documents, big numbers, sparse or
 * nested collections, idempotency tokens) compiles to undefined, and a value the compiled code does not
 * take the same way throws `Unsupported`; the caller then uses the serializer, which stays the reference
 * (test/sandbox/core/xml-encoder.test.ts compares the two over every output schema of the six clients).
 */

import type { NormalizedSchema } from '@smithy/core/schema';
import { dateToUtcString } from '@smithy/core/serde';

/** The inner XML of an output structure (its members' elements), from a handler's output. */
export type Encoder = (value: Record<string, unknown>) => string;

/** A value the compiled encoder does not take as the serializer would: the caller falls back to it. */
export class Unsupported extends Error {
  override readonly name = 'Unsupported';
}

type Write = (value: unknown) => string;

const ELEMENT_ESCAPE = /[&"'<>\r\n\u0085\u2028]/g;
const ELEMENT_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '"': '&quot;',
  "'": '&apos;',
  '<': '&lt;',
  '>': '&gt;',
  '\r': '&#x0D;',
  '\n': '&#x0A;',
  '\u0085': '&#x85;',
  '\u2028': '&#x2028;',
};

/** Element text escaped as the SDK's xml-builder escapes it. */
function escapeText(text: string): string {
  return text.replace(ELEMENT_ESCAPE, (ch) => ELEMENT_ESCAPES[ch] ?? ch);
}

const element = (name: string, inner: string): string =>
  inner === '' ? `<${name}/>` : `<${name}>${inner}</${name}>`;

/** Traits that make the serializer do more than this encoder does. */
function unsupportedTraits(ns: NormalizedSchema): boolean {
  const t = ns.getMergedTraits();
  return Boolean(t.xmlAttribute || t.xmlNamespace || t.idempotencyToken || t.httpPayload || t.sparse);
}

/** The text of a scalar, coerced as ./query.ts coerces it; undefined: no element. */
function scalar(ns: NormalizedSchema): ((value: unknown) => string | undefined) | undefined {
  if (ns.isTimestampSchema()) {
    const format = ns.getSchema() === 4 ? 5 : ns.getSchema();
    const text = (d: Date): string =>
      format === 5
        ? d.toISOString().replace('.000Z', 'Z')
        : format === 6
          ? dateToUtcString(d)
          : String(d.getTime() / 1000);
    return (v) => {
      if (v instanceof Date) return text(v);
      if (typeof v === 'number') return text(new Date(v > 1e11 ? v : v * 1000));
      if (typeof v === 'string') return text(new Date(v));
      return undefined;
    };
  }
  if (ns.isBooleanSchema()) return (v) => String(typeof v === 'boolean' ? v : v === 'true');
  if (ns.isNumericSchema()) return (v) => String(typeof v === 'number' ? v : Number(v));
  if (ns.isBlobSchema())
    return (v) => {
      if (typeof v === 'string') return Buffer.from(v).toString('base64');
      if (v instanceof Uint8Array)
        return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
      throw new Unsupported('blob value');
    };
  if (ns.isStringSchema())
    return (v) =>
      escapeText(typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v));
  return undefined;
}

/** Compiles structures once per schema (recursive schemas refer to themselves through the table). */
class Compiler {
  private readonly structs = new Map<unknown, Write>();

  /** A structure's members' elements; undefined when the structure cannot be compiled. */
  structBody(ns: NormalizedSchema): Write | undefined {
    const key = ns.getSchema();
    const known = this.structs.get(key);
    if (known) return known;
    let body: Write | undefined;
    // Refers to itself while being compiled: the table holds a forwarder until the body is known.
    this.structs.set(key, (v) => (body as Write)(v));
    const members: Array<[string, Write]> = [];
    for (const [name, member] of ns.structIterator()) {
      const write = this.member(member, name);
      if (!write) {
        this.structs.delete(key);
        return undefined;
      }
      members.push([name, write]);
    }
    body = (v) => {
      if (v === null || typeof v !== 'object') throw new Unsupported('structure value');
      const src = v as Record<string, unknown>;
      let out = '';
      for (const [name, write] of members) {
        const m = src[name];
        if (m !== null && m !== undefined) out += write(m);
      }
      return out;
    };
    this.structs.set(key, body);
    return body;
  }

  /** A structure member's element(s) from its (non-null) value; '' when coercion drops it. */
  member(ns: NormalizedSchema, memberName: string): Write | undefined {
    if (unsupportedTraits(ns) || ns.isUnionSchema()) return undefined;
    if (ns.isListSchema()) return this.list(ns, memberName);
    if (ns.isMapSchema()) return this.map(ns, memberName);
    if (ns.isStructSchema()) {
      const name = ns.getMemberTraits().xmlName ?? memberName;
      const body = this.structBody(ns);
      return body && ((v) => (typeof v === 'object' ? element(name, body(v)) : ''));
    }
    const text = scalar(ns);
    const name = ns.getMergedTraits().xmlName ?? memberName;
    return (
      text &&
      ((v) => {
        const t = text(v);
        return t === undefined ? '' : `<${name}>${t}</${name}>`;
      })
    );
  }

  private list(ns: NormalizedSchema, memberName: string): Write | undefined {
    const item = ns.getValueSchema();
    if (unsupportedTraits(item) || item.isListSchema() || item.isMapSchema() || item.isUnionSchema())
      return undefined;
    const traits = ns.getMergedTraits();
    const flat = Boolean(traits.xmlFlattened);
    const listName = traits.xmlName ?? memberName;
    const itemName = flat ? listName : (item.getMergedTraits().xmlName ?? 'member');
    let one: ((v: unknown) => string | undefined) | undefined;
    if (item.isStructSchema()) {
      const body = this.structBody(item);
      one = body && ((v) => (typeof v === 'object' ? element(itemName, body(v)) : undefined));
    } else {
      const text = scalar(item);
      one =
        text &&
        ((v) => {
          const t = text(v);
          return t === undefined ? undefined : `<${itemName}>${t}</${itemName}>`;
        });
    }
    if (!one) return undefined;
    const write = one;
    return (v) => {
      if (!Array.isArray(v)) return '';
      let items = '';
      for (const x of v) if (x !== null && x !== undefined) items += write(x) ?? '';
      return flat ? items : element(listName, items);
    };
  }

  private map(ns: NormalizedSchema, memberName: string): Write | undefined {
    const key = ns.getKeySchema();
    const value = ns.getValueSchema();
    if (unsupportedTraits(key) || unsupportedTraits(value) || !key.isStringSchema()) return undefined;
    const text = scalar(value);
    if (!text) return undefined;
    const traits = ns.getMergedTraits();
    const flat = Boolean(traits.xmlFlattened);
    const mapName = traits.xmlName ?? memberName;
    const keyTag = key.getMergedTraits().xmlName ?? 'key';
    const valueTag = value.getMergedTraits().xmlName ?? 'value';
    const entryName = flat ? mapName : 'entry';
    return (v) => {
      if (typeof v !== 'object') return '';
      let entries = '';
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        if (x === null || x === undefined) continue;
        // The coerced map is a plain object, where `__proto__` would set the prototype instead.
        if (k === '__proto__') throw new Unsupported('map key __proto__');
        const t = text(x);
        if (t === undefined) continue;
        entries += `<${entryName}><${keyTag}>${escapeText(k)}</${keyTag}><${valueTag}>${t}</${valueTag}></${entryName}>`;
      }
      return flat ? entries : element(mapName, entries);
    };
  }
}

const compiled = new WeakMap<NormalizedSchema, Encoder | null>();

/**
 * The encoder of an operation's output structure, compiled on first use; undefined when the schema has
 * something it does not take (then the serializer encodes it).
 */
export function outputEncoder(output: NormalizedSchema): Encoder | undefined {
  let e = compiled.get(output);
  if (e === undefined) {
    // The serializer refuses a root structure without a name; so does this (it then explains why).
    const named = Boolean(output.getMergedTraits().xmlName ?? output.getName());
    e = (output.isStructSchema() && named ? new Compiler().structBody(output) : undefined) ?? null;
    compiled.set(output, e);
  }
  return e ?? undefined;
}
