/**
 * Sandbox throughput: n security groups drift at once in a sandbox without latency faults at a tiny time
 * scale (emulated waits cost next to nothing), with the bench policy and the caps the caller picks (the
 * bench runs it twice: with caps that do not bind, for the sandbox's capacity, and with the burst's 5 per
 * runbook / 20 global; see test/bench/run.ts). Remediations per second = resources
 * whose execution ended VERIFIED ÷ real seconds from the injection to the last execution closing: what
 * the sandbox itself (codecs, DynamoDB, Step Functions, the task code) sustains on this machine, with the
 * periodic fallbacks off (see below). The
 * process's CPU seconds over the same span are reported too (remediations per CPU second): on a shared
 * machine real time also counts other processes' work, CPU time does not. Over the same span it counts
 * the sandbox's operations (Sandbox.callCounts) per VERIFIED remediation, and with `cpuProfile` writes a
 * V8 CPU profile of just that span, of the main thread and of each handler worker thread (open them in
 * Chrome DevTools or speedscope).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { MAX_QUEUE_SECONDS } from '../../tasks/shared/policy/schema';
import { startE2E } from '../e2e/support/harness';
import {
  automations,
  deployFleet,
  injectDrift,
  peakConcurrent,
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
  /** Writes a CPU profile (.cpuprofile) of the injection → last close span to this file. */
  cpuProfile?: string | undefined;
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
  /**
   * Of those, the CPU seconds of the main thread: the emulator's event loop (and the handlers too when
   * they run in-process, SANDBOX_WORKERS=0). With cores to spare it bounds the rate: one remediation per
   * this many seconds / n. Undefined where /proc/self/task is not there (not Linux).
   */
  mainThreadCpuSeconds: number | undefined;
  /** Sandbox operations and function invocations per VERIFIED remediation, in all and by key. */
  callsPerRemediation: number;
  callsByOperation: Record<string, number>;
  /** The caps the run had, and the most SSM automations that ran at once (= perRunbook: the cap bound). */
  caps: { perRunbook: number; global: number };
  peakAutomations: number;
  timedOut: boolean;
}

/** User + system CPU seconds of this process's main thread so far (Linux: /proc/self/task/PID/stat). */
function mainThreadCpu(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command's closing parenthesis: state is 3rd, utime 14th, stime 15th (clock ticks).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}

/**
 * Starts a CPU profile of this process's main thread and of each handler worker thread (when given `workers`); the returned
 * function stops them and writes `file` (main) and `<file without .cpuprofile>.worker-N.cpuprofile`.
 */
export async function profileTo(
  file: string | undefined,
  workers?: { profileStart(): void; profileStop(): Promise<object[]> },
): Promise<() => Promise<void>> {
  if (!file) return async () => {};
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  workers?.profileStart();
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(file, JSON.stringify(profile));
    session.disconnect();
    const base = file.replace(/\.cpuprofile$/, '');
    for (const [i, p] of ((await workers?.profileStop()) ?? []).entries())
      writeFileSync(`${base}.worker-${i + 1}.cpuprofile`, JSON.stringify(p));
  };
}

/** The calls made between two snapshots of Sandbox.callCounts, per remediation, most frequent first. */
function perRemediation(
  before: Map<string, number>,
  after: Map<string, number>,
  remediations: number,
): { total: number; byKey: Record<string, number> } {
  const rows = [...after].map(
    ([k, v]) => [k, (v - (before.get(k) ?? 0)) / Math.max(1, remediations)] as const,
  );
  const byKey: Record<string, number> = {};
  let total = 0;
  for (const [k, v] of rows.filter(([, v]) => v > 0).sort((a, b) => b[1] - a[1])) {
    byKey[k] = Math.round(v * 100) / 100;
    total += v;
  }
  return { total: Math.round(total * 10) / 10, byKey };
}

export async function runThroughput(o: ThroughputOptions): Promise<ThroughputResult> {
  const policyFile = writeBenchPolicy({
    perRunbook: o.perRunbook,
    global: o.global,
    blastRadius: Math.max(10_000, o.n * 2),
    // The policy's deadlines are emulated time (the sandbox scales TimeoutSecondsPath like a Wait state): at
    // time scale 0.001 the default 6 h queue bound is 21.6 real seconds, shorter than this CPU-bound queue
    // takes to drain, and waiters would leave it ESCALATED. This section measures speed, not the bounds:
    // the longest the policy allows (7 days: 605 real s; verification 24 h: 86 real s).
    maxQueueSeconds: MAX_QUEUE_SECONDS,
    verificationTimeoutSeconds: 24 * 3600,
  });
  // Periodic fallbacks (sweep hourly, lease reaper every 5 min, wait reconciler, Config's daily drift check) stay off: at time scale
  // 0.001 an emulated hour is 3.6 real seconds, so they would fire ~1000× as often per remediation as in
  // AWS and re-send every queued resource each time — a time-scale artifact, not the sandbox's speed. With
  // no faults nothing is lost, so the event path alone must carry every remediation to VERIFIED.
  const e = await startE2E({
    timeScale: o.timeScale,
    policyFile,
    serviceOptions: {
      scheduler: { runSchedules: false },
      events: { runSchedules: false },
      config: { periodicRuns: false },
    },
  });
  try {
    const ids = await deployFleet(e, 'bench-tput', o.n, { waitCompliant: true, timeoutMs: 300_000 });
    say(`throughput: ${ids.length} groups drifted at time scale ${o.timeScale}…`);
    const stopProfile = await profileTo(o.cpuProfile, e.sb.workers);
    const calls0 = e.sb.callCounts();
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const main0 = mainThreadCpu();
    await injectDrift(e, ids);
    const tracked = await trackExecutions(e, ids, Date.now() + o.timeoutMs);
    const cpu = process.cpuUsage(cpu0);
    const main1 = mainThreadCpu();
    const calls1 = e.sb.callCounts();
    await stopProfile();
    const peakAutomations = peakConcurrent(await automations(e), e.sb.clock.now());
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
    const calls = perRemediation(calls0, calls1, verified);
    return {
      n: ids.length,
      verified,
      outcomes,
      realMs,
      perSecond: verified / (realMs / 1000),
      cpuSeconds,
      perCpuSecond: verified / cpuSeconds,
      mainThreadCpuSeconds: main0 === undefined || main1 === undefined ? undefined : main1 - main0,
      callsPerRemediation: calls.total,
      callsByOperation: calls.byKey,
      caps: { perRunbook: o.perRunbook, global: o.global },
      peakAutomations,
      timedOut: tracked.timedOut,
    };
  } finally {
    await e.stop();
  }
}
