/**
 * An execution's history as ops read it: one row per state entered, with its duration, its input and
 * output (redacted: redact.ts) and the error that ended it, plus the path taken (state names in order).
 * Used by the console (server side) and by `executions show`.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { redactJsonText } from './redact';

export interface StateStep {
  name: string;
  /** Pass, Task, Choice, Wait, Succeed, Fail … (from the event type). */
  type: string;
  enteredAt: string;
  exitedAt?: string;
  /** exited − entered; for a state still running, until `now`. */
  durationMs: number;
  input?: string;
  output?: string;
  error?: string;
  /** Scheduled attempts of a Task state (retries + 1). */
  attempts: number;
}

const failureOf = (e: HistoryEvent) =>
  e.taskFailedEventDetails ??
  e.lambdaFunctionFailedEventDetails ??
  e.taskTimedOutEventDetails ??
  e.lambdaFunctionTimedOutEventDetails ??
  e.executionFailedEventDetails;

/** The rows of an execution's history, in order. `now` closes a state that has not exited yet. */
export function timelineOf(events: readonly HistoryEvent[], now: Date): StateStep[] {
  const steps: StateStep[] = [];
  let open: StateStep | undefined;
  const end = (at: Date | undefined) => {
    if (!open) return;
    const exited = at ?? now;
    open.durationMs = Math.max(0, exited.getTime() - Date.parse(open.enteredAt));
    if (at) open.exitedAt = at.toISOString();
    open = undefined;
  };
  for (const e of events) {
    const type = e.type ?? '';
    const entered = e.stateEnteredEventDetails;
    if (entered?.name) {
      end(e.timestamp);
      open = {
        name: entered.name,
        type: type.replace(/StateEntered$/, ''),
        enteredAt: (e.timestamp ?? now).toISOString(),
        durationMs: 0,
        attempts: 0,
        ...(entered.input !== undefined ? { input: redactJsonText(entered.input) } : {}),
      };
      steps.push(open);
      continue;
    }
    if (!open) continue;
    if (type === 'TaskScheduled' || type === 'LambdaFunctionScheduled') open.attempts++;
    const failed = failureOf(e);
    if (failed)
      open.error = redactJsonText(`${failed.error ?? ''}${failed.cause ? `: ${failed.cause}` : ''}`);
    const exited = e.stateExitedEventDetails;
    if (exited?.name === open.name) {
      if (exited.output !== undefined) open.output = redactJsonText(exited.output);
      end(e.timestamp);
    } else if (type.startsWith('Execution') && type !== 'ExecutionStarted') {
      end(e.timestamp);
    }
  }
  end(undefined);
  return steps;
}

/** "1.23 s", "850 ms", "2 min 5 s" */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const min = Math.floor(ms / 60_000);
  return `${min} min ${Math.round((ms % 60_000) / 1000)} s`;
}
