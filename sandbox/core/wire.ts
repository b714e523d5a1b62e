/**
 * The client side of the sandbox's socketless transports: a smithy request handler that turns the SDK's
 * serialized, signed request into a `WireRequest` (method, request target, headers, body bytes — what a
 * socket would carry) and hands it to `send`, which returns the server's answer. The in-process transport
 * (./transport.ts) sends to the server's router directly; a handler worker thread (./workers.ts) posts it
 * to the main thread's router over a MessagePort. Nothing here loads the server, so a worker stays light.
 */
import { Readable } from 'node:stream';
import { type HttpHandler, HttpResponse } from '@smithy/core/protocols';
import type { HttpHandlerOptions, HttpRequest, QueryParameterBag } from '@smithy/types';

/** A request as the socket would carry it. */
export interface WireRequest {
  method: string;
  /** Path and query, as written on the request line. */
  target: string;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: Uint8Array;
}

/** The server's answer. `streaming`: the SDK reads this body as a stream (S3 GetObject's Body). */
export interface WireResponse {
  status: number;
  headers: Record<string, string>;
  body: Uint8Array;
  streaming: boolean;
}

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
 * A request handler for the sandbox at `endpoint()` whose requests `send` carries. Requests must name the
 * sandbox's own host and port (the endpoint the clients are configured with); anything else is refused
 * rather than silently answered by the sandbox.
 */
export function wireHandler(
  endpoint: () => string,
  send: (request: WireRequest) => Promise<WireResponse>,
): HttpHandler {
  // The endpoint parsed once per value it takes (a restarted server may move), not once per request.
  let parsed: { href: string; url: URL } | undefined;
  const ownUrl = (): URL => {
    const href = endpoint();
    if (parsed?.href !== href) parsed = { href, url: new URL(href) };
    return parsed.url;
  };
  const handle = async (
    request: HttpRequest,
    options?: HttpHandlerOptions,
  ): Promise<{ response: HttpResponse }> => {
    if (options?.abortSignal?.aborted) {
      const err = new Error('Request aborted');
      err.name = 'AbortError';
      throw err;
    }
    const own = ownUrl();
    const port =
      request.port === undefined ? (request.protocol === 'https:' ? '443' : '80') : String(request.port);
    if (request.hostname !== own.hostname || port !== own.port) {
      throw new ForeignHostError(
        `in-process transport serves ${own.origin} only, not ${request.protocol}//${request.hostname}:${port}`,
      );
    }
    const out = await send({
      method: request.method,
      target: requestTarget(request.path, request.query),
      headers: lowerCaseHeaders(request.headers),
      body: await bodyBytes(request.body),
    });
    // Streaming outputs must be a Readable for the SDK's stream mixin; every other deserializer collects a
    // Uint8Array directly.
    return {
      response: new HttpResponse({
        statusCode: out.status,
        headers: out.headers,
        body: out.streaming ? Readable.from([out.body]) : out.body,
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
