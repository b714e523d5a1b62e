/**
 * Typed errors. Each class has a stable `name`; the state machine's Retry/Catch match on these names
 * (see workflows/). Only `retryable` errors are listed in a Retry; never retry everything.
 * Renaming a class's `name` is a breaking change to the workflow.
 */
export abstract class DriftRemediationError extends Error {
  abstract override readonly name: string;
  /** Whether the state machine retries this error (transient conditions only). */
  abstract readonly retryable: boolean;
  constructor(
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The task's input does not match its contract. Never retried; nothing was changed. */
export class InvalidInputError extends DriftRemediationError {
  override readonly name = 'InvalidInputError';
  readonly retryable = false;
  constructor(
    message: string,
    readonly issues: readonly string[] = [],
  ) {
    super(issues.length ? `${message}: ${issues.join('; ')}` : message, { issues });
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

/** The automation did not reach a terminal status within the polling budget. */
export class RunbookPollTimeoutError extends DriftRemediationError {
  override readonly name = 'RunbookPollTimeoutError';
  readonly retryable = false;
}

/** No remediation slot became free within the bounded number of tries. */
export class SlotUnavailableError extends DriftRemediationError {
  override readonly name = 'SlotUnavailableError';
  readonly retryable = false;
}

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

const THROTTLE_NAMES = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ProvisionedThroughputExceededException',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'PriorRequestNotComplete',
]);
const TRANSIENT_NAMES = new Set([
  'InternalServerError',
  'InternalFailure',
  'InternalError',
  'InternalServiceError',
  'InternalServerException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
]);

interface SdkLikeError {
  name?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** True for throttling errors from any AWS service. */
export function isThrottle(err: unknown): boolean {
  const e = err as SdkLikeError | null;
  return !!e && typeof e === 'object' && THROTTLE_NAMES.has(String(e.name));
}

/** True for throttling, 5xx and network errors: the ones worth retrying. */
export function isTransient(err: unknown): boolean {
  if (!err || typeof err !== 'object') return false;
  const e = err as SdkLikeError;
  if (isThrottle(err)) return true;
  if (TRANSIENT_NAMES.has(String(e.name)) || TRANSIENT_NAMES.has(String(e.code))) return true;
  const status = e.$metadata?.httpStatusCode;
  return typeof status === 'number' && status >= 500;
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
      throw new TransientServiceError(`${what}: ${e.name}: ${e.message}`, { cause: e.name });
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
