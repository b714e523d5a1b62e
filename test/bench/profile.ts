/**
 * The profile run: a few security groups drift in a sandbox at time scale 1 whose operations take the
 * profile's times (drift detection 5 s, runbook 30 s, Config 60 s). Per execution it measures the state
 * transitions, the fixed-10-second-poller count for the same path, and the lags from each operation's
 * completion (the sandbox's own timestamps) to the workflow moving on.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { OUTCOME_STATES } from '../../workflows/remediation';
import { automationsFor, startE2E } from '../e2e/support/harness';
import {
  captureCompliant,
  deployFleet,
  history,
  injectDrift,
  type Profile,
  profileSandbox,
  SSH_RULE,
  say,
  trackExecutions,
} from './support';

export interface ProfileOptions {
  profile: Profile;
  groups: number;
  timeScale: number;
  timeoutMs: number;
  faults?: string;
}

export interface ProfileExecution {
  resourceId: string;
  outcome: string;
  transitions: number;
  fixedPoll10s: number;
  runbookLagSeconds?: number;
  configLagSeconds?: number;
  runbookSeconds?: number;
}

export interface ProfileResult {
  executions: ProfileExecution[];
  /** Means over the executions that ended VERIFIED (undefined when none did). */
  transitions?: number;
  fixedPoll10s?: number;
  runbookLagSeconds?: number;
  configLagSeconds?: number;
  runbookSeconds?: number;
}

const WAIT_POLL_STATES = 3; // a fixed poller's loop: Wait (10 s) → check task → Choice

/**
 * The count a naive fixed-10-second poller needs for the same path: every distinct non-Wait state the
 * execution went through once, plus, for each of the profile's three waits (drift detection, runbook,
 * Config), ceil(duration / 10) polls of Wait → check → Choice.
 */
export function fixedPollTransitions(events: readonly HistoryEvent[], p: Profile): number {
  const distinct = new Set<string>();
  for (const ev of events) {
    if (!ev.type?.endsWith('StateEntered') || ev.type === 'WaitStateEntered') continue;
    const name = ev.stateEnteredEventDetails?.name;
    if (name) distinct.add(name);
  }
  const polls = [p.driftSeconds, p.runbookSeconds, p.configSeconds].reduce(
    (n, d) => n + Math.max(1, Math.ceil(d / 10)),
    0,
  );
  return distinct.size + polls * WAIT_POLL_STATES;
}

/** StateEntered events in order: the transitions AWS bills (one per state entered). */
function entered(events: readonly HistoryEvent[]): Array<{ name: string; at: number }> {
  return events.flatMap((ev) =>
    ev.type?.endsWith('StateEntered') && ev.stateEnteredEventDetails?.name && ev.timestamp
      ? [{ name: ev.stateEnteredEventDetails.name, at: ev.timestamp.getTime() }]
      : [],
  );
}

/** Seconds from `at` to the first state entered at or after it that `moving` accepts. */
function lagAfter(
  states: ReadonlyArray<{ name: string; at: number }>,
  at: number,
  moving: (name: string) => boolean,
): number | undefined {
  const next = states.find((s) => s.at >= at && moving(s.name));
  return next ? (next.at - at) / 1000 : undefined;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);

export async function runProfile(o: ProfileOptions): Promise<ProfileResult> {
  const ps = profileSandbox(o.profile, o.faults);
  const e = await startE2E({ timeScale: o.timeScale, faults: ps.faults, serviceOptions: ps.serviceOptions });
  try {
    // No wait for the first COMPLIANT: Config evaluates a new group `configSeconds` after its creation,
    // and the drift injected meanwhile is part of that same (coalesced) evaluation → NON_COMPLIANT.
    const compliantChanges = await captureCompliant(e, SSH_RULE, 'bench-profile-compliant');
    const ids = await deployFleet(e, 'bench-profile', o.groups, { timeoutMs: o.timeoutMs });
    await injectDrift(e, ids);
    say(`profile: ${ids.length} groups drifted; waiting for the remediations (≈ 3 min at time scale 1)…`);
    const tracked = await trackExecutions(e, ids, Date.now() + o.timeoutMs);
    const compliantAt = await compliantChanges();
    const out: ProfileExecution[] = [];
    for (const x of tracked.executions) {
      const events = await history(e, x.arn);
      const states = entered(events);
      const r: ProfileExecution = {
        resourceId: x.resourceId,
        outcome: x.outcome ?? x.status,
        transitions: states.length,
        fixedPoll10s: fixedPollTransitions(events, o.profile),
      };
      const auto = (await automationsFor(e, x.resourceId)).find((a) => a.ExecutionEndTime);
      if (auto?.ExecutionEndTime) {
        const end = auto.ExecutionEndTime.getTime();
        const lag = lagAfter(states, end, (n) => !/runbook/i.test(n));
        if (lag !== undefined) r.runbookLagSeconds = lag;
        if (auto.ExecutionStartTime) r.runbookSeconds = (end - auto.ExecutionStartTime.getTime()) / 1000;
      }
      const recorded = compliantAt.get(x.resourceId);
      if (recorded !== undefined) {
        const lag = lagAfter(states, recorded, (n) => n === OUTCOME_STATES.VERIFIED);
        if (lag !== undefined) r.configLagSeconds = lag;
      }
      out.push(r);
    }
    const ok = out.filter((x) => x.outcome === 'VERIFIED');
    const pick = (f: (x: ProfileExecution) => number | undefined) =>
      mean(ok.flatMap((x) => (f(x) === undefined ? [] : [f(x) as number])));
    const res: ProfileResult = { executions: out };
    const fields = {
      transitions: pick((x) => x.transitions),
      fixedPoll10s: pick((x) => x.fixedPoll10s),
      runbookLagSeconds: pick((x) => x.runbookLagSeconds),
      configLagSeconds: pick((x) => x.configLagSeconds),
      runbookSeconds: pick((x) => x.runbookSeconds),
    };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) Object.assign(res, { [k]: v });
    return res;
  } finally {
    await e.stop();
  }
}
