/**
 * DynamoDB (awsJson1.0): dynalite, in memory; requests (after the sandbox's latency/fault rules) go to
 * its validations and actions in-process, already parsed (DynaliteEngine), over a plain in-memory store
 * in place of its level database (./store.ts). dynalite lacks the Time To Live APIs, which are emulated here
 * (the setting is stored and described; items are not expired), and the transaction APIs, which answer
 * UnknownOperationException like any unsupported operation. Encryption at rest with a KMS key, which
 * dynalite lacks too, is kept and enforced beside it (./encryption.ts).
 */

import { createRequire } from 'node:module';
import type { RequestContext, ServiceModule } from '../../core/types';
import { AwsError } from '../../core/types';
import { TableEncryption } from './encryption';
import { memoizeDynaliteExpressions } from './expressions';
import { createStore } from './store';
import { checkTypes } from './types';

/** dynalite's store (./store.ts in place of its level database): what its actions read and write. */
type DynaliteStore = ReturnType<typeof createStore>;

/** What dynalite's request handler runs per call: its type checks and validations, then the action. */
interface DynaliteModules {
  checkTypes(data: Record<string, unknown>, types: Record<string, unknown>): Record<string, unknown>;
  checkValidations(
    data: Record<string, unknown>,
    types: unknown,
    custom: unknown,
    store: DynaliteStore,
  ): void;
  validation(operation: string): { types: unknown; custom?: unknown };
  action(operation: string): DynaliteAction;
}

type DynaliteAction = (
  store: DynaliteStore,
  data: Record<string, unknown>,
  cb: (err: DynaliteError | null | undefined, data?: unknown) => void,
) => void;

/** dynalite's API errors: the HTTP status and the JSON body it would answer with. */
type DynaliteError = Error & {
  statusCode?: number;
  body?: { __type?: string; message?: string; Message?: string };
};

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

let modules: DynaliteModules | undefined;

/** dynalite's store, validations and actions (one module instance per process), loaded once. */
function dynaliteModules(): DynaliteModules {
  if (modules) return modules;
  const require = createRequire(createRequire(import.meta.url).resolve('dynalite'));
  const validations = require('./validations') as Pick<DynaliteModules, 'checkTypes' | 'checkValidations'>;
  const lowerFirst = (op: string) => op.charAt(0).toLowerCase() + op.slice(1);
  const loaded = new Map<
    string,
    { validation: { types: unknown; custom?: unknown }; action: DynaliteAction }
  >();
  const of = (operation: string) => {
    let m = loaded.get(operation);
    if (!m) {
      m = {
        validation: require(`./validations/${lowerFirst(operation)}`),
        action: require(`./actions/${lowerFirst(operation)}`),
      };
      loaded.set(operation, m);
    }
    return m;
  };
  modules = {
    checkTypes: (data, types) => validations.checkTypes(data, types),
    checkValidations: (data, types, custom, store) =>
      validations.checkValidations(data, types, custom, store),
    validation: (operation) => of(operation).validation,
    action: (operation) => of(operation).action,
  };
  return modules;
}

/** The DynamoDB error a dynalite API error stands for (its body's `__type` after the `#`). */
function awsErrorOf(err: DynaliteError): AwsError {
  if (!err.statusCode || !err.body) {
    return Object.assign(new AwsError('InternalServerError', `DynamoDB engine failed: ${err.message}`, 500), {
      cause: err,
    });
  }
  const type = String(err.body.__type ?? 'InternalServerError');
  const code = type.slice(type.lastIndexOf('#') + 1);
  return new AwsError(code, String(err.body.message ?? err.body.Message ?? code), err.statusCode);
}

/**
 * dynalite in this process, called the way its HTTP request handler calls it — the operation's type
 * checks and validations, then its action over the store — with the request already parsed: no
 * JSON text of the request or the answer, no CRC32 of the body, no request id, no signature header
 * parsing (this hop was a loopback HTTP request per call, then dynalite's request listener in-process).
 * The checks drop null and unknown members of the object they are given, so they get a copy of the
 * request's top level; the store (./store.ts) copies items in and out, so no answer shares objects with it.
 */
class DynaliteEngine {
  private store: DynaliteStore | undefined;
  /** Calls handed to dynalite and not answered yet: stop() waits for them before closing its store. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly createTableMs: number) {}

  async forward(operation: string, input: Record<string, unknown>): Promise<unknown> {
    const store = this.store;
    if (!store) throw new AwsError('ServiceUnavailable', 'DynamoDB engine is not running', 503);
    const pending = run(store, operation, input);
    this.inFlight.add(pending);
    return pending.finally(() => this.inFlight.delete(pending));
  }

  /** Creates dynalite's store for one account-region (its ARNs carry them). */
  async start(scope: { accountId: string; region: string }): Promise<void> {
    dynaliteModules();
    memoizeDynaliteExpressions();
    this.store = createStore(
      { createTableMs: this.createTableMs, deleteTableMs: 0, updateTableMs: 0 },
      scope,
    );
  }

  async stop(): Promise<void> {
    const store = this.store;
    this.store = undefined; // new requests are refused from here on
    // A call reaching a closed store fails: let the ones dynalite has finish.
    await Promise.race([
      Promise.allSettled([...this.inFlight]),
      new Promise((resolve) => setTimeout(resolve, 5000).unref()),
    ]);
    if (!store) return;
    await new Promise<void>((resolve) => store.db.close(() => resolve()));
  }
}

/** One call: dynalite's checks (they throw its API errors), then its action (it answers by callback). */
function run(store: DynaliteStore, operation: string, input: Record<string, unknown>): Promise<unknown> {
  const m = dynaliteModules();
  return new Promise((resolve, reject) => {
    try {
      const v = m.validation(operation);
      const data = checkTypes({ ...input }, v.types as Record<string, unknown>, m.checkTypes);
      m.checkValidations(data, v.types, v.custom, store);
      m.action(operation)(store, data, (err, answer) => {
        if (err) reject(awsErrorOf(err));
        else resolve(answer ?? {});
      });
    } catch (err) {
      reject(awsErrorOf(err as DynaliteError));
    }
  });
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
    return (await this.of(ctx)).forward(operation, input);
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
