/**
 * SDK v3 clients, created once per process and traced. Endpoints follow the SDK's own rules, so
 * AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> point them at the sandbox with no code change.
 * Cores never call these: handlers pass clients in, tests pass mocked ones.
 */
import { CloudControlClient } from '@aws-sdk/client-cloudcontrol';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from './powertools';

const resets: Array<() => void> = [];

function once<T extends object>(make: () => T): () => T {
  let v: T | undefined;
  resets.push(() => {
    v = undefined;
  });
  return () => {
    v ??= tracer.captureAWSv3Client(make());
    return v;
  };
}

/**
 * Forgets the cached clients so the next call builds new ones from the current environment. Only the
 * sandbox needs this (it runs handlers in-process and may restart on another port); Lambda never does.
 */
export function resetClients(): void {
  for (const r of resets) r();
}

export const clients = {
  cloudFormation: once(() => new CloudFormationClient({})),
  config: once(() => new ConfigServiceClient({})),
  ssm: once(() => new SSMClient({})),
  sfn: once(() => new SFNClient({})),
  sns: once(() => new SNSClient({})),
  sqs: once(() => new SQSClient({})),
  cloudControl: once(() => new CloudControlClient({})),
  secrets: once(() => new SecretsManagerClient({})),
  dynamo: once(() =>
    DynamoDBDocumentClient.from(new DynamoDBClient({}), { marshallOptions: { removeUndefinedValues: true } }),
  ),
};
