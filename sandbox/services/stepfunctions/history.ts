/**
 * Turns aws-local-stepfunctions' event log into GetExecutionHistory events in AWS's format
 * (type names, *EventDetails members, ids and previousEventId), so the console-shaped view that ops
 * know is what the sandbox shows.
 */
import type { StateMachine } from 'aws-local-stepfunctions';

/** The library's event-log entry (not exported by name). */
export type EventLog =
  ReturnType<StateMachine['run']>['eventLogs'] extends AsyncGenerator<infer E> ? E : never;

export interface HistoryEvent {
  id: number;
  previousEventId: number;
  timestamp: Date;
  type: string;
  [details: string]: unknown;
}

export interface TaskInfo {
  /** Resource of a Task state, to tell Lambda tasks from service integrations. */
  resource: string;
  timeoutSeconds?: number;
}

/**
 * A state's input or output, kept by reference and turned into JSON text only when the history is
 * read: stringifying the whole execution state for every event (twice per state, four times per task)
 * was one of the sandbox's top costs, and histories are read rarely. Safe because nothing mutates a
 * state after the engine logged it (aws-local-stepfunctions clones a state's input before working on
 * it; the emulator's own copy of the state is updated copy-on-write).
 */
class LazyJson {
  constructor(readonly value: unknown) {}
}

const json = (v: unknown) => (v === undefined ? undefined : new LazyJson(v));

function materialize(ev: HistoryEvent): void {
  for (const details of Object.values(ev)) {
    if (!details || typeof details !== 'object' || details instanceof Date) continue;
    const d = details as Record<string, unknown>;
    for (const [k, v] of Object.entries(d)) if (v instanceof LazyJson) d[k] = JSON.stringify(v.value);
  }
}

/**
 * `ev` as GetExecutionHistory returns it with includeExecutionData false: the details' `input` and `output`
 * left out (never turned into JSON text), the rest (a task's `parameters`) as JSON text.
 */
function withoutData(ev: HistoryEvent): HistoryEvent {
  const out: HistoryEvent = { ...ev };
  for (const [k, v] of Object.entries(ev)) {
    if (!v || typeof v !== 'object' || v instanceof Date || !k.endsWith('EventDetails')) continue;
    const details: Record<string, unknown> = {};
    for (const [dk, dv] of Object.entries(v as Record<string, unknown>)) {
      if (dk === 'input' || dk === 'output') continue;
      details[dk] = dv instanceof LazyJson ? JSON.stringify(dv.value) : dv;
    }
    out[k] = details;
  }
  return out;
}

export class HistoryRecorder {
  private readonly recorded: HistoryEvent[] = [];
  private materialized = 0;

  /** The events so far, in AWS's format (inputs and outputs as JSON text). */
  get events(): readonly HistoryEvent[] {
    for (; this.materialized < this.recorded.length; this.materialized++) {
      const ev = this.recorded[this.materialized];
      if (ev) materialize(ev);
    }
    return this.recorded;
  }

  /** The number of events so far. */
  get length(): number {
    return this.recorded.length;
  }

  /**
   * GetExecutionHistory's page: `max` events from position `from`, oldest first (newest first when
   * `reverse`); with `includeData` false (includeExecutionData) inputs and outputs are left out and never
   * turned into JSON text — record-outcome reads every history that way, for its cost.
   */
  page(from: number, max: number, reverse: boolean, includeData: boolean): HistoryEvent[] {
    const n = this.recorded.length;
    const out: HistoryEvent[] = [];
    for (let i = from; i < Math.min(n, from + max); i++) {
      const ev = this.recorded[reverse ? n - 1 - i : i];
      if (!ev) continue;
      if (includeData) materialize(ev);
      out.push(includeData ? ev : withoutData(ev));
    }
    return out;
  }

  constructor(
    private readonly taskInfo: (stateName: string) => TaskInfo | undefined,
    private readonly roleArn: string,
    /** The sandbox clock, so history times agree with the execution's start and stop dates. */
    private readonly now: () => Date = () => new Date(),
  ) {}

  // Events are stamped when recorded (moments after the engine logs them) on the sandbox clock.
  private push(type: string, details: Record<string, unknown> = {}): void {
    const id = this.recorded.length + 1;
    this.recorded.push({ id, previousEventId: id - 1, timestamp: this.now(), type, ...details });
  }

  /** Events for the library's log entry `e` (top-level states only; the workflow has no Map/Parallel). */
  record(e: EventLog): void {
    switch (e.type) {
      case 'ExecutionStarted':
        this.push('ExecutionStarted', {
          executionStartedEventDetails: { input: json(e.input), roleArn: this.roleArn },
        });
        return;
      case 'ExecutionSucceeded':
        this.push('ExecutionSucceeded', { executionSucceededEventDetails: { output: json(e.output) } });
        return;
      case 'ExecutionFailed':
        this.push('ExecutionFailed', {
          executionFailedEventDetails: { error: e.Error, cause: causeText(e.Cause) },
        });
        return;
      case 'ExecutionAborted':
        this.push('ExecutionAborted', { executionAbortedEventDetails: {} });
        return;
      case 'ExecutionTimeout':
        this.push('ExecutionTimedOut', { executionTimedOutEventDetails: {} });
        return;
      case 'StateEntered': {
        this.push(`${e.state.type}StateEntered`, {
          stateEnteredEventDetails: { name: e.state.name, input: json(e.state.input) },
        });
        if (e.state.type === 'Task') this.scheduled(e.state.name, e.state.input);
        return;
      }
      case 'StateExited': {
        if (e.state.type === 'Task') this.taskSucceeded(e.state.name, e.state.output);
        if (e.state.type !== 'Fail') {
          this.push(`${e.state.type}StateExited`, {
            stateExitedEventDetails: { name: e.state.name, output: json(e.state.output) },
          });
        }
        return;
      }
      case 'StateFailed':
        if (e.state.type === 'Task') this.taskFailed(e.state.name, e.Error, causeText(e.Cause));
        return;
      case 'StateRetried':
        // AWS has no "retried" event: the task is simply scheduled again.
        if (e.state.type === 'Task') this.scheduled(e.state.name, e.state.input);
        return;
      default:
        return;
    }
  }

  private isLambdaArn(resource: string): boolean {
    return resource.startsWith('arn:aws:lambda:');
  }

  private scheduled(name: string, input: unknown): void {
    const info = this.taskInfo(name);
    if (!info) return;
    if (this.isLambdaArn(info.resource)) {
      this.push('LambdaFunctionScheduled', {
        lambdaFunctionScheduledEventDetails: {
          resource: info.resource,
          input: json(input),
          timeoutInSeconds: info.timeoutSeconds,
        },
      });
      this.push('LambdaFunctionStarted', {});
    } else {
      const { resourceType, resource } = splitIntegration(info.resource);
      this.push('TaskScheduled', {
        taskScheduledEventDetails: {
          resourceType,
          resource,
          region: regionOf(info.resource),
          parameters: json(input),
        },
      });
      this.push('TaskStarted', { taskStartedEventDetails: { resourceType, resource } });
    }
  }

  private taskSucceeded(name: string, output: unknown): void {
    const info = this.taskInfo(name);
    if (!info) return;
    if (this.isLambdaArn(info.resource)) {
      this.push('LambdaFunctionSucceeded', { lambdaFunctionSucceededEventDetails: { output: json(output) } });
    } else {
      const { resourceType, resource } = splitIntegration(info.resource);
      this.push('TaskSucceeded', {
        taskSucceededEventDetails: { resourceType, resource, output: json(output) },
      });
    }
  }

  private taskFailed(name: string, error: string, cause: string | undefined): void {
    const info = this.taskInfo(name);
    if (!info) return;
    if (error === 'States.Timeout') {
      const type = this.isLambdaArn(info.resource) ? 'LambdaFunctionTimedOut' : 'TaskTimedOut';
      const key = this.isLambdaArn(info.resource)
        ? 'lambdaFunctionTimedOutEventDetails'
        : 'taskTimedOutEventDetails';
      this.push(type, { [key]: { error, cause } });
      return;
    }
    if (this.isLambdaArn(info.resource)) {
      this.push('LambdaFunctionFailed', { lambdaFunctionFailedEventDetails: { error, cause } });
    } else {
      const { resourceType, resource } = splitIntegration(info.resource);
      this.push('TaskFailed', { taskFailedEventDetails: { resourceType, resource, error, cause } });
    }
  }
}

function causeText(cause: unknown): string | undefined {
  if (cause === undefined || cause === null) return undefined;
  return typeof cause === 'string' ? cause : JSON.stringify(cause);
}

function splitIntegration(resource: string): { resourceType: string; resource: string } {
  // arn:aws:states:::lambda:invoke.waitForTaskToken → resourceType lambda, resource invoke.waitForTaskToken
  const m = /^arn:aws[a-z-]*:states:[a-z0-9-]*:\d*:([a-z0-9-]+):(.+)$/.exec(resource);
  return m?.[1] && m[2] ? { resourceType: m[1], resource: m[2] } : { resourceType: 'unknown', resource };
}

function regionOf(resource: string): string {
  return resource.split(':')[3] ?? '';
}
