/**
 * No execution can exceed Step Functions' 25,000-event history cap. The bound is computed from the
 * synthesized definition (each state's events per visit, Retry attempts read from the ASL) and the loop
 * bounds the tasks enforce (policy schema maxima and task constants). Every state on a cycle must have
 * an explicit bound here, so a new loop cannot slip in unbounded.
 */
import { describe, expect, it } from 'vitest';
import { DRIFT_MAX_POLLS } from '../../tasks/detect-drift/core';
import { MAX_VERIFICATION_POLLS } from '../../tasks/plan/core';
import { MAX_ATTEMPTS } from '../../tasks/shared/policy/schema';
import { definitionFromTemplate } from '../../workflows/local';
import { STATES } from '../../workflows/remediation';
import { synth } from '../infra/synth';

const HISTORY_CAP = 25_000;
type State = Record<string, unknown> & { Type: string };
const { json } = synth({ nag: false });
const def = definitionFromTemplate(json) as unknown as { StartAt: string; States: Record<string, State> };

function successors(s: State): string[] {
  return [
    ...(typeof s.Next === 'string' ? [s.Next] : []),
    ...((s.Choices as { Next: string }[] | undefined) ?? []).map((c) => c.Next),
    ...(typeof s.Default === 'string' ? [s.Default] : []),
    ...((s.Catch as { Next: string }[] | undefined) ?? []).map((c) => c.Next),
  ];
}

/** States that lie on a cycle (Tarjan's strongly connected components of size > 1, or a self-loop). */
function statesOnCycles(states: Record<string, State>): Set<string> {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out = new Set<string>();
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of successors(states[v] as State)) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string | undefined;
      do {
        w = stack.pop() as string;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || successors(states[v] as State).includes(v)) for (const c of comp) out.add(c);
    }
  };
  for (const s of Object.keys(states)) if (!idx.has(s)) strong(s);
  return out;
}

/** History events one visit of a state can write in the worst case (every retry used). */
function eventsPerVisit(s: State): number {
  const retries = ((s.Retry as { MaxAttempts?: number }[] | undefined) ?? []).reduce(
    (n, r) => n + (r.MaxAttempts ?? 3),
    0,
  );
  if (s.Type !== 'Task') return 2; // StateEntered + StateExited
  // Entered, Scheduled, Started, (Submitted for callbacks), Succeeded|Failed|TimedOut, Exited; each retry repeats
  // Scheduled, Started, (Submitted), Failed.
  const callback = String(s.Resource).endsWith('.waitForTaskToken');
  return (callback ? 6 : 5) + retries * (callback ? 4 : 3);
}

/** Upper bound on visits per state within one execution. */
const LOOP_VISITS: Record<string, number> = {
  [STATES.describeDrift]: DRIFT_MAX_POLLS + 1,
  [STATES.afterDrift]: DRIFT_MAX_POLLS + 1,
  [STATES.waitDriftDetection]: DRIFT_MAX_POLLS,
  [STATES.checkDrift]: DRIFT_MAX_POLLS,
  // The runbook's end comes by task token: one Start runbook (and one Choice) per attempt.
  [STATES.startRunbook]: MAX_ATTEMPTS,
  [STATES.runbookFinished]: MAX_ATTEMPTS,
  [STATES.waitRunbookRetry]: MAX_ATTEMPTS,
  // CloudFormation-only verification polls; a Config rule's COMPLIANT result comes by task token.
  [STATES.recheckDrift]: MAX_VERIFICATION_POLLS,
  [STATES.driftResolved]: MAX_VERIFICATION_POLLS,
  [STATES.waitRecheck]: MAX_VERIFICATION_POLLS,
};

describe('execution history bound', () => {
  it('every state on a cycle has an explicit visit bound', () => {
    const cyclic = statesOnCycles(def.States);
    expect(cyclic.size).toBeGreaterThan(0);
    for (const s of cyclic) expect(LOOP_VISITS, `unbounded loop state ${s}`).toHaveProperty([s]);
  });

  it('finds the loops it must (a removed bound would be caught)', () => {
    const cyclic = statesOnCycles(def.States);
    for (const s of [STATES.startRunbook, STATES.recheckDrift, STATES.checkDrift])
      expect(cyclic.has(s), s).toBe(true);
    // Waiting for a slot is one task-token wait, not a loop.
    for (const s of [STATES.plan, STATES.acquireSlot]) expect(cyclic.has(s), s).toBe(false);
  });

  it('the worst case stays under 25,000 events', () => {
    let total = 2; // ExecutionStarted + ExecutionSucceeded/Failed
    const breakdown: Record<string, number> = {};
    for (const [name, s] of Object.entries(def.States)) {
      const visits = LOOP_VISITS[name] ?? 1;
      breakdown[name] = visits * eventsPerVisit(s);
      total += breakdown[name];
    }
    // Sanity of the model: a drift poll costs Wait (2) + Check drift with 3 retries (5 + 9).
    expect(breakdown[STATES.checkDrift]).toBe(DRIFT_MAX_POLLS * 14);
    // Exclusive branches are summed together: a deliberate over-estimate of any single execution.
    expect(total, JSON.stringify(breakdown)).toBeLessThan(HISTORY_CAP);
  });
});
