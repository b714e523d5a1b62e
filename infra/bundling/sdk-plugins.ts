/**
 * esbuild plugins that leave out of a task bundle the parts of the AWS SDK clients a Lambda task never
 * uses, without changing what the SDK does for the calls the task makes (docs/operations.md "Bundles"):
 *
 * - `sdkErrorPruning`: each client's `schemas_0.js` registers every modeled error of the service (class and
 *   schema) at load, whichever operations a bundle sends: SSM alone is ~70 KB of them. Registration is
 *   kept for the errors that would come out differently without it, and dropped for the rest:
 *   - kept: an error whose name occurs in the project's task code (tasks/**: `instanceof`, a name check,
 *     a typed member read), one whose wire code differs from its name in a client that reads query
 *     codes (awsQuery, or JSON with `awsQueryCompatible`: SNS's `NotFound` → `NotFoundException`), one
 *     with retry traits (`$retryable`), and the service's base exception;
 *   - dropped: the rest. Such an error still reaches the caller as the service's base exception (so
 *     `instanceof <Service>ServiceException` holds) with the same `name` (AWS's error code), `message`,
 *     `$fault`, `$metadata` and the body's fields — the SDK's own path for an error it does not model.
 *   The same plugin then writes each computed key of `schemas_0.js` (`{ [_e]: _c }`, `_e` a string
 *   constant) as its string (`inlineComputedKeys`): the same objects, but esbuild can now see the schema
 *   literals are free of side effects and drops every schema no sent operation or kept error reaches
 *   (SSM's 27 KB of schemas become 1.4 KB). test/infra/bundle-schemas.test.ts compares every schema of
 *   every client the tasks use, as shipped and inlined, value by value.
 * - `sdkPackageJsonSlimming`: a client imports its whole `package.json` (~2 KB) for the user agent's
 *   version; the bundle gets `{ name, version }`.
 * - `sdkNativeSha256`: every client's SHA-256 (`@smithy/core/checksum`'s `Sha256Node`: SigV4 signing,
 *   payload hashes) is a class over `node:crypto`, falling back to a pure-JS SHA-256 (3.3 KB) when
 *   `createHash('sha256')` throws. Node 22 always has SHA-256 (OpenSSL 3's default and FIPS providers
 *   both implement it; MD5, which FIPS forbids, keeps its fallback), so the bundle gets the native class
 *   only. test/infra/bundle-sha256.test.ts compares digests, HMACs and SigV4 signatures with and without.
 * - `sdkPartitionSlimming`: the endpoint rules' partition table (`aws.partition`, every client) names each
 *   region with a human description ("Asia Pacific (Tokyo)", 55 of them, ~1.9 KB) that no rule reads
 *   (rules read a partition's name, DNS suffixes, FIPS/dual-stack support and implicit global region);
 *   the bundle gets the table without them. test/infra/bundle-endpoints.test.ts resolves every task
 *   client's endpoint for every region of the table, FIPS and dual-stack on and off, with and without.
 *
 * Both fail the build (not silently skip) when an SDK update changes the shape they rely on.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Plugin } from 'esbuild';

/** `X_registry.registerError(Name$, Name);` — one statement per line in every client's schemas_0.js. */
const REGISTER_ERROR = /^(\w+)\.registerError\((\w+)\$, (\w+)\);$/gm;
const SCHEMAS_FILE = /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]dist-es[\\/]schemas[\\/]schemas_0\.js$/;
const CLIENT_PACKAGE_JSON = /[\\/]@aws-sdk[\\/]client-[^\\/]+[\\/]package\.json$/;

/** Every identifier-like word of the task sources (`.ts` under `dir`, recursively). */
export function wordsOfSources(dir: string): Set<string> {
  const words = new Set<string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts'))
        for (const w of readFileSync(p, 'utf8').match(/\w+/g) ?? []) words.add(w);
    }
  };
  walk(dir);
  return words;
}

/** The errors of a client's errors.js that carry retry traits (`$retryable`), by class name. */
function retryableErrors(errorsJs: string): Set<string> {
  const found = new Set<string>();
  for (const cls of errorsJs.split(/^export class /m).slice(1)) {
    const name = /^(\w+)/.exec(cls)?.[1];
    if (name && /\$retryable\s*=/.test(cls)) found.add(name);
  }
  return found;
}

/** Names of errors whose awsQuery error code (`[_aQE]: [\`Code\`, …]`) differs from the error's name. */
function renamedByQueryCode(schemasJs: string): Set<string> {
  const found = new Set<string>();
  for (const m of schemasJs.matchAll(
    /export var (\w+)\$ = \[-3, \w+, \w+,\s*\{[^}]*\[_aQE\]: \[`([^`]+)`/g,
  )) {
    if (m[1] && m[1] !== m[2]) found.add(m[1]);
  }
  return found;
}

/** The client's protocol resolves errors by awsQuery codes (its `runtimeConfig.shared.js`). */
export function readsQueryCodes(runtimeConfigShared: string): boolean {
  return /\bAwsQueryProtocol\b|awsQueryCompatible:\s*true/.test(runtimeConfigShared);
}

/** `schemas_0.js` without the error registrations that `keep` does not name (see the file comment). */
export function pruneErrorRegistrations(
  schemasJs: string,
  errorsJs: string,
  keep: ReadonlySet<string>,
  queryCodes: boolean,
): string {
  const retryable = retryableErrors(errorsJs);
  const renamed = queryCodes ? renamedByQueryCode(schemasJs) : new Set<string>();
  let seen = 0;
  const out = schemasJs.replace(REGISTER_ERROR, (line, registry: string, schema: string, ctor: string) => {
    seen += 1;
    if (schema !== ctor) throw new Error(`sdkErrorPruning: unexpected registration ${line}`);
    const kept = registry === '_s_registry' || keep.has(ctor) || retryable.has(ctor) || renamed.has(ctor);
    return kept ? line : '';
  });
  if (seen === 0) throw new Error('sdkErrorPruning: no registerError(X$, X) statement found (SDK changed?)');
  return out;
}

/** `const _x = "text";` — the string constants every schemas_0.js declares first, one per line. */
const STRING_CONST = /^const (_\w+) = ("(?:[^"\\]|\\.)*");$/gm;
/** A computed key naming one of those constants: `{ [_e]: _c }`. */
const COMPUTED_KEY = /\[(_\w+)\]:/g;

/**
 * `schemas_0.js` with every computed key that names a string constant (`{ [_jN]: _n }`) written as that
 * string (`{ "jsonName": _n }`): the same object, but one esbuild can see is free of side effects (a
 * computed key could call `toString`), so it drops the schemas no kept operation or error reaches.
 */
export function inlineComputedKeys(schemasJs: string): string {
  const strings = new Map<string, string>();
  for (const m of schemasJs.matchAll(STRING_CONST)) if (m[1] && m[2]) strings.set(m[1], m[2]);
  if (strings.size === 0) throw new Error('sdkErrorPruning: no `const _x = "…";` constants (SDK changed?)');
  return schemasJs.replace(COMPUTED_KEY, (key, name: string) => {
    const text = strings.get(name);
    if (text === undefined) throw new Error(`sdkErrorPruning: computed key ${key} names no string constant`);
    // `{ "__proto__": v }` would set the prototype where `{ ["__proto__"]: v }` adds a property.
    if (text === '"__proto__"') throw new Error(`sdkErrorPruning: computed key ${key} is "__proto__"`);
    return `${text}:`;
  });
}

export function sdkErrorPruning(keep: ReadonlySet<string>): Plugin {
  return {
    name: 'sdk-error-pruning',
    setup(build) {
      build.onLoad({ filter: SCHEMAS_FILE }, (args) => {
        const schemasJs = readFileSync(args.path, 'utf8');
        const dist = join(args.path, '..', '..');
        const errorsJs = readFileSync(join(dist, 'models', 'errors.js'), 'utf8');
        const queryCodes = readsQueryCodes(readFileSync(join(dist, 'runtimeConfig.shared.js'), 'utf8'));
        const pruned = pruneErrorRegistrations(schemasJs, errorsJs, keep, queryCodes);
        return { contents: inlineComputedKeys(pruned), loader: 'js' };
      });
    },
  };
}

const SHA256_NODE_FILE =
  /[\\/]@smithy[\\/]core[\\/]dist-es[\\/]submodules[\\/]checksum[\\/]sha256[\\/]Sha256Node\.js$/;
/** The two statements of Sha256Node.js that reach the pure-JS fallback, and what replaces each. */
const SHA256_FALLBACK: readonly [string, string][] = [
  ['import { Sha256Js } from "./Sha256Js";\n', ''],
  [
    'export const Sha256Node = hasNativeCrypto ? buildNativeClass() : Sha256Js;',
    'export const Sha256Node = buildNativeClass();',
  ],
];

/** `Sha256Node.js` without its pure-JS fallback (see the file comment); throws if the SDK changed it. */
export function nativeSha256Only(sha256NodeJs: string): string {
  let out = sha256NodeJs;
  for (const [from, to] of SHA256_FALLBACK) {
    if (out.split(from).length !== 2)
      throw new Error(`sdkNativeSha256: \`${from.trim()}\` not found once (SDK changed?)`);
    out = out.replace(from, to);
  }
  if (/\bSha256Js\b/.test(out)) throw new Error('sdkNativeSha256: Sha256Js still referenced (SDK changed?)');
  return out;
}

/** A plugin that bundles each JavaScript file `filter` matches as `rewrite` of its text. */
function sourceRewrite(name: string, filter: RegExp, rewrite: (js: string) => string): Plugin {
  return {
    name,
    setup(build) {
      build.onLoad({ filter }, (args) => ({
        contents: rewrite(readFileSync(args.path, 'utf8')),
        loader: 'js',
      }));
    },
  };
}

export function sdkNativeSha256(): Plugin {
  return sourceRewrite('sdk-native-sha256', SHA256_NODE_FILE, nativeSha256Only);
}

const PARTITIONS_FILE =
  /[\\/]@aws-sdk[\\/]core[\\/]dist-es[\\/]submodules[\\/]client[\\/]util-endpoints[\\/]lib[\\/]aws[\\/]partitions\.js$/;
const PARTITIONS_EXPORT = 'export const partitionsInfo = ';

interface PartitionsInfo {
  partitions: { id: string; regions: Record<string, Record<string, unknown>> }[];
}

/** `partitions.js` (`export const partitionsInfo = {…};`) without the regions' descriptions. */
export function partitionsWithoutDescriptions(partitionsJs: string): string {
  const body = partitionsJs.trim();
  if (!body.startsWith(PARTITIONS_EXPORT) || !body.endsWith(';')) {
    throw new Error(
      'sdkPartitionSlimming: partitions.js is not `export const partitionsInfo = {…};` (SDK changed?)',
    );
  }
  const info = JSON.parse(body.slice(PARTITIONS_EXPORT.length, -1)) as PartitionsInfo;
  if (!Array.isArray(info.partitions) || !info.partitions.some((p) => p.id === 'aws')) {
    throw new Error('sdkPartitionSlimming: no `aws` partition (SDK changed?)');
  }
  for (const p of info.partitions) for (const r of Object.values(p.regions)) delete r.description;
  return `${PARTITIONS_EXPORT}${JSON.stringify(info)};\n`;
}

export function sdkPartitionSlimming(): Plugin {
  return sourceRewrite('sdk-partition-slimming', PARTITIONS_FILE, partitionsWithoutDescriptions);
}

export function sdkPackageJsonSlimming(): Plugin {
  return {
    name: 'sdk-package-json-slimming',
    setup(build) {
      build.onLoad({ filter: CLIENT_PACKAGE_JSON }, (args) => {
        const { name, version } = JSON.parse(readFileSync(args.path, 'utf8')) as Record<string, unknown>;
        if (typeof name !== 'string' || typeof version !== 'string') {
          throw new Error(`sdkPackageJsonSlimming: ${args.path} has no name/version`);
        }
        return { contents: JSON.stringify({ name, version }), loader: 'json' };
      });
    },
  };
}
