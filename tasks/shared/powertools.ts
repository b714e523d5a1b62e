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

const serviceName = 'drift-remediation';

export const logger = new Logger({ serviceName });

const SECRET_KEY = /token|secret|signature|sig$|csrf|password|authorization|cookie/i;

/**
 * A copy of `value` with every secret-looking key replaced by "[redacted]". Task tokens, HMAC
 * signatures and CSRF tokens never reach a log line.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 8 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value))
    out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
  return out;
}
