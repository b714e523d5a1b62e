/**
 * Shared test helper: one in-process sandbox per test file on a free port, plus the config real SDK v3
 * clients need to talk to it (endpoint override, dummy credentials, no retries so faults are observable).
 *
 *   const sb = withSandbox({ services: [sqsService()] });
 *   it('…', async () => { const sqs = new SQSClient(sb.clientConfig); … });
 */
import { afterAll, beforeAll } from 'vitest';
import type { Sandbox, SandboxOptions } from '../../sandbox/core/sandbox';
import { startSandbox } from '../../sandbox/core/sandbox';

export interface SandboxClientConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  maxAttempts: number;
}

export interface SandboxHandle {
  readonly sandbox: Sandbox;
  readonly endpoint: string;
  /** Spread into any SDK v3 client constructor: `new SQSClient(sb.clientConfig)`. */
  readonly clientConfig: SandboxClientConfig;
}

export const TEST_CREDENTIALS = { accessKeyId: 'AKIASANDBOXTEST00000', secretAccessKey: 'sandbox-secret' };

export function clientConfigFor(sandbox: Sandbox, maxAttempts = 1): SandboxClientConfig {
  return { endpoint: sandbox.endpoint, region: sandbox.region, credentials: TEST_CREDENTIALS, maxAttempts };
}

/** Starts a sandbox before the file's tests (port 0 unless given) and stops it after them. */
export function withSandbox(
  options: SandboxOptions | (() => SandboxOptions | Promise<SandboxOptions>) = {},
): SandboxHandle {
  let current: Sandbox | undefined;
  beforeAll(async () => {
    const opts = typeof options === 'function' ? await options() : options;
    current = await startSandbox({ timeScale: 0.001, ...opts, port: opts.port ?? 0 });
  });
  afterAll(async () => {
    await current?.stop();
    current = undefined;
  });
  const get = (): Sandbox => {
    if (!current) throw new Error('withSandbox: the sandbox is not running (use it inside tests or hooks)');
    return current;
  };
  return {
    get sandbox() {
      return get();
    },
    get endpoint() {
      return get().endpoint;
    },
    get clientConfig() {
      return clientConfigFor(get());
    },
  };
}

/** Registers an in-process function `name` at `arn` that records each payload it is invoked with; the record. */
export function recordingFunction(sandbox: Sandbox, name: string, arn: string): unknown[] {
  const seen: unknown[] = [];
  sandbox.registerFunction({
    name,
    arn,
    env: {},
    memoryMb: 128,
    invoke: async (payload) => {
      seen.push(payload);
      return {};
    },
  });
  return seen;
}
