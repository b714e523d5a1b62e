/**
 * Secret-free copies of values for log lines and the ops console. Kept apart from powertools.ts: importing
 * the Logger builds it from the environment of that moment, so code that only redacts (the sandbox's
 * console, loaded before the sandbox sets the handlers' POWERTOOLS_LOG_LEVEL) must not build it early.
 */
const SECRET_KEY = /token|secret|signature|sig$|csrf|password|authorization|cookie/i;

/** Whether a field of this name holds a secret (its value never reaches a log line or an error message). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

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

/**
 * Removes anything in free text that looks like a credential: long opaque runs (task tokens are hundreds of
 * characters of base64), `token=…` / `"taskToken": "…"` style pairs, and URL query strings. No length cut
 * (Record outcome's `scrub` cuts; the console shows whole inputs and outputs: sandbox/console/redact.ts).
 */
export function scrubSecrets(text: string): string {
  return text
    .replace(
      /("?[A-Za-z]*(?:token|secret|signature|sig|password|csrf|authorization)"?\s*[:=]\s*"?)[^\s"&,;}]+/gi,
      '$1[redacted]',
    )
    .replace(/(https?:\/\/[^\s?"]+)\?[^\s"]*/g, '$1?[redacted]')
    .replace(/[A-Za-z0-9+/=_-]{100,}/g, '[redacted]');
}
