/**
 * The SDK plugins of the task bundles (infra/bundling/sdk-plugins.ts) leave out modeled errors nobody
 * names; this checks that a caller sees the same errors either way. A probe (support/sdk-error-probe.ts)
 * is bundled exactly as the tasks are (taskBuildOptions) and once without the plugins, and each bundle
 * runs in a fresh Node process against the sandbox: every error keeps its name, message, fault, status
 * and base class, a named one stays its modeled class, and awsQuery codes still map to the error's name.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { pruneErrorRegistrations, readsQueryCodes, wordsOfSources } from '../../infra/bundling/sdk-plugins';
import { REPO_ROOT } from '../../infra/bundling/task-bundle';
import { allServices } from '../../sandbox/services';
import { withSandbox } from '../sandbox/helpers';
import { runProbe } from './support/run-probe';

const dir = mkdtempSync(join(tmpdir(), 'dr-bundle-errors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sb = withSandbox(() => ({ services: allServices() }));

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
    const whole = await runProbe('sdk-error-probe', false, sb, dir);
    const pruned = await runProbe('sdk-error-probe', true, sb, dir);
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
