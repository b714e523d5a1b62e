/**
 * The burst's hand-off rounds, split into their steps. A slot passes from a holder X (whose runbook ended)
 * to the oldest waiter W: SSM ends X's automation → the status-change event reaches wait-callback, which
 * releases X's slot, grants it to W and resolves W's Acquire token (tasks/shared/leases-release.ts), then
 * resolves X's Start runbook token → W enters Start runbook → start-runbook's StartAutomationExecution.
 * Every time comes from the sandbox's own timestamps (SSM automation metadata, execution histories), in
 * emulated seconds; the ideal round is 0 s between X's end and W's start.
 *
 * Rounds pair the automations in order: with one runbook and a cap of c, the k-th automation to end
 * freed the slot of the (k + c)-th to start (FIFO queue).
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { AutomationExecutionMetadata } from '@aws-sdk/client-ssm';
import { STATES } from '../../workflows/state-names';
import { percentile } from './stats';
import { pool } from './support';

/** What one execution's history says about its slot and runbook (emulated ms since the epoch). */
export interface SlotTimes {
  acquired?: number;
  runbookEntered?: number;
  runbookExited?: number;
  automationId?: string;
}

/** The steps of one round, emulated seconds. */
export interface HandoffStep {
  step: string;
  mean: number;
  p50: number;
  p90: number;
}

export interface HandoffBreakdown {
  rounds: number;
  steps: HandoffStep[];
  /** Where the makespan goes, emulated seconds: first execution start → first automation start. */
  head: number;
  /** Last automation end → last VERIFIED execution stop (re-check and Config verification). */
  tail: number;
  /** The automations' own durations and the rounds' gaps, summed and divided by the cap. */
  lanes: { runbooks: number; gaps: number };
}

function stats(step: string, values: readonly number[]): HandoffStep {
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN;
  return { step, mean, p50: percentile(values, 50), p90: percentile(values, 90) };
}

const startOf = (a: AutomationExecutionMetadata) => a.ExecutionStartTime?.getTime() ?? 0;
const endOf = (a: AutomationExecutionMetadata) => a.ExecutionEndTime?.getTime() ?? 0;

function automationIdOf(output: string | undefined): string | undefined {
  if (!output) return undefined;
  const m = /"automationExecutionId":"([^"]+)"/.exec(output);
  return m?.[1];
}

/** The first entry into, and first exit from, the slot and runbook states of one execution. */
export function slotTimes(events: readonly HistoryEvent[]): SlotTimes {
  const out: SlotTimes = {};
  const first = (k: keyof Omit<SlotTimes, 'automationId'>, t: number) => {
    if (out[k] === undefined) out[k] = t;
  };
  for (const ev of events) {
    const t = ev.timestamp?.getTime();
    if (t === undefined) continue;
    const entered = ev.stateEnteredEventDetails?.name;
    const exited = ev.stateExitedEventDetails;
    if (entered === STATES.startRunbook) first('runbookEntered', t);
    if (exited?.name === STATES.acquireSlot) first('acquired', t);
    else if (exited?.name === STATES.startRunbook) {
      first('runbookExited', t);
      out.automationId ??= automationIdOf(exited.output);
    }
  }
  return out;
}

/** The slot times of each execution that started an automation, by that automation's id. */
export async function slotTimesByAutomation(
  tracked: { executions: readonly { arn: string }[] },
  historyOf: (arn: string) => Promise<HistoryEvent[]>,
): Promise<Map<string, SlotTimes>> {
  const out = new Map<string, SlotTimes>();
  await pool(tracked.executions, 20, async (x) => {
    const times = slotTimes(await historyOf(x.arn));
    if (times.automationId) out.set(times.automationId, times);
  });
  return out;
}

type Sample = { holder: SlotTimes; end: number; waiter: SlotTimes; start: number };

/** later − earlier, when both are known. */
const span = (later: number | undefined, earlier: number | undefined) =>
  later === undefined || earlier === undefined ? undefined : later - earlier;

const STEPS: Array<[string, (s: Sample) => number | undefined]> = [
  [
    'X runbook ends → W Acquire resolved (SSM event; wait-callback: release, hand-off grant, SendTaskSuccess)',
    (s) => span(s.waiter.acquired, s.end),
  ],
  [
    'X runbook ends → X Start runbook resolved (the same wait-callback, after the hand-off)',
    (s) => span(s.holder.runbookExited, s.end),
  ],
  ['W Acquire resolved → W Start runbook entered', (s) => span(s.waiter.runbookEntered, s.waiter.acquired)],
  [
    'W Start runbook entered → W automation started (StartAutomationExecution)',
    (s) => span(s.start, s.waiter.runbookEntered),
  ],
  ['whole round: X runbook ends → W automation started', (s) => s.start - s.end],
];

/**
 * Splits the burst's hand-off rounds. `byAutomation` maps an automation id to its execution's slot times
 * (executions whose history names it); automations without one are left out of the steps they need.
 */
export function handoffBreakdown(
  autos: readonly AutomationExecutionMetadata[],
  byAutomation: ReadonlyMap<string, SlotTimes>,
  cap: number,
  span: { starts: readonly number[]; verifiedStops: readonly number[] },
): HandoffBreakdown {
  const firstStart = span.starts.length ? Math.min(...span.starts) : 0;
  const lastVerified = span.verifiedStops.length ? Math.max(...span.verifiedStops) : 0;
  const timed = autos.filter((a) => a.ExecutionStartTime && a.ExecutionEndTime && a.AutomationExecutionId);
  const starts = [...timed].sort((a, b) => startOf(a) - startOf(b));
  const ends = [...timed].sort((a, b) => endOf(a) - endOf(b));
  const samples: Sample[] = [];
  for (let k = 0; k + cap < starts.length; k++) {
    const x = ends[k];
    const w = starts[k + cap];
    if (!x || !w) continue;
    samples.push({
      holder: byAutomation.get(x.AutomationExecutionId ?? '') ?? {},
      end: x.ExecutionEndTime?.getTime() ?? 0,
      waiter: byAutomation.get(w.AutomationExecutionId ?? '') ?? {},
      start: w.ExecutionStartTime?.getTime() ?? 0,
    });
  }
  const durations = timed.map((a) => (endOf(a) - startOf(a)) / 1000);
  const gaps = samples.map((s) => (s.start - s.end) / 1000);
  const steps = [
    stats('automation duration (the runbook itself)', durations),
    ...STEPS.map(([step, f]) =>
      stats(
        step,
        samples.flatMap((s) => {
          const v = f(s);
          return v === undefined ? [] : [v / 1000];
        }),
      ),
    ),
  ];
  const first = starts[0];
  const last = ends[ends.length - 1];
  const sum = (v: readonly number[]) => v.reduce((a, b) => a + b, 0);
  return {
    rounds: samples.length,
    steps,
    head: first ? (startOf(first) - firstStart) / 1000 : Number.NaN,
    tail: last ? (lastVerified - endOf(last)) / 1000 : Number.NaN,
    lanes: { runbooks: sum(durations) / cap, gaps: sum(gaps) / cap },
  };
}
