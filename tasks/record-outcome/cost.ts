/**
 * The cost stored on the outcome record (tasks/shared/cost.ts prices it): the execution's history read once,
 * without execution data (types, times and state names are all the price needs; 1,000 events a page, and an
 * execution stays under the 25,000-event cap: test/workflow/history.test.ts), priced as it stands when Record
 * outcome runs plus the one transition still to come (Succeed or Fail). Record outcome's own invocation has
 * not ended: it is billed at the median of the others and counted in `estimatedInvocations`.
 * Every state machine function has WORKFLOW_MEMORY_MB (test/infra/cost-memory.test.ts), so a Task state
 * stands for its function. Never a reason to lose the outcome: a failed read records why instead, and a read
 * that runs past HISTORY_BUDGET_MS stops and records the cost so far with `complete: false`.
 */
import { GetExecutionHistoryCommand, type HistoryEvent, type SFNClient } from '@aws-sdk/client-sfn';
import { DEFAULT_MEMORY_MB, type ExecutionCost, executionCost } from '../shared/cost';

/** Memory of every state machine function (TaskFunction's default; no workflow task overrides it). */
export const WORKFLOW_MEMORY_MB = DEFAULT_MEMORY_MB;

/** Longest real time Record outcome spends reading the history for the cost. */
export const HISTORY_BUDGET_MS = 5_000;

export type StoredCost = (ExecutionCost & { complete: boolean }) | { unavailable: string };

export async function costForOutcome(
  sfn: SFNClient,
  executionArn: string,
  /** Real ms per history ms (TaskClock.scale: 1 in AWS). */
  durationScale: number,
  elapsedMs: () => number = stopwatch(),
): Promise<StoredCost> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await sfn.send(
        new GetExecutionHistoryCommand({
          executionArn,
          maxResults: 1000,
          includeExecutionData: false,
          nextToken,
        }),
      );
      events.push(...(page.events ?? []));
      nextToken = page.nextToken;
    } while (nextToken && elapsedMs() < HISTORY_BUDGET_MS);
  } catch (err) {
    return { unavailable: err instanceof Error ? err.name : 'Error' };
  }
  const cost = executionCost(events, () => WORKFLOW_MEMORY_MB, {
    durationScale,
    functionOfState: (state) => state,
    pendingTransitions: nextToken ? 0 : 1,
  });
  return { ...cost, complete: nextToken === undefined };
}

function stopwatch(): () => number {
  const start = performance.now();
  return () => performance.now() - start;
}
