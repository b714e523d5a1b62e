/**
 * One Logger per process (the Powertools way); the one Metrics is in metrics.ts, so only the tasks that
 * emit metrics bundle it (~12 KB). Service name comes from POWERTOOLS_SERVICE_NAME, set identically on
 * every function.
 *
 * No Powertools Tracer: it bundles the X-Ray SDK (aws-xray-sdk-core, cls-hooked, semver: ~125 KB
 * minified, and async hooks on every promise) for per-SDK-call subsegments. Lambda's active tracing
 * (infra) still records each function's segment (init, invocation) under the state machine's trace;
 * see docs/operations.md "Bundles".
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { redactingReplacer } from './redact';

const serviceName = 'drift-remediation';

/**
 * Every line is serialized through the one redaction (redact.ts): secret-looking keys and secrets in any
 * string are hidden on every line a task writes — DEBUG included, the event Powertools logs when
 * POWERTOOLS_LOGGER_LOG_EVENT is set, and errors with their causes — not only where a call site remembers.
 */
export const logger = new Logger({ serviceName, jsonReplacerFn: redactingReplacer });
