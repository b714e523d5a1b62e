/**
 * The task handlers' runtime: what a Lambda execution environment does for `tasks/<task>/handler.ts`,
 * in a sandbox worker thread (sandbox/core/workers.ts) or on the sandbox's own thread. Setup points the
 * handlers' SDK clients at the sandbox (its socketless transport), makes them sign as the invocation's
 * execution role session, puts their clock on the sandbox's emulated clock and loads every handler (the
 * cold start). Each invocation runs one handler with a Lambda context.
 */
import type { WorkerEnvironment } from '../core/workers';
import type { HandlerLogLevel } from '../handler-env';
import { lambdaContext } from './lambda-context';

export type Handler = (event: unknown, context: unknown) => Promise<unknown>;

/** The emulated clock as data: `emulatedMs` was the time when the real clock read `realMs`. */
export interface ClockSpec {
  emulatedMs: number;
  realMs: number;
  scale: number;
}

/** One invocation, as it crosses to the worker (structured clone). */
export interface HandlerInvocation {
  task: string;
  name: string;
  arn: string;
  timeoutSeconds: number;
  memoryMb: number;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  clock: ClockSpec;
}

/** The runtime's data: what every worker loads and logs at. */
export interface HandlerRuntimeData {
  tasks: string[];
  logLevel: HandlerLogLevel;
}

/** The clock spec of `clock` now. */
export function clockSpec(clock: { now(): Date; timeScale: number }): ClockSpec {
  return { emulatedMs: clock.now().getTime(), realMs: Date.now(), scale: clock.timeScale };
}

/** A task clock that runs on from `spec` as the sandbox's clock does (sandbox/core/clock.ts). */
function clockOf(spec: ClockSpec): { now(): Date; scale: number } {
  return {
    scale: spec.scale,
    now: () =>
      new Date(
        spec.scale === 0 ? spec.emulatedMs : spec.emulatedMs + (Date.now() - spec.realMs) / spec.scale,
      ),
  };
}

/** Imports tasks/<task>/handler.ts and returns its handler. */
export async function loadHandler(task: string): Promise<Handler> {
  const mod = (await import(`../../tasks/${task}/handler.ts`)) as { handler?: Handler };
  if (typeof mod.handler !== 'function') throw new Error(`tasks/${task}/handler.ts exports no handler`);
  return mod.handler;
}

const handlers = new Map<string, Handler>();

export async function setup(env: WorkerEnvironment): Promise<void> {
  const data = env.data as HandlerRuntimeData;
  const { setClientDefaults, setCredentialHook } = await import('../../tasks/shared/clients');
  const { setClockHook } = await import('../../tasks/shared/clock');
  const { logger } = await import('../../tasks/shared/powertools');
  const current = () => env.invocation() as HandlerInvocation | undefined;
  logger.setLogLevel(data.logLevel);
  setClientDefaults(env.requestHandler ? { requestHandler: env.requestHandler } : {});
  setCredentialHook(() => current()?.credentials);
  setClockHook(() => {
    const spec = current()?.clock;
    return spec ? clockOf(spec) : undefined;
  });
  for (const task of data.tasks) handlers.set(task, await loadHandler(task));
}

export async function invoke(invocation: unknown, payload: unknown): Promise<unknown> {
  const inv = invocation as HandlerInvocation;
  let handler = handlers.get(inv.task);
  if (!handler) {
    handler = await loadHandler(inv.task);
    handlers.set(inv.task, handler);
  }
  return handler(payload, lambdaContext(inv.name, inv.arn, inv.timeoutSeconds, inv.memoryMb));
}
