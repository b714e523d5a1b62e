/**
 * The worker thread side of ./workers.ts: loads the runtime module, gives it a socketless transport to
 * the sandbox (requests posted to the main thread over this thread's port, answered by the server's
 * router there), and runs each invocation in its own async context so the runtime can tell whose
 * credentials and clock apply. Loads nothing of the emulator.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { Session } from 'node:inspector/promises';
import { parentPort, workerData } from 'node:worker_threads';
import type { WireRequest, WireResponse } from './wire';
import { wireHandler } from './wire';
import type { FromWorker, ToWorker, WorkerRuntime, WorkerStart } from './workers';
import { deserializeError, PortBatch, serializeError, transferable } from './workers';

const port = parentPort;
if (!port) throw new Error('sandbox/core/workers-thread.ts runs in a worker thread only');
const start = workerData as WorkerStart;
const current = new AsyncLocalStorage<{ id: number; invocation: unknown }>();
const requests = new Map<number, { resolve: (r: WireResponse) => void; reject: (e: Error) => void }>();
let nextRid = 0;

const out = new PortBatch<FromWorker>(port);
const post = (m: FromWorker, transfer: ArrayBuffer[] = []) => out.post(m, transfer);

function send(request: WireRequest): Promise<WireResponse> {
  return new Promise<WireResponse>((resolve, reject) => {
    const rid = ++nextRid;
    requests.set(rid, { resolve, reject });
    const body = transferable(request.body);
    post({ type: 'request', rid, id: current.getStore()?.id, request: { ...request, body } }, [
      body.buffer as ArrayBuffer,
    ]);
  });
}

const runtime = (await import(start.runtime)) as WorkerRuntime;

async function invoke(id: number, invocation: unknown, payload: unknown): Promise<void> {
  try {
    const value = await current.run({ id, invocation }, () => runtime.invoke(invocation, payload));
    post({ type: 'result', id, ok: true, value });
  } catch (err) {
    post({ type: 'result', id, ok: false, error: serializeError(err) });
  }
}

/** The CPU profile this thread runs for a benchmark (WorkerPool.profileStart/profileStop). */
let profiler: Session | undefined;

async function profile(on: boolean): Promise<void> {
  if (on && !profiler) {
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.start');
  } else if (!on) {
    const session = profiler;
    profiler = undefined;
    const result = session ? await session.post('Profiler.stop') : undefined;
    session?.disconnect();
    post({ type: 'profile', profile: result?.profile ?? {} });
  }
}

function receive(m: ToWorker): void {
  if (m.type === 'invoke') {
    void invoke(m.id, m.invocation, m.payload);
    return;
  }
  if (m.type === 'profile') {
    profile(m.on).catch(() => post({ type: 'profile', profile: {} }));
    return;
  }
  const pending = requests.get(m.rid);
  if (!pending) return;
  requests.delete(m.rid);
  if (m.ok) pending.resolve(m.response);
  else pending.reject(deserializeError(m.error));
}

port.on('message', (batch: ToWorker[]) => {
  for (const m of batch) receive(m);
});

await runtime.setup({
  requestHandler: start.socketless ? wireHandler(() => start.endpoint, send) : undefined,
  invocation: () => current.getStore()?.invocation,
  data: start.data,
});
post({ type: 'ready' });
