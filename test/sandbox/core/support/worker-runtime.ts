/**
 * A worker runtime for test/sandbox/core/workers.test.ts: each payload `kind` exercises one thing a
 * handler in a sandbox worker does — report where it runs and its module state, throw an error with a
 * cause chain, crash its thread, call the sandbox with a real SDK client over the worker's transport.
 */
import { isMainThread, threadId } from 'node:worker_threads';
import { CreateQueueCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { WorkerEnvironment } from '../../../../sandbox/core/workers';

let env: WorkerEnvironment | undefined;
let invocations = 0;

export function setup(e: WorkerEnvironment): void {
  env = e;
}

interface Call {
  kind: 'where' | 'throw' | 'crash' | 'sqs' | 'foreign';
  queue?: string;
}

class RootCauseError extends Error {
  override readonly name = 'RootCauseError';
  readonly Code = 'Boom';
}

function sqs(endpoint: string): SQSClient {
  const invocation = env?.invocation() as
    | { credentials: { accessKeyId: string; secretAccessKey: string } }
    | undefined;
  if (!invocation) throw new Error('an SQS client outside an invocation');
  const { credentials } = invocation;
  return new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials,
    maxAttempts: 1,
    ...(env?.requestHandler ? { requestHandler: env.requestHandler } : {}),
  });
}

export async function invoke(invocation: unknown, payload: unknown): Promise<unknown> {
  invocations++;
  const call = payload as Call;
  const { endpoint } = invocation as { endpoint: string };
  switch (call.kind) {
    case 'where':
      return { isMainThread, threadId, invocations, fromEnv: process.env.WORKERS_TEST_VALUE };
    case 'throw':
      throw new Error('handler failed', { cause: new RootCauseError('the root cause') });
    case 'crash':
      process.exit(7);
      return undefined;
    case 'sqs': {
      const client = sqs(endpoint);
      await client.send(new CreateQueueCommand({ QueueName: call.queue ?? 'from-worker' }));
      const listed = await client.send(new ListQueuesCommand({}));
      return { urls: listed.QueueUrls ?? [] };
    }
    case 'foreign':
      await sqs('http://127.0.0.2:9').send(new ListQueuesCommand({}));
      return undefined;
  }
}
