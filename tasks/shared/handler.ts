/**
 * The one way a task handler is written: the task's core over its dependencies, wrapped in Middy with
 * Powertools middleware. Bad input → InvalidInputError naming every bad field, before any AWS call.
 *
 *   export const handler = taskHandler('plan', PlanInput, (input) => plan(input, deps()));
 *
 * Middleware, in the order they run before the core (after/onError run in reverse):
 *   1. injectLambdaContext (Powertools Logger): request id, function name, cold start on every log
 *      line; the per-invocation keys are reset afterwards.
 *   2. the task's own middleware (`{ use: [...] }`): logMetrics (Powertools Metrics) in the tasks that
 *      emit metrics (intake, notify: `use: [logMetrics(metrics)]`, metrics.ts) flushes them as EMF at the
 *      end of the invocation, also when it fails. The handler imports it, so the other bundles hold
 *      neither Metrics nor its middleware.
 *   3. taskOutcome (below): the `task` log key, a `done` line with the result, and on failure
 *      one warn (retryable) or error line, its stacks mapped to the sources (stack-trace.ts); a parser
 *      failure becomes InvalidInputError (original as cause).
 *   4. parser (Powertools Parser): validates the event against the task's schema (Standard Schema).
 * Parser envelopes (SqsEnvelope, EventBridgeEnvelope) are not used: they build their schemas with
 * `import { z } from 'zod'`, which esbuild cannot tree-shake (all of zod, ~440 KB, in every bundle; the
 * task schemas are valibot's), and
 * intake must record a bad record as SKIPPED rather than fail the batch (docs/architecture.md).
 */
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { ParseError } from '@aws-lambda-powertools/parser';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import middy, { type MiddlewareObj } from '@middy/core';
import type { Context } from 'aws-lambda';
import type * as v from 'valibot';
import { DriftRemediationError, InvalidInputError } from './errors';
import { logger } from './powertools';
import { isSecretKey } from './redact';
import { mapErrorStacks } from './stack-trace';

/** A validation issue (valibot's, or any Standard Schema's). */
export interface Issue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: unknown }> | undefined;
}

/**
 * Formats validation issues as `path: message`, naming the field. valibot's messages quote the value they
 * got (`… but received "…"`): for a secret-looking field (redact.ts `isSecretKey`: task tokens, signatures,
 * CSRF tokens) the value is replaced by `[redacted]`, so an error message never carries one.
 */
export function formatIssues(error: { readonly issues: readonly Issue[] }): string[] {
  return error.issues.map((i) => {
    const path = (i.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p));
    const message = path.some(isSecretKey)
      ? i.message.replace(/ but received .*$/s, ' but received [redacted]')
      : i.message;
    return `${path.length ? path.join('.') : '(root)'}: ${message}`;
  });
}

/**
 * The InvalidInputError for a parser failure: every issue named, a ParseError kept as cause. The cause
 * holds the formatted issues only: valibot's issues carry the input they checked (each path step holds its
 * whole parent object, the task token with it), and the Logger writes an error's causes out in full.
 */
export function invalidInput(task: string, err: ParseError): InvalidInputError {
  const issues = Array.isArray(err.cause) ? (err.cause as Issue[]) : [{ message: err.message }];
  const named = formatIssues({ issues });
  return new InvalidInputError(`${task}: invalid input`, named, {
    cause: new ParseError('Failed to parse schema', { cause: named }),
  });
}

function taskOutcome(task: string): MiddlewareObj<unknown, unknown, Error, Context> {
  return {
    before: () => {
      logger.appendKeys({ task });
    },
    after: (request) => {
      logger.info('done', { result: request.response }); // redacted by the Logger (redact.ts)
    },
    onError: (request) => {
      if (request.error instanceof ParseError) request.error = invalidInput(task, request.error);
      const err = request.error;
      mapErrorStacks(err); // source positions, read from the bundle's map only now (stack-trace.ts)
      const level = err instanceof DriftRemediationError && err.retryable ? 'warn' : 'error';
      logger[level]('task failed', { errorName: err?.name, errorMessage: err?.message, error: err });
    },
  };
}

export interface TaskHandlerOptions {
  /**
   * Middy middleware of the task's own, run after the Logger's and before the outcome line and the
   * parser: `[logMetrics(metrics)]` for a task that emits metrics (tasks/shared/metrics.ts).
   * @default none
   */
  readonly use?: readonly MiddlewareObj<unknown, unknown, Error, Context>[];
}

/** A task handler as Lambda (and the sandbox, and tests) call it. */
export type TaskHandler<O> = (event: unknown, context?: Context) => Promise<O>;

export function taskHandler<S extends v.GenericSchema, O>(
  task: string,
  schema: S,
  core: (input: v.InferOutput<S>, context: Context) => Promise<O>,
  options: TaskHandlerOptions = {},
): TaskHandler<O> {
  const h = middy<unknown, O, Error, Context>().use(injectLambdaContext(logger, { resetKeys: true }));
  for (const m of options.use ?? []) h.use(m);
  h.use(taskOutcome(task)).use(parser({ schema }));
  const handler = h.handler(async (input, context) => {
    logger.debug('input', { input }); // redacted by the Logger (redact.ts)
    return core(input as v.InferOutput<S>, context);
  });
  return (event, context) => handler(event, context ?? ({} as Context));
}
