/**
 * What the CLI prints for a failure. A sandbox that is not running shows up as ECONNREFUSED somewhere
 * in the error's cause chain (Node's fetch: TypeError → cause; SDK v3: the socket error itself, or an
 * AggregateError when both IPv4 and IPv6 were tried); that gets how to start one instead of a stack.
 */

interface SocketError {
  code?: unknown;
  address?: unknown;
  port?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** The first ECONNREFUSED in `err`, its causes and aggregated errors (depth-limited), or undefined. */
export function refusedConnection(err: unknown, depth = 0): SocketError | undefined {
  if (depth > 6 || typeof err !== 'object' || err === null) return undefined;
  const e = err as SocketError;
  if (e.code === 'ECONNREFUSED') return e;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const found = refusedConnection(inner, depth + 1);
      if (found) return found;
    }
  }
  return refusedConnection(e.cause, depth + 1);
}

/** The lines to print for a failed command; `endpoint` is the one the command was pointed at, if any. */
export function explainError(err: unknown, endpoint?: string): string[] {
  const refused = refusedConnection(err);
  if (refused) {
    const where =
      endpoint ??
      (typeof refused.address === 'string' && typeof refused.port === 'number'
        ? `http://${refused.address}:${refused.port}`
        : 'the endpoint');
    return [
      `error: nothing answers at ${where} — no sandbox is running there.`,
      'Start one in another terminal and leave it running:',
      '  npx drift-remediation sandbox serve            (port 4566, the stack installed)',
      'or point this command at yours with --endpoint URL (or AWS_ENDPOINT_URL).',
    ];
  }
  return [`error: ${err instanceof Error ? err.message : String(err)}`];
}
