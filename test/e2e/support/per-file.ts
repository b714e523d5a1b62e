/**
 * One end-to-end sandbox per test file, started before its tests and stopped after them:
 *
 *   const e = sandboxPerFile({ timeScale: 0.01 });
 *   it('…', async () => { await deployCase(e, dc); … });
 *
 * `e` stands for the started E2E (every property is read from it when used), so tests and the harness's
 * helpers take it as they would the E2E itself; reading it before beforeAll has run is an error.
 */
import { afterAll, beforeAll } from 'vitest';
import { type E2E, type StartOptions, startE2E } from './harness';

export function sandboxPerFile(opts: StartOptions = {}): E2E {
  let started: E2E | undefined;
  beforeAll(async () => {
    started = await startE2E(opts);
  });
  afterAll(async () => {
    await started?.stop();
  });
  return new Proxy({} as E2E, {
    get(_target, key) {
      if (!started) throw new Error(`the file's sandbox is not started (read ${String(key)} outside a test)`);
      const value: unknown = Reflect.get(started, key);
      return typeof value === 'function' ? value.bind(started) : value;
    },
  });
}
