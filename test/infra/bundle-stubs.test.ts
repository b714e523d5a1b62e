/**
 * sdkUnreachedStubs (infra/bundling/sdk-stubs.ts) replaces SDK modules a Lambda function of this project
 * never runs. This checks the three things that claim rests on:
 * - each stub exports what the module it replaces exports (else the build fails: an SDK update);
 * - under Lambda's configuration a probe (support/stub-probe.ts) bundled with the plugins calls the
 *   sandbox exactly as one bundled without them, and a configuration that would reach a stub gets its
 *   SdkPartLeftOutError (the bundle without stubs takes the SDK's path there);
 * - that configuration never happens here: no task function's environment sets an `AWS_*` variable and
 *   the task code sets none of the client options that select those paths.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { wordsOfSources } from '../../infra/bundling/sdk-plugins';
import { SDK_STUBS, stubFor } from '../../infra/bundling/sdk-stubs';
import { REPO_ROOT } from '../../infra/bundling/task-bundle';
import { TASK_METADATA_KEY } from '../../infra/drift-remediation';
import { allServices } from '../../sandbox/services';
import { withSandbox } from '../sandbox/helpers';
import { runProbe } from './support/run-probe';
import { synth } from './synth';

const dir = mkdtempSync(join(tmpdir(), 'dr-bundle-stubs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sb = withSandbox(() => ({ services: allServices() }));

const shipped = (pkg: string, path: string): string =>
  readFileSync(join(createRequire(import.meta.url).resolve(`${pkg}/package.json`), '..', path), 'utf8');

const LEFT_OUT = { error: 'SdkPartLeftOutError' };

describe('SDK parts left out of the task bundles', () => {
  it('each stub exports what the SDK module it replaces exports', () => {
    expect(SDK_STUBS.length).toBeGreaterThanOrEqual(6);
    for (const stub of SDK_STUBS) {
      expect(stubFor(stub, shipped(stub.pkg, stub.path)), stub.part).toContain('SdkPartLeftOutError');
    }
  });

  it('fails the build, not silently, when an SDK update changes a replaced module', () => {
    for (const stub of SDK_STUBS) {
      expect(() => stubFor(stub, 'export const somethingElse = 1;\n'), stub.part).toThrow(/SDK changed\?/);
    }
  });

  it('under Lambda configuration: the same calls with and without the stubs, against the sandbox', {
    timeout: 120_000,
  }, async () => {
    const whole = await runProbe('stub-probe', false, sb, dir);
    const pruned = await runProbe('stub-probe', true, sb, dir);
    for (const call of ['sts', 'dynamo', 'stsSigV4aRegionSet'] as const) {
      expect(pruned[call], call).toEqual(whole[call]);
      expect(pruned[call], call).toHaveProperty('ok');
    }
    expect(pruned.sts?.ok).toContain('Account');
    expect(pruned.dynamo?.ok).toContain('TableNames');
    // SigV4a for any region: no implementation either way; the SDK's error, or the stub's, named.
    expect(whole.stsSigV4aAnyRegion?.message).toMatch(/Neither CRT nor JS SigV4a implementation/);
    expect(pruned.stsSigV4aAnyRegion).toMatchObject(LEFT_OUT);
    // The endpoint cache no DynamoDB command reads (test/infra/bundle-budget.test.ts: no reader bundled).
    expect(whole.endpointCache).toEqual({ ok: 'undefined' });
    expect(pruned.endpointCache).toMatchObject(LEFT_OUT);
    expect(pruned.unhandled).toEqual({});
  });

  it('a configuration Lambda never has here reaches a stub, which names itself', {
    timeout: 180_000,
  }, async () => {
    const both = async (env: Record<string, string>) => ({
      whole: await runProbe('stub-probe', false, sb, dir, env),
      pruned: await runProbe('stub-probe', true, sb, dir, env),
    });
    const adaptive = await both({ AWS_RETRY_MODE: 'adaptive' });
    expect(adaptive.whole.sts).toHaveProperty('ok');
    expect(adaptive.pruned.sts).toMatchObject({ ...LEFT_OUT, message: /adaptive retry mode/ });

    const configFile = join(dir, 'aws-config');
    writeFileSync(configFile, `[default]\nregion = ${sb.sandbox.region}\n`);
    const files = await both({ AWS_CONFIG_FILE: configFile });
    expect(files.whole.sts).toHaveProperty('ok');
    expect(files.pruned.sts).toMatchObject({ ...LEFT_OUT, message: /shared config and credentials files/ });
    // …and the settings the SDK loads eagerly reject unawaited: Lambda reports the invocation failed.
    expect(files.pruned.unhandled).toMatchObject(LEFT_OUT);

    const noRegion = await both({ PROBE_UNSET: 'AWS_REGION', AWS_EC2_METADATA_DISABLED: 'true' });
    expect(noRegion.whole.sts).toMatchObject({ message: 'Region is missing' });
    expect(noRegion.pruned.sts).toMatchObject({ ...LEFT_OUT, message: /instance metadata/ });
  });

  it('no task function sets an AWS_* variable, and the task code sets no option those paths need', {
    timeout: 120_000,
  }, () => {
    const functions = Object.values(
      synth().json.Resources as Record<
        string,
        { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
      >,
    ).filter((r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[TASK_METADATA_KEY]);
    expect(functions.length).toBeGreaterThan(15);
    for (const f of functions) {
      const vars = (f.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables;
      expect(
        Object.keys(vars ?? {}).filter((k) => k.startsWith('AWS_')),
        String(f.Metadata?.[TASK_METADATA_KEY]),
      ).toEqual([]);
    }
    const words = wordsOfSources(join(REPO_ROOT, 'tasks'));
    const options = [
      'retryMode',
      'retryStrategy',
      'configFilepath',
      'authSchemePreference',
      'sigv4aSigningRegionSet',
    ];
    expect(options.filter((o) => words.has(o))).toEqual([]);
  });
});
