/**
 * Sandbox throughput: n security groups drift at once in a sandbox without latency faults at a tiny time
 * scale (emulated waits cost next to nothing), with the bench policy. Remediations per second = VERIFIED
 * outcomes ÷ real seconds from the injection to the last execution closing: what the sandbox itself
 * (HTTP, codecs, DynamoDB, Step Functions, the task code) sustains on this machine.
 */
import { startE2E } from '../e2e/support/harness';
import {
  deployFleet,
  injectDrift,
  recordedOutcomes,
  say,
  trackExecutions,
  writeBenchPolicy,
} from './support';

export interface ThroughputOptions {
  n: number;
  timeScale: number;
  timeoutMs: number;
  perRunbook: number;
  global: number;
}

export interface ThroughputResult {
  n: number;
  verified: number;
  outcomes: Record<string, number>;
  realMs: number;
  perSecond: number;
  timedOut: boolean;
}

export async function runThroughput(o: ThroughputOptions): Promise<ThroughputResult> {
  const policyFile = writeBenchPolicy({
    perRunbook: o.perRunbook,
    global: o.global,
    blastRadius: Math.max(10_000, o.n * 2),
  });
  const e = await startE2E({ timeScale: o.timeScale, policyFile });
  try {
    const ids = await deployFleet(e, 'bench-tput', o.n, { waitCompliant: true, timeoutMs: 300_000 });
    say(`throughput: ${ids.length} groups drifted at time scale ${o.timeScale}…`);
    const t0 = performance.now();
    await injectDrift(e, ids);
    const tracked = await trackExecutions(e, ids, Date.now() + o.timeoutMs);
    const realMs = tracked.lastClosedAt - t0;
    const recorded = await recordedOutcomes(e, ids);
    const outcomes: Record<string, number> = {};
    for (const v of recorded.values()) outcomes[v] = (outcomes[v] ?? 0) + 1;
    const verified = outcomes.VERIFIED ?? 0;
    return {
      n: ids.length,
      verified,
      outcomes,
      realMs,
      perSecond: verified / (realMs / 1000),
      timedOut: tracked.timedOut,
    };
  } finally {
    await e.stop();
  }
}
