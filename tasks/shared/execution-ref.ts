/**
 * `execution`: the slice of the Step Functions context object the state machine passes to tasks
 * (`execution.$: $$.Execution` fields Id, Name, StartTime, mapped to lowercase keys).
 */
import * as v from 'valibot';

export const ExecutionRef = v.object({
  /** Execution ARN ($$.Execution.Id). */
  id: v.pipe(v.string(), v.minLength(1)),
  /** Execution name ($$.Execution.Name). */
  name: v.pipe(v.string(), v.minLength(1), v.maxLength(80)),
  /** ISO start time ($$.Execution.StartTime). */
  startTime: v.pipe(v.string(), v.minLength(1)),
});
export type ExecutionRef = v.InferOutput<typeof ExecutionRef>;
