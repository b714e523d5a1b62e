/**
 * What completed each VERIFIED execution's Config verification, and how long after Config recorded the
 * COMPLIANT result (issue #9, the burst's tail). The verification's reason names the result's recorded
 * time (tasks/shared/compliance.ts, tasks/wait-callback); the execution's stop minus that time is the
 * lag. The compliance-change event resolves a wait within about a second; a lag of more than
 * EVENT_LAG_SECONDS means the event reached no waiting token (Config's compliance had already changed, so
 * a later evaluation sent none) and the reconciler or the wait's own first look found the result instead.
 * Read from outside the sandbox once the burst has ended; nothing it measures changes.
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import type { E2E } from '../e2e/support/harness';
import { percentile } from './stats';
import { pool, type TrackedExecution } from './support';

/** More than this (emulated seconds) from COMPLIANT recorded to the execution's stop: not the event. */
export const EVENT_LAG_SECONDS = 10;

export interface TailSplit {
  verified: number;
  /** Executions whose verification lag was over EVENT_LAG_SECONDS, and their lags (emulated s). */
  late: { count: number; mean: number; p90: number; max: number };
  /** The last VERIFIED execution: its COMPLIANT recorded → stop (emulated s). */
  lastLag?: number;
}

const RECORDED = /reports COMPLIANT \(recorded ([^)]+)\)/;

/** The recorded time of the COMPLIANT result that verified the execution, from its output. */
function recordedOf(output: string | undefined): number | undefined {
  const m = RECORDED.exec(output ?? '');
  const t = m?.[1] ? Date.parse(m[1]) : Number.NaN;
  return Number.isNaN(t) ? undefined : t;
}

export async function tailSplit(e: E2E, executions: readonly TrackedExecution[]): Promise<TailSplit> {
  const verified = executions.filter((x) => x.outcome === 'VERIFIED' && x.stopDate);
  const lags = new Map<TrackedExecution, number>();
  await pool(verified, 20, async (x) => {
    const d = await e.c.sfn.send(new DescribeExecutionCommand({ executionArn: x.arn }));
    const recorded = recordedOf(d.output);
    if (recorded !== undefined && x.stopDate) lags.set(x, (x.stopDate.getTime() - recorded) / 1000);
  });
  const late = [...lags.values()].filter((l) => l > EVENT_LAG_SECONDS);
  const last = verified.reduce<TrackedExecution | undefined>(
    (a, x) => (!a || (x.stopDate?.getTime() ?? 0) > (a.stopDate?.getTime() ?? 0) ? x : a),
    undefined,
  );
  const lastLag = last ? lags.get(last) : undefined;
  return {
    verified: verified.length,
    late: {
      count: late.length,
      mean: late.length ? late.reduce((a, b) => a + b, 0) / late.length : Number.NaN,
      p90: percentile(late, 90),
      max: late.length ? Math.max(...late) : Number.NaN,
    },
    ...(lastLag !== undefined ? { lastLag } : {}),
  };
}
