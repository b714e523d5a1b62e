/**
 * The process-wide SDK clients (tasks/shared/clients.ts): built once per key, and with their resolved
 * config laid out with fast properties (the SDK copies it three times per call). V8's own predicate
 * (%HasFastProperties, natives syntax enabled for this process) tells the layouts apart.
 */
import 'aws-sdk-client-mock-vitest/extend';
import { setFlagsFromString } from 'node:v8';
import { SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { cloudFormationIn, configIn, ssmIn } from '../../../tasks/shared/accounts';
import * as clients from '../../../tasks/shared/clients';
import { cached, resetClients, sfnClient, withFastProperties } from '../../../tasks/shared/clients';
import { dynamoClient } from '../../../tasks/shared/dynamo-client';

setFlagsFromString('--allow-natives-syntax');
// Compiled after the flag is set, so the natives call parses.
const hasFastProperties = new Function('o', 'return %HasFastProperties(o)') as (o: object) => boolean;

afterEach(() => resetClients());

describe('process-wide clients', () => {
  it('are built once per key', () => {
    const a = cached('sfn-test', (c) => new SFNClient({ ...c, region: 'us-east-1' }));
    expect(cached('sfn-test', () => new SFNClient({}))).toBe(a);
    expect(sfnClient()).toBe(sfnClient());
  });

  it("lay out the SDK's dictionary-mode config with fast properties, same object, same values", async () => {
    const plain = new SFNClient({ region: 'eu-west-1' });
    // The premise: the SDK's resolve steps leave the config as a hash table.
    expect(hasFastProperties(plain.config)).toBe(false);
    const before = Object.entries(plain.config);
    const config = plain.config;
    expect(withFastProperties(plain.config)).toBe(config);
    expect(hasFastProperties(plain.config)).toBe(true);
    expect(Object.entries(plain.config)).toEqual(before);
    expect(await plain.config.region()).toBe('eu-west-1');
  });

  it('built by cached(), the document client included, have fast configs and still send', async () => {
    expect(hasFastProperties(sfnClient().config)).toBe(true);
    expect(hasFastProperties(dynamoClient().config)).toBe(true);
    const sfn = mockClient(SFNClient);
    sfn.on(SendTaskSuccessCommand).resolves({});
    try {
      await sfnClient().send(new SendTaskSuccessCommand({ taskToken: 't', output: '{}' }));
      expect(sfn).toHaveReceivedCommandWith(SendTaskSuccessCommand, { taskToken: 't' });
    } finally {
      sfn.restore();
    }
  });

  it("cache each command's resolved middleware (every client but the DynamoDB document client, which refuses it)", () => {
    const built = [
      clients.cloudFormationClient(),
      clients.configClient(),
      clients.ssmClient(),
      clients.sfnClient(),
      clients.snsClient(),
      clients.sqsClient(),
      clients.cloudControlClient(),
      clients.secretsClient(),
      cloudFormationIn({ awsAccountId: '', awsRegion: 'eu-west-1' }),
      configIn({ awsAccountId: '', awsRegion: 'eu-west-1' }),
      ssmIn({ awsAccountId: '', awsRegion: 'eu-west-1' }),
    ];
    for (const c of built) expect(c.config.cacheMiddleware).toBe(true);
    expect(dynamoClient().config.cacheMiddleware).not.toBe(true);
  });
});
