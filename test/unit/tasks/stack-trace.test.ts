/**
 * tasks/shared/stack-trace.ts: a stack from a real esbuild bundle (minified, linked source map, as
 * infra/bundling/task-bundle.ts builds them) is mapped back to the TypeScript source, lazily, without
 * --enable-source-maps; a stack with no bundle positions is left alone.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { mapErrorStacks, sourceMappedStack } from '../../../tasks/shared/stack-trace';

const dir = mkdtempSync(join(tmpdir(), 'dr-stack-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bundles a module whose `fail()` throws from line 4 of its source; the error it throws, with its stack. */
async function errorFromBundle(): Promise<Error> {
  const source = join(dir, 'thrower.ts');
  writeFileSync(
    source,
    [
      'export function fail(n: number): never {',
      "  const why = 'failed with ' + String(n);",
      '  // the next line is line 4',
      '  throw new Error(why);',
      '}',
      '',
    ].join('\n'),
  );
  const outfile = join(dir, 'index.mjs');
  await build({
    entryPoints: [source],
    outfile,
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'node',
    sourcemap: 'linked',
    sourcesContent: false,
    logLevel: 'error',
  });
  // A fresh Node process, as Lambda runs the bundle (vitest would rewrite the stack with its own maps).
  const script = `try { (await import(${JSON.stringify(pathToFileURL(outfile).href)})).fail(7); } catch (e) { console.log(JSON.stringify(e.stack)); }`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '' },
  });
  const err = new Error('failed with 7');
  err.stack = JSON.parse(out.trim()) as string;
  return err;
}

describe('source-mapped stacks', () => {
  it('maps bundle positions to the source file and line, only when asked', async () => {
    const err = await errorFromBundle();
    expect(err.stack).toMatch(/index\.mjs:1:\d+/);
    expect(err.stack).not.toMatch(/thrower\.ts/);
    const mapped = sourceMappedStack(err.stack ?? '');
    expect(mapped).toMatch(/thrower\.ts:4:\d+/);
    expect(mapped).not.toMatch(/index\.mjs:1:/);
  });

  it('maps an error and its causes in place', async () => {
    const inner = await errorFromBundle();
    const outer = new Error('wrapped', { cause: inner });
    mapErrorStacks(outer);
    expect(inner.stack).toMatch(/thrower\.ts:4:\d+/);
  });

  it('leaves other stacks alone (no map next to the file, or no bundle position)', () => {
    const stack = 'Error: x\n    at f (/no/such/bundle.mjs:1:10)\n    at g (/src/tasks/plan/core.ts:3:4)';
    expect(sourceMappedStack(stack)).toBe(stack);
  });
});
