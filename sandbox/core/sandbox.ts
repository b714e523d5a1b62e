/**
 * Assembles a sandbox: the endpoint, the service modules, resource providers, the clock, faults, the
 * function registry and the in-process SandboxContext that modules use to reach each other.
 */
import { randomUUID } from 'node:crypto';
import type { HttpHandler } from '@smithy/core/protocols';
import { accountOf, asService, authorize, currentCaller, principalForKey } from './authz';
import { mayChangeResources, noteChange, serviceOfType } from './changes';
import { createClock } from './clock';
import { type CloudTrailOptions, callIdentity, configureCloudTrail, observed } from './cloudtrail';
import type { FaultConfig } from './faults';
import { FaultInjector, loadFaultConfig } from './faults';
import type { FunctionRegistry, SandboxFunction } from './functions';
import { functionRegistry } from './functions';
import type { HttpRouteHandler, RequestMeta } from './server';
import { SandboxServer } from './server';
import type { TargetHandler } from './targets';
import { deliverToArn, eventBus, registerTargetHandler } from './targets';
import { inProcessHandler, serveWire } from './transport';
import type {
  BusEvent,
  Clock,
  Organization,
  RequestContext,
  ResourceChange,
  ResourceProvider,
  SandboxContext,
  ServiceModule,
} from './types';
import { AwsError } from './types';
import { defaultWorkerCount, WorkerPool } from './workers';

export interface SandboxOptions {
  /** Default 4566; 0 = a free port. */
  port?: number;
  host?: string;
  /** Real ms per emulated second / 1000 (0.01 → 30 emulated s in 300 ms). Default 1. */
  timeScale?: number;
  /** Fault/latency rules, or a path to a JSON file holding them. */
  faults?: FaultConfig | string;
  /** CloudTrail events of callers' mutating calls (sandbox/core/cloudtrail.ts); default off. */
  cloudTrail?: CloudTrailOptions;
  /** Service modules; default: none (pass `allServices()` from sandbox/services). */
  services?: readonly ServiceModule[];
  providers?: readonly ResourceProvider[];
  /** The home region: requests signed for it (and in-process calls of the home scope) use the home state. */
  region?: string;
  /** The home account: the dummy credentials' administrator belongs to it. Default 000000000000. */
  accountId?: string;
  /**
   * An AWS Organizations model for `aws:PrincipalOrgID` conditions (trust policies, bus policies). Accounts
   * not listed are outside the organization. Callers reach any account: an access key id of 12 digits is
   * that account's administrator (LocalStack's convention); role sessions belong to their role's account.
   */
  organization?: Organization;
  /** Receives every log line as it happens (the CLI prints them with --verbose). */
  onLog?: (line: string) => void;
  /** Also log one line per HTTP request. */
  logRequests?: boolean;
  /**
   * How SDK clients inside this process (the installed task handlers) reach the sandbox: 'in-process'
   * (default; sandbox/core/transport.ts, no socket) or 'http' (over loopback like any outside client).
   * The environment variable SANDBOX_TRANSPORT=http also selects HTTP.
   */
  transport?: 'in-process' | 'http';
  /**
   * Worker threads the installed task handlers run in (sandbox/core/workers.ts), so their CPU is off the
   * emulator's event loop; 0 runs them on it. Default SANDBOX_WORKERS, else one per core beyond this thread.
   */
  workers?: number;
}

/** A published SNS message as the outbox keeps it. */
export interface OutboxMessage {
  topicArn: string;
  messageId: string;
  subject?: string;
  message: string;
  messageAttributes?: Record<string, { DataType: string; StringValue?: string }>;
  timestamp: string;
}

export interface Sandbox {
  readonly endpoint: string;
  readonly port: number;
  readonly region: string;
  readonly accountId: string;
  readonly context: SandboxContext;
  readonly clock: Clock;
  readonly faults: FaultInjector;
  readonly functions: FunctionRegistry;
  readonly services: ReadonlyMap<string, ServiceModule>;
  /** The request handler for SDK clients in this process (the in-process transport); undefined in 'http' mode. */
  readonly requestHandler: HttpHandler | undefined;
  /** The worker threads task handlers run in (`workers`; size 0: none). Stopped with the sandbox. */
  readonly workers: WorkerPool;
  /** Every log line so far. */
  readonly logs: readonly string[];
  /**
   * How many times each operation ran so far, by `service:Operation` (requests over either transport) or
   * `service:Operation (in-process)` (SandboxContext.call: the emulated services' and engines' own calls),
   * and each function's invocations by `function:NAME` (a state machine's task) or `function:NAME (event)`
   * (an EventBridge or SNS target). The bench divides them by the remediations to find the calls one remediation costs.
   */
  callCounts(): Map<string, number>;
  /** SNS messages published so far (in order). */
  outbox(): OutboxMessage[];
  /** Listener for new SNS messages; returns an unsubscribe function. */
  onMessage(listener: (m: OutboxMessage) => void): () => void;
  registerFunction(fn: SandboxFunction): void;
  /** `signed`: SigV4-signed requests reach the route too (it authenticates them itself). */
  registerHttpRoute(prefix: string, handler: HttpRouteHandler, opts?: { signed?: boolean }): void;
  registerTargetHandler(arnService: string, handler: TargetHandler): void;
  /** Adds a module after start (its start hook runs). */
  addService(module: ServiceModule): Promise<void>;
  stop(): Promise<void>;
}

const outboxes = new WeakMap<
  SandboxContext,
  { messages: OutboxMessage[]; listeners: Set<(m: OutboxMessage) => void> }
>();

/** The SNS module records published messages here. */
export function recordOutboxMessage(ctx: SandboxContext, message: OutboxMessage): void {
  const box = outboxes.get(ctx.home);
  if (!box) return;
  box.messages.push(message);
  for (const l of box.listeners) {
    try {
      l(message);
    } catch {
      // a listener's failure never breaks publishing
    }
  }
}

/** Modules can read another module registered for a service (e.g. EventBridge → SQS). */
const moduleTables = new WeakMap<SandboxContext, Map<string, ServiceModule>>();
export function serviceModule(ctx: SandboxContext, serviceName: string): ServiceModule | undefined {
  return moduleTables.get(ctx.home)?.get(serviceName);
}

/** Service-name aliases accepted by `call` (SSM documents and SDK names). */
const ALIASES: Record<string, string> = {
  cloudcontrolapi: 'cloudcontrol',
  states: 'stepfunctions',
  sfn: 'stepfunctions',
  eventbridge: 'events',
  configservice: 'config',
  'config-service': 'config',
  'secrets-manager': 'secretsmanager',
};

function transportOf(options: SandboxOptions): 'in-process' | 'http' {
  if (options.transport) return options.transport;
  return process.env.SANDBOX_TRANSPORT === 'http' ? 'http' : 'in-process';
}

/** What the sandbox's contexts (one per account-region), its request dispatch and its services share. */
interface Core {
  /** The home scope. */
  region: string;
  accountId: string;
  organization?: Organization;
  clock: Clock;
  faults: FaultInjector;
  modules: Map<string, ServiceModule>;
  providers: Map<string, ResourceProvider>;
  /** The context of each account-region in use, by `ACCOUNT/REGION`; the home one first. */
  scopes: Map<string, SandboxContext>;
  log: (line: string) => void;
  /** Set once the server listens. */
  endpoint?: string;
  /** Operations run so far (Sandbox.callCounts). */
  calls: Map<string, number>;
}

function countCall(core: Core, key: string): void {
  core.calls.set(key, (core.calls.get(key) ?? 0) + 1);
}

const REGION = /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/;

/** The context of an account-region, made on first use (every scope shares the home context's registries). */
function scopeOf(core: Core, invoke: Invoke, accountId: string, region: string): SandboxContext {
  const key = `${accountId}/${region}`;
  const known = core.scopes.get(key);
  if (known) return known;
  if (!/^\d{12}$/.test(accountId)) throw new AwsError('ValidationError', `${accountId} is not an account id`);
  if (!REGION.test(region)) throw new AwsError('ValidationError', `${region} is not a region`);
  const context = createContext(core, invoke, accountId, region);
  core.scopes.set(key, context);
  return context;
}

type Invoke = (
  sandbox: SandboxContext,
  module: ServiceModule,
  operation: string,
  input: Record<string, unknown>,
  meta: RequestMeta,
) => Promise<unknown>;

/**
 * Runs one operation of a module (HTTP requests and in-process calls alike), after the injected faults.
 * A signed request runs in its caller's account and its signature's region; an in-process call in the
 * scope of the context it was made through.
 */
function invokerFor(core: Core): Invoke {
  const invoke: Invoke = async (through, module, operation, input, meta) => {
    const handler = Object.hasOwn(module.operations, operation) ? module.operations[operation] : undefined;
    if (!handler) {
      throw new AwsError(
        module.protocol === 'awsQuery' || module.protocol === 'ec2Query'
          ? 'InvalidAction'
          : 'UnknownOperationException',
        `Operation ${operation} is not supported by the sandbox's ${module.serviceName}`,
      );
    }
    countCall(core, `${module.serviceName}:${operation}${meta.signed ? '' : ' (in-process)'}`);
    // Over the wire the access key names the caller; in-process calls carry theirs (none: the service itself).
    const caller = meta.signed ? principalForKey(through, meta.accessKeyId) : currentCaller();
    // A signed request runs in its caller's account and its signature's region.
    const sandbox = meta.signed && caller ? scopeOf(core, invoke, accountOf(caller), meta.region) : through;
    await authorize(sandbox, caller, module, operation, input, meta.region);
    await core.faults.apply(module.serviceName, operation, core.clock);
    const rc: RequestContext = {
      service: module.serviceName,
      operation,
      region: meta.region,
      accountId: sandbox.accountId,
      requestId: meta.requestId,
      sandbox,
      ...(caller ? { caller } : {}),
    };
    // CloudTrail records the caller's mutating calls (sandbox/core/cloudtrail.ts).
    const call = {
      service: module.serviceName,
      operation,
      region: meta.region,
      requestId: meta.requestId,
      input,
    };
    // IAM's cached reads of resources (sandbox/core/changes.ts) are dropped around any change to them.
    const changes = mayChangeResources(operation) ? module.serviceName : undefined;
    const execute = changes
      ? async () => {
          noteChange(sandbox, changes);
          try {
            return await handler(input, rc);
          } finally {
            noteChange(sandbox, changes);
          }
        }
      : () => handler(input, rc);
    const run = () => observed(sandbox, { ...call, ...callIdentity(sandbox, rc, meta) }, execute);
    // A request over the wire runs as the service, not in its sender's in-process caller context.
    return meta.signed ? asService(run) : run();
  };
  return invoke;
}

/** An emulated service's event on the default bus (unless the bus is missing or a fault drops it). */
async function publishEvent(
  core: Core,
  context: SandboxContext,
  event: Parameters<SandboxContext['putEvent']>[0],
) {
  const bus = eventBus(context);
  const full: BusEvent = {
    version: '0',
    id: event.id ?? randomUUID(),
    'detail-type': event['detail-type'],
    source: event.source,
    account: event.account ?? context.accountId,
    time:
      event.time ??
      core.clock
        .now()
        .toISOString()
        .replace(/\.\d{3}Z$/, 'Z'),
    region: event.region ?? context.region,
    resources: event.resources ?? [],
    detail: event.detail ?? {},
  };
  if (!bus) {
    core.log(`events: no EventBridge module; dropped ${full['detail-type']} from ${full.source}`);
    return;
  }
  if (core.faults.drops(full.source, full['detail-type'])) {
    core.log(`events: fault injection dropped ${full['detail-type']} from ${full.source}`);
    return;
  }
  await asService(() => bus(full));
}

/** The context every service module gets: the clock, events, in-process calls, resource changes, functions. */
function createContext(core: Core, invoke: Invoke, accountId: string, region: string): SandboxContext {
  const changeListeners = new Set<(c: ResourceChange) => void>();
  const context: SandboxContext = {
    get endpoint() {
      return core.endpoint;
    },
    region,
    accountId,
    get home() {
      return core.scopes.get(`${core.accountId}/${core.region}`) ?? context;
    },
    scoped: (account, inRegion) => scopeOf(core, invoke, account, inRegion),
    ...(core.organization ? { organization: core.organization } : {}),
    clock: core.clock,
    providers: core.providers,
    putEvent: (event) => publishEvent(core, context, event),
    async call(service, operation, input) {
      const name = service.toLowerCase();
      const module = core.modules.get(ALIASES[name] ?? name);
      if (!module)
        throw new AwsError('UnknownServiceException', `Service ${service} is not emulated by the sandbox`);
      const out = await invoke(context, module, operation, input, { region, requestId: randomUUID() });
      return (out && typeof out === 'object' ? out : {}) as Record<string, unknown>;
    },
    recordChange(change) {
      // A resource changed outside an operation of its service (a stack's provisioning): IAM's reads of it go
      // stale, unless only its contents changed (a drift detection's status).
      if (!change.contentsOnly) noteChange(context, serviceOfType(change.resourceType));
      for (const l of changeListeners) {
        try {
          asService(() => l(change));
        } catch (err) {
          core.log(`recordChange listener failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    },
    onChange(listener) {
      changeListeners.add(listener);
      return () => {
        changeListeners.delete(listener);
      };
    },
    async invokeFunction(nameOrArn, payload, hooks) {
      // The caller (a state machine's role) needs lambda:InvokeFunction; the function runs as its own role.
      const lambda = core.modules.get('lambda');
      if (lambda)
        await authorize(context, currentCaller(), lambda, 'Invoke', { FunctionName: nameOrArn }, region);
      countCall(core, `function:${nameOrArn.slice(nameOrArn.lastIndexOf(':') + 1)}`);
      // A bare name is a function of this account-region, as Lambda resolves it (cfncalls, #11).
      const arn = nameOrArn.startsWith('arn:')
        ? nameOrArn
        : `arn:aws:lambda:${region}:${accountId}:function:${nameOrArn}`;
      return functionRegistry(context).invoke(arn, payload, hooks);
    },
    log: core.log,
  };
  return context;
}

/** Lambda targets (EventBridge, SNS) run registered in-process functions, asynchronously like Lambda's Event invocation. */
function registerLambdaTargets(core: Core, context: SandboxContext, functions: FunctionRegistry): void {
  registerTargetHandler(context, 'lambda', async (arn, message) => {
    countCall(core, `function:${arn.slice(arn.lastIndexOf(':') + 1)} (event)`);
    let payload: unknown = message;
    try {
      payload = JSON.parse(message);
    } catch {
      // not JSON: deliver the string
    }
    await functions.invoke(arn, payload);
  });
}

function coreOf(options: SandboxOptions, logs: string[]): Core {
  const accountId = options.accountId ?? '000000000000';
  if (!/^\d{12}$/.test(accountId)) throw new Error(`accountId must be 12 digits, got ${accountId}`);
  const org = options.organization;
  if (org && !/^o-[a-z0-9]{10,32}$/.test(org.id))
    throw new Error(`organization.id must look like o-xxxxxxxxxx, got ${org.id}`);
  const faultConfig = typeof options.faults === 'string' ? loadFaultConfig(options.faults) : options.faults;
  return {
    region: options.region ?? 'us-east-1',
    accountId,
    ...(org ? { organization: org } : {}),
    clock: createClock(options.timeScale ?? 1),
    faults: new FaultInjector(faultConfig),
    modules: new Map(),
    providers: new Map((options.providers ?? []).map((p) => [p.type, p])),
    scopes: new Map(),
    calls: new Map(),
    log: (line) => {
      logs.push(line);
      options.onLog?.(line);
    },
  };
}

/** Adding services (each started as it is added) and stopping them all, in reverse, after the server. */
function lifecycle(core: Core, context: SandboxContext, server: SandboxServer, workers: WorkerPool) {
  const started: ServiceModule[] = [];
  let stopped = false;
  return {
    async addService(module: ServiceModule): Promise<void> {
      core.modules.set(module.serviceName, module);
      server.addService(module);
      if (module.start) await module.start(context);
      started.push(module);
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      await server.close();
      await workers.stop();
      for (const m of started.reverse()) {
        try {
          await m.stop?.();
        } catch (err) {
          core.log(`${m.serviceName}: stop failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
    },
  };
}

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const logs: string[] = [];
  const core = coreOf(options, logs);
  const invoke = invokerFor(core);
  const context = scopeOf(core, invoke, core.accountId, core.region);
  configureCloudTrail(context, { enabled: false, ...options.cloudTrail });
  const outbox = { messages: [] as OutboxMessage[], listeners: new Set<(m: OutboxMessage) => void>() };
  outboxes.set(context, outbox);
  moduleTables.set(context, core.modules);
  const functions = functionRegistry(context);
  registerLambdaTargets(core, context, functions);
  const server = new SandboxServer({
    host: options.host ?? '127.0.0.1',
    port: options.port ?? 4566,
    services: [],
    defaultRegion: core.region,
    dispatch: (module, operation, input, meta) =>
      invoke(context, module, operation, input, { ...meta, signed: true }),
    log: core.log,
    logRequests: options.logRequests ?? false,
  });
  const workers = new WorkerPool({
    size: options.workers ?? defaultWorkerCount(),
    endpoint: () => server.endpoint,
    ...(transportOf(options) === 'http' ? {} : { serve: (request) => serveWire(server, request) }),
    log: core.log,
  });
  const { addService, stop } = lifecycle(core, context, server, workers);
  try {
    for (const m of options.services ?? []) await addService(m);
    await server.listen();
    core.endpoint = server.endpoint;
  } catch (err) {
    await stop();
    throw err;
  }
  const ctx = context;
  return {
    get endpoint() {
      return server.endpoint;
    },
    get port() {
      return server.port;
    },
    region: core.region,
    accountId: core.accountId,
    context: ctx,
    clock: core.clock,
    faults: core.faults,
    functions,
    services: core.modules,
    requestHandler: transportOf(options) === 'http' ? undefined : inProcessHandler(server),
    workers,
    logs,
    callCounts: () => new Map(core.calls),
    outbox: () => [...outbox.messages],
    onMessage(listener) {
      outbox.listeners.add(listener);
      return () => {
        outbox.listeners.delete(listener);
      };
    },
    registerFunction: (fn) => functions.register(fn),
    registerHttpRoute: (prefix, handler, opts) => server.registerHttpRoute(prefix, handler, opts),
    registerTargetHandler: (svc, handler) => registerTargetHandler(ctx, svc, handler),
    addService,
    stop,
  };
}

export { deliverToArn };
