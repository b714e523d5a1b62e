/**
 * Bundled by test/infra/bundle-stubs.test.ts (with and without the SDK plugins) and run in a fresh Node
 * process against the sandbox: the calls whose path goes through a module sdkUnreachedStubs replaces
 * (infra/bundling/sdk-stubs.ts) — any client (retry strategy, config files, region), STS (the
 * multi-region signer), DynamoDB (endpoint cache) — printed as one JSON line of what a caller sees: the
 * output's shape, or the error's name and message. PROBE_UNSET names environment variables to delete
 * first (the runner can only add them).
 */
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';

for (const k of (process.env.PROBE_UNSET ?? '').split(',')) if (k) delete process.env[k];
/** A rejection nobody awaited (the SDK loads some settings eagerly): recorded, not a crash. */
let unhandled: Record<string, unknown> | undefined;
process.on('unhandledRejection', (e) => {
  const err = e as Error;
  unhandled ??= { error: err.name, message: err.message, stack: err.stack?.split('\n').slice(0, 8) };
});

async function seen(call: () => Promise<unknown> | unknown): Promise<Record<string, unknown>> {
  try {
    const out = await call();
    return {
      ok: out === undefined ? 'undefined' : Object.keys(out as object).filter((k) => k !== '$metadata'),
    };
  } catch (e) {
    const err = e as Error;
    return { error: err.name, message: err.message };
  }
}

const region = process.env.AWS_REGION ?? 'us-east-1';
const ddb = new DynamoDBClient({});
const cache = (ddb.config as unknown as { endpointCache: { get(key: string): unknown } }).endpointCache;

const seenCalls = {
  sts: await seen(() => new STSClient({}).send(new GetCallerIdentityCommand({}))),
  dynamo: await seen(() => ddb.send(new ListTablesCommand({}))),
  stsSigV4aRegionSet: await seen(() =>
    new STSClient({ authSchemePreference: ['sigv4a'], sigv4aSigningRegionSet: [region] }).send(
      new GetCallerIdentityCommand({}),
    ),
  ),
  stsSigV4aAnyRegion: await seen(() =>
    new STSClient({ authSchemePreference: ['sigv4a'], sigv4aSigningRegionSet: ['*'] }).send(
      new GetCallerIdentityCommand({}),
    ),
  ),
  endpointCache: await seen(() => cache.get('probe')),
};
await new Promise((resolve) => setTimeout(resolve, 100)); // a late rejection is reported after a turn
console.log(JSON.stringify({ ...seenCalls, unhandled: unhandled ?? {} }));
