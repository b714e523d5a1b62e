/**
 * `sdkUnreachedStubs`: SDK modules a task bundle keeps only for configurations a Lambda function of this
 * project never has, each replaced by a small stub (docs/operations.md "Bundles"). A stub does what the
 * module does in Lambda, or, where Lambda never calls it, throws `SdkPartLeftOutError` naming the part and
 * why it was left out — never a silent different answer.
 *
 * What decides "never": Lambda always sets AWS_REGION and the execution role's credentials; the home
 * directory of a Lambda function holds no `~/.aws` files (the asset goes to /var/task); the construct
 * sets no `AWS_*` environment variable (test/infra/bundle-stubs.test.ts checks the synthesized stack)
 * and the task code configures no client's retry mode or config files (the same test checks tasks/).
 *
 * - the adaptive retry mode (`AdaptiveRetryStrategy` with its client-side rate limiter, ~3.4 KB): only
 *   `AWS_RETRY_MODE=adaptive`, `retry_mode` in a config file or a client's `retryMode` selects it;
 * - the shared config and credentials files (`loadSharedConfigFiles`: ini reader and parser, ~2 KB): in
 *   Lambda both files are missing, for which it returns `{ configFile: {}, credentialsFile: {} }` — the
 *   stub returns that, and throws when AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE or an explicit path
 *   names a file;
 * - the region from EC2 instance metadata (`getInstanceMetadataRegion`, ~1.2 KB): asked only when
 *   AWS_REGION is missing (Lambda has no instance metadata service either);
 * - S3's endpoint parameter customizations (`resolveParamsForS3`, ~0.8 KB): run only for an S3 client;
 * - the multi-region signer's SigV4a half (`SignatureV4MultiRegion`, ~2.7 KB, STS): it signs with SigV4
 *   unless the signing region is `*`, for which it needs a SigV4a implementation (`@aws-sdk/signature-v4a`
 *   or `-crt`) that no bundle holds (the plugin fails the build if one is imported), so the SDK threw
 *   "Neither CRT nor JS SigV4a implementation is available" there; the stub throws its error instead;
 * - the SDK's Node.js version warning (`emitWarningIfUnsupportedVersion`, ~0.5 KB of message): it warns
 *   below Node 22, which never runs these bundles (nodejs22.x, `target: node22`); the stub warns in one
 *   line there, and does nothing on Node 22 as the SDK does;
 * - DynamoDB's endpoint-discovery cache (`EndpointCache` over mnemonist's LRU, ~7.7 KB): every
 *   DynamoDB client builds one, but in this SDK no DynamoDB command adds the endpoint-discovery
 *   middleware, the only reader of the cache; the stub is an empty object whose methods throw.
 *
 * Each stub must export exactly what the module it replaces exports: an SDK update that changes the
 * module's exports fails the build (`SDK changed?`), as the other plugins do.
 */
import { readFileSync } from 'node:fs';
import type { Plugin } from 'esbuild';

/** The module every stub imports its error from (one copy per bundle, resolved by the plugin). */
const LEFT_OUT_MODULE = 'drift-remediation:sdk-part-left-out';
/** The error every stub throws when reached: `name` stays stable for logs and alarms. */
const LEFT_OUT = `export class SdkPartLeftOutError extends Error {
  constructor(part, why) {
    super(\`\${part} is left out of this Lambda bundle (\${why}; infra/bundling/sdk-stubs.ts)\`);
    this.name = "SdkPartLeftOutError";
  }
}`;

export interface SdkStub {
  /** What the stub stands for, in docs and errors. */
  readonly part: string;
  /** The npm package of the module it replaces… */
  readonly pkg: string;
  /** …and the module's path in that package. */
  readonly path: string;
  /** The stub's source: ESM, `SdkPartLeftOutError` in scope. */
  readonly contents: string;
}

export const SDK_STUBS: readonly SdkStub[] = [
  {
    part: 'The adaptive retry mode',
    pkg: '@smithy/core',
    path: 'dist-es/submodules/retry/util-retry/AdaptiveRetryStrategy.js',
    contents: `export class AdaptiveRetryStrategy {
  constructor() {
    throw new SdkPartLeftOutError("The adaptive retry mode", "Lambda functions here use the standard retry mode");
  }
}`,
  },
  {
    part: 'Reading the shared config and credentials files',
    pkg: '@smithy/core',
    path: 'dist-es/submodules/config/shared-ini-file-loader/loadSharedConfigFiles.js',
    contents: `export { CONFIG_PREFIX_SEPARATOR } from "./constants";
export const loadSharedConfigFiles = async (init = {}) => {
  if (init.filepath || init.configFilepath || process.env.AWS_CONFIG_FILE || process.env.AWS_SHARED_CREDENTIALS_FILE) {
    throw new SdkPartLeftOutError("Reading the shared config and credentials files", "a Lambda function has none");
  }
  return { configFile: {}, credentialsFile: {} };
};`,
  },
  {
    part: 'The region from EC2 instance metadata',
    pkg: '@smithy/core',
    path: 'dist-es/submodules/config/config-resolver/regionConfig/getInstanceMetadataRegion.js',
    contents: `export const getInstanceMetadataRegion = async () => {
  throw new SdkPartLeftOutError("The region from EC2 instance metadata", "Lambda sets AWS_REGION");
};`,
  },
  {
    part: "S3's endpoint parameters",
    pkg: '@smithy/core',
    path: 'dist-es/submodules/endpoints/middleware-endpoint/service-customizations/s3.js',
    contents: `const noS3 = () => {
  throw new SdkPartLeftOutError("S3's endpoint parameters", "no task calls S3");
};
export const resolveParamsForS3 = async () => noS3();
export const isDnsCompatibleBucketName = noS3;
export const isArnBucketName = noS3;
export const DOT_PATTERN = /\\./;
export const S3_HOSTNAME_PATTERN = /^(.+\\.)?s3(-fips)?(\\.dualstack)?[.-]([a-z0-9-]+)\\./;`,
  },
  {
    part: 'The Node.js version warning',
    pkg: '@aws-sdk/core',
    path: 'dist-es/submodules/client/emitWarningIfUnsupportedVersion.js',
    contents: `export const state = { warningEmitted: false };
export const emitWarningIfUnsupportedVersion = (version) => {
  if (version && !state.warningEmitted && Number.parseInt(version.slice(1), 10) < 22) {
    state.warningEmitted = true;
    process.emitWarning(\`NodeVersionSupportWarning: this bundle is built for Node.js 22, running on \${version}\`);
  }
};`,
  },
  {
    part: 'SigV4a signing',
    pkg: '@aws-sdk/signature-v4-multi-region',
    path: 'dist-es/SignatureV4MultiRegion.js',
    contents: `import { signatureV4aContainer } from "@smithy/signature-v4";
import { signatureV4CrtContainer } from "./signature-v4-crt-container";
import { SignatureV4SignWithCredentials } from "./SignatureV4SignWithCredentials";
const noSigV4a = () => {
  throw new SdkPartLeftOutError("SigV4a signing", "no SigV4a implementation is bundled: the SDK refused it too");
};
export class SignatureV4MultiRegion {
  static sigv4aDependency() {
    if (typeof signatureV4CrtContainer.CrtSignerV4 === "function") return "crt";
    if (typeof signatureV4aContainer.SignatureV4a === "function") return "js";
    return "none";
  }
  constructor(options) {
    this.sigv4Signer = new SignatureV4SignWithCredentials(options);
    this.signerOptions = options;
  }
  async sign(request, options = {}) {
    return options.signingRegion === "*" ? noSigV4a() : this.sigv4Signer.sign(request, options);
  }
  async signWithCredentials(request, credentials, options = {}) {
    return options.signingRegion === "*"
      ? noSigV4a()
      : this.sigv4Signer.signWithCredentials(request, credentials, options);
  }
  async presign(request, options = {}) {
    return options.signingRegion === "*" ? noSigV4a() : this.sigv4Signer.presign(request, options);
  }
  async presignWithCredentials(request, credentials, options = {}) {
    return options.signingRegion === "*"
      ? noSigV4a()
      : this.sigv4Signer.presignWithCredentials(request, credentials, options);
  }
}`,
  },
  {
    part: "DynamoDB's endpoint-discovery cache",
    pkg: '@aws-sdk/endpoint-cache',
    path: 'dist-es/EndpointCache.js',
    contents: `const noDiscovery = () => {
  throw new SdkPartLeftOutError("DynamoDB's endpoint-discovery cache", "no command here discovers endpoints");
};
export class EndpointCache {
  getEndpoint() { return noDiscovery(); }
  get() { return noDiscovery(); }
  set() { return noDiscovery(); }
  delete() { return noDiscovery(); }
  has() { return noDiscovery(); }
  clear() { return noDiscovery(); }
}`,
  },
];

/** The names an ES module exports (`export const|let|var|class|function X`, `export { a, b as c }`). */
export function exportedNames(js: string): string[] {
  if (/^export \*/m.test(js)) throw new Error('exportedNames: `export *` is not supported');
  const names = new Set<string>();
  for (const m of js.matchAll(/^export (?:const|let|var|class|(?:async )?function\*?) (\w+)/gm)) {
    if (m[1]) names.add(m[1]);
  }
  for (const m of js.matchAll(/^export \{([^}]*)\}/gm)) {
    for (const spec of (m[1] ?? '').split(',')) {
      const name = spec
        .trim()
        .split(/\s+as\s+/)
        .pop();
      if (name) names.add(name);
    }
  }
  return [...names].sort();
}

/** esbuild's filter for the module a stub replaces: `node_modules/<pkg>/<path>`, either separator. */
export function stubFilter(stub: SdkStub): RegExp {
  const parts = ['node_modules', ...stub.pkg.split('/'), ...stub.path.split('/')];
  return new RegExp(`[\\\\/]${parts.map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('[\\\\/]')}$`);
}

/** `stub`'s source for a module whose shipped text is `original`; throws if their exports differ. */
export function stubFor(stub: SdkStub, original: string): string {
  const want = exportedNames(original).join(', ');
  const have = exportedNames(stub.contents).join(', ');
  if (want !== have) {
    throw new Error(
      `sdkUnreachedStubs: ${stub.part}: the SDK module exports ${want}, the stub ${have} (SDK changed?)`,
    );
  }
  return `import { SdkPartLeftOutError } from "${LEFT_OUT_MODULE}";\n${stub.contents}\n`;
}

export function sdkUnreachedStubs(stubs: readonly SdkStub[] = SDK_STUBS): Plugin {
  return {
    name: 'sdk-unreached-stubs',
    setup(build) {
      // The SigV4a stub relies on no SigV4a implementation being bundled (none is installed either).
      build.onResolve({ filter: /^@aws-sdk\/signature-v4(a|-crt)$/ }, (args) => ({
        errors: [
          { text: `sdkUnreachedStubs: ${args.importer} imports ${args.path}; the SigV4a stub assumes none` },
        ],
      }));
      build.onResolve({ filter: /^drift-remediation:sdk-part-left-out$/ }, (args) => ({
        path: args.path,
        namespace: 'sdk-stub',
      }));
      build.onLoad({ filter: /.*/, namespace: 'sdk-stub' }, () => ({ contents: LEFT_OUT, loader: 'js' }));
      for (const stub of stubs) {
        build.onLoad({ filter: stubFilter(stub) }, (args) => ({
          contents: stubFor(stub, readFileSync(args.path, 'utf8')),
          loader: 'js',
        }));
      }
    },
  };
}
