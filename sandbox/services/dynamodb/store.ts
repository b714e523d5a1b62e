/**
 * dynalite's store (its db/index.js `create`) without level. dynalite keeps tables, items, index entries
 * and tags in one memory-level database with a JSON value encoding, every sub-database a key prefix, and
 * wraps each promise-returning level call in a callback, a lifecycle tracker and a `setImmediate`: in the
 * throughput bench that machinery (JSON text of every item written and read, Buffer keys in a red-black
 * tree, a promise and an async hook per call) was ≈ 3–4 % of the emulator's main thread. This store
 * answers the same calls dynalite's actions make (`put`/`get`/`del`/`batch`, key and value streams over a
 * key range, a `lock` per sub-database, `getTable`) from a Map and a sorted key array per sub-database.
 *
 * What is kept from level: keys in UTF-8 byte order; value ranges `gte`/`gt`, `lte`/`lt` (a missing upper
 * bound is `'\xFF'`, as dynalite's prefixed sub-databases make it: a tag key from U+00FF up is listed by
 * ListTagsOfResource's key stream but not its value stream), `reverse`, `limit`; key streams of every key; a stream reads the range
 * as it was when the stream was made; values are copied in and out as a JSON round trip would copy them
 * (jsonCopy), so no answer shares objects with the store; every callback runs on a later tick; once
 * closed, every call fails with dynalite's "Database is closed".
 */
import { createRequire } from 'node:module';
import { Stream } from 'node:stream';

type Callback<T = unknown> = (err: Error | null, value?: T) => void;

/** level's range options, as dynalite's actions pass them. */
export interface RangeOptions {
  gt?: string;
  gte?: string;
  lt?: string;
  lte?: string;
  reverse?: boolean;
  limit?: number;
}

type BatchOp = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string };
type Lock = (key: string, exec: (release: <F>(done: F) => F) => void) => void;

/** One sub-database as dynalite's actions use it. */
export interface SubDb {
  put(key: string, value: unknown, cb: Callback): void;
  get(key: string, cb: Callback): void;
  del(key: string, cb: Callback): void;
  batch(ops: BatchOp[], cb: Callback): void;
  createKeyStream(options?: RangeOptions): Stream;
  createValueStream(options?: RangeOptions): Stream;
  createReadStream(options?: RangeOptions): Stream;
  close(cb?: Callback): void;
  lock: Lock;
}

const OWN_PROTO = '__proto__';

/**
 * What `JSON.parse(JSON.stringify(v))` gives for plain data, without the text: undefined, functions and
 * symbols dropped from objects and `null` in arrays, non-finite numbers `null`, a `toJSON` object (a
 * Date, a Buffer) through JSON itself, null-prototype objects plain, a `__proto__` key an own property.
 */
export function jsonCopy(v: unknown): unknown {
  if (typeof v === 'number') return Number.isFinite(v) ? v : null;
  if (typeof v !== 'object' || v === null) return v;
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i];
      out[i] = x === undefined || typeof x === 'function' || typeof x === 'symbol' ? null : jsonCopy(x);
    }
    return out;
  }
  if (typeof (v as { toJSON?: unknown }).toJSON === 'function') return JSON.parse(JSON.stringify(v));
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
    if (k === OWN_PROTO)
      Object.defineProperty(out, k, {
        value: jsonCopy(x),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else out[k] = jsonCopy(x);
  }
  return out;
}

/** A UTF-16 code unit's rank in code point (= UTF-8 byte) order: surrogates after U+E000–U+FFFF. */
const rank = (c: number) => (c < 0xd800 ? c : c < 0xe000 ? c + 0x2000 : c - 0x800);

/** Two keys in UTF-8 byte order, as level's Buffer keys compare. */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return x < 0xd800 && y < 0xd800 ? x - y : rank(x) - rank(y);
  }
  return a.length - b.length;
}

/** The first index in `keys` (sorted) whose key is ≥ `key` (> with `after`). */
function lowerBound(keys: readonly string[], key: string, after = false): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareKeys(keys[mid] as string, key);
    if (c < 0 || (after && c === 0)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One sub-database's data: values (copies, never handed out) by key, and the keys in order. */
class SortedData {
  readonly values = new Map<string, unknown>();
  readonly keys: string[] = [];

  put(key: string, value: unknown): void {
    if (!this.values.has(key)) this.keys.splice(lowerBound(this.keys, key), 0, key);
    this.values.set(key, value);
  }

  del(key: string): void {
    if (this.values.delete(key)) this.keys.splice(lowerBound(this.keys, key), 1);
  }

  /** The keys of a range, in the order asked; dynalite's sub-databases treat an empty bound as none. */
  range(o: RangeOptions = {}): string[] {
    const start = o.gte ? lowerBound(this.keys, o.gte) : o.gt ? lowerBound(this.keys, o.gt, true) : 0;
    const end = o.lte ? lowerBound(this.keys, o.lte, true) : lowerBound(this.keys, o.lt || '\xFF');
    const keys = start < end ? this.keys.slice(start, end) : [];
    if (o.reverse) keys.reverse();
    return o.limit !== undefined && o.limit >= 0 && keys.length > o.limit ? keys.slice(0, o.limit) : keys;
  }
}

/**
 * A read of a range, as dynalite's `lazyStream` consumes level's streams: a `Stream` (so Lazy listens for
 * `readable`, which dynalite removes), `data` per entry and `end` on a later turn, `destroy()` stops it.
 */
class RangeStream extends Stream {
  private destroyed = false;

  constructor(entries: readonly unknown[], copy: boolean, error?: Error) {
    super();
    setImmediate(() => {
      if (error) {
        this.emit('error', error);
        return;
      }
      for (const e of entries) {
        if (this.destroyed) return;
        this.emit('data', copy ? jsonCopy(e) : e);
      }
      if (!this.destroyed) this.emit('end');
    });
  }

  destroy(): this {
    this.destroyed = true;
    return this;
  }
}

const closedError = () => new Error('Database is closed');

/** The sub-databases of one store, and whether it is closed. */
class Databases {
  closed = false;
  private readonly data = new Map<string, SortedData>();
  private readonly subDbs = new Map<string, SubDb>();

  constructor(private readonly newLock: () => Lock) {}

  /** Runs `op` on a later tick and answers `cb` with its result (or "Database is closed"). */
  private later(cb: Callback, op: () => unknown): void {
    if (this.closed) {
      process.nextTick(cb, closedError());
      return;
    }
    const value = op();
    process.nextTick(cb, null, value);
  }

  private dataOf(name: string): SortedData {
    let d = this.data.get(name);
    if (!d) {
      d = new SortedData();
      this.data.set(name, d);
    }
    return d;
  }

  get(name: string): SubDb {
    const existing = this.subDbs.get(name);
    if (existing) return existing;
    const d = this.dataOf(name);
    const stream = (values: boolean, o?: RangeOptions) =>
      this.closed
        ? new RangeStream([], false, closedError())
        : new RangeStream(values ? d.range(o).map((k) => d.values.get(k)) : [...d.keys], values);
    const sub: SubDb = {
      put: (key, value, cb) => this.later(cb, () => void d.put(key, jsonCopy(value))),
      get: (key, cb) => this.later(cb, () => jsonCopy(d.values.get(key))),
      del: (key, cb) => this.later(cb, () => void d.del(key)),
      batch: (ops, cb) =>
        this.later(cb, () => {
          for (const op of ops) op.type === 'put' ? d.put(op.key, jsonCopy(op.value)) : d.del(op.key);
        }),
      createKeyStream: () => stream(false),
      createValueStream: (o) => stream(true, o),
      createReadStream: (o) => stream(true, o),
      close: (cb) => cb && process.nextTick(cb, null),
      lock: this.newLock(),
    };
    this.subDbs.set(name, sub);
    return sub;
  }

  /** dynalite's deleteSubDb: the sub-database is forgotten (a new lock next time) and its keys deleted. */
  delete(name: string, cb: Callback): void {
    this.subDbs.delete(name);
    const d = this.dataOf(name);
    const keys = [...d.keys];
    this.later(cb, () => {
      for (const k of keys) d.del(k);
    });
  }
}

/** dynalite's ResourceNotFoundException for a table (db/index.js getTable). */
function notFound(name: string, checkStatus: boolean): Error {
  const message = `Requested resource not found${checkStatus ? '' : `: Table: ${name} not found`}`;
  return Object.assign(new Error('NotFoundError'), {
    name: 'NotFoundError',
    statusCode: 400,
    body: { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message },
  });
}

export interface StoreOptions {
  createTableMs: number;
  deleteTableMs: number;
  updateTableMs: number;
}

/** What dynalite's actions and validations read from their store, built over Databases. */
export function createStore(options: StoreOptions, scope: { accountId: string; region: string }) {
  const require = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const lock = require('lock') as { Lock(): Lock };
  const dbs = new Databases(() => lock.Lock());
  const tableDb = Object.assign(dbs.get('table'), {
    awsAccountId: scope.accountId.replace(/[^\d]/g, ''),
    awsRegion: scope.region,
  });
  const maxItemSizeKb = 400;
  return {
    options: { ...options, maxItemSizeKb, maxItemSize: maxItemSizeKb * 1024 },
    tableDb,
    getItemDb: (name: string) => dbs.get(`item-${name}`),
    deleteItemDb: (name: string, cb: Callback) => dbs.delete(`item-${name}`, cb),
    getIndexDb: (type: string, table: string, index: string) =>
      dbs.get(`index-${type.toLowerCase()}~${table}~${index}`),
    deleteIndexDb: (type: string, table: string, index: string, cb: Callback) =>
      dbs.delete(`index-${type.toLowerCase()}~${table}~${index}`, cb),
    getTagDb: (name: string) => dbs.get(`tag-${name}`),
    deleteTagDb: (name: string, cb: Callback) => dbs.delete(`tag-${name}`, cb),
    getTable(name: string, checkStatus: boolean | Callback, callback?: Callback) {
      const cb = (typeof checkStatus === 'function' ? checkStatus : callback) as Callback;
      // dynalite's getTable(name, cb) keeps the callback as its checkStatus: truthy, so it checks the status.
      const check = Boolean(checkStatus);
      tableDb.get(name, (err, table) => {
        if (err) return cb(err);
        const t = table as { TableStatus?: string } | undefined;
        if (!t || typeof t !== 'object' || !t.TableStatus) return cb(notFound(name, check));
        if (check && (t.TableStatus === 'CREATING' || t.TableStatus === 'DELETING'))
          return cb(notFound(name, check));
        cb(null, t);
      });
    },
    db: {
      close(cb: (err?: Error | null) => void): void {
        dbs.closed = true;
        process.nextTick(cb, null);
      },
    },
  };
}
