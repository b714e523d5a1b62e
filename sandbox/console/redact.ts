/**
 * What the console and `executions show` may display of an execution's inputs and outputs: the task
 * handlers' log redaction (secret-looking keys → "[redacted]", tasks/shared/powertools.ts) and
 * record-outcome's scrub of every string left (task-token-sized opaque runs, `token=…` pairs, URL query
 * strings such as the signature of an approval link).
 */
import { redact, scrubSecrets } from '../../tasks/shared/redact';

function scrubStrings(value: unknown): unknown {
  if (typeof value === 'string') return scrubSecrets(value);
  if (Array.isArray(value)) return value.map(scrubStrings);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubStrings(v)]));
  }
  return value;
}

/** A redacted copy of any value. */
export function redactValue(value: unknown): unknown {
  return scrubStrings(redact(value));
}

/** JSON text (an input, output or cause) redacted and pretty-printed; other text is scrubbed. */
export function redactJsonText(text: string): string {
  try {
    return JSON.stringify(redactValue(JSON.parse(text)), null, 2);
  } catch {
    return scrubSecrets(text);
  }
}
