/**
 * What one execution cost: Step Functions state transitions (retries included) and the Lambda requests
 * and GB-seconds of the task functions it invoked, read from the execution's history (GetExecutionHistory)
 * and priced with PRICES (docs/operations.md "Cost per remediation": date, region and source of the prices).
 *
 * A Lambda invocation's duration is the time between its TaskStarted (LambdaFunctionStarted) and the
 * event that returned its result: TaskSucceeded / TaskFailed / TaskTimedOut for a plain `lambda:invoke`,
 * TaskSubmitted for a `.waitForTaskToken` one (the Invoke call returned; the wait that follows is not
 * Lambda time). It is billed rounded up to the millisecond, at the function's memory. An invocation whose
 * end the history does not show (a callback task without TaskSubmitted) is billed at the median of the
 * execution's measured invocations and counted in `estimatedInvocations`. The history's times include
 * Step Functions' own invoke overhead, so the figure is an upper bound of Lambda's billed duration.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';

export interface PriceTable {
  /** Region the prices are for. */
  region: string;
  /** When they were read from the AWS pricing pages (ISO date). */
  asOf: string;
  /** USD per 1,000 Standard workflow state transitions (free tier ignored). */
  transitionsPer1000: number;
  /** USD per GB-second of Lambda duration, arm64, first tier. */
  lambdaGbSecond: number;
  /** USD per Lambda request. */
  lambdaRequest: number;
}

/** us-east-1 list prices (Step Functions Standard, Lambda arm64 first tier), free tiers ignored. */
export const PRICES: PriceTable = {
  region: 'us-east-1',
  asOf: '2026-12-07',
  transitionsPer1000: 0.025,
  lambdaGbSecond: 0.0000133334,
  lambdaRequest: 0.0000002,
};

/** Memory of a task function when its configuration cannot be read (TaskFunction's default). */
export const DEFAULT_MEMORY_MB = 256;

export interface ExecutionCost {
  transitions: number;
  lambdaInvocations: number;
  /** Invocations whose duration the history does not show (billed at the median of the measured ones). */
  estimatedInvocations: number;
  /** Sum of billed milliseconds (rounded up per invocation). */
  lambdaBilledMs: number;
  lambdaGbSeconds: number;
  usd: { transitions: number; lambdaRequests: number; lambdaDuration: number; total: number };
  prices: Pick<PriceTable, 'region' | 'asOf'>;
}

interface Invocation {
  functionName: string;
  billedMs: number | undefined;
}

/** `arn:aws:lambda:r:a:function:NAME[:qualifier]` → NAME; a plain name stays as it is. */
export function lambdaFunctionName(nameOrArn: string): string {
  return nameOrArn.startsWith('arn:') ? (nameOrArn.split(':')[6] ?? nameOrArn) : nameOrArn;
}

/** The function a Task's schedule event invokes: a `lambda:invoke` FunctionName parameter, or a Lambda ARN resource. */
export function functionNameOf(e: HistoryEvent): string | undefined {
  const lambda = e.lambdaFunctionScheduledEventDetails?.resource;
  if (lambda) return lambdaFunctionName(lambda);
  const task = e.taskScheduledEventDetails;
  if (task?.resourceType !== 'lambda' || !task.parameters) return undefined;
  try {
    const p = JSON.parse(task.parameters) as { FunctionName?: unknown };
    return typeof p.FunctionName === 'string' ? lambdaFunctionName(p.FunctionName) : undefined;
  } catch {
    return undefined;
  }
}

const ENDS_PLAIN = new Set([
  'TaskSucceeded',
  'TaskFailed',
  'TaskTimedOut',
  'LambdaFunctionSucceeded',
  'LambdaFunctionFailed',
  'LambdaFunctionTimedOut',
]);
const CALLBACK_CLOSED = new Set(['TaskSucceeded', 'TaskFailed', 'TaskTimedOut']);

const millis = (d: Date | undefined) => (d ? d.getTime() : 0);

/** Counts transitions and finds each Lambda invocation with its billed duration (undefined: not shown). */
export function usageOf(
  events: readonly HistoryEvent[],
  durationScale = 1,
  functionOfState: (stateName: string) => string | undefined = () => undefined,
): { transitions: number; invocations: Invocation[] } {
  let transitions = 0;
  let state = '';
  let scheduledInState = 0;
  const invocations: Invocation[] = [];
  let open: { functionName: string; callback: boolean; startedAt: number | undefined } | undefined;
  const close = (billedMs: number | undefined) => {
    if (open) invocations.push({ functionName: open.functionName, billedMs });
    open = undefined;
  };
  for (const e of events) {
    const type = e.type ?? '';
    if (type.endsWith('StateEntered')) {
      transitions++;
      scheduledInState = 0;
      state = e.stateEnteredEventDetails?.name ?? '';
    } else if (type === 'TaskScheduled' || type === 'LambdaFunctionScheduled') {
      // A second schedule inside one state is a retry: Step Functions bills it as a transition.
      if (scheduledInState++ > 0) transitions++;
      close(undefined);
      const functionName = functionNameOf(e) ?? functionOfState(state);
      if (functionName) {
        const callback = e.taskScheduledEventDetails?.resource?.endsWith('.waitForTaskToken') ?? false;
        open = { functionName, callback, startedAt: undefined };
      }
    } else if (open && (type === 'TaskStarted' || type === 'LambdaFunctionStarted')) {
      open.startedAt = millis(e.timestamp);
    } else if (
      open &&
      open.startedAt !== undefined &&
      (open.callback ? type === 'TaskSubmitted' : ENDS_PLAIN.has(type))
    ) {
      close(Math.max(1, Math.ceil((millis(e.timestamp) - open.startedAt) * durationScale)));
    } else if (open && (ENDS_PLAIN.has(type) || (open.callback && CALLBACK_CLOSED.has(type)))) {
      close(undefined);
    }
  }
  close(undefined);
  return { transitions, invocations };
}

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const round = (usd: number) => Math.round(usd * 1e9) / 1e9;

/**
 * The cost of one execution from its history. `memoryMb` names each function's configured memory
 * (Lambda GetFunctionConfiguration; the sandbox's installed functions); unknown → DEFAULT_MEMORY_MB.
 * `durationScale` turns history milliseconds into real ones: 1 in AWS; the sandbox's time scale there,
 * whose history runs on the emulated clock (0.01: 10 emulated seconds are 100 real milliseconds).
 */
export function executionCost(
  events: readonly HistoryEvent[],
  memoryMb: (functionName: string) => number | undefined,
  opts: {
    prices?: PriceTable;
    durationScale?: number;
    /** The function a Task state invokes (from the definition), for schedule events that do not name it. */
    functionOfState?: (stateName: string) => string | undefined;
    /** Transitions known to follow the history read so far (Record outcome's: the final Succeed or Fail). */
    pendingTransitions?: number;
  } = {},
): ExecutionCost {
  const prices = opts.prices ?? PRICES;
  const usage = usageOf(events, opts.durationScale ?? 1, opts.functionOfState);
  const { invocations } = usage;
  const transitions = usage.transitions + (opts.pendingTransitions ?? 0);
  const measured = invocations.flatMap((i) => (i.billedMs === undefined ? [] : [i.billedMs]));
  const fallbackMs = Math.ceil(median(measured));
  let billedMs = 0;
  let gbSeconds = 0;
  for (const i of invocations) {
    const ms = i.billedMs ?? fallbackMs;
    billedMs += ms;
    gbSeconds += ((memoryMb(i.functionName) ?? DEFAULT_MEMORY_MB) / 1024) * (ms / 1000);
  }
  const usd = {
    transitions: round((transitions / 1000) * prices.transitionsPer1000),
    lambdaRequests: round(invocations.length * prices.lambdaRequest),
    lambdaDuration: round(gbSeconds * prices.lambdaGbSecond),
    total: 0,
  };
  usd.total = round(usd.transitions + usd.lambdaRequests + usd.lambdaDuration);
  return {
    transitions,
    lambdaInvocations: invocations.length,
    estimatedInvocations: invocations.length - measured.length,
    lambdaBilledMs: billedMs,
    lambdaGbSeconds: Math.round(gbSeconds * 1e6) / 1e6,
    usd,
    prices: { region: prices.region, asOf: prices.asOf },
  };
}

/** "$0.000412" — enough digits to tell executions apart. */
export function formatUsd(usd: number): string {
  return `$${usd < 0.01 ? usd.toFixed(6) : usd.toFixed(4)}`;
}
