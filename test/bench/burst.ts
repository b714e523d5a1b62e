/**
 * The burst: n security groups (n ≥ 1,000 by default) drift at once in a sandbox whose operations take
 * the profile's times, with the bench policy (5 per runbook, 20 overall, breaker allowing all n).
 * Counts recorded outcomes per resource, the peak of concurrent SSM automations, acquire-slot calls
 * beyond one per execution, and the makespan against the ideal ceil(n / cap) × runbook duration.
 */
import { startE2E } from '../e2e/support/harness';
import { type HandoffBreakdown, handoffBreakdown, slotTimesByAutomation } from './handoff';
import { type RunbookSplit, runbookSplit, watchSleeps } from './runbook-split';
import { type RunnerWaits, watchRunners } from './runners';
import {
  automations,
  countInvocations,
  deployFleet,
  history,
  injectDrift,
  type Profile,
  peakConcurrent,
  profileSandbox,
  recordedOutcomes,
  say,
  type TrackedExecution,
  trackExecutions,
  writeBenchPolicy,
} from './support';
import { type TailSplit, tailSplit, watchVerifications } from './tail';

export interface BurstOptions {
  n: number;
  perRunbook: number;
  global: number;
  profile: Profile;
  timeScale: number;
  /** Real milliseconds the remediations may take before what is still open counts as lost. */
  timeoutMs: number;
  faults?: string;
}

export interface BurstResult {
  n: number;
  verified: number;
  failed: number;
  /** Resources without a recorded outcome when the burst ended (still running or never started). */
  lost: number;
  stillRunning: number;
  outcomes: Record<string, number>;
  cap: number;
  peakAutomations: number;
  automations: number;
  /** First execution start to last VERIFIED, emulated seconds. */
  makespanSeconds?: number;
  idealSeconds: number;
  makespanRatio?: number;
  executions: number;
  acquireSlotCalls: number;
  slotPolls: number;
  setupMs: number;
  realMs: number;
  timedOut: boolean;
  /** The hand-off rounds split into their steps (emulated seconds). */
  handoff: HandoffBreakdown;
  /** Per task function: invocations, runner queueing and run time during the burst (real ms). */
  runners: RunnerWaits[];
  /** The automations' durations split into engine start, steps, gaps, end and timer lateness (emulated s). */
  runbooks: RunbookSplit;
  /** How the VERIFIED executions' Config verifications were completed (event or a later look). */
  verification: TailSplit;
}

/** How many times each value occurs. */
function tally(values: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}

/** The executions' starts, VERIFIED stops and first start → last VERIFIED (emulated seconds). */
function spanOf(executions: readonly TrackedExecution[]) {
  const verifiedStops = executions.flatMap((x) =>
    x.outcome === 'VERIFIED' && x.stopDate ? [x.stopDate.getTime()] : [],
  );
  const starts = executions.flatMap((x) => (x.startDate ? [x.startDate.getTime()] : []));
  const makespanSeconds =
    verifiedStops.length && starts.length
      ? (Math.max(...verifiedStops) - Math.min(...starts)) / 1000
      : undefined;
  return { verifiedStops, starts, makespanSeconds };
}

export async function runBurst(o: BurstOptions): Promise<BurstResult> {
  const ps = profileSandbox(o.profile, o.faults);
  const policyFile = writeBenchPolicy({
    perRunbook: o.perRunbook,
    global: o.global,
    blastRadius: Math.max(10_000, o.n * 2),
  });
  const tSetup = performance.now();
  const e = await startE2E({
    timeScale: o.timeScale,
    policyFile,
    faults: ps.faults,
    serviceOptions: ps.serviceOptions,
  });
  try {
    say(`burst: deploying ${o.n} security groups (stacks of 50) and waiting for Config…`);
    const ids = await deployFleet(e, 'bench-burst', o.n, { waitCompliant: true, timeoutMs: 600_000 });
    const setupMs = performance.now() - tSetup;
    const acquire = countInvocations(e, 'acquire-slot');
    const runners = watchRunners(e);
    const verifications = watchVerifications(e);
    const sleeps = watchSleeps(e, [
      o.profile.runbookSeconds - o.profile.driftSeconds,
      o.profile.driftSeconds,
    ]);
    const t0 = performance.now();
    const startedAt = e.sb.clock.now();
    await injectDrift(e, ids);
    say(
      `burst: ${ids.length} groups drifted; following the executions (at most ${Math.round(o.timeoutMs / 1000)} s)…`,
    );
    const tracked = await trackExecutions(e, ids, Date.now() + o.timeoutMs, (closed, running) =>
      say(`burst: ${closed} resources closed, ${running} executions running`),
    );
    const realMs = performance.now() - t0;
    const recorded = await recordedOutcomes(e, ids);
    const outcomes = tally(recorded.values());
    // A resource counts VERIFIED when one of its executions did: a later execution for the fixed resource (a
    // re-sent NON_COMPLIANT event) records SKIPPED after it, the latest outcome but not a failed remediation.
    const verifiedIds = new Set(
      tracked.executions.filter((x) => x.outcome === 'VERIFIED').map((x) => x.resourceId),
    );
    const autos = (await automations(e)).filter(
      (a) => a.ExecutionStartTime && a.ExecutionStartTime.getTime() >= startedAt.getTime(),
    );
    const { verifiedStops, starts, makespanSeconds } = spanOf(tracked.executions);
    const cap = o.perRunbook;
    const idealSeconds = Math.ceil(o.n / cap) * o.profile.runbookSeconds;
    const executions = tracked.executions.length;
    const slots = await slotTimesByAutomation(tracked, (x) => history(e, x));
    return {
      n: ids.length,
      verified: verifiedIds.size,
      failed: outcomes.FAILED ?? 0,
      lost: ids.length - recorded.size,
      stillRunning: tracked.executions.filter((x) => x.status === 'RUNNING').length,
      outcomes,
      cap,
      peakAutomations: peakConcurrent(autos, e.sb.clock.now()),
      automations: autos.length,
      // The makespan means something only once every resource has an outcome (else it is the last VERIFIED so far).
      ...(makespanSeconds !== undefined && !tracked.timedOut && recorded.size === ids.length
        ? { makespanSeconds, makespanRatio: makespanSeconds / idealSeconds }
        : {}),
      idealSeconds,
      executions,
      acquireSlotCalls: acquire.calls(),
      slotPolls: Math.max(0, acquire.calls() - (acquire.executions() || executions)),
      setupMs,
      realMs,
      timedOut: tracked.timedOut,
      handoff: handoffBreakdown(autos, slots, cap, { starts, verifiedStops }),
      runners: runners.read(),
      runbooks: await runbookSplit(e, autos, sleeps.read()),
      verification: await tailSplit(e, tracked.executions, verifications),
    };
  } finally {
    await e.stop();
  }
}
