/**
 * A fake SandboxContext for the SSM engine tests: `call` goes to a per-test handler and is recorded,
 * the clock records every sleep and runs it at time scale 0.001 (one emulated second = one real
 * millisecond), so waits stay asynchronous, ordered and stoppable without taking long.
 */
import type { Principal } from '../../../sandbox/core/authz';
import {
  AwsError,
  type Clock,
  type RequestContext,
  type SandboxContext,
  type ServiceModule,
} from '../../../sandbox/core/types';
import { type SsmOptions, ssmService } from '../../../sandbox/services/ssm';

export type CallHandler = (service: string, api: string, input: Record<string, unknown>) => unknown;

export interface Harness {
  ssm: ServiceModule;
  ctx: RequestContext;
  calls: Array<{ service: string; api: string; input: Record<string, unknown> }>;
  sleeps: number[];
  logs: string[];
  setHandler(h: CallHandler): void;
  /** Calls an operation as `caller` (default: the emulated service itself, no caller). */
  op(name: string, input: Record<string, unknown>, caller?: Principal): Promise<Record<string, unknown>>;
  create(name: string, content: string): Promise<void>;
  start(
    name: string,
    parameters?: Record<string, string[]>,
    extra?: Record<string, unknown>,
  ): Promise<string>;
  get(id: string): Promise<Execution>;
  /** Polls GetAutomationExecution until the status is one of `statuses` (default: terminal). */
  waitFor(id: string, statuses?: readonly string[]): Promise<Execution>;
}

export interface StepView {
  StepName: string;
  Action: string;
  StepStatus: string;
  FailureMessage?: string;
  Outputs?: Record<string, string[]>;
  Inputs?: Record<string, string>;
  IsCritical: boolean;
  ParentStepDetails?: { StepName: string; Iteration: number; IteratorValue?: string };
}

export interface Execution {
  AutomationExecutionId: string;
  AutomationExecutionStatus: string;
  StepExecutions: StepView[];
  Outputs: Record<string, string[]>;
  Parameters: Record<string, string[]>;
  FailureMessage?: string;
  ExecutionStartTime: Date;
  ExecutionEndTime?: Date;
  CurrentStepName?: string;
}

const TERMINAL = ['Success', 'Failed', 'TimedOut', 'Cancelled'];

/** A clock at time scale 0.001 that records every sleep (in emulated seconds) and honours abort signals. */
function recordingClock(sleeps: number[]): Clock {
  return {
    timeScale: 0.001,
    now: () => new Date(),
    sleep: (seconds, signal) => {
      sleeps.push(seconds);
      return new Promise<void>((resolve, reject) => {
        if (signal?.aborted) {
          reject(new Error('aborted'));
          return;
        }
        const t = setTimeout(resolve, seconds);
        signal?.addEventListener(
          'abort',
          () => {
            clearTimeout(t);
            reject(new Error('aborted'));
          },
          { once: true },
        );
      });
    },
  };
}

/** The SandboxContext the engine sees: `call` recorded and answered by `answer`, logs kept. */
function fakeSandbox(
  clock: Clock,
  calls: Harness['calls'],
  logs: string[],
  answer: CallHandler,
): SandboxContext {
  const sandbox: SandboxContext = {
    region: 'us-east-1',
    accountId: '000000000000',
    get home() {
      return sandbox;
    },
    scoped: () => sandbox,
    clock,
    putEvent: async () => {},
    call: async (service, api, input) => {
      calls.push({ service, api, input });
      const out = await answer(service, api, input);
      return (out ?? {}) as Record<string, unknown>;
    },
    providers: new Map(),
    recordChange: () => {},
    onChange: () => () => {},
    invokeFunction: async () => ({}),
    log: (line) => {
      logs.push(line);
    },
  };
  return sandbox;
}

export function harness(options: SsmOptions = {}): Harness {
  const calls: Harness['calls'] = [];
  const sleeps: number[] = [];
  const logs: string[] = [];
  let handler: CallHandler = () => ({});
  const sandbox = fakeSandbox(recordingClock(sleeps), calls, logs, (...args) => handler(...args));
  const ssm = ssmService(options);
  const ctx: RequestContext = {
    service: 'ssm',
    operation: 'x',
    region: 'us-east-1',
    accountId: '000000000000',
    requestId: 'r',
    sandbox,
  };
  const op = async (
    name: string,
    input: Record<string, unknown>,
    caller?: Principal,
  ): Promise<Record<string, unknown>> => {
    const fn = ssm.operations[name];
    if (!fn) throw new Error(`no operation ${name}`);
    return (await fn(input, { ...ctx, operation: name, ...(caller ? { caller } : {}) })) as Record<
      string,
      unknown
    >;
  };
  const get = async (id: string): Promise<Execution> =>
    (await op('GetAutomationExecution', { AutomationExecutionId: id })).AutomationExecution as Execution;
  return {
    ssm,
    ctx,
    calls,
    sleeps,
    logs,
    setHandler: (h) => {
      handler = h;
    },
    op,
    create: async (name, content) => {
      await op('CreateDocument', {
        Name: name,
        Content: content,
        DocumentType: 'Automation',
        DocumentFormat: 'YAML',
      });
    },
    start: async (name, parameters, extra = {}) => {
      const r = await op('StartAutomationExecution', {
        DocumentName: name,
        ...(parameters ? { Parameters: parameters } : {}),
        ...extra,
      });
      return String(r.AutomationExecutionId);
    },
    get,
    waitFor: async (id, statuses = TERMINAL) => {
      for (let i = 0; i < 2000; i++) {
        const e = await get(id);
        if (statuses.includes(e.AutomationExecutionStatus)) return e;
        await new Promise((r) => setTimeout(r, 2));
      }
      throw new Error(`execution ${id} never reached ${statuses.join('/')}`);
    },
  };
}

/** An AWS error as the sandbox's services throw it. */
export function awsError(code: string, message = code): AwsError {
  return new AwsError(code, message);
}
