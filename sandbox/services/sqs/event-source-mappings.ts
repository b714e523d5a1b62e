/**
 * Lambda event source mappings on SQS queues: pollers that take batches from a queue, invoke an
 * in-process function with the Lambda SQS event, and delete what succeeded (honouring
 * `batchItemFailures`); what failed becomes visible again after the visibility timeout.
 */
import { randomUUID } from 'node:crypto';
import { sleepMs } from '../../core/clock';
import type { SandboxContext } from '../../core/types';
import { AwsError } from '../../core/types';
import type { Message, Queue, SqsStore } from './store';

export interface EventSourceMapping {
  uuid: string;
  queueArn: string;
  functionArn: string;
  batchSize: number;
  enabled: boolean;
  /** Concurrent batches (Lambda's maximum concurrency for SQS). */
  maxConcurrency: number;
  reportBatchItemFailures: boolean;
}

export interface MappingOptions {
  maxConcurrency?: number;
  reportBatchItemFailures?: boolean;
  enabled?: boolean;
}

/** The Lambda SQS event record for one received message. */
function sqsRecord(store: SqsStore, q: Queue, m: Message, region: string): Record<string, unknown> {
  const binary = (v: Uint8Array | string | undefined): string | undefined =>
    typeof v === 'string' ? v : v ? Buffer.from(v).toString('base64') : undefined;
  return {
    messageId: m.id,
    receiptHandle: m.receiptHandle,
    body: m.body,
    attributes: store.systemAttributes(m, q),
    messageAttributes: Object.fromEntries(
      Object.entries(m.attributes).map(([k, v]) => [
        k,
        {
          stringValue: v.StringValue,
          binaryValue: binary(v.BinaryValue),
          stringListValues: [],
          binaryListValues: [],
          dataType: v.DataType,
        },
      ]),
    ),
    md5OfBody: m.md5,
    eventSource: 'aws:sqs',
    eventSourceARN: q.arn,
    awsRegion: region,
  };
}

/** Which messages of a batch failed: the reported ones (when reporting is on and the report is valid), else all or none. */
function failedIds(mapping: EventSourceMapping, batch: Message[], result: unknown): Set<string> | 'all' {
  const failures = (result as { batchItemFailures?: { itemIdentifier?: unknown }[] } | undefined)
    ?.batchItemFailures;
  if (!mapping.reportBatchItemFailures || !Array.isArray(failures)) return new Set();
  const ids = new Set(batch.map((m) => m.id));
  const reported = failures.map((f) => f?.itemIdentifier);
  return reported.every((id) => typeof id === 'string' && ids.has(id))
    ? new Set(reported as string[])
    : 'all';
}

export class EventSourceMappings {
  private readonly mappings = new Map<string, EventSourceMapping>();
  private readonly pollers: Promise<void>[] = [];
  private busyBatches = 0;
  private sandbox: SandboxContext | undefined;
  private stopped = false;

  constructor(private readonly store: SqsStore) {}

  add(
    queueArn: string,
    functionArn: string,
    batchSize = 10,
    options: MappingOptions = {},
  ): EventSourceMapping {
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
      throw new AwsError('InvalidParameterValueException', 'BatchSize must be between 1 and 10000.');
    }
    const mapping: EventSourceMapping = {
      uuid: randomUUID(),
      queueArn,
      functionArn,
      batchSize: Math.min(batchSize, 10),
      enabled: options.enabled ?? true,
      maxConcurrency: Math.max(1, options.maxConcurrency ?? 2),
      reportBatchItemFailures: options.reportBatchItemFailures ?? true,
    };
    this.mappings.set(mapping.uuid, mapping);
    if (this.sandbox && !this.stopped) this.startPollers(this.sandbox, mapping);
    return mapping;
  }

  remove(uuid: string): void {
    this.mappings.delete(uuid);
  }

  list(): EventSourceMapping[] {
    return [...this.mappings.values()];
  }

  start(ctx: SandboxContext): void {
    this.sandbox = ctx;
    this.stopped = false;
    for (const m of this.mappings.values()) this.startPollers(ctx, m);
  }

  /** Stops polling; a batch whose function never returns must not hold the sandbox open. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.race([
      Promise.allSettled(this.pollers),
      new Promise<void>((r) => setTimeout(r, 5000).unref()),
    ]);
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Resolves when no mapping has visible messages or a batch in flight. */
  async idle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const pendingWork = (): boolean => {
      if (this.busyBatches > 0) return true;
      const t = this.store.now();
      return this.list().some(
        (m) => m.enabled && this.store.byArn(m.queueArn)?.messages.some((msg) => msg.visibleAt <= t),
      );
    };
    while (pendingWork()) {
      if (Date.now() > deadline) throw new Error('sqs: event source mappings still busy');
      await sleepMs(5);
    }
  }

  private startPollers(ctx: SandboxContext, mapping: EventSourceMapping): void {
    for (let i = 0; i < mapping.maxConcurrency; i++) this.pollers.push(this.pollLoop(ctx, mapping));
  }

  /** One batch: invoke the function, delete what succeeded. False when the queue had nothing visible. */
  private async runBatch(ctx: SandboxContext, mapping: EventSourceMapping, q: Queue): Promise<boolean> {
    const batch = this.store.take(q, mapping.batchSize, Number(q.attributes.VisibilityTimeout ?? 30));
    if (batch.length === 0) return false;
    this.busyBatches++;
    try {
      let failed: Set<string> | 'all';
      try {
        const event = { Records: batch.map((m) => sqsRecord(this.store, q, m, ctx.region)) };
        failed = failedIds(mapping, batch, await ctx.invokeFunction(mapping.functionArn, event));
      } catch (err) {
        failed = 'all';
        ctx.log(
          `sqs: ${mapping.functionArn} failed on a batch of ${batch.length} from ${q.name}: ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
        );
      }
      for (const m of batch) {
        if (failed !== 'all' && !failed.has(m.id) && m.receiptHandle)
          this.store.deleteMessage(q, m.receiptHandle);
      }
      return true;
    } finally {
      this.busyBatches--;
    }
  }

  private async pollLoop(ctx: SandboxContext, mapping: EventSourceMapping): Promise<void> {
    while (!this.stopped && this.mappings.has(mapping.uuid)) {
      const q = this.store.byArn(mapping.queueArn);
      let worked = false;
      if (q && mapping.enabled) {
        try {
          worked = await this.runBatch(ctx, mapping, q);
        } catch (err) {
          ctx.log(
            `sqs: event source mapping ${mapping.uuid} poll failed: ${err instanceof Error ? err.message : String(err)}`,
          );
        }
      }
      // wait for a send/visibility change, or re-check for expiring visibility timeouts
      if (!worked) await this.store.waitFor(q, Math.max(5, Math.min(1000, 1000 * ctx.clock.timeScale)));
    }
  }
}
