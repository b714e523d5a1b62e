/**
 * The SDK plugins of the task bundles (infra/bundling/sdk-plugins.ts: unnamed modeled errors left out,
 * schemas no command reaches dropped) must not change a call: a probe (support/sdk-call-probe.ts) sends
 * through every SDK client a task uses the kind of calls the tasks make, bundled exactly as the tasks are
 * (taskBuildOptions) and once without the plugins, each in a fresh Node process against the sandbox.
 * Both print the same outputs and errors; the outputs are real (items, messages, stacks came back).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { allServices } from '../../sandbox/services';
import { withSandbox } from '../sandbox/helpers';
import { runProbe } from './support/run-probe';

const dir = mkdtempSync(join(tmpdir(), 'dr-bundle-calls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sb = withSandbox(() => ({ services: allServices() }));

describe('SDK calls from the task bundles', () => {
  it('a bundle with the plugins sends and reads every call as one without, against the sandbox', {
    timeout: 180_000,
  }, async () => {
    const whole = await runProbe('sdk-call-probe', false, sb, dir);
    const pruned = await runProbe('sdk-call-probe', true, sb, dir);
    expect(pruned).toEqual(whole);
    expect(pruned.dynamo?.get).toMatchObject({ ok: { Item: { pk: 'a', list: ['x', 2, true] } } });
    expect(pruned.dynamo?.update).toMatchObject({ ok: { Attributes: { count: 1 } } });
    expect(pruned.sqs?.receive).toMatchObject({
      ok: expect.arrayContaining([expect.arrayContaining(['one'])]),
    });
    expect(pruned.cloudFormation?.describe).toMatchObject({
      ok: { StackName: 'probe-stack-RUN', CreationTime: 'Date', Tags: [{ Key: 'probe', Value: 'RUN' }] },
    });
    expect(pruned.others?.secret).toMatchObject({ ok: { SecretString: 's3cr3t' } });
    expect(pruned.others?.sts).toMatchObject({ ok: { Account: expect.any(String) } });
  });
});
