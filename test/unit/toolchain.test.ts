/**
 * What is tested is what runs: the tests run on the Node.js the project pins (the `node` dev
 * dependency, whose binary npm scripts find first on PATH), which is the Lambda runtime's major
 * (nodejs22.x, asserted for every function in test/infra/stack.test.ts).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  engines: { node: string };
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const major = (v: string) => Number(/\d+/.exec(v)?.[0]);

describe('toolchain', () => {
  it('runs the tests on the pinned Node.js (the node dev dependency), major 22 like the Lambda runtime', () => {
    expect(process.version).toBe(`v${pkg.devDependencies.node}`);
    expect(major(process.version)).toBe(22);
  });

  it('engines and @types/node agree with the pinned Node.js', () => {
    expect(pkg.engines.node).toBe('>=22');
    expect(major(pkg.devDependencies['@types/node'] ?? '')).toBe(major(process.version));
  });

  it('pins every dependency to an exact version (package-lock is not the only record of what runs)', () => {
    const ranged = Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }).filter(
      ([, v]) => !/^\d+\.\d+\.\d+$/.test(v),
    );
    expect(ranged).toEqual([]);
  });
});
