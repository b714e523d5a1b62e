import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { createClock } from '../../../sandbox/core/clock';
import { FaultInjector, loadFaultConfig, parseFaultConfig, seededRandom } from '../../../sandbox/core/faults';
import { startSandbox } from '../../../sandbox/core/sandbox';
import { secretsManagerService } from '../../../sandbox/services/secretsmanager';
import { sqsService } from '../../../sandbox/services/sqs';
import { clientConfigFor } from '../helpers';

describe('clock', () => {
  it('scales emulated seconds: timeScale 0.01 makes 30 s take ~300 ms', async () => {
    const clock = createClock(0.01);
    const t0 = Date.now();
    await clock.sleep(30);
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(295);
    expect(elapsed).toBeLessThan(2000);
  });

  it('advances now() at the emulated rate', async () => {
    const clock = createClock(0.01, new Date('2026-01-01T00:00:00Z'));
    await new Promise((r) => setTimeout(r, 50));
    const emulated = clock.now().getTime() - Date.parse('2026-01-01T00:00:00Z');
    expect(emulated).toBeGreaterThanOrEqual(4900); // ≥ 50 ms real × 100
  });

  it('rejects a negative time scale and honours abort signals', async () => {
    expect(() => createClock(-1)).toThrow(/timeScale/);
    const controller = new AbortController();
    const sleeping = createClock(1).sleep(60, controller.signal);
    controller.abort(new Error('stopped'));
    await expect(sleeping).rejects.toThrow('stopped');
  });
});

describe('fault rules', () => {
  it('picks the most specific matching rule', () => {
    const f = new FaultInjector({
      rules: {
        '*': { latencySeconds: 1 },
        'ssm:*': { latencySeconds: 2 },
        'ssm:StartAutomationExecution': { latencySeconds: 3 },
        '*:Describe*': { latencySeconds: 4 },
      },
    });
    expect(f.ruleFor('ssm', 'StartAutomationExecution')?.latencySeconds).toBe(3);
    expect(f.ruleFor('ssm', 'GetDocument')?.latencySeconds).toBe(2);
    expect(f.ruleFor('ec2', 'DescribeSecurityGroups')?.latencySeconds).toBe(4);
    expect(f.ruleFor('s3', 'GetBucketEncryption')?.latencySeconds).toBe(1);
  });

  it('is deterministic for a seed', () => {
    const a = seededRandom(7);
    const b = seededRandom(7);
    const seqA = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(seqA);
    expect(seqA.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('validates rates and reads a config file', () => {
    expect(() => parseFaultConfig({ rules: { 'ssm:*': { throttleRate: 2 } } })).toThrow(/between 0 and 1/);
    const dir = mkdtempSync(join(tmpdir(), 'faults-'));
    const path = join(dir, 'faults.json');
    writeFileSync(path, JSON.stringify({ seed: 3, rules: { 'sqs:*': { throttleRate: 0.5 } } }));
    expect(loadFaultConfig(path)).toEqual({ seed: 3, rules: { 'sqs:*': { throttleRate: 0.5 } } });
  });
});

describe('fault injection through the endpoint', () => {
  it('throttles at the configured rate with the service’s throttling error, typed in the SDK', async () => {
    const sandbox = await startSandbox({
      port: 0,
      services: [sqsService()],
      faults: { seed: 1, rules: { 'sqs:GetQueueUrl': { throttleRate: 0.3 } } },
      timeScale: 0,
    });
    try {
      const client = new SQSClient(clientConfigFor(sandbox));
      let throttled = 0;
      let other = 0;
      const n = 200;
      for (let i = 0; i < n; i++) {
        const err = await client.send(new GetQueueUrlCommand({ QueueName: 'none' })).catch((e: unknown) => e);
        if (err instanceof Error && err.name === 'RequestThrottled') throttled++;
        else if (err instanceof Error && err.name === 'QueueDoesNotExist') other++;
      }
      expect(throttled + other).toBe(n);
      expect(throttled / n).toBeGreaterThan(0.2);
      expect(throttled / n).toBeLessThan(0.4);
      expect(sandbox.faults.injected.get('sqs:GetQueueUrl')).toBe(throttled);
    } finally {
      await sandbox.stop();
    }
  });

  it('injects configured errors and scaled latency', async () => {
    const sandbox = await startSandbox({
      port: 0,
      services: [secretsManagerService()],
      timeScale: 0.01,
      faults: {
        rules: {
          'secretsmanager:CreateSecret': { latencySeconds: 20 },
          'secretsmanager:GetSecretValue': {
            errorRate: 1,
            errorCode: 'InternalServiceError',
            errorStatus: 500,
          },
        },
      },
    });
    try {
      const client = new SecretsManagerClient(clientConfigFor(sandbox));
      const t0 = Date.now();
      await client.send(new CreateSecretCommand({ Name: 'slow', SecretString: 'x' }));
      const elapsed = Date.now() - t0;
      expect(elapsed).toBeGreaterThanOrEqual(195); // 20 emulated s × 0.01
      expect(elapsed).toBeLessThan(3000);
      await expect(client.send(new GetSecretValueCommand({ SecretId: 'slow' }))).rejects.toMatchObject({
        name: 'InternalServiceError',
        $metadata: { httpStatusCode: 500 },
      });
      // faults also apply to in-process calls (aws:executeAwsApi)
      await expect(
        sandbox.context.call('secretsmanager', 'GetSecretValue', { SecretId: 'slow' }),
      ).rejects.toMatchObject({
        code: 'InternalServiceError',
      });
    } finally {
      await sandbox.stop();
    }
  });
});

describe('sandbox assembly', () => {
  it('calls services in-process by SDK service name, and rejects unknown ones', async () => {
    const sandbox = await startSandbox({ port: 0, services: [secretsManagerService()], timeScale: 0 });
    try {
      await sandbox.context.call('secretsmanager', 'CreateSecret', { Name: 'inproc', SecretString: 'v' });
      const out = await sandbox.context.call('SecretsManager', 'GetSecretValue', { SecretId: 'inproc' });
      expect(out.SecretString).toBe('v');
      await expect(sandbox.context.call('nope', 'X', {})).rejects.toMatchObject({
        code: 'UnknownServiceException',
      });
      await expect(sandbox.context.call('secretsmanager', 'Nope', {})).rejects.toMatchObject({
        code: 'UnknownOperationException',
      });
    } finally {
      await sandbox.stop();
    }
  });

  it('invokes registered functions by name or ARN and reports unknown ones', async () => {
    const sandbox = await startSandbox({ port: 0, timeScale: 0 });
    try {
      sandbox.registerFunction({
        name: 'echo',
        arn: 'arn:aws:lambda:us-east-1:000000000000:function:echo',
        env: {},
        invoke: async (payload) => ({ echoed: payload }),
      });
      expect(await sandbox.context.invokeFunction('echo', 1)).toEqual({ echoed: 1 });
      expect(
        await sandbox.context.invokeFunction(
          'arn:aws:lambda:us-east-1:000000000000:function:echo:$LATEST',
          2,
        ),
      ).toEqual({
        echoed: 2,
      });
      await expect(sandbox.context.invokeFunction('missing', {})).rejects.toMatchObject({
        code: 'ResourceNotFoundException',
      });
    } finally {
      await sandbox.stop();
    }
  });

  it('logs one line per request when asked', async () => {
    const lines: string[] = [];
    const sandbox = await startSandbox({
      port: 0,
      services: [sqsService()],
      timeScale: 0,
      logRequests: true,
      onLog: (l) => lines.push(l),
    });
    try {
      const client = new SQSClient(clientConfigFor(sandbox));
      await client.send(new GetQueueUrlCommand({ QueueName: 'none' })).catch(() => undefined);
      expect(lines).toEqual([expect.stringMatching(/^http: POST sqs:GetQueueUrl 400 \d+ ms$/)]);
      expect(sandbox.logs).toEqual(lines);
    } finally {
      await sandbox.stop();
    }
  });

  it('fans out recordChange to listeners until they unsubscribe', async () => {
    const sandbox = await startSandbox({ port: 0, timeScale: 0 });
    try {
      const seen: string[] = [];
      const off = sandbox.context.onChange((c) => seen.push(`${c.kind}:${c.resourceId}`));
      sandbox.context.recordChange({ resourceType: 'AWS::S3::Bucket', resourceId: 'b1', kind: 'updated' });
      off();
      sandbox.context.recordChange({ resourceType: 'AWS::S3::Bucket', resourceId: 'b2', kind: 'updated' });
      expect(seen).toEqual(['updated:b1']);
    } finally {
      await sandbox.stop();
    }
  });
});
