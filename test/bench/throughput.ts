/**
 * Sandbox throughput: n security groups drift at once in a sandbox without latency faults at a tiny time
 * scale (emulated waits cost next to nothing), with the bench policy. Remediations per second = resources
 * whose execution ended VERIFIED ÷ real seconds from the injection to the last execution closing: what
 * the sandbox itself (codecs, DynamoDB, Step Functions, the task code) sustains on this machine, with the
 * periodic fallbacks off (see below). The
 * process's CPU seconds over the same span are reported too (remediations per CPU second): on a shared
 * machine real time also counts other processes' work, CPU time does not.
 */
import { startE2E } from '../e2e/support/harness';
import { deployFleet, injectDrift, say, trackExecutions, writeBenchPolicy } from './support';

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
  /** User + system CPU seconds of this process from the injection to the last execution closing. */
  cpuSeconds: number;
  perCpuSecond: number;
  timedOut: boolean;
}

export async function runThroughput(o: ThroughputOptions): Promise<ThroughputResult> {
  const policyFile = writeBenchPolicy({
    perRunbook: o.perRunbook,
    global: o.global,
    blastRadius: Math.max(10_000, o.n * 2),
  });
  // Periodic fallbacks (sweep hourly, lease reaper every 5 min, wait reconciler) stay off: at time scale
  // 0.001 an emulated hour is 3.6 real seconds, so they would fire ~1000× as often per remediation as in
  // AWS and re-send every queued resource each time — a time-scale artifact, not the sandbox's speed. With
  // no faults nothing is lost, so the event path alone must carry every remediation to VERIFIED.
  const e = await startE2E({
    timeScale: o.timeScale,
    policyFile,
    serviceOptions: { scheduler: { runSchedules: false }, events: { runSchedules: false } },
  });
  try {
    const ids = await deployFleet(e, 'bench-tput', o.n, { waitCompliant: true, timeoutMs: 300_000 });
    say(`throughput: ${ids.length} groups drifted at time scale ${o.timeScale}…`);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await injectDrift(e, ids);
    const tracked = await trackExecutions(e, ids, Date.now() + o.timeoutMs);
    const cpu = process.cpuUsage(cpu0);
    const realMs = tracked.lastClosedAt - t0;
    // Per resource, what its executions ended with: VERIFIED if one did. (The OUTCOMES table's latest row
    // is no measure: intake records a SKIPPED row for the COMPLIANT event that follows a remediation.)
    const best = new Map<string, string>();
    for (const x of tracked.executions) {
      const outcome = x.outcome ?? x.status;
      if (best.get(x.resourceId) !== 'VERIFIED') best.set(x.resourceId, outcome);
    }
    const outcomes: Record<string, number> = {};
    for (const v of best.values()) outcomes[v] = (outcomes[v] ?? 0) + 1;
    const verified = outcomes.VERIFIED ?? 0;
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    return {
      n: ids.length,
      verified,
      outcomes,
      realMs,
      perSecond: verified / (realMs / 1000),
      cpuSeconds,
      perCpuSecond: verified / cpuSeconds,
      timedOut: tracked.timedOut,
    };
  } finally {
    await e.stop();
  }
}
