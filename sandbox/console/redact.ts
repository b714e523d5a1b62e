/**
 * What the console and `executions show` may display of an execution's inputs and outputs: the task
 * handlers' log redaction (tasks/shared/redact.ts: secret-looking keys → "[redacted]", every string left
 * scrubbed of task-token-sized opaque runs, `token=…` pairs, URL query strings such as the signature of
 * an approval link, Slack webhook URLs).
 */
import { redact, scrubSecrets } from '../../tasks/shared/redact';

/** A redacted copy of any value. */
export function redactValue(value: unknown): unknown {
  return redact(value);
}

/** JSON text (an input, output or cause) redacted and pretty-printed; other text is scrubbed. */
export function redactJsonText(text: string): string {
  try {
    return JSON.stringify(redactValue(JSON.parse(text)), null, 2);
  } catch {
    return scrubSecrets(text);
  }
}
