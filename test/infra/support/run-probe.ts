/**
 * Bundles a probe (test/infra/support/*-probe.ts) exactly as the tasks are bundled (taskBuildOptions),
 * or without the SDK plugins, runs it in a fresh Node process against a sandbox (AWS_ENDPOINT_URL) and
 * returns the JSON object its last output line prints. Used by bundle-errors and bundle-calls tests.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build } from 'esbuild';
import { REPO_ROOT, taskBuildOptions } from '../../../infra/bundling/task-bundle';
import { type SandboxHandle, TEST_CREDENTIALS } from '../../sandbox/helpers';

export async function runProbe(
  probe: string,
  withPlugins: boolean,
  sb: SandboxHandle,
  outDir: string,
): Promise<Record<string, Record<string, unknown>>> {
  const variant = withPlugins ? 'pruned' : 'whole';
  const outfile = join(outDir, `${probe}-${variant}`, 'index.mjs');
  await build({
    ...taskBuildOptions(),
    ...(withPlugins ? {} : { plugins: [] }),
    entryPoints: [join(REPO_ROOT, 'test', 'infra', 'support', `${probe}.ts`)],
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
      PROBE_RUN: variant,
    },
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, Record<string, unknown>>;
}
