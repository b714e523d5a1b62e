/**
 * The one redaction: what log lines (every task's Powertools Logger, tasks/shared/powertools.ts) and the ops
 * console may show of a value. Kept apart from powertools.ts: importing the Logger builds it from the
 * environment of that moment, so code that only redacts (the sandbox's console, loaded before the sandbox
 * sets the handlers' POWERTOOLS_LOG_LEVEL) must not build it early.
 *
 * Never shown: task tokens, HMAC signatures (approval decision and review links, webhook signatures), CSRF
 * tokens, signing and webhook secrets, Slack incoming-webhook URLs (the URL is the credential), passwords,
 * authorization headers and cookies — by key (`isSecretKey`) and in free text (`scrubSecrets`).
 */
const SECRET_KEY = /token|secret|signature|sig$|csrf|password|authorization|cookie/i;
export const REDACTED = '[redacted]';

/** Whether a field of this name holds a secret (its value never reaches a log line or an error message). */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

/**
 * Removes anything in free text that looks like a credential: long opaque runs (task tokens are hundreds of
 * characters of base64), `token=…` / `"taskToken": "…"` style pairs, URL query strings (the `exp`/`sig` of
 * approval links) and the path of Slack webhook URLs. No length cut (Record outcome's `scrub` cuts).
 */
export function scrubSecrets(text: string): string {
  return text
    .replace(
      /("?[A-Za-z]*(?:token|secret|signature|sig|password|csrf|authorization)"?\s*[:=]\s*"?)[^\s"&,;}]+/gi,
      `$1${REDACTED}`,
    )
    .replace(/(https?:\/\/hooks\.slack(?:-gov)?\.com)\/[^\s"]*/gi, `$1/${REDACTED}`)
    .replace(/(https?:\/\/[^\s?"]+)\?[^\s"]*/g, `$1?${REDACTED}`)
    .replace(/[A-Za-z0-9+/=_-]{100,}/g, REDACTED);
}

/**
 * `JSON.stringify` replacer applying the redaction to one key-value pair: a secret-looking key's value is
 * replaced, every string is scrubbed. The Logger serializes every line with it (errors and their causes
 * included, after Powertools formats them), so no call site has to remember.
 */
export function redactingReplacer(key: string, value: unknown): unknown {
  if (key !== '' && isSecretKey(key) && value !== undefined) return REDACTED;
  return typeof value === 'string' ? scrubSecrets(value) : value;
}

/** A redacted copy of `value` (plain data: what the console shows), the same rules as the log lines. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 16) return '[too deep]';
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = isSecretKey(k) ? REDACTED : redact(v, depth + 1);
  return out;
}
