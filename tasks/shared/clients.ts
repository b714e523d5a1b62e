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
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';

const cache = new Map<string, object>();

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
 * Forgets the cached clients so the next call builds new ones from the current environment. Only the
 * sandbox needs this (it runs handlers in-process and may restart on another port); Lambda never does.
 */
export function resetClients(): void {
  cache.clear();
}

export function cloudFormationClient(): CloudFormationClient {
  return cached('cloudFormation', () => new CloudFormationClient({}));
}
export function configClient(): ConfigServiceClient {
  return cached('config', () => new ConfigServiceClient({}));
}
export function ssmClient(): SSMClient {
  return cached('ssm', () => new SSMClient({}));
}
export function sfnClient(): SFNClient {
  return cached('sfn', () => new SFNClient({}));
}
export function snsClient(): SNSClient {
  return cached('sns', () => new SNSClient({}));
}
export function sqsClient(): SQSClient {
  return cached('sqs', () => new SQSClient({}));
}
export function cloudControlClient(): CloudControlClient {
  return cached('cloudControl', () => new CloudControlClient({}));
}
export function secretsClient(): SecretsManagerClient {
  return cached('secrets', () => new SecretsManagerClient({}));
}
