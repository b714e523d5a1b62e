/**
 * Typed errors. Each class has a stable `name`; the state machine's Retry/Catch match on these names
 * (see workflows/). Only `retryable` errors are listed in a Retry; never retry everything.
 * Renaming a class's `name` is a breaking change to the workflow. Every error that wraps another keeps
 * it as `cause` (`new XError(message, { cause: err })`).
 */
import { isServerError, isThrottlingError, isTransientError } from '@smithy/service-error-classification';

/**
 * Options of every typed error: `cause` is the original error (kept, as `Error.cause`, never flattened to
 * its name); any other field is a detail for logs (`details`).
 */
export interface DriftErrorOptions extends ErrorOptions {
  readonly [detail: string]: unknown;
}

export abstract class DriftRemediationError extends Error {
  abstract override readonly name: string;
  /** Whether the state machine retries this error (transient conditions only). */
  abstract readonly retryable: boolean;
  /** Context for logs (ids, counts); never secrets. */
  readonly details: Readonly<Record<string, unknown>>;
  constructor(message: string, options: DriftErrorOptions = {}) {
    const { cause, ...details } = options;
    super(message, 'cause' in options ? { cause } : undefined);
    this.details = details;
  }
}

/** The task's input does not match its contract. Never retried; nothing was changed. */
export class InvalidInputError extends DriftRemediationError {
  override readonly name = 'InvalidInputError';
  readonly retryable = false;
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
    options: ErrorOptions = {},
  ) {
    super(issues.length ? `${message}: ${issues.join('; ')}` : message, { ...options, issues });
  }
}

/** A resource identifier failed the per-type format check before reaching a runbook. */
export class InvalidResourceIdError extends DriftRemediationError {
  override readonly name = 'InvalidResourceIdError';
  readonly retryable = false;
}

/** The remediation policy is invalid or has no usable entry. */
export class PolicyError extends DriftRemediationError {
  override readonly name = 'PolicyError';
  readonly retryable = false;
}

/** An AWS call failed for a transient reason (throttling, 5xx, network). Retried with backoff. */
export class TransientServiceError extends DriftRemediationError {
  override readonly name = 'TransientServiceError';
  readonly retryable = true;
}

/** Exceptions / break-glass could not be read. Fail closed: no remediation. Not retried past the task's own attempts. */
export class ExceptionsUnavailableError extends DriftRemediationError {
  override readonly name = 'ExceptionsUnavailableError';
  readonly retryable = false;
}

/** CloudFormation drift detection failed (DETECTION_FAILED) or could not be started. */
export class DriftDetectionFailedError extends DriftRemediationError {
  override readonly name = 'DriftDetectionFailedError';
  readonly retryable = false;
}

/** Drift detection did not complete within the polling budget. */
export class DriftDetectionTimeoutError extends DriftRemediationError {
  override readonly name = 'DriftDetectionTimeoutError';
  readonly retryable = false;
}

/** StartAutomationExecution was throttled or hit the concurrency quota. Retried with backoff. */
export class RunbookStartThrottledError extends DriftRemediationError {
  override readonly name = 'RunbookStartThrottledError';
  readonly retryable = true;
}

/** StartAutomationExecution was rejected (missing document, invalid parameters, token mismatch). */
export class RunbookStartRejectedError extends DriftRemediationError {
  override readonly name = 'RunbookStartRejectedError';
  readonly retryable = false;
}

/** The automation did not reach a terminal status within its time budget (it is stopped first). */
export class RunbookTimeoutError extends DriftRemediationError {
  override readonly name = 'RunbookTimeoutError';
  readonly retryable = false;
}

/** Config did not report COMPLIANT within the policy's verification timeout (the reconciler says so): NOT_VERIFIED. */
export class VerificationTimeoutError extends DriftRemediationError {
  override readonly name = 'VerificationTimeoutError';
  readonly retryable = false;
}

/** Verification cannot happen (e.g. the Config rule is gone): the workflow ends NOT_VERIFIED. */
export class VerificationUnavailableError extends DriftRemediationError {
  override readonly name = 'VerificationUnavailableError';
  readonly retryable = false;
}

/** No remediation slot became free within the bounded number of tries. */
export class SlotUnavailableError extends DriftRemediationError {
  override readonly name = 'SlotUnavailableError';
  readonly retryable = false;
}

/** Errors SendTask* answers once the execution no longer waits on the token. */
export const ENDED_TOKEN_ERRORS: ReadonlySet<string> = new Set([
  'TaskTimedOut',
  'TaskDoesNotExist',
  'InvalidToken',
]);

/** Error names used by Step Functions itself or by SendTaskFailure. */
export const StatesErrors = {
  Timeout: 'States.Timeout',
  All: 'States.ALL',
  TaskFailed: 'States.TaskFailed',
  /** SendTaskFailure error an approver's rejection carries. */
  ApprovalRejected: 'ApprovalRejected',
} as const;

/** Lambda service errors Step Functions may raise for an invoke; transient, so retried. */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

/**
 * True for throttling errors from any AWS service (HTTP 429, the SDK's list of throttling codes, or the
 * error's own throttling trait): the SDK's own classification (`@smithy/service-error-classification`).
 */
export function isThrottle(err: unknown): boolean {
  return isSdkErrorLike(err) && !NOT_A_RATE.has(err.name) && isThrottlingError(err);
}

/**
 * The SDK counts these as throttling; here they are not: a LimitExceededException is a quota or (Config's
 * StartConfigRulesEvaluation) an evaluation already running, which waiting a few seconds does not change.
 * Callers that care handle it by name.
 */
const NOT_A_RATE = new Set(['LimitExceededException']);

/**
 * True for the errors worth retrying: throttling, transient codes (timeouts, 500/502/503/504, network
 * resets) and other 5xx, also when such an error is the `cause` of a wrapper (e.g. Powertools'
 * GetParameterError). The classification is the SDK's own (its retry strategy uses the same).
 */
export function isTransient(err: unknown, depth = 0): boolean {
  if (!isSdkErrorLike(err)) return false;
  if (isThrottle(err) || (!NOT_A_RATE.has(err.name) && (isTransientError(err) || isServerError(err))))
    return true;
  return depth < 8 && isTransient((err as { cause?: unknown }).cause, depth + 1);
}

type SdkError = Parameters<typeof isTransientError>[0];
function isSdkErrorLike(err: unknown): err is SdkError {
  return !!err && typeof err === 'object' && typeof (err as { name?: unknown }).name === 'string';
}

/**
 * Runs one AWS call; transient failures become TransientServiceError (retried by the state machine),
 * everything else is rethrown unchanged (caught, not retried).
 */
export async function awsCall<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof DriftRemediationError) throw err;
    if (isTransient(err)) {
      const e = err as Error;
      throw new TransientServiceError(`${what}: ${e.name}: ${e.message}`, { cause: err });
    }
    throw err;
  }
}

/** Name of any thrown value, for logs and outcomes. */
export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}

/** True for CloudFormation's "Stack with id X does not exist" ValidationError. */
export function isStackMissing(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown } | null;
  return !!e && e.name === 'ValidationError' && /does not exist/i.test(String(e.message));
}
