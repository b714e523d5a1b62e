/**
 * Lambda bundles (`npm run bench`, section `bundles`): each task's handler bundled exactly as `cdk synth`
 * bundles it (infra/bundling/task-bundle.ts, SDK plugins included), then per bundle: minified bytes, how many of them are the AWS SDK (@aws-sdk/*, @smithy/*), the source
 * map's bytes, the whole asset's bytes (what CDK uploads: index.mjs, its map, and policy.json for the
 * tasks that bundle the policy), and the median module init time — `await import()` of the bundle in a
 * fresh Node process with the function's environment (COMMON_ENV) and what Lambda's runtime loads before
 * the handler (RUNTIME_PRELOAD), from a temp directory with no node_modules: a bundle that needed anything it left out
 * (SDK_UNREACHED_IN_LAMBDA) at init would fail here as it would in Lambda.
 *
 * Init time is wall-clock (what Lambda bills as Init Duration) and CPU time (user + system of that
 * process): on a loaded machine the wall time grows with the load, the CPU time much less.
 *
 *   import { measureBundles } from './bundles';   const figures = await measureBundles({ runs: 7 });
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Table from 'cli-table3';
import type { Metafile } from 'esbuild';
import { bundledPolicyFor } from '../../infra/bundled-policy';
import { bundleTaskInto, REPO_ROOT } from '../../infra/bundling/task-bundle';
import { COMMON_ENV } from '../../infra/constructs/task-function';
import { ALL_TASKS, TASKS, type TaskName } from '../../infra/constructs/tasks';
import { percentile } from './stats';

/** The policy `cdk synth` bundles by default. */
const DEFAULT_POLICY_FILE = join(REPO_ROOT, 'runbooks', 'policy.yaml');

export interface BundleSize {
  task: TaskName;
  /** Minified bytes of index.mjs. */
  bytes: number;
  /** Of those, bytes from @aws-sdk/* and @smithy/* (the SDK clients the handler calls). */
  sdkBytes: number;
  /** index.mjs.map bytes. */
  mapBytes: number;
  /** The deployed asset: index.mjs + index.mjs.map (+ policy.json for tasks that bundle the policy). */
  assetBytes: number;
  /** The @aws-sdk/client-* packages in the bundle. */
  clients: string[];
  /** The five largest contributors (npm package, or the repo folder for our own code), bytes in the bundle. */
  largest: { part: string; bytes: number }[];
  /** Every input file with bytes in the bundle (repo-relative paths, node_modules/… for packages). */
  inputs: string[];
  /** Where index.mjs was written. */
  file: string;
  /** What the bundle imports from outside itself (esbuild's metafile): at load, and lazily (`import()`). */
  externals: { load: string[]; lazy: string[] };
}

export interface BundleFigures extends Omit<BundleSize, 'file' | 'externals' | 'inputs'> {
  /** Median wall-clock time of `await import()` in a fresh Node process, ms. */
  initMs: number;
  /** Median CPU time (user + system) of that import, ms. */
  initCpuMs: number;
}

function packageOf(input: string): string | undefined {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(input);
  return m?.[1];
}

/** Bundles one task's handler into `outDir/<task>/index.mjs` and reports its size. */
export async function bundleTask(task: TaskName, outDir: string): Promise<BundleSize> {
  const file = join(outDir, task, 'index.mjs');
  const policyJsonPath = TASKS[task].bundlesPolicy ? bundledPolicyFor(DEFAULT_POLICY_FILE) : undefined;
  const r = await bundleTaskInto(task, dirname(file), policyJsonPath ? { policyJsonPath } : {});
  const meta = r.metafile as Metafile;
  const output = meta.outputs[Object.keys(meta.outputs).find((k) => k.endsWith('index.mjs')) ?? ''];
  let sdkBytes = 0;
  const clients = new Set<string>();
  const parts = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const pkg = packageOf(input);
    const part = pkg ?? input.split('/').slice(0, 2).join('/');
    parts.set(part, (parts.get(part) ?? 0) + bytesInOutput);
    if (pkg?.startsWith('@aws-sdk/') || pkg?.startsWith('@smithy/')) sdkBytes += bytesInOutput;
    if (pkg?.startsWith('@aws-sdk/client-') && bytesInOutput > 0) clients.add(pkg);
  }
  const external = (kind: 'load' | 'lazy') =>
    [
      ...new Set(
        (output?.imports ?? [])
          .filter((i) => i.external && (i.kind === 'dynamic-import') === (kind === 'lazy'))
          .map((i) => i.path),
      ),
    ].sort();
  const bytes = statSync(file).size;
  const mapBytes = statSync(`${file}.map`).size;
  const policyBytes = policyJsonPath ? statSync(policyJsonPath).size : 0;
  return {
    task,
    bytes,
    sdkBytes,
    mapBytes,
    assetBytes: bytes + mapBytes + policyBytes,
    clients: [...clients].sort(),
    largest: [...parts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 5)
      .map(([part, n]) => ({ part, bytes: n })),
    inputs: Object.entries(output?.inputs ?? {})
      .filter(([, i]) => i.bytesInOutput > 0)
      .map(([path]) => path),
    file,
    externals: { load: external('load'), lazy: external('lazy') },
  };
}

/**
 * What Lambda's Node.js runtime has loaded before it imports the handler: its runtime API client requires
 * `node:http` and builds a keep-alive Agent first (aws-lambda-nodejs-runtime-interface-client,
 * RAPIDClient.js, then UserFunction.load). Not counting that towards the bundle's init is measuring it
 * the way Lambda loads it (about 25 ms of CPU that a fresh process would otherwise charge to the SDK).
 */
const RUNTIME_PRELOAD = `const http = await import('node:http'); new http.Agent({ keepAlive: true, maxSockets: 1 });`;

/** One fresh Node process importing `file` after RUNTIME_PRELOAD: [wall ms, CPU ms]. */
function importOnce(file: string, task: string): [number, number] {
  const script = `${RUNTIME_PRELOAD}
const c = process.cpuUsage(); const t = performance.now(); await import(${JSON.stringify(file)});
const d = process.cpuUsage(c); console.log(JSON.stringify([performance.now() - t, (d.user + d.system) / 1000]));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      ...COMMON_ENV,
      AWS_REGION: 'eu-west-1',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_LAMBDA_FUNCTION_NAME: `drift-remediation-${task}`,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
    },
  });
  const [wall, cpu] = JSON.parse(out.trim().split('\n').pop() ?? '[]') as [number, number];
  return [wall, cpu];
}

export interface MeasureOptions {
  /** Fresh processes per bundle (the median is reported). @default 7 */
  readonly runs?: number;
  /** Tasks to bundle. @default every task (ALL_TASKS) */
  readonly tasks?: readonly TaskName[];
  /** Print a table to stdout. @default true */
  readonly print?: boolean;
}

export async function measureBundles(opts: MeasureOptions = {}): Promise<BundleFigures[]> {
  const runs = opts.runs ?? 7;
  const dir = mkdtempSync(join(tmpdir(), 'drift-remediation-bundles-'));
  const figures: BundleFigures[] = [];
  try {
    for (const task of opts.tasks ?? ALL_TASKS) {
      const size = await bundleTask(task, dir);
      const wall: number[] = [];
      const cpu: number[] = [];
      for (let i = 0; i < runs; i++) {
        const [w, c] = importOnce(size.file, task);
        wall.push(w);
        cpu.push(c);
      }
      const { file: _file, externals: _externals, inputs: _inputs, ...rest } = size;
      figures.push({
        ...rest,
        initMs: Math.round(percentile(wall, 50)),
        initCpuMs: Math.round(percentile(cpu, 50)),
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (opts.print ?? true) printBundles(figures, runs);
  return figures;
}

const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`;

function printBundles(figures: readonly BundleFigures[], runs: number): void {
  const t = new Table({
    head: [
      'bundle',
      'minified',
      'of which SDK',
      'other',
      'source map',
      'asset',
      'init (median)',
      'init CPU',
      'SDK clients',
      'largest parts',
    ],
    style: { head: [], border: [] },
  });
  for (const f of figures) {
    t.push([
      f.task,
      kb(f.bytes),
      kb(f.sdkBytes),
      kb(f.bytes - f.sdkBytes),
      kb(f.mapBytes),
      kb(f.assetBytes),
      `${f.initMs} ms`,
      `${f.initCpuMs} ms`,
      f.clients.map((c) => c.replace('@aws-sdk/client-', '')).join(', '),
      f.largest.map((p) => `${p.part} ${kb(p.bytes)}`).join(', '),
    ]);
  }
  console.log(
    `Lambda bundles (as cdk synth builds them, infra/bundling/task-bundle.ts; init = median of ${runs} fresh processes)`,
  );
  console.log(t.toString());
}
