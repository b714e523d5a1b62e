/**
 * The SDK plugin that lets esbuild drop unreached schemas (`inlineComputedKeys`, infra/bundling/
 * sdk-plugins.ts) must not change a single schema: every client the tasks import has its whole
 * `schemas_0.js` bundled once as the SDK ships it and once with the computed keys inlined, both bundles
 * are imported, and every export (operation, structure, error schemas and the error registries) is
 * compared as a value — thunks (`() => X$`) followed, shared and recursive schemas compared by identity.
 * Equal schemas serialize and deserialize every command identically; the sandbox probe
 * (bundle-errors.test.ts) runs real calls through the pruned bundles as well.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { inlineComputedKeys } from '../../infra/bundling/sdk-plugins';
import { REPO_ROOT } from '../../infra/bundling/task-bundle';

const dir = mkdtempSync(join(tmpdir(), 'dr-bundle-schemas-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The @aws-sdk/client-* packages any task imports. */
function clientsOfTasks(): string[] {
  const found = new Set<string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts'))
        for (const m of readFileSync(p, 'utf8').matchAll(/from '(@aws-sdk\/client-[a-z0-9-]+)'/g))
          if (m[1]) found.add(m[1]);
    }
  };
  walk(join(REPO_ROOT, 'tasks'));
  return [...found].sort();
}

const inlining: Plugin = {
  name: 'inline-only',
  setup(b) {
    b.onLoad({ filter: /[\\/]schemas_0\.js$/ }, (args) => ({
      contents: inlineComputedKeys(readFileSync(args.path, 'utf8')),
      loader: 'js',
    }));
  },
};

async function loadSchemas(pkg: string, inline: boolean): Promise<Record<string, unknown>> {
  const file = join(createRequire(import.meta.url).resolve(`${pkg}/package.json`), '..', 'dist-es');
  const outfile = join(dir, `${pkg.replace(/\W/g, '_')}-${inline ? 'inlined' : 'shipped'}.mjs`);
  await build({
    stdin: {
      contents: `export * from ${JSON.stringify(join(file, 'schemas', 'schemas_0.js'))};`,
      resolveDir: REPO_ROOT,
    },
    bundle: true,
    platform: 'node',
    format: 'esm',
    outfile,
    plugins: inline ? [inlining] : [],
    logLevel: 'error',
  });
  return (await import(pathToFileURL(outfile).href)) as Record<string, unknown>;
}

/** A comparable picture of `v`: thunks called, classes by name, objects seen before as `#n`. */
function picture(v: unknown, seen = new Map<object, number>()): unknown {
  if (typeof v === 'function') {
    if (v.prototype === undefined && v.length === 0) return { thunk: picture(v(), seen) };
    return `function ${v.name}`;
  }
  if (v === null || typeof v !== 'object') return v;
  const known = seen.get(v);
  if (known !== undefined) return `#${known}`;
  seen.set(v, seen.size);
  if (Array.isArray(v)) return v.map((x) => picture(x, seen));
  const entries = v instanceof Map ? [...v.entries()] : Object.entries(v);
  return {
    class: v.constructor?.name,
    proto: Object.getPrototypeOf(v) === Object.prototype,
    entries: entries.map(([k, x]) => [picture(k, seen), picture(x, seen)]),
  };
}

describe('SDK schemas with inlined computed keys', () => {
  const clients = clientsOfTasks();

  it('covers every client the tasks call', () => {
    expect(clients).toEqual(expect.arrayContaining(['@aws-sdk/client-ssm', '@aws-sdk/client-dynamodb']));
    expect(clients.length).toBeGreaterThanOrEqual(10);
  });

  it.each(clients)(
    '%s: every schema and error registry is the same value',
    {
      timeout: 60_000,
    },
    async (pkg) => {
      const shipped = await loadSchemas(pkg, false);
      const inlined = await loadSchemas(pkg, true);
      expect(Object.keys(inlined).sort()).toEqual(Object.keys(shipped).sort());
      expect(Object.keys(shipped).length).toBeGreaterThan(10);
      for (const name of Object.keys(shipped).sort()) {
        expect(picture(inlined[name]), name).toEqual(picture(shipped[name]));
      }
    },
  );

  it('fails the build, not silently, when the SDK writes its keys another way', () => {
    expect(() => inlineComputedKeys('export var X$ = [3, "n", "X", { [_a]: 1 }];\n')).toThrow(/SDK changed/);
    expect(() => inlineComputedKeys('const _b = "b";\nexport var X$ = [{ [_a]: 1 }];\n')).toThrow(
      /names no string constant/,
    );
    expect(() => inlineComputedKeys('const _p = "__proto__";\nexport var X$ = [{ [_p]: 1 }];\n')).toThrow(
      /__proto__/,
    );
    expect(inlineComputedKeys('const _e = "error";\nexport var X$ = [{ [_e]: _e }];\n')).toBe(
      'const _e = "error";\nexport var X$ = [{ "error": _e }];\n',
    );
  });
});
