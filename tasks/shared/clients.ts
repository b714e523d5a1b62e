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

/** The process-wide client for `key`, built by `make` on first use. */
export function cached<T extends object>(key: string, make: () => T): T {
  let v = cache.get(key) as T | undefined;
  if (!v) {
    v = make();
    cache.set(key, v);
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
  return cached('cloudFormation', () => new CloudFormationClient({ ...defaults }));
}
export function configClient(): ConfigServiceClient {
  return cached('config', () => new ConfigServiceClient({ ...defaults }));
}
export function ssmClient(): SSMClient {
  return cached('ssm', () => new SSMClient({ ...defaults }));
}
export function sfnClient(): SFNClient {
  return cached('sfn', () => new SFNClient({ ...defaults }));
}
export function snsClient(): SNSClient {
  return cached('sns', () => new SNSClient({ ...defaults }));
}
export function sqsClient(): SQSClient {
  return cached('sqs', () => new SQSClient({ ...defaults }));
}
export function cloudControlClient(): CloudControlClient {
  return cached('cloudControl', () => new CloudControlClient({ ...defaults }));
}
export function secretsClient(): SecretsManagerClient {
  return cached('secrets', () => new SecretsManagerClient({ ...defaults }));
}
