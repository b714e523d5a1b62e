/**
 * Where a burst runbook's time goes beyond the profile's 30 s (issue #9: "the runbooks take 30.53 s").
 * The automation's own record (SSM step start and end times, emulated) splits it into the engine's start
 * (ExecutionStartTime → first step), each top-level step, the gaps between steps and the end (last step →
 * ExecutionEndTime). A clock wrapper adds how late the sandbox's timers fire: every `clock.sleep` of the
 * fault latencies (the profile's 25 s revoke and 5 s drift detection) is timed, so a step's time over its
 * latency splits into timer lateness and the call's own work (authorization, the operation, the engine's
 * bookkeeping). Read from outside the sandbox; nothing it measures changes.
 */
import type { AutomationExecutionMetadata } from '@aws-sdk/client-ssm';
import type { E2E } from '../e2e/support/harness';
import { percentile } from './stats';
import { pool } from './support';

export interface SplitPart {
  part: string;
  /** Emulated seconds. */
  mean: number;
  p50: number;
  p90: number;
  count: number;
}

export interface RunbookSplit {
  automations: number;
  parts: SplitPart[];
}

function part(name: string, values: readonly number[]): SplitPart {
  const mean = values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN;
  return { part: name, mean, p50: percentile(values, 50), p90: percentile(values, 90), count: values.length };
}

/** Times every emulated sleep of `seconds` in `wanted` (requested → how much later than asked it ended, emulated s). */
export function watchSleeps(e: E2E, wanted: readonly number[]): { read: () => Map<number, number[]> } {
  const clock = e.sb.clock;
  const late = new Map<number, number[]>(wanted.map((s) => [s, []]));
  const sleep = clock.sleep.bind(clock);
  clock.sleep = async (seconds, signal) => {
    const into = late.get(seconds);
    if (!into) return sleep(seconds, signal);
    const t = clock.now().getTime();
    await sleep(seconds, signal);
    into.push((clock.now().getTime() - t) / 1000 - seconds);
  };
  return { read: () => late };
}

interface StepTimes {
  StepName?: string;
  ExecutionStartTime?: string | Date;
  ExecutionEndTime?: string | Date;
  ParentStepDetails?: unknown;
}

const at = (d: string | Date | undefined) => (d === undefined ? undefined : new Date(d).getTime());

type Sums = Map<string, number[]>;
const push = (m: Sums, k: string, v: number) => {
  const list = m.get(k) ?? [];
  list.push(v / 1000);
  m.set(k, list);
};

/** One automation's top-level steps in order, split into start, steps, gaps and end (ms into `into`). */
function splitOne(a: AutomationExecutionMetadata, steps: readonly StepTimes[], into: Sums): void {
  const start = a.ExecutionStartTime?.getTime();
  const end = a.ExecutionEndTime?.getTime();
  const top = steps.filter((s) => !s.ParentStepDetails);
  if (start === undefined || end === undefined || top.length === 0) return;
  push(into, 'automation duration (ExecutionStartTime → ExecutionEndTime)', end - start);
  let prev = start;
  let gaps = 0;
  top.forEach((s, i) => {
    const s0 = at(s.ExecutionStartTime);
    const s1 = at(s.ExecutionEndTime);
    if (s0 === undefined || s1 === undefined) return;
    if (i === 0) push(into, 'engine start (→ first step entered)', s0 - prev);
    else gaps += s0 - prev;
    push(into, `step ${s.StepName ?? '?'}`, s1 - s0);
    prev = s1;
  });
  push(into, 'between steps (sum per automation)', gaps);
  push(into, 'last step ended → ExecutionEndTime', end - prev);
}

/** The split of the automations' durations (their step records read once the burst has ended). */
export async function runbookSplit(
  e: E2E,
  autos: readonly AutomationExecutionMetadata[],
  sleeps: Map<number, number[]>,
): Promise<RunbookSplit> {
  const into: Sums = new Map();
  const ended = autos.filter((a) => a.AutomationExecutionId && a.ExecutionEndTime);
  const records = new Map<string, StepTimes[]>();
  await pool(ended, 20, async (a) => {
    const id = a.AutomationExecutionId ?? '';
    const out = (await e.sb.context.call('ssm', 'DescribeAutomationStepExecutions', {
      AutomationExecutionId: id,
    })) as { StepExecutions?: StepTimes[] };
    records.set(id, out.StepExecutions ?? []);
  });
  for (const a of ended) splitOne(a, records.get(a.AutomationExecutionId ?? '') ?? [], into);
  const parts = [...into.entries()].map(([k, v]) => part(k, v));
  for (const [seconds, late] of sleeps)
    parts.push(part(`timer lateness of the ${seconds} s latency sleeps`, late));
  return { automations: ended.length, parts };
}
