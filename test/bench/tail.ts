/**
 * What completed each VERIFIED execution's Config verification (issue #9, the burst's tail): Wait for
 * compliance's own first look (a COMPLIANT recorded between Re-check drift's start and the wait's
 * registration), the "Config Rules Compliance Change" event (wait-callback), or neither — the reconciler,
 * up to its period later: Config sends the event only when the compliance changes, so a COMPLIANT recorded
 * before the verification began leaves the later ones without an event. Noted by wrapping the two task
 * functions' invocations (their answers say whether they verified), from outside the sandbox; nothing it
 * measures changes. For the last VERIFIED execution, also its COMPLIANT recorded → stop: the verification's
 * reason names the result's recorded time (tasks/shared/compliance.ts, tasks/wait-callback).
 */
import { DescribeExecutionCommand } from '@aws-sdk/client-sfn';
import type { E2E } from '../e2e/support/harness';
import type { TrackedExecution } from './support';

type Path = 'look' | 'event' | 'other';

export interface TailSplit {
  verified: number;
  /** What completed each VERIFIED execution's compliance wait, by execution count. */
  paths: Record<Path, number>;
  /** The last VERIFIED execution: what completed its wait, and its COMPLIANT recorded → stop (emulated s). */
  last?: { path: Path; lag?: number };
}

type Paths = { look: Set<string>; event: Set<string> };

const isObj = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object';

/** Wraps `task`'s function so `seen(payload, result)` sees every invocation's answer. */
function onAnswer(e: E2E, task: string, seen: (payload: unknown, result: unknown) => void): void {
  const fn = e.sb.functions.get(e.stack.functions[task] ?? '');
  if (!fn) return;
  const invoke = fn.invoke.bind(fn);
  fn.invoke = async (payload: unknown) => {
    const result = await invoke(payload);
    seen(payload, result);
    return result;
  };
}

/**
 * Starts noting which executions Wait for compliance verified on its own first look (by execution name)
 * and which resources a compliance-change event completed a wait for (by resource id).
 */
export function watchVerifications(e: E2E): Paths {
  const paths: Paths = { look: new Set(), event: new Set() };
  onAnswer(e, 'await-compliance', (payload, result) => {
    const x = isObj(payload) && isObj(payload.execution) ? payload.execution.name : undefined;
    if (typeof x === 'string' && isObj(result) && result.status === 'verified') paths.look.add(x);
  });
  onAnswer(e, 'wait-callback', (payload, result) => {
    if (!isObj(payload) || payload['detail-type'] !== 'Config Rules Compliance Change') return;
    const id = isObj(payload.detail) ? payload.detail.resourceId : undefined;
    if (typeof id === 'string' && isObj(result) && Number(result.completed) > 0) paths.event.add(id);
  });
  return paths;
}

const RECORDED = /reports COMPLIANT \(recorded ([^)]+)\)/;

/** The recorded time of the COMPLIANT result that verified the execution, from its output. */
function recordedOf(output: string | undefined): number | undefined {
  const m = RECORDED.exec(output ?? '');
  const t = m?.[1] ? Date.parse(m[1]) : Number.NaN;
  return Number.isNaN(t) ? undefined : t;
}

export async function tailSplit(
  e: E2E,
  executions: readonly TrackedExecution[],
  seen: Paths,
): Promise<TailSplit> {
  const verified = executions.filter((x) => x.outcome === 'VERIFIED' && x.stopDate);
  const pathOf = (x: TrackedExecution): Path =>
    seen.look.has(x.arn.slice(x.arn.lastIndexOf(':') + 1))
      ? 'look'
      : seen.event.has(x.resourceId)
        ? 'event'
        : 'other';
  const paths: Record<Path, number> = { look: 0, event: 0, other: 0 };
  for (const x of verified) paths[pathOf(x)]++;
  const last = verified.reduce<TrackedExecution | undefined>(
    (a, x) => (!a || (x.stopDate?.getTime() ?? 0) > (a.stopDate?.getTime() ?? 0) ? x : a),
    undefined,
  );
  if (!last) return { verified: 0, paths };
  const d = await e.c.sfn.send(new DescribeExecutionCommand({ executionArn: last.arn }));
  const recorded = recordedOf(d.output);
  const lag =
    recorded !== undefined && last.stopDate ? (last.stopDate.getTime() - recorded) / 1000 : undefined;
  return {
    verified: verified.length,
    paths,
    last: { path: pathOf(last), ...(lag !== undefined ? { lag } : {}) },
  };
}
