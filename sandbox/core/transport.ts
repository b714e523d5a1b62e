/**
 * The in-process transport: a smithy request handler for SDK v3 clients that run inside the sandbox's
 * process (the installed Lambda task handlers when they run on the main thread). It hands the serialized,
 * signed request to the server's router (`SandboxServer.serve`) and returns its answer without a socket,
 * so nothing changes but the wire: the same headers (SigV4 `authorization` included, which identifies the
 * caller), the same request target and body bytes, the same service code path and encoded response.
 * Handlers in worker threads (./workers.ts) send the same `WireRequest` over a MessagePort to `serveWire`.
 * Clients outside the process (the CLI, tests' own clients, boto3) keep speaking HTTP to the same server.
 */
import type { HttpHandler } from '@smithy/core/protocols';
import type { SandboxServer } from './server';
import { credentialScope, rawRequest } from './server';
import { type WireRequest, type WireResponse, wireHandler } from './wire';

export { ForeignHostError, requestTarget } from './wire';

/** Serves one request of a socketless transport with the server's router: the bytes a socket would return. */
export async function serveWire(server: SandboxServer, request: WireRequest): Promise<WireResponse> {
  const { body } = request;
  const raw = rawRequest(
    request.method,
    request.target,
    request.headers,
    Buffer.from(body.buffer, body.byteOffset, body.byteLength),
  );
  const out = await server.serve(raw);
  return {
    status: out.status,
    headers: out.headers,
    body: typeof out.body === 'string' ? Buffer.from(out.body, 'utf8') : (out.body ?? Buffer.alloc(0)),
    streaming: credentialScope(request.headers, raw.query)?.service === 's3',
  };
}

/**
 * A request handler bound to `server`. Requests must name the server's own host and port (the endpoint
 * the clients are configured with); anything else is refused (ForeignHostError).
 */
export function inProcessHandler(server: SandboxServer): HttpHandler {
  return wireHandler(
    () => server.endpoint,
    async (request) => {
      // One macrotask boundary per request, as a socket gives: without it a handler's whole chain of calls
      // runs as microtasks, ahead of every timer and I/O callback of the process.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return serveWire(server, request);
    },
  );
}
