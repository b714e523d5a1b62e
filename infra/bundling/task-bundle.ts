/**
 * How a task's Lambda bundle is built — the one source of truth for `cdk synth` (TaskFunction runs
 * `bundle-cli.ts` from its asset's local bundling), the bench (test/bench/bundles.ts) and the bundle tests.
 * esbuild's JS API rather than the CDK's esbuild CLI bundling, so the SDK plugins (sdk-plugins.ts) can run.
 *
 * - `tasks/<task>/handler.ts` as minified ESM for Node 22 (`mainFields: module, main`: the packages' ESM
 *   builds), with a `createRequire` banner for the few CommonJS dependencies.
 * - The AWS SDK is bundled, not taken from the nodejs22.x runtime: what is tested (package-lock) is what
 *   runs, and a bundled, tree-shaken client initialises about 4x faster (CPU) than the runtime's
 *   unbundled one (docs/operations.md "Bundles"); the SDK plugins leave out what a task never uses.
 * - Source maps stay in the asset, without the sources' text (`sourcesContent: false`), but Node does not
 *   load them at init (no `--enable-source-maps`, ~25 ms of CPU per cold start): a failing task's logged
 *   stacks are mapped when it fails (tasks/shared/stack-trace.ts).
 * - Left out (`external`): only SDK_UNREACHED_IN_LAMBDA, the modules the SDK loads lazily, with a dynamic
 *   `import()`, on paths a Lambda function never takes (see there).
 * - Deterministic: the same sources give the same bytes wherever the output goes (the asset hash is the
 *   output's hash): the map names sources from the repository root (`tasks/plan/core.ts`), not relative
 *   to the output directory (which `cdk synth` puts wherever its cdk.out is).
 *
 * No aws-cdk-lib here: the CLI runs in a child process of `cdk synth` and should start fast.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, type BuildResult, build } from 'esbuild';
import {
  sdkErrorPruning,
  sdkNativeSha256,
  sdkPackageJsonSlimming,
  sdkPartitionSlimming,
  wordsOfSources,
} from './sdk-plugins';
import { sdkUnreachedStubs } from './sdk-stubs';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** ESM output still needs `require` for the few CommonJS dependencies esbuild leaves as requires. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __drCreateRequire } from 'node:module'; const require = __drCreateRequire(import.meta.url);";

/**
 * SDK modules imported only by a dynamic `import()` on a path a Lambda function never takes, so they are
 * left out of the bundles (about 80 KB and 30 ms of init each; the SDK's own code stays bundled):
 * - the credential providers after `fromEnv` in the default chain (SSO, ini profiles, credential_process,
 *   web identity token file, container/instance metadata, `aws login`) and the STS/SSO/sign-in clients
 *   they build: Lambda always sets AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, which the
 *   chain's first link (`fromEnv`) returns;
 * - event-stream serde, loaded only for operations with an event-stream member (no task calls one).
 * test/infra/bundle-budget.test.ts checks that no bundle imports any of them statically, and the bench
 * imports every bundle from a directory without node_modules.
 */
export const SDK_UNREACHED_IN_LAMBDA = [
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/credential-provider-login',
  '@aws-sdk/nested-clients',
  '@aws-sdk/token-providers',
  '@smithy/credential-provider-imds',
  '@smithy/core/event-streams',
] as const;

/** The folder whose sources decide which SDK errors stay modeled (sdkErrorPruning). */
const TASK_SOURCES = join(REPO_ROOT, 'tasks');

/** esbuild options of every task bundle, SDK plugins included (without entry point and output file). */
export function taskBuildOptions(): BuildOptions {
  return {
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    minify: true,
    sourcemap: 'linked',
    sourcesContent: false,
    mainFields: ['module', 'main'],
    banner: { js: ESM_REQUIRE_BANNER },
    // esbuild keeps `/*! … */` and `@preserve` comments at the end of the file; in these bundles they are
    // only coverage hints (`v8 ignore next -- @preserve`), no licence text.
    legalComments: 'none',
    external: [...SDK_UNREACHED_IN_LAMBDA],
    plugins: [
      sdkErrorPruning(wordsOfSources(TASK_SOURCES)),
      sdkPackageJsonSlimming(),
      sdkNativeSha256(),
      sdkPartitionSlimming(),
      sdkUnreachedStubs(),
    ],
    logLevel: 'error',
    metafile: true,
    absWorkingDir: REPO_ROOT,
  };
}

export interface TaskBundleOptions {
  /** The policy JSON to copy into the bundle as `policy.json` (tasks whose TASKS entry says `bundlesPolicy`). */
  readonly policyJsonPath?: string;
}

/** Bundles `tasks/<task>/handler.ts` into `outDir/index.mjs` (+ `index.mjs.map`, + `policy.json` if given). */
export async function bundleTaskInto(
  task: string,
  outDir: string,
  opts: TaskBundleOptions = {},
): Promise<BuildResult> {
  if (!/^[a-z][a-z-]*$/.test(task)) throw new Error(`not a task name: ${task}`);
  mkdirSync(outDir, { recursive: true });
  const result = await build({
    ...taskBuildOptions(),
    entryPoints: [join(REPO_ROOT, 'tasks', task, 'handler.ts')],
    outfile: join(outDir, 'index.mjs'),
  });
  rebaseSourceMap(join(outDir, 'index.mjs.map'), outDir);
  if (opts.policyJsonPath) copyFileSync(opts.policyJsonPath, join(outDir, 'policy.json'));
  return result;
}

/** Rewrites the map's `sources` (relative to `outDir`) as paths from the repository root. */
function rebaseSourceMap(mapFile: string, outDir: string): void {
  const map = JSON.parse(readFileSync(mapFile, 'utf8')) as { sources?: string[] };
  if (!Array.isArray(map.sources)) throw new Error(`${mapFile}: no sources`);
  // A plugin's virtual module (`sdk-stub:…`, sdk-stubs.ts) is named by its namespace, not a path.
  map.sources = map.sources.map((s) =>
    /^[a-z-]+:/.test(s) ? s : relative(REPO_ROOT, resolve(outDir, s)).split('\\').join('/'),
  );
  writeFileSync(mapFile, JSON.stringify(map));
}
