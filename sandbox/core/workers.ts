/**
 * Handler invocations in worker threads: the sandbox's Lambda execution environments. Each worker is one
 * environment with its own module state (as a Lambda instance is) and its own event loop, so the
 * handlers' CPU (SDK serialization, signing and parsing, zod, Powertools, task logic) runs beside the
 * emulator's event loop instead of on it. A worker's SDK clients stay real SDK v3 clients with the same
 * wire bytes: their request handler (./wire.ts) posts the signed request over the worker's MessagePort,
 * and this side serves it with the server's router in the async context of the invocation that sent it
 * (its runner for `whileIdle`, its caller, its clock), exactly as the in-process transport would.
 *
 * What runs in a worker is a runtime module (`WorkerRuntime`): `setup` once per worker, then `invoke`
 * per invocation with a structured-clone `invocation` (what the runtime needs to know: the function, its
 * credentials, its clock) and the payload. Errors cross back with their name, message, stack, `cause`
 * chain and plain own properties. A worker that exits fails its invocations as Lambda reports a crashed
 * runtime (`Runtime.ExitError`) and is replaced on the next invocation.
 *
 * Both sides post through a `PortBatch`: the messages of one turn of the event loop cross as one
 * `postMessage` (an array, body buffers transferred), so a busy loop pays one clone, wake-up and dispatch
 * per turn instead of per request, response, invocation and result.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import type { HttpHandler } from '@smithy/core/protocols';
import type { WireRequest, WireResponse } from './wire';

/** What a worker's runtime module exports. */
export interface WorkerRuntime {
  setup(env: WorkerEnvironment): Promise<void> | void;
  invoke(invocation: unknown, payload: unknown): Promise<unknown>;
}

/** What a runtime gets from its worker. */
export interface WorkerEnvironment {
  /** The socketless transport to the sandbox (undefined when the sandbox wants HTTP). */
  requestHandler: HttpHandler | undefined;
  /** The `invocation` of the invoke running now (async context), undefined outside one. */
  invocation(): unknown;
  /** The pool's `data` for the runtime. */
  data: unknown;
}

/** An error as it crosses a thread boundary. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  cause?: SerializedError;
  props?: Record<string, unknown>;
}

/** A worker exited (crashed, or was stopped) while an invocation ran on it: Lambda's `Runtime.ExitError`. */
export class RuntimeExitError extends Error {
  override readonly name = 'Runtime.ExitError';
}

/** Own enumerable properties that survive structured cloning as plain data (e.g. `$metadata`, `Code`). */
function plainProps(e: Error): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (k === 'name' || k === 'message' || k === 'stack' || k === 'cause') continue;
    try {
      out[k] = v === undefined ? v : JSON.parse(JSON.stringify(v));
    } catch {
      // Not data (a function, a cycle): it stays behind, as it would in Lambda's error JSON.
    }
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export function serializeError(err: unknown, depth = 0): SerializedError {
  if (!(err instanceof Error)) return { name: 'Error', message: String(err) };
  const props = plainProps(err);
  return {
    name: err.name,
    message: err.message,
    ...(err.stack ? { stack: err.stack } : {}),
    ...(err.cause !== undefined && depth < 8 ? { cause: serializeError(err.cause, depth + 1) } : {}),
    ...(props ? { props } : {}),
  };
}

export function deserializeError(s: SerializedError): Error {
  const err = new Error(s.message, s.cause ? { cause: deserializeError(s.cause) } : undefined);
  Object.assign(err, s.props ?? {});
  Object.defineProperty(err, 'name', { value: s.name, writable: true, configurable: true });
  if (s.stack) err.stack = s.stack;
  return err;
}

/** A fresh, whole ArrayBuffer for `bytes` (a pooled Buffer's slice must not be transferred). */
export function transferable(bytes: Uint8Array): Uint8Array {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !isShared(bytes)
    ? bytes
    : new Uint8Array(bytes);
}

function isShared(bytes: Uint8Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && bytes.buffer instanceof SharedArrayBuffer;
}

/** Where a batch goes: a worker (main side) or the parent port (worker side). */
interface MessageTarget {
  postMessage(value: unknown, transfer: ArrayBuffer[]): void;
}

/**
 * Messages posted in one turn of the event loop, sent as one array when the turn ends (setImmediate):
 * one structured clone, one wake-up of the other thread and one dispatch there for all of them.
 */
export class PortBatch<M> {
  private messages: M[] = [];
  private transfer: ArrayBuffer[] = [];
  private scheduled = false;

  constructor(private readonly target: MessageTarget) {}

  post(message: M, transfer: ArrayBuffer[] = []): void {
    this.messages.push(message);
    for (const t of transfer) this.transfer.push(t);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  /** Sends what is queued now (also run by the scheduled turn end). */
  flush(): void {
    this.scheduled = false;
    if (this.messages.length === 0) return;
    const messages = this.messages;
    const transfer = this.transfer;
    this.messages = [];
    this.transfer = [];
    this.target.postMessage(messages, transfer);
  }
}

/** Messages from a worker. */
export type FromWorker =
  | { type: 'ready' }
  | { type: 'init-failed'; error: SerializedError }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: SerializedError }
  | { type: 'request'; rid: number; id: number | undefined; request: WireRequest }
  | { type: 'profile'; profile: object };

/** Messages to a worker. */
export type ToWorker =
  | { type: 'invoke'; id: number; invocation: unknown; payload: unknown }
  | { type: 'response'; rid: number; ok: true; response: WireResponse }
  | { type: 'response'; rid: number; ok: false; error: SerializedError }
  /** Starts (on) or stops (off: the worker answers with the V8 CPU profile) a CPU profile of the thread. */
  | { type: 'profile'; on: boolean };

/** What a worker thread starts with. */
export interface WorkerStart {
  runtime: string;
  data: unknown;
  endpoint: string;
  socketless: boolean;
}

/**
 * Worker threads in the pool: SANDBOX_WORKERS, else one per core beyond the main thread (at least one).
 * 0 runs the handlers in the sandbox's own event loop.
 */
export function defaultWorkerCount(): number {
  const fromEnv = process.env.SANDBOX_WORKERS;
  if (fromEnv !== undefined && fromEnv !== '') {
    const n = Number(fromEnv);
    if (!Number.isInteger(n) || n < 0)
      throw new Error(`SANDBOX_WORKERS must be an integer >= 0, got ${fromEnv}`);
    return n;
  }
  return Math.max(1, availableParallelism() - 1);
}

export interface WorkerPoolOptions {
  /** Worker threads (0: none; `invoke` is then an error). */
  size: number;
  /** The sandbox's endpoint (read when a worker starts). */
  endpoint: () => string;
  /** Serves a worker's request (the server's router); undefined: the workers' clients use HTTP. */
  serve?: (request: WireRequest) => Promise<WireResponse>;
  log?: (line: string) => void;
}

interface Invocation {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  /** Runs a function in the async context the invocation was started from. */
  run: <R>(fn: () => R) => R;
}

/** One worker thread and the invocations running on it. */
interface Slot {
  worker: Worker;
  /** What this side posts to the worker, a turn's messages at a time. */
  out: PortBatch<ToWorker>;
  ready: Promise<void>;
  running: Map<number, Invocation>;
  /** The uncaught error that is ending it, if any. */
  failure?: Error;
  /** Waiting for the worker's CPU profile (profileStop). */
  profiled?: (profile: object) => void;
}

const ENTRY = new URL('./workers-thread.ts', import.meta.url).href;

/** tsx's ESM loader API: a worker registers it for itself (a process's loader hooks do not resolve its workers' imports). */
function tsxApi(): string {
  const pkg = createRequire(import.meta.url).resolve('tsx/package.json');
  return pathToFileURL(join(dirname(pkg), 'dist/esm/api/index.mjs')).href;
}

/** The worker's first script: registers tsx (the TypeScript sources in dev), then loads ENTRY. */
function bootstrap(): string {
  const register = `(await import(${JSON.stringify(tsxApi())})).register();`;
  return `(async () => { ${register} await import(${JSON.stringify(ENTRY)}); })().catch((err) => {
    require('node:worker_threads').parentPort.postMessage([{ type: 'init-failed',
      error: { name: err?.name ?? 'Error', message: String(err?.message ?? err), stack: err?.stack } }]);
  });`;
}

export class WorkerPool {
  private readonly slots: Slot[] = [];
  private readonly ids = { next: 0 };
  private runtime: { module: string; data: unknown } | undefined;
  private stopped = false;

  constructor(private readonly options: WorkerPoolOptions) {}

  get size(): number {
    return this.options.size;
  }

  /** Worker threads alive now. */
  get threads(): number {
    return this.slots.length;
  }

  /** Sets the runtime module (a file URL) the workers run, and its data; before the first invocation. */
  configure(module: string, data: unknown): void {
    if (this.runtime && this.runtime.module !== module)
      throw new Error(`worker pool: runtime already ${this.runtime.module}, not ${module}`);
    this.runtime = { module, data };
  }

  /** Starts the missing workers and waits until every one has run its runtime's setup (a cold start). */
  async prepare(): Promise<void> {
    if (this.stopped) throw new RuntimeExitError('the sandbox is stopped: no worker takes invocations');
    while (this.slots.length < this.options.size) this.slots.push(this.spawn());
    await Promise.all(this.slots.map((s) => s.ready));
  }

  /** Runs one invocation on the least busy worker; resolves with the runtime's answer. */
  async invoke(invocation: unknown, payload: unknown): Promise<unknown> {
    await this.prepare();
    const slot = this.slots.reduce((a, b) => (b.running.size < a.running.size ? b : a));
    const id = ++this.ids.next;
    const run = AsyncLocalStorage.snapshot();
    return new Promise<unknown>((resolve, reject) => {
      slot.running.set(id, { resolve, reject, run });
      slot.out.post({ type: 'invoke', id, invocation, payload });
    });
  }

  /** Starts a V8 CPU profile in every worker running now (a benchmark's view of the handlers' CPU). */
  profileStart(): void {
    for (const s of this.slots) s.out.post({ type: 'profile', on: true });
  }

  /** Stops the profiles profileStart started: one `.cpuprofile` object per worker still running. */
  async profileStop(): Promise<object[]> {
    return Promise.all(
      this.slots.map(
        (s) =>
          new Promise<object>((resolve) => {
            s.profiled = resolve;
            s.out.post({ type: 'profile', on: false });
          }),
      ),
    );
  }

  /** Terminates every worker; invocations still running fail with Runtime.ExitError. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private spawn(): Slot {
    const runtime = this.runtime;
    if (!runtime) throw new Error('worker pool: no runtime configured');
    const workerData: WorkerStart = {
      runtime: runtime.module,
      data: runtime.data,
      endpoint: this.options.endpoint(),
      socketless: this.options.serve !== undefined,
    };
    // SHARE_ENV: the function's environment is the process's, as for in-process handlers (the installer sets it).
    const worker = new Worker(bootstrap(), { eval: true, workerData, env: SHARE_ENV });
    worker.unref();
    let ready: (v: undefined) => void = () => {};
    let failed: (e: Error) => void = () => {};
    const slot: Slot = {
      worker,
      out: new PortBatch<ToWorker>(worker),
      running: new Map(),
      ready: new Promise<undefined>((res, rej) => {
        ready = res;
        failed = rej;
      }),
    };
    slot.ready.catch(() => {}); // observed by prepare(); a failed start must not be an unhandled rejection
    worker.on('message', (batch: FromWorker[]) => {
      for (const m of batch) {
        if (m.type === 'ready') ready(undefined);
        else if (m.type === 'init-failed') failed(deserializeError(m.error));
        else if (m.type === 'result') this.settle(slot, m);
        else if (m.type === 'profile') slot.profiled?.(m.profile);
        else this.serveRequest(slot, m);
      }
    });
    worker.on('error', (err) => {
      slot.failure = err;
      this.options.log?.(`lambda: worker ${worker.threadId} failed: ${err.stack ?? err.message}`);
    });
    worker.on('exit', (code) => this.exited(slot, code, failed));
    return slot;
  }

  private settle(slot: Slot, m: Extract<FromWorker, { type: 'result' }>): void {
    const inv = slot.running.get(m.id);
    if (!inv) return;
    slot.running.delete(m.id);
    if (m.ok) inv.resolve(m.value);
    else inv.reject(deserializeError(m.error));
  }

  private serveRequest(slot: Slot, m: Extract<FromWorker, { type: 'request' }>): void {
    const serve = this.options.serve;
    const reply = (msg: ToWorker, transfer: ArrayBuffer[] = []) => slot.out.post(msg, transfer);
    if (!serve) {
      reply({
        type: 'response',
        rid: m.rid,
        ok: false,
        error: { name: 'Error', message: 'no socketless transport' },
      });
      return;
    }
    const inv = m.id === undefined ? undefined : slot.running.get(m.id);
    const answer = inv ? inv.run(() => serve(m.request)) : serve(m.request);
    answer.then(
      (response) => {
        const body = transferable(response.body);
        reply({ type: 'response', rid: m.rid, ok: true, response: { ...response, body } }, [
          body.buffer as ArrayBuffer,
        ]);
      },
      (err: unknown) => reply({ type: 'response', rid: m.rid, ok: false, error: serializeError(err) }),
    );
  }

  private exited(slot: Slot, code: number, failStart: (e: Error) => void): void {
    const i = this.slots.indexOf(slot);
    if (i >= 0) this.slots.splice(i, 1);
    const why = slot.failure ? ` (${slot.failure.name}: ${slot.failure.message})` : '';
    failStart(new RuntimeExitError(`Runtime exited before its setup ended: exit status ${code}${why}`));
    for (const [id, inv] of slot.running) {
      inv.reject(
        new RuntimeExitError(`RequestId: ${id} Error: Runtime exited with error: exit status ${code}${why}`),
      );
    }
    slot.running.clear();
    if (!this.stopped)
      this.options.log?.(`lambda: worker ${slot.worker.threadId} exited with status ${code}`);
  }
}
