/**
 * Serves a Lambda Function URL handler over node:http: an HTTP request becomes the
 * APIGatewayProxyEventV2 a Function URL would deliver, and the structured result becomes the HTTP
 * response. Used by the HTTP and browser tests and by the sandbox, which mounts it at /approvals/.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from 'aws-lambda';

export type FunctionUrlHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyResultV2>;

/** Function URLs accept payloads up to 6 MB; the approval form is tiny, so the adapter caps much lower. */
export const ADAPTER_MAX_BODY_BYTES = 64 * 1024;

const TEXT_TYPES = /^(text\/|application\/(json|x-www-form-urlencoded|xml))/i;

function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The Function URL event for one node:http request (body already read). */
export function toFunctionUrlEvent(
  req: IncomingMessage,
  body: Buffer,
  now = new Date(),
): APIGatewayProxyEventV2 {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = k in query ? `${query[k]},${v}` : v;
  const method = (req.method ?? 'GET').toUpperCase();
  const host = headers.host ?? 'localhost';
  const text = TEXT_TYPES.test(headers['content-type'] ?? '');
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers,
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: host,
      domainPrefix: host.split('.')[0] ?? host,
      http: {
        method,
        path: url.pathname,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    isBase64Encoded: false,
  };
  if (Object.keys(query).length) event.queryStringParameters = query;
  if (headers.cookie) event.cookies = headers.cookie.split(/;\s*/);
  if (body.length) {
    event.body = text ? body.toString('utf8') : body.toString('base64');
    event.isBase64Encoded = !text;
  }
  return event;
}

/** Writes a Function URL result (structured or a plain string) to the HTTP response. */
export function writeResult(res: ServerResponse, result: APIGatewayProxyResultV2, head: boolean): void {
  if (typeof result === 'string') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(head ? undefined : result);
    return;
  }
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  const body = result.body
    ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8')
    : Buffer.alloc(0);
  if (!head) headers['content-length'] = String(body.length);
  res.writeHead(result.statusCode ?? 200, headers);
  if (result.cookies?.length) res.setHeader('set-cookie', result.cookies);
  res.end(head ? undefined : body);
}

/** A node:http listener serving `handler` for every request it receives. */
export function functionUrlListener(
  handler: FunctionUrlHandler,
  opts: { maxBodyBytes?: number } = {},
): RequestListener {
  return (req, res) => {
    void (async () => {
      const head = (req.method ?? '').toUpperCase() === 'HEAD';
      try {
        const body = await readBody(req, opts.maxBodyBytes ?? ADAPTER_MAX_BODY_BYTES);
        if (!body) {
          res.writeHead(413, { 'content-type': 'text/plain; charset=utf-8' });
          res.end('payload too large');
          return;
        }
        writeResult(res, await handler(toFunctionUrlEvent(req, body)), head);
      } catch {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(head ? undefined : 'bad gateway');
      }
    })();
  };
}
