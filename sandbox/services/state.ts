/**
 * Per-sandbox state for the resource services (EC2, S3, IAM, Lambda, Cloud Control, Config) and their
 * CloudFormation providers. Each store is created lazily, once per SandboxContext — one per sandbox and
 * account-region — so two sandboxes in one process, or two accounts or regions of one sandbox, never
 * share state, and a service module and its provider see the same store.
 */
import { randomBytes } from 'node:crypto';
import type { SandboxContext } from '../core/types';

const worlds = new WeakMap<SandboxContext, Map<string, unknown>>();

/**
 * A global service's scope for this context's account (IAM, STS: one per account, shared by its
 * regions): the account's context in the home region.
 */
export function accountScope(sandbox: SandboxContext): SandboxContext {
  return sandbox.region === sandbox.home.region
    ? sandbox
    : sandbox.scoped(sandbox.accountId, sandbox.home.region);
}

/**
 * The store named `key` of this sandbox's account-region (each SandboxContext is one account-region, so
 * two accounts or regions never share a store), created by `init` on first use. Global services key
 * theirs by `accountScope(sandbox)`.
 */
export function stateOf<T>(sandbox: SandboxContext, key: string, init: () => T): T {
  let world = worlds.get(sandbox);
  if (!world) {
    world = new Map();
    worlds.set(sandbox, world);
  }
  if (world.has(key)) return world.get(key) as T;
  const created = init();
  world.set(key, created);
  return created;
}

/** Lower-case hex id, e.g. hexId('sg-', 17) → sg-0a1b2c3d4e5f60718. */
export function hexId(prefix: string, length: number): string {
  return (
    prefix +
    randomBytes(Math.ceil(length / 2))
      .toString('hex')
      .slice(0, length)
  );
}

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** IAM-style unique id, e.g. upperId('AROA') → AROA + 17 characters. */
export function upperId(prefix: string, length = 17): string {
  const bytes = randomBytes(length);
  let out = prefix;
  for (const b of bytes) out += UPPER[b % UPPER.length];
  return out;
}

/** A short random suffix for generated physical names (CloudFormation style: STACK-Logical-1A2B3C4D5E6F). */
export function nameSuffix(length = 12): string {
  return upperId('', length);
}

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return undefined;
}

export function num(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
  return undefined;
}

export function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false') return false;
  return undefined;
}

export function arr(v: unknown): unknown[] {
  if (Array.isArray(v)) return v;
  if (v === undefined || v === null) return [];
  return [v];
}

export function objs(v: unknown): Obj[] {
  return arr(v).filter(isObj);
}

export function strs(v: unknown): string[] {
  return arr(v)
    .map(str)
    .filter((s): s is string => s !== undefined);
}

/** Drops undefined members (SDK shapes omit absent members). */
export function compact<T extends Obj>(o: T): T {
  for (const k of Object.keys(o)) if (o[k] === undefined) delete o[k];
  return o;
}

export interface Tag {
  Key: string;
  Value: string;
}

export function tagsFrom(v: unknown): Tag[] {
  return objs(v)
    .map((t) => ({ Key: str(t.Key) ?? '', Value: str(t.Value) ?? '' }))
    .filter((t) => t.Key !== '');
}

/**
 * A CloudFormation-style generated physical name: `<stack>-<logicalId>-<SUFFIX>`, trimmed to `max`
 * characters (stack and logical id shortened first), lower-cased for types that need it (S3).
 */
export function physicalName(stackName: string, logicalId: string, max: number, lower = false): string {
  const suffix = nameSuffix(12);
  const budget = Math.max(2, max - suffix.length - 2);
  let stack = stackName;
  let logical = logicalId;
  while (stack.length + logical.length + 1 > budget) {
    if (stack.length >= logical.length && stack.length > 1) stack = stack.slice(0, -1);
    else logical = logical.slice(0, -1);
  }
  const name = [stack, logical, suffix].filter((s) => s !== '').join('-');
  return lower ? name.toLowerCase().replace(/[^a-z0-9.-]/g, '-') : name;
}

/** A JSON document property (template objects or JSON text) as JSON text. */
export function docText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** JSON text back to a value (documents in template shape are objects). */
export function parseDoc(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
