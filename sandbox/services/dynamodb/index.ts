/**
 * DynamoDB (awsJson1.0): dynalite, in memory; requests (after the sandbox's latency/fault rules) are
 * handed to its request listener in-process. dynalite lacks the Time To Live APIs, which are emulated here
 * (the setting is stored and described; items are not expired), and the transaction APIs, which answer
 * UnknownOperationException like any unsupported operation. Encryption at rest with a KMS key, which
 * dynalite lacks too, is kept and enforced beside it (./encryption.ts).
 */

import { EventEmitter } from 'node:events';
import type { Server } from 'node:http';
import { createRequire } from 'node:module';
import type { RequestContext, ServiceModule } from '../../core/types';
import { AwsError } from '../../core/types';
import { TableEncryption } from './encryption';
import { memoizeDynaliteExpressions } from './expressions';

type DynaliteFactory = (options: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  maxItemSizeKb?: number;
}) => Server;

const PROXIED = [
  'BatchGetItem',
  'BatchWriteItem',
  'CreateTable',
  'DeleteItem',
  'DeleteTable',
  'DescribeTable',
  'GetItem',
  'ListTables',
  'PutItem',
  'Query',
  'Scan',
  'UpdateItem',
  'UpdateTable',
  'TagResource',
  'UntagResource',
  'ListTagsOfResource',
] as const;

/** The calls that read or write items: the table's KMS key must be usable (./encryption.ts). */
const ITEM_OPERATIONS = [
  'BatchGetItem',
  'BatchWriteItem',
  'DeleteItem',
  'GetItem',
  'PutItem',
  'Query',
  'Scan',
  'UpdateItem',
] as const;

type RequestListener = (req: EventEmitter, res: unknown) => void;

/**
 * One request to dynalite's own request listener, in-process: no socket, no HTTP parsing on either
 * side (this hop used to be a loopback HTTP request per DynamoDB call). dynalite reads the request as
 * a stream of `data` / `end` events and answers through statusCode / setHeader / end, which is all the
 * fake request and response below provide; it runs the same validations and actions as over HTTP.
 */
function post(
  listener: RequestListener,
  target: string,
  body: string,
  region: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = Object.assign(new EventEmitter(), {
      method: 'POST',
      url: '/',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `DynamoDB_20120810.${target}`,
        'x-amz-date': AMZ_DATE,
        authorization: `AWS4-HMAC-SHA256 Credential=AKIASANDBOX/20200101/${region}/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000`,
      },
    });
    const res = {
      statusCode: 200,
      contentType: '',
      setHeader(): void {},
      end(text?: string): void {
        resolve({ status: res.statusCode, text: text ?? '' });
      },
    };
    try {
      listener(req, res);
      req.emit('data', Buffer.from(body));
      req.emit('end');
    } catch (err) {
      reject(err);
    }
  });
}

/** dynalite only checks that a date header is present. */
const AMZ_DATE = '20200101T000000Z';

/** The DynamoDB error dynalite's answer stands for, or the parsed body of a success. */
function answerOf(res: { status: number; text: string }): Record<string, unknown> {
  let body: Record<string, unknown> = {};
  if (res.text) {
    try {
      body = JSON.parse(res.text) as Record<string, unknown>;
    } catch {
      throw new AwsError(
        'InternalServerError',
        `DynamoDB engine answered ${res.status} with a non-JSON body`,
        500,
      );
    }
  }
  if (res.status >= 400) {
    const type = String(body.__type ?? 'InternalServerError');
    const code = type.slice(type.lastIndexOf('#') + 1);
    throw new AwsError(code, String(body.message ?? body.Message ?? code), res.status);
  }
  return body;
}

/** dynalite in this process: its server (for its lifecycle) and request listener (for the requests). */
class DynaliteEngine {
  private server: Server | undefined;
  private listener: RequestListener | undefined;
  /** Requests handed to dynalite and not answered yet: stop() waits for them before closing its store. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly createTableMs: number) {}

  async forward(operation: string, input: Record<string, unknown>, ctx: RequestContext): Promise<unknown> {
    if (!this.listener) throw new AwsError('ServiceUnavailable', 'DynamoDB engine is not running', 503);
    const pending = post(this.listener, operation, JSON.stringify(input), ctx.region);
    this.inFlight.add(pending);
    return answerOf(await pending.finally(() => this.inFlight.delete(pending)));
  }

  /** Starts dynalite for one account-region (its ARNs carry them: dynalite reads both from the environment). */
  async start(scope: { accountId: string; region: string }): Promise<void> {
    const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;
    memoizeDynaliteExpressions();
    const saved = { account: process.env.AWS_ACCOUNT_ID, region: process.env.AWS_REGION };
    process.env.AWS_ACCOUNT_ID = scope.accountId;
    process.env.AWS_REGION = scope.region;
    let s: Server;
    try {
      s = dynalite({ createTableMs: this.createTableMs, deleteTableMs: 0, updateTableMs: 0 });
    } finally {
      restoreEnv('AWS_ACCOUNT_ID', saved.account);
      restoreEnv('AWS_REGION', saved.region);
    }
    // Listening on loopback is kept for dynalite's lifecycle (close() shuts its store down); requests
    // go straight to its request listener.
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.listen(0, '127.0.0.1', () => {
        s.off('error', reject);
        resolve();
      });
    });
    this.listener = s.listeners('request')[0] as RequestListener | undefined;
    if (!this.listener) throw new Error('dynalite has no request listener');
    this.server = s;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.listener = undefined; // new requests are refused from here on
    // dynalite throws (uncaught) when a request reaches its closed store: let the ones it has finish.
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => setTimeout(resolve, 5000).unref()),
    ]);
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections?.();
    });
  }
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/**
 * One dynalite per account-region, so two accounts' or regions' tables of one name are two tables: the
 * home one started with the sandbox, any other on its first request (an account-region that never uses
 * DynamoDB costs nothing).
 */
class DynaliteEngines {
  private readonly engines = new Map<string, Promise<DynaliteEngine>>();
  private stopped = false;

  constructor(private readonly createTableMs: number) {}

  of(scope: { accountId: string; region: string }): Promise<DynaliteEngine> {
    const key = `${scope.accountId}/${scope.region}`;
    let e = this.engines.get(key);
    if (!e) {
      if (this.stopped) throw new AwsError('ServiceUnavailable', 'DynamoDB engine is not running', 503);
      const engine = new DynaliteEngine(this.createTableMs);
      e = engine.start(scope).then(() => engine);
      this.engines.set(key, e);
    }
    return e;
  }

  async forward(operation: string, input: Record<string, unknown>, ctx: RequestContext): Promise<unknown> {
    return (await this.of(ctx)).forward(operation, input, ctx);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const all = await Promise.allSettled([...this.engines.values()]);
    await Promise.all(all.map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)));
  }
}

/** TTL settings by `ACCOUNT/REGION/TABLE`. */
type TtlSpecs = Map<string, { AttributeName: string; Enabled: boolean }>;
const ttlKey = (ctx: RequestContext, table: string) => `${ctx.accountId}/${ctx.region}/${table}`;

/** The table the request names (ResourceNotFoundException from dynalite when it does not exist). */
async function requireTable(
  engine: DynaliteEngines,
  input: Record<string, unknown>,
  ctx: RequestContext,
): Promise<string> {
  const name = input.TableName;
  if (typeof name !== 'string' || !name) {
    throw new AwsError(
      'ValidationException',
      "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
    );
  }
  await engine.forward('DescribeTable', { TableName: name }, ctx);
  return name;
}

/** UpdateTimeToLive, which dynalite lacks: the setting is stored (items never expire, docs/architecture.md). */
async function updateTimeToLive(
  engine: DynaliteEngines,
  ttl: TtlSpecs,
  input: Record<string, unknown>,
  ctx: RequestContext,
) {
  const name = await requireTable(engine, input, ctx);
  const spec = input.TimeToLiveSpecification as { AttributeName?: unknown; Enabled?: unknown } | undefined;
  if (
    !spec ||
    typeof spec.AttributeName !== 'string' ||
    !spec.AttributeName ||
    typeof spec.Enabled !== 'boolean'
  ) {
    throw new AwsError('ValidationException', 'TimeToLiveSpecification must have AttributeName and Enabled.');
  }
  const current = ttl.get(ttlKey(ctx, name));
  if (current && current.Enabled === spec.Enabled) {
    throw new AwsError(
      'ValidationException',
      `TimeToLive is already ${spec.Enabled ? 'enabled' : 'disabled'}`,
    );
  }
  ttl.set(ttlKey(ctx, name), { AttributeName: spec.AttributeName, Enabled: spec.Enabled });
  return { TimeToLiveSpecification: { AttributeName: spec.AttributeName, Enabled: spec.Enabled } };
}

async function describeTimeToLive(
  engine: DynaliteEngines,
  ttl: TtlSpecs,
  input: Record<string, unknown>,
  ctx: RequestContext,
) {
  const t = ttl.get(ttlKey(ctx, await requireTable(engine, input, ctx)));
  return {
    TimeToLiveDescription: t?.Enabled
      ? { TimeToLiveStatus: 'ENABLED', AttributeName: t.AttributeName }
      : { TimeToLiveStatus: 'DISABLED' },
  };
}

export function dynamoDbService(options: { createTableMs?: number } = {}): ServiceModule {
  const engine = new DynaliteEngines(options.createTableMs ?? 0);
  const ttl: TtlSpecs = new Map();
  const sse = new TableEncryption();
  const operations: ServiceModule['operations'] = {};
  for (const op of PROXIED) operations[op] = (input, ctx) => engine.forward(op, input, ctx);
  for (const op of ITEM_OPERATIONS)
    operations[op] = async (input, ctx) => {
      await sse.requireAccessible(input, ctx);
      return engine.forward(op, input, ctx);
    };
  for (const op of ['CreateTable', 'UpdateTable'] as const)
    operations[op] = (input, ctx) => sse.configure(input, ctx, () => engine.forward(op, input, ctx));
  operations.DescribeTable = async (input, ctx) =>
    sse.described(
      (await engine.forward('DescribeTable', input, ctx)) as Record<string, unknown>,
      'Table',
      ctx,
      String(input.TableName),
    );
  operations.DeleteTable = async (input, ctx) => {
    const out = await engine.forward('DeleteTable', input, ctx);
    sse.forget(ctx, input.TableName);
    return out;
  };
  operations.UpdateTimeToLive = (input, ctx) => updateTimeToLive(engine, ttl, input, ctx);
  operations.DescribeTimeToLive = (input, ctx) => describeTimeToLive(engine, ttl, input, ctx);
  return {
    serviceName: 'dynamodb',
    signingName: 'dynamodb',
    protocol: 'awsJson1_0',
    targetPrefix: 'DynamoDB_20120810',
    operations,
    start: async (ctx) => {
      await engine.of(ctx);
    },
    stop: () => engine.stop(),
  };
}
