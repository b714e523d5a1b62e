/**
 * Bundled by test/infra/bundle-endpoints.test.ts (with and without the SDK plugins) and run in a fresh
 * Node process: resolves, with each SDK client a task uses, the endpoint of every region in PROBE_REGIONS
 * (a JSON array), FIPS and dual-stack each on and off, through the client's own endpoint provider (its
 * rules and the partition table), and prints each URL and its properties (auth schemes, signing region),
 * or the error's message, as one JSON line.
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
import { STSClient } from '@aws-sdk/client-sts';

type Resolve = (params: Record<string, unknown>, context: Record<string, unknown>) => unknown;
const config = { region: 'us-east-1' };
const clients: Record<string, { config: { endpointProvider: unknown } }> = {
  cloudcontrol: new CloudControlClient(config),
  cloudformation: new CloudFormationClient(config),
  config: new ConfigServiceClient(config),
  dynamodb: new DynamoDBClient(config),
  secretsmanager: new SecretsManagerClient(config),
  sfn: new SFNClient(config),
  sns: new SNSClient(config),
  sqs: new SQSClient(config),
  ssm: new SSMClient(config),
  sts: new STSClient(config),
};
const regions = JSON.parse(process.env.PROBE_REGIONS ?? '[]') as string[];

function resolved(resolve: Resolve, params: Record<string, unknown>): unknown {
  try {
    const e = resolve(params, {}) as { url: URL; properties?: unknown; headers?: unknown };
    return { url: e.url.href, properties: e.properties ?? null, headers: e.headers ?? null };
  } catch (err) {
    return { error: (err as Error).message };
  }
}

const out: Record<string, Record<string, unknown>> = {};
for (const [name, client] of Object.entries(clients)) {
  const resolve = client.config.endpointProvider as Resolve;
  const byRegion: Record<string, unknown> = {};
  for (const Region of regions)
    for (const UseFIPS of [false, true])
      for (const UseDualStack of [false, true])
        byRegion[`${Region} fips=${UseFIPS} dualstack=${UseDualStack}`] = resolved(resolve, {
          Region,
          UseFIPS,
          UseDualStack,
        });
  out[name] = byRegion;
}
console.log(JSON.stringify(out));
