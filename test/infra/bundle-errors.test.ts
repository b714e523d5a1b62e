/**
 * The SDK plugins of the task bundles (infra/bundling/sdk-plugins.ts) leave out modeled errors nobody
 * names; this checks that a caller sees the same errors either way. A probe (support/sdk-error-probe.ts)
 * is bundled exactly as the tasks are (taskBuildOptions) and once without the plugins, and each bundle
 * runs in a fresh Node process against the sandbox: every error keeps its name, message, fault, status
 * and base class, a named one stays its modeled class, and awsQuery codes still map to the error's name.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { pruneErrorRegistrations, readsQueryCodes, wordsOfSources } from '../../infra/bundling/sdk-plugins';
import { REPO_ROOT, taskBuildOptions } from '../../infra/bundling/task-bundle';
import { allServices } from '../../sandbox/services';
import { TEST_CREDENTIALS, withSandbox } from '../sandbox/helpers';

const dir = mkdtempSync(join(tmpdir(), 'dr-bundle-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sb = withSandbox(() => ({ services: allServices() }));

async function runProbe(withPlugins: boolean): Promise<Record<string, Record<string, unknown>>> {
  const outfile = join(dir, withPlugins ? 'pruned' : 'whole', 'index.mjs');
  const options = taskBuildOptions();
  await build({
    ...options,
    ...(withPlugins ? {} : { plugins: [] }),
    entryPoints: [join(REPO_ROOT, 'test', 'infra', 'support', 'sdk-error-probe.ts')],
    outfile,
  });
  // Asynchronously: the sandbox answers from this process.
  const { stdout: out } = await promisify(execFile)(process.execPath, [outfile], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      PATH: process.env.PATH ?? '',
      AWS_ENDPOINT_URL: sb.endpoint,
      AWS_REGION: sb.sandbox.region,
      AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
      AWS_MAX_ATTEMPTS: '1',
    },
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, Record<string, unknown>>;
}

const sdkFile = (pkg: string, file: string): string =>
  readFileSync(
    join(createRequire(import.meta.url).resolve(`${pkg}/package.json`), '..', 'dist-es', file),
    'utf8',
  );

describe('SDK error pruning in the task bundles', () => {
  it('keeps registered only what the task code names, renamed awsQuery codes, retryable errors and the base', () => {
    const keep = wordsOfSources(join(REPO_ROOT, 'tasks'));
    const registered = (pkg: string) => {
      const js = pruneErrorRegistrations(
        sdkFile(pkg, 'schemas/schemas_0.js'),
        sdkFile(pkg, 'models/errors.js'),
        keep,
        readsQueryCodes(sdkFile(pkg, 'runtimeConfig.shared.js')),
      );
      return [...js.matchAll(/registerError\(\w+\$, (\w+)\)/g)].map((m) => m[1]);
    };
    const ssm = registered('@aws-sdk/client-ssm');
    expect(ssm).toContain('SSMServiceException');
    expect(ssm).toContain('AutomationExecutionNotFoundException'); // named in tasks/
    expect(ssm).not.toContain('InvalidDocument'); // named nowhere
    expect(ssm.length).toBeLessThan(15); // of 141
    expect(registered('@aws-sdk/client-sns')).toContain('NotFoundException'); // wire code NotFound
    expect(registered('@aws-sdk/client-dynamodb')).toEqual(
      expect.arrayContaining(['ConditionalCheckFailedException', 'ReplicatedWriteConflictException']),
    );
  });

  it('fails the build, not silently, when the SDK stops registering errors the way it relies on', () => {
    expect(() => pruneErrorRegistrations('export var X$ = [];\n', '', new Set(), false)).toThrow(
      /SDK changed/,
    );
  });

  it('a bundle with the plugins sees the same errors as one without, against the sandbox', {
    timeout: 120_000,
  }, async () => {
    const whole = await runProbe(false);
    const pruned = await runProbe(true);
    expect(pruned).toEqual(whole);
    expect(pruned.conditional).toMatchObject({
      name: 'ConditionalCheckFailedException',
      base: true,
      modeled: true,
      status: 400,
    });
    expect(pruned.ssmInvalidDocument).toMatchObject({ name: 'InvalidDocument', base: true, fault: 'client' });
    expect(pruned.sfnNoStateMachine).toMatchObject({ name: 'StateMachineDoesNotExist', base: true });
    expect(pruned.snsNotFound).toMatchObject({ name: 'NotFoundException', base: true });
    expect(pruned.sqsNoQueue).toMatchObject({ name: 'QueueDoesNotExist', base: true });
    for (const e of Object.values(pruned)) expect(String(e.message).length).toBeGreaterThan(0);
  });
});
