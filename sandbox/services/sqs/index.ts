/**
 * SQS: standard and FIFO queues, visibility timeouts, delays, long polling on the sandbox clock,
 * RedrivePolicy (→ DLQ after maxReceiveCount), and Lambda event source mappings that poll a queue and
 * invoke an in-process function with the Lambda SQS event, honouring `batchItemFailures`.
 *
 * Wire protocols: awsJson1.0 with the awsQueryCompatible error codes (current SDKs and CLIs), and
 * awsQuery (`Action=SendMessage&…` form posts answered in XML: older SDKs and CLIs such as Debian's
 * awscli 2.9); the server decodes both into the same SDK-shaped input.
 *
 * Layout (moto's shape): store.ts (the model), operations.ts (one function per API operation),
 * attributes.ts (validation), errors.ts, event-source-mappings.ts.
 */
import { randomUUID } from 'node:crypto';
import { serviceModule } from '../../core/sandbox';
import { registerTargetHandler } from '../../core/targets';
import type { SandboxContext, ServiceModule } from '../../core/types';
import { QUERY_CODES, queueDoesNotExist } from './errors';
import { type EventSourceMapping, EventSourceMappings, type MappingOptions } from './event-source-mappings';
import { sqsOperations } from './operations';
import { SqsStore } from './store';

export type { EventSourceMapping } from './event-source-mappings';

export interface SqsService extends ServiceModule {
  addEventSourceMapping(
    queueArn: string,
    functionArn: string,
    batchSize?: number,
    options?: MappingOptions,
  ): EventSourceMapping;
  removeEventSourceMapping(uuid: string): void;
  listEventSourceMappings(): EventSourceMapping[];
  /** Resolves when no event source mapping has visible messages or a batch in flight. */
  idle(timeoutMs?: number): Promise<void>;
  /** Messages currently held by a queue (its ARN, or its name in the home account-region), for tests and the CLI. */
  peek(queue: string): { body: string; receiveCount: number; inFlight: boolean }[];
}

/** EventBridge/SNS targets deliver to a queue as a plain send (FIFO: group `default`, a fresh dedup id). */
function registerQueueTarget(ctx: SandboxContext, store: SqsStore): void {
  registerTargetHandler(ctx, 'sqs', async (arn, message) => {
    const q = store.byArn(arn);
    if (!q) throw queueDoesNotExist(`Target queue ${arn} does not exist.`);
    const fifo = q.fifo ? { groupId: 'default', dedupId: randomUUID() } : {};
    store.send(q, message, {}, fifo);
  });
}

export function sqsService(): SqsService {
  const store = new SqsStore();
  const mappings = new EventSourceMappings(store);
  return {
    serviceName: 'sqs',
    signingName: 'sqs',
    protocol: 'awsJson1_0',
    targetPrefix: 'AmazonSQS',
    xmlNamespace: 'http://queue.amazonaws.com/doc/2012-11-05/',
    awsQueryCompatible: QUERY_CODES,
    operations: sqsOperations({ store, stopped: () => mappings.isStopped }),
    start(ctx) {
      store.sandbox = ctx;
      registerQueueTarget(ctx, store);
      mappings.start(ctx);
    },
    async stop() {
      const stopping = mappings.stop();
      for (const q of store.queues.values()) store.wake(q);
      await stopping;
    },
    addEventSourceMapping: (queueArn, functionArn, batchSize, options) =>
      mappings.add(queueArn, functionArn, batchSize, options),
    removeEventSourceMapping: (uuid) => mappings.remove(uuid),
    listEventSourceMappings: () => mappings.list(),
    idle: (timeoutMs) => mappings.idle(timeoutMs),
    peek(queue) {
      const home = store.sandbox;
      const q = queue.startsWith('arn:') ? store.byArn(queue) : home ? store.find(home, queue) : undefined;
      const t = store.now();
      return (q?.messages ?? []).map((m) => ({
        body: m.body,
        receiveCount: m.receiveCount,
        inFlight: m.visibleAt > t && m.receiveCount > 0,
      }));
    },
  };
}

/** The sandbox's SQS module (for the installer / Lambda CreateEventSourceMapping). */
export function sqsOf(ctx: SandboxContext): SqsService | undefined {
  const m = serviceModule(ctx, 'sqs');
  return m && 'addEventSourceMapping' in m ? (m as SqsService) : undefined;
}
