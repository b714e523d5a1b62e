/**
 * SDK v3 clients, created once per process. Endpoints follow the SDK's own rules, so
 * AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> point them at the sandbox with no code change.
 * Cores never call these: handlers pass clients in, tests pass mocked ones.
 *
 * One function per client, so a handler's bundle holds only the clients it calls (esbuild drops the
 * functions, and the SDK packages, nobody imports): `import { sfnClient } from '../shared/clients'`.
 * The DynamoDB document client lives in dynamo-client.ts: @aws-sdk/lib-dynamodb is not marked free of
 * side effects, so importing it here would put DynamoDB into every bundle.
 */
import { CloudControlClient } from '@aws-sdk/client-cloudcontrol';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient, type SFNClientConfig } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';

const cache = new Map<string, object>();

/** Configuration every client built here starts from; empty in Lambda. */
export interface ClientDefaults {
  /** The sandbox's in-process transport (sandbox/core/transport.ts) when it runs the handlers itself. */
  requestHandler?: SFNClientConfig['requestHandler'];
}
let defaults: ClientDefaults = {};

/** The configuration new clients start from (see setClientDefaults). */
export function clientDefaults(): ClientDefaults {
  return defaults;
}

/** Sets the configuration every client built from now on starts from, and forgets the cached ones. Sandbox only. */
export function setClientDefaults(next: ClientDefaults): void {
  defaults = { ...next };
  cache.clear();
}

/** What `make` passes to a client constructor: the defaults, plus the sandbox's per-invocation credentials. */
export interface ClientConfig extends ClientDefaults {
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

type CredentialHook = () => ClientConfig['credentials'] | undefined;
let credentialHook: CredentialHook | undefined;

/**
 * Sandbox only: the credentials of the invocation running now. Lambda gives each function its execution
 * role's credentials through the environment; the sandbox runs every handler in one process, so it sets
 * a hook that reads the current invocation's role session, and clients are cached per access key.
 */
export function setCredentialHook(hook: CredentialHook | undefined): void {
  credentialHook = hook;
  cache.clear();
}

/** The property V8 looks up (and never finds) through the object it is asked to lay out anew. */
const probe = (o: Record<string, unknown>): unknown => o.__fastPropertiesProbe;

/**
 * Gives `o` fast (in-object, shape-described) properties again, in place. V8 keeps an object that had
 * many properties added one at a time — an SDK client's resolved config: ~45-50, added by each resolve
 * step's Object.assign — as a hash table, and copying one takes ~35 µs where a fast one takes ~3 µs. The
 * SDK copies its client's config three times per call (`{ ...config }` in the endpoint middleware,
 * `{ ...config, ...context }` in the schema serializer and deserializer), so this is ~100 µs per call.
 * Making the object a prototype and looking a property up through it (with inline-cache feedback, hence
 * the repeated calls) makes V8 lay it out fast (JSObject::OptimizeAsPrototype; the to-fast-properties
 * technique). Same object, same properties and values: only the engine's layout changes.
 */
export function withFastProperties<T extends object>(o: T): T {
  const child = Object.create(o) as Record<string, unknown>;
  for (let i = 0; i < 12; i++) probe(child);
  return o;
}

/**
 * What every client built here but DynamoDB's is given on top of `c`: `cacheMiddleware`, the SDK's opt-in
 * handler cache — each command's middleware stack is resolved once per client and command class instead
 * of on every call (~40 µs a call; smithy-typescript#1383; the cached handler still reads the live client
 * config). The DynamoDB document client refuses it (it shares its client's middleware stack), so
 * dynamo-client.ts does without.
 */
export function withHandlerCache<C extends object>(c: C): C & { cacheMiddleware: true } {
  return { ...c, cacheMiddleware: true };
}

/** The process-wide client for `key` (per access key under the sandbox's hook), built by `make` on first use. */
export function cached<T extends object>(key: string, make: (config: ClientConfig) => T): T {
  const credentials = credentialHook?.();
  const k = credentials ? `${key} ${credentials.accessKeyId}` : key;
  let v = cache.get(k) as T | undefined;
  if (!v) {
    v = make(credentials ? { ...defaults, credentials } : { ...defaults });
    // An SDK client (or the DynamoDB document client, which shares its client's config object).
    const { config } = v as { config?: unknown };
    if (typeof config === 'object' && config !== null) withFastProperties(config);
    cache.set(k, v);
  }
  return v;
}

/**
 * Forgets the cached clients and the defaults so the next call builds plain ones from the current
 * environment. Only the sandbox and tests need this (handlers run in-process, sandboxes restart on other
 * ports); Lambda never does.
 */
export function resetClients(): void {
  defaults = {};
  cache.clear();
}

export function cloudFormationClient(): CloudFormationClient {
  return cached('cloudFormation', (c) => new CloudFormationClient(withHandlerCache(c)));
}
export function configClient(): ConfigServiceClient {
  return cached('config', (c) => new ConfigServiceClient(withHandlerCache(c)));
}
export function ssmClient(): SSMClient {
  return cached('ssm', (c) => new SSMClient(withHandlerCache(c)));
}
export function sfnClient(): SFNClient {
  return cached('sfn', (c) => new SFNClient(withHandlerCache(c)));
}
export function snsClient(): SNSClient {
  return cached('sns', (c) => new SNSClient(withHandlerCache(c)));
}
export function sqsClient(): SQSClient {
  return cached('sqs', (c) => new SQSClient(withHandlerCache(c)));
}
export function cloudControlClient(): CloudControlClient {
  return cached('cloudControl', (c) => new CloudControlClient(withHandlerCache(c)));
}
export function secretsClient(): SecretsManagerClient {
  return cached('secrets', (c) => new SecretsManagerClient(withHandlerCache(c)));
}
