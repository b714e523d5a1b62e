/**
 * The in-process transport: a smithy request handler for SDK v3 clients that run inside the sandbox's
 * process (the installed Lambda task handlers). It hands the serialized, signed request to the server's
 * router (`SandboxServer.serve`) and returns its answer without a socket, so nothing changes but the
 * wire: the same headers (SigV4 `authorization` included, which identifies the caller), the same request
 * target and body bytes, the same service code path and encoded response. Clients outside the process
 * (the CLI, tests' own clients, boto3) keep speaking HTTP to the same server.
 */
import { Readable } from 'node:stream';
import { type HttpHandler, HttpResponse } from '@smithy/core/protocols';
import type { HttpHandlerOptions, HttpRequest, QueryParameterBag } from '@smithy/types';
import type { SandboxServer } from './server';
import { credentialScope, rawRequest } from './server';

/** RFC 3986 encoding as the SDK's query-string builder does it (encodeURIComponent plus !'()*). */
function escapeUri(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The request target exactly as @smithy/node-http-handler writes it on the wire: path, then the sorted query. */
export function requestTarget(path: string, query: QueryParameterBag | undefined): string {
  const parts: string[] = [];
  for (const key of Object.keys(query ?? {}).sort()) {
    const value = query?.[key];
    const k = escapeUri(key);
    if (Array.isArray(value)) for (const v of value) parts.push(`${k}=${escapeUri(v)}`);
    else parts.push(value || typeof value === 'string' ? `${k}=${escapeUri(value)}` : k);
  }
  return parts.length > 0 ? `${path}?${parts.join('&')}` : path;
}

async function bodyBytes(body: unknown): Promise<Buffer> {
  if (body === undefined || body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (ArrayBuffer.isView(body)) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  if (body instanceof Readable) {
    const chunks: Buffer[] = [];
    for await (const c of body)
      chunks.push(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c as Uint8Array));
    return Buffer.concat(chunks);
  }
  throw new TypeError(`in-process transport: unsupported request body type ${typeof body}`);
}

function lowerCaseHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) out[k.toLowerCase()] = v;
  return out;
}

/** Thrown for a request to any host but the sandbox's: this transport reaches the sandbox only. */
export class ForeignHostError extends Error {
  override readonly name = 'ForeignHostError';
}

/**
 * A request handler bound to `server`. Requests must name the server's own host and port (the endpoint
 * the clients are configured with); anything else is refused rather than silently answered by the sandbox.
 */
export function inProcessHandler(server: SandboxServer): HttpHandler {
  const handle = async (
    request: HttpRequest,
    options?: HttpHandlerOptions,
  ): Promise<{ response: HttpResponse }> => {
    if (options?.abortSignal?.aborted) {
      const err = new Error('Request aborted');
      err.name = 'AbortError';
      throw err;
    }
    const own = new URL(server.endpoint);
    const port =
      request.port === undefined ? (request.protocol === 'https:' ? '443' : '80') : String(request.port);
    if (request.hostname !== own.hostname || port !== own.port) {
      throw new ForeignHostError(
        `in-process transport serves ${server.endpoint} only, not ${request.protocol}//${request.hostname}:${port}`,
      );
    }
    const headers = lowerCaseHeaders(request.headers);
    const raw = rawRequest(
      request.method,
      requestTarget(request.path, request.query),
      headers,
      await bodyBytes(request.body),
    );
    // One macrotask boundary per request, as a socket gives: without it a handler's whole chain of calls
    // runs as microtasks, ahead of every timer and I/O callback of the process.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const out = await server.serve(raw);
    const bytes =
      typeof out.body === 'string' ? Buffer.from(out.body, 'utf8') : (out.body ?? Buffer.alloc(0));
    // Streaming outputs (S3 GetObject's Body) must be a Readable for the SDK's stream mixin; every other
    // deserializer collects a Uint8Array directly.
    const streaming = credentialScope(headers, raw.query)?.service === 's3';
    return {
      response: new HttpResponse({
        statusCode: out.status,
        headers: out.headers,
        body: streaming ? Readable.from([bytes]) : bytes,
      }),
    };
  };
  return {
    metadata: { handlerProtocol: 'in-process' },
    handle,
    updateHttpClientConfig: () => {},
    httpHandlerConfigs: () => ({}),
    destroy: () => {},
  };
}
