/**
 * `drift-remediation sandbox serve` prints how to point both new and old AWS CLIs at it
 * (AWS_ENDPOINT_URL for clients that read it, `--endpoint-url` for those that ignore it, such as
 * Debian's awscli 2.9), and the endpoint it prints answers both SQS protocols.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { CreateQueueCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, describe, expect, it } from 'vitest';
import { TEST_CREDENTIALS } from './helpers';

const ROOT = join(import.meta.dirname, '..', '..');
let child: ChildProcess | undefined;

afterAll(() => {
  child?.kill('SIGTERM');
});

/** Starts `sandbox serve` without the stack on a free port and collects stdout until the hints are out. */
function serve(): Promise<string> {
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', 'sandbox/cli.ts', 'sandbox', 'serve', '--no-install', '--port', '0'],
    {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child = proc;
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      if (out.includes('--endpoint-url')) resolve(out);
    });
    proc.on('exit', (code) =>
      reject(new Error(`sandbox serve exited (${code}) before printing its hints:\n${out}`)),
    );
  });
}

describe('sandbox serve', () => {
  it('prints AWS_ENDPOINT_URL for new clients and --endpoint-url for old ones, and both protocols answer there', async () => {
    const out = await serve();
    const endpoint = /sandbox listening on (http:\/\/\S+)/.exec(out)?.[1];
    expect(endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(out).toContain(`export AWS_ENDPOINT_URL=${endpoint}`);
    expect(out).toContain(`aws --endpoint-url ${endpoint} sqs list-queues`);
    expect(out).toMatch(/AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test/);

    // a current SDK (awsJson) at the printed endpoint
    const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'printed' }));
    expect(QueueUrl).toBe(`${endpoint}/queue/us-east-1/000000000000/printed`);
    // an old client's awsQuery form post at the same endpoint
    const date = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
    const res = await fetch(`${endpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `AWS4-HMAC-SHA256 Credential=test/${date.slice(0, 8)}/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=${'0'.repeat(64)}`,
      },
      body: 'Action=ListQueues&Version=2012-11-05',
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toContain(`<QueueUrl>${QueueUrl}</QueueUrl>`);
  }, 90_000);
});
