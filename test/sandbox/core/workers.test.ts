/**
 * Handlers in worker threads (sandbox/core/workers.ts): an invocation registered with the sandbox's
 * function registry runs in a worker thread with its own module state and the process's environment,
 * its real SDK client reaches the sandbox over the worker's MessagePort with the invocation's
 * credentials (and lends its runner while the service makes it wait), errors cross back with their
 * name, message, cause chain and data, a crashed worker fails its invocation as Lambda's
 * Runtime.ExitError and is replaced, a benchmark can take each worker's CPU profile, and stopping the
 * sandbox ends every thread.
 */
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../../sandbox/core/sandbox';
import { sqsService } from '../../../sandbox/services/sqs';
import { clientConfigFor } from '../helpers';

const RUNTIME = new URL('./support/worker-runtime.ts', import.meta.url).href;
const CREDENTIALS = { accessKeyId: 'AKIAWORKERTEST000000', secretAccessKey: 'worker-secret' };

let sb: Sandbox;

async function start(workers: number): Promise<Sandbox> {
  const sandbox = await startSandbox({
    port: 0,
    timeScale: 0.001,
    workers,
    services: [sqsService()],
    faults: { rules: { 'sqs:ListQueues': { latencySeconds: 400 } } },
  });
  sandbox.workers.configure(RUNTIME, {});
  sandbox.registerFunction({
    name: 'probe',
    arn: `arn:aws:lambda:${sandbox.region}:${sandbox.accountId}:function:probe`,
    env: {},
    init: () => sandbox.workers.prepare(),
    invoke: (payload) =>
      sandbox.workers.invoke({ endpoint: sandbox.endpoint, credentials: CREDENTIALS }, payload),
  });
  return sandbox;
}

beforeAll(async () => {
  sb = await start(1);
});

afterAll(async () => {
  await sb?.stop();
});

describe('task handler invocations in worker threads', () => {
  it('run in a worker thread that keeps its module state, with the process environment', async () => {
    process.env.WORKERS_TEST_VALUE = 'shared';
    const first = (await sb.functions.invoke('probe', { kind: 'where' })) as Record<string, unknown>;
    const second = (await sb.functions.invoke('probe', { kind: 'where' })) as Record<string, unknown>;
    expect(first).toMatchObject({ isMainThread: false, fromEnv: 'shared' });
    expect(second.threadId).toBe(first.threadId);
    expect(second.invocations).toBe(Number(first.invocations) + 1);
    expect(sb.workers.threads).toBe(1);
  });

  it('reach the sandbox with real SDK clients over the port, lending the runner while a call waits', async () => {
    const before = sb.callCounts().get('sqs:CreateQueue') ?? 0;
    const running = sb.functions.invoke('probe', { kind: 'sqs', queue: 'made-in-a-worker' });
    let lent = false;
    const started = Date.now();
    while (!lent && Date.now() - started < 5000) {
      // The emulated ListQueues latency (0.4 s real) is a service wait: its runner is lent meanwhile.
      lent =
        sb.functions.queued === 0 &&
        sb.functions.active === 0 &&
        (sb.callCounts().get('sqs:CreateQueue') ?? 0) > before;
      await new Promise((r) => setTimeout(r, 20));
    }
    const { urls } = (await running) as { urls: string[] };
    expect(lent).toBe(true);
    expect(urls.some((u) => u.endsWith('/made-in-a-worker'))).toBe(true);
    const outside = new SQSClient(clientConfigFor(sb));
    const seen = await outside.send(new ListQueuesCommand({ QueueNamePrefix: 'made-in' }));
    outside.destroy();
    expect(seen.QueueUrls).toEqual(urls.filter((u) => u.includes('made-in')));
  });

  it('return errors with their name, message, cause chain and data', async () => {
    const err = await sb.functions.invoke('probe', { kind: 'throw' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'Error', message: 'handler failed' });
    expect((err as Error).cause).toMatchObject({
      name: 'RootCauseError',
      message: 'the root cause',
      Code: 'Boom',
    });
  });

  it('refuse a request to any host but the sandbox', async () => {
    await expect(sb.functions.invoke('probe', { kind: 'foreign' })).rejects.toMatchObject({
      name: 'ForeignHostError',
    });
  });

  it('profile their CPU on request: one V8 profile per worker thread, of the span between start and stop', async () => {
    sb.workers.profileStart();
    for (let i = 0; i < 20; i++) await sb.functions.invoke('probe', { kind: 'where' });
    const profiles = (await sb.workers.profileStop()) as Array<{
      nodes?: Array<{ callFrame: { functionName: string } }>;
      startTime?: number;
      endTime?: number;
    }>;
    expect(profiles).toHaveLength(sb.workers.threads);
    const [p] = profiles;
    expect(p?.nodes?.some((n) => n.callFrame.functionName === '(root)')).toBe(true);
    expect(Number(p?.endTime)).toBeGreaterThan(Number(p?.startTime));
    // Stopped: a stop without a start has nothing to give.
    expect(await sb.workers.profileStop()).toEqual([{}]);
  });

  it('fail as Runtime.ExitError when the worker crashes, and the next invocation gets a new worker', async () => {
    const before = (await sb.functions.invoke('probe', { kind: 'where' })) as { threadId: number };
    await expect(sb.functions.invoke('probe', { kind: 'crash' })).rejects.toMatchObject({
      name: 'Runtime.ExitError',
      message: expect.stringContaining('exit status 7'),
    });
    const after = (await sb.functions.invoke('probe', { kind: 'where' })) as Record<string, unknown>;
    expect(after.threadId).not.toBe(before.threadId);
    expect(after.invocations).toBe(1);
  });

  it('end with the sandbox: no thread is left and later invocations fail', async () => {
    const other = await start(2);
    await Promise.all([0, 1, 2].map(() => other.functions.invoke('probe', { kind: 'where' })));
    expect(other.workers.threads).toBe(2);
    await other.stop();
    expect(other.workers.threads).toBe(0);
    await expect(other.workers.invoke({}, { kind: 'where' })).rejects.toMatchObject({
      name: 'Runtime.ExitError',
    });
  });
});
