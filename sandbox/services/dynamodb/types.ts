/**
 * dynalite's request type checks (validations/index.js `checkTypes`), compiled once per operation for the
 * requests that pass them. dynalite walks each request against its type descriptors and re-parses every
 * descriptor's type string (`Map<AttributeValue>`, `AttrStruct<ValueStruct>`, …) at every node: ≈ 1 % of
 * the emulator's main thread in the throughput bench. Here each descriptor becomes a function once; it
 * builds what dynalite's would (members in the descriptor's order, null and unknown members dropped from
 * the request as dynalite drops them, integers floored) for well-typed values, and gives up on anything
 * else — a value of another type, a Boolean sent as a string, an unknown type name — so that dynalite's
 * own checkTypes runs from the start and reports (or converts) as it always did.
 */

type Check = (val: unknown) => unknown;
type Descriptor = string | { type?: string; children?: unknown };
type Types = Record<string, unknown>;

/** Thrown by a compiled check: this request is dynalite's own checkTypes' to judge. */
const GIVE_UP = Symbol('dynalite checkTypes');

const giveUp = (): never => {
  throw GIVE_UP;
};

/** The members of an AttributeValue (dynalite's `AttrStruct` expansion). */
const ATTRIBUTE_VALUE: Types = {
  S: 'String',
  B: 'Blob',
  N: 'String',
  BOOL: 'Boolean',
  NULL: 'Boolean',
  BS: { type: 'List', children: 'Blob' },
  NS: { type: 'List', children: 'String' },
  SS: { type: 'List', children: 'String' },
  L: { type: 'List', children: 'AttrStruct<ValueStruct>' },
  M: { type: 'Map<AttributeValue>', children: 'AttrStruct<ValueStruct>' },
};

const isStruct = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Compiled checks by descriptor (objects by identity, type strings by text). */
const compiled = new Map<unknown, Check>();
const structs = new WeakMap<Types, Check>();

/** A check compiled on its first use (descriptors are recursive: a list of AttributeValues of lists…). */
function lazily(desc: unknown): Check {
  let check: Check | undefined;
  return (v) => {
    check ??= compile(desc);
    return check(v);
  };
}

/** dynalite's `checkTypes(data, types)` for one struct's members. */
function struct(types: Types): Check {
  let check = structs.get(types);
  if (check) return check;
  const keys = Object.keys(types);
  const checks = keys.map((k) => lazily(types[k]));
  check = (v) => {
    if (!isStruct(v)) return giveUp();
    for (const key in v) if (!types[key] || v[key] == null) delete v[key];
    const out: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      const val = (checks[i] as Check)(v[key]);
      if (val != null) out[key] = val;
    }
    return out;
  };
  structs.set(types, check);
  return check;
}

function blob(v: unknown): unknown {
  if (typeof v !== 'string' || v.length % 4 || Buffer.from(v, 'base64').toString('base64') !== v)
    return giveUp();
  return v;
}

/** The check of one type name, given its subtype and its descriptor's children. */
function checkOf(type: string, subtype: string | undefined, children: unknown): Check {
  const child = children === undefined ? giveUp : lazily(children);
  switch (type) {
    case 'AttrStruct':
      return attrStruct(`${subtype}<AttributeValue>`);
    case 'Boolean':
      return (v) => (typeof v === 'boolean' ? v : giveUp());
    case 'Short':
    case 'Integer':
    case 'Long':
      return (v) => (typeof v === 'number' ? Math.floor(v) : giveUp());
    case 'Double':
      return (v) => (typeof v === 'number' ? v : giveUp());
    case 'String':
      return (v) => (typeof v === 'string' ? v : giveUp());
    case 'Blob':
      return blob;
    case 'List':
    case 'ParameterizedList':
      return (v) => (Array.isArray(v) ? v.map((x) => (x == null ? null : child(x))) : giveUp());
    case 'Map':
    case 'ParameterizedMap':
      return (v) => {
        if (!isStruct(v)) return giveUp();
        const out: Record<string, unknown> = {};
        for (const k of Object.keys(v)) out[k] = v[k] == null ? null : child(v[k]);
        return out;
      };
    case 'ValueStruct':
    case 'FieldStruct':
      return isStruct(children) ? struct(children) : giveUp;
    default:
      return giveUp;
  }
}

const attrStructs = new Map<string, Check>();

/** dynalite's `AttrStruct<X>`: an `X<AttributeValue>` with the AttributeValue members, one check per X. */
function attrStruct(type: string): Check {
  let check = attrStructs.get(type);
  if (!check) {
    check = compile({ type, children: ATTRIBUTE_VALUE });
    attrStructs.set(type, check);
  }
  return check;
}

/** One descriptor's check, as dynalite's `checkType(val, descriptor)` reads it. */
function compile(desc: unknown): Check {
  let check = compiled.get(desc);
  if (check) return check;
  const d = desc as Descriptor;
  let children = typeof d === 'object' ? d.children : undefined;
  if (typeof children === 'string') children = { type: children };
  const name = typeof d === 'string' ? d : d.type;
  if (typeof name !== 'string') return giveUp;
  const m = /(.+?)<(.+)>$/.exec(name);
  const inner = checkOf(m ? (m[1] as string) : name, m?.[2], children);
  check = (v) => (v == null ? null : inner(v));
  compiled.set(desc, check);
  return check;
}

/**
 * dynalite's checkTypes(data, types) (it also deletes null and unknown members from `data`), compiled per
 * `types`; any request the compiled checks do not take is handed to `original` whole.
 */
export function checkTypes(
  data: Record<string, unknown>,
  types: Types,
  original: (data: Record<string, unknown>, types: Types) => Record<string, unknown>,
): Record<string, unknown> {
  try {
    return struct(types)(data) as Record<string, unknown>;
  } catch (err) {
    if (err === GIVE_UP) return original(data, types);
    throw err;
  }
}
