/**
 * Readable stack traces without paying for them at init: Node's `--enable-source-maps` parses the
 * bundle's source map while the module loads (~25 ms of CPU per cold start, docs/operations.md
 * "Bundles"); this reads it only when an error is logged. Positions in a bundle
 * (`/var/task/index.mjs:1:23456`) become source positions (`tasks/plan/core.ts:88:11`: the map names sources from the repository root); anything
 * else (the sandbox and tests run the TypeScript sources) is left as it is.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';

const BUNDLE_POSITION = /(?:file:\/\/)?(\/[^\s():]+\.mjs):(\d+):(\d+)/g;
const maps = new Map<string, SourceMap | null>();

/** The source map next to `file` (`<file>.map`), parsed once; null when there is none. */
function mapOf(file: string): SourceMap | null {
  let map = maps.get(file);
  if (map === undefined) {
    try {
      map = new SourceMap(JSON.parse(readFileSync(`${file}.map`, 'utf8')));
    } catch {
      map = null;
    }
    maps.set(file, map);
  }
  return map;
}

/** `stack` with every bundle position that its source map knows replaced by the source position. */
export function sourceMappedStack(stack: string): string {
  return stack.replace(BUNDLE_POSITION, (whole, file: string, line: string, column: string) => {
    const origin = mapOf(file)?.findOrigin(Number(line), Number(column));
    if (!origin || !('fileName' in origin)) return whole;
    return `${origin.fileName}:${origin.lineNumber}:${origin.columnNumber}`;
  });
}

/** Maps the stacks of `err` and of its causes in place (they are logged, and returned to Lambda). */
export function mapErrorStacks(err: unknown, depth = 0): void {
  if (!(err instanceof Error) || depth > 5) return;
  if (err.stack) err.stack = sourceMappedStack(err.stack);
  mapErrorStacks(err.cause, depth + 1);
}
