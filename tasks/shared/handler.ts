/**
 * The one way a task handler is written: parse the input with the task's schema, call the core with
 * its dependencies, return the core's result. Bad input → InvalidInputError before any AWS call.
 *
 *   export const handler = taskHandler('plan', PlanInput, (input) => plan(input, deps()));
 */
import type { Context } from 'aws-lambda';
import type { z } from 'zod';
import { DriftRemediationError, InvalidInputError } from './errors';
import { logger, metrics, redact } from './powertools';

/** Formats zod issues as `path: message`, naming the field. */
export function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
}

/** Parses `input` or throws InvalidInputError naming every bad field. */
export function parseInput<S extends z.ZodType>(task: string, schema: S, input: unknown): z.infer<S> {
  const r = schema.safeParse(input);
  if (!r.success) throw new InvalidInputError(`${task}: invalid input`, formatIssues(r.error));
  return r.data;
}

export function taskHandler<S extends z.ZodType, O>(
  task: string,
  schema: S,
  core: (input: z.infer<S>, context?: Context) => Promise<O>,
): (event: unknown, context?: Context) => Promise<O> {
  return async (event, context) => {
    logger.appendKeys({ task });
    if (context) logger.addContext(context);
    try {
      const input = parseInput(task, schema, event);
      logger.debug('input', { input: redact(input) });
      const out = await core(input, context);
      logger.info('done', { result: redact(out) });
      return out;
    } catch (err) {
      const e = err as Error;
      const level = err instanceof DriftRemediationError && err.retryable ? 'warn' : 'error';
      logger[level]('task failed', { errorName: e.name, errorMessage: e.message });
      throw err;
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
      logger.removeKeys(['task']);
    }
  };
}
