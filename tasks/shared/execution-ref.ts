/**
 * `execution`: the slice of the Step Functions context object the state machine passes to tasks
 * (`execution.$: $$.Execution` fields Id, Name, StartTime, mapped to lowercase keys).
 */
import * as z from './zod';

export const ExecutionRef = z.object({
  /** Execution ARN ($$.Execution.Id). */
  id: z.string().check(z.minLength(1)),
  /** Execution name ($$.Execution.Name). */
  name: z.string().check(z.minLength(1), z.maxLength(80)),
  /** ISO start time ($$.Execution.StartTime). */
  startTime: z.string().check(z.minLength(1)),
});
export type ExecutionRef = z.infer<typeof ExecutionRef>;
