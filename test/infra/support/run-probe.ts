/**
 * Bundles a probe (test/infra/support/*-probe.ts) exactly as the tasks are bundled (taskBuildOptions),
 * or without the SDK plugins, runs it in a fresh Node process (against a sandbox: AWS_ENDPOINT_URL, when
 * given one) and returns the JSON object its last output line prints. Used by the bundle-* tests.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { build, type Metafile } from 'esbuild';
import { REPO_ROOT, taskBuildOptions } from '../../../infra/bundling/task-bundle';
import { type SandboxHandle, TEST_CREDENTIALS } from '../../sandbox/helpers';

export interface ProbeBundle {
  readonly outfile: string;
  /** Every input file with bytes in the bundle (esbuild's metafile; node_modules/… for packages). */
  readonly inputs: readonly string[];
}

/** Bundles the probe into `outDir/<probe>-pruned|whole/index.mjs`. */
export async function bundleProbe(probe: string, withPlugins: boolean, outDir: string): Promise<ProbeBundle> {
  const outfile = join(outDir, `${probe}-${withPlugins ? 'pruned' : 'whole'}`, 'index.mjs');
  const r = await build({
    ...taskBuildOptions(),
    ...(withPlugins ? {} : { plugins: [] }),
    entryPoints: [join(REPO_ROOT, 'test', 'infra', 'support', `${probe}.ts`)],
    outfile,
  });
  const outputs = Object.values((r.metafile as Metafile).outputs);
  const inputs = outputs.flatMap((o) => Object.entries(o.inputs).filter(([, i]) => i.bytesInOutput > 0));
  return { outfile, inputs: inputs.map(([path]) => path) };
}

export async function runProbe(
  probe: string,
  withPlugins: boolean,
  sb: SandboxHandle | undefined,
  outDir: string,
  env: Record<string, string> = {},
): Promise<Record<string, Record<string, unknown>>> {
  const { outfile } = await bundleProbe(probe, withPlugins, outDir);
  const sandboxEnv = sb
    ? {
        AWS_ENDPOINT_URL: sb.endpoint,
        AWS_REGION: sb.sandbox.region,
        AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
        AWS_MAX_ATTEMPTS: '1',
      }
    : {};
  // Asynchronously: the sandbox answers from this process.
  const { stdout: out } = await promisify(execFile)(process.execPath, [outfile], {
    encoding: 'utf8',
    timeout: 60_000,
    env: {
      PATH: process.env.PATH ?? '',
      ...sandboxEnv,
      ...env,
      PROBE_RUN: withPlugins ? 'pruned' : 'whole',
    },
  });
  return JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, Record<string, unknown>>;
}
