/**
 * The sandbox's single endpoint: node:http on 127.0.0.1, routing each signed request by its SigV4
 * credential scope's service name to the ServiceModule with that signingName, and speaking that module's
 * wire protocol (awsQuery, ec2Query, awsJson1.0/1.1, or the module's own REST hooks). Signatures are not
 * checked; the access key names the caller that IAM authorizes (sandbox/core/authz.ts).
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  decodeQueryInput,
  encodeEc2Error,
  encodeEc2Response,
  encodeQueryError,
  encodeQueryResponse,
  operationSchemas,
  preloadSchemas,
} from './codec/query';
import type { RawHttpRequest, RawHttpResponse, ServiceModule } from './types';
import { AwsError } from './types';

export type HttpRouteHandler = (req: RawHttpRequest) => Promise<RawHttpResponse> | RawHttpResponse;

/** Runs one operation (faults, latency, handler); provided by the sandbox assembly. */
export type Dispatch = (
  module: ServiceModule,
  operation: string,
  input: Record<string, unknown>,
  meta: RequestMeta,
) => Promise<unknown>;

/** What the server knows of a request besides its input; `signed` requests carry their caller's access key. */
export interface RequestMeta {
  region: string;
  requestId: string;
  signed?: boolean;
  accessKeyId?: string;
}

export interface ServerOptions {
  host?: string;
  /** Default 4566; 0 picks a free port. */
  port?: number;
  services: readonly ServiceModule[];
  defaultRegion: string;
  dispatch: Dispatch;
  log?: (line: string) => void;
  /** Log one line per request (`http: POST sqs:SendMessage 200 3 ms`). */
  logRequests?: boolean;
}

const DEFAULT_NAMESPACES: Record<string, string> = {
  ec2: 'http://ec2.amazonaws.com/doc/2016-11-15/',
  iam: 'https://iam.amazonaws.com/doc/2010-05-08/',
  cloudformation: 'http://cloudformation.amazonaws.com/doc/2010-05-15/',
  sns: 'http://sns.amazonaws.com/doc/2010-03-31/',
};

export interface CredentialScope {
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
}

/** Scopes by their credential text: a sandbox's callers sign with a handful of keys, dates and services. */
const scopes = new Map<string, Readonly<CredentialScope> | undefined>();
const SCOPES_KEPT = 1024;

function parseCredential(credential: string): CredentialScope | undefined {
  const parts = decodeURIComponent(credential).split('/');
  if (parts.length < 5) return undefined;
  const [accessKeyId, date, region, service] = parts as [string, string, string, string];
  return { accessKeyId, date, region, service };
}

/** The `Credential=` value of a SigV4 Authorization header (up to the next comma or space). */
function credentialOf(auth: string): string | undefined {
  const at = auth.indexOf('Credential=');
  if (at < 0) return undefined;
  const from = at + 'Credential='.length;
  let to = from;
  while (to < auth.length && auth[to] !== ',' && auth[to] !== ' ' && auth[to] !== '\t') to++;
  return to > from ? auth.slice(from, to) : undefined;
}

/**
 * The credential scope of a SigV4-signed request: Authorization header or X-Amz-Credential query. Parsed
 * once per distinct credential (every request asks, the in-process transport twice); callers must not
 * change the object returned.
 */
export function credentialScope(
  headers: Record<string, string>,
  query: URLSearchParams,
): Readonly<CredentialScope> | undefined {
  const credential = credentialOf(headers.authorization ?? '') ?? query.get('X-Amz-Credential') ?? undefined;
  if (!credential) return undefined;
  if (scopes.has(credential)) return scopes.get(credential);
  const scope = parseCredential(credential);
  if (scopes.size >= SCOPES_KEPT) scopes.clear();
  scopes.set(credential, scope);
  return scope;
}

/**
 * awsJson output: Dates become epoch seconds, blobs base64. One walk makes the JSON shape, then a plain
 * JSON.stringify (a replacer function would be called for every value: it was most of this encoder's cost).
 * An output of plain objects, arrays and primitives only (most DynamoDB answers) is already its JSON
 * shape: it is checked without a copy and stringified as it is.
 */
export function encodeJson(value: unknown): string {
  if (isPlainJson(value)) return JSON.stringify(value ?? {});
  return JSON.stringify(toJsonShape(value) ?? {});
}

/**
 * Whether JSON.stringify writes `value` exactly as it writes its toJsonShape: nothing but primitives,
 * arrays and objects whose prototype is Object's or null (no Date, no bytes, no class with a toJSON).
 */
function isPlainJson(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) {
    for (const v of value) if (!isPlainJson(v)) return false;
    return true;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  const obj = value as Record<string, unknown>;
  for (const k in obj) if (Object.hasOwn(obj, k) && !isPlainJson(obj[k])) return false;
  return true;
}

function toJsonShape(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (value instanceof Date) return value.getTime() / 1000;
  if (value instanceof Uint8Array)
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  if (Array.isArray(value)) return value.map(toJsonShape);
  const out: Record<string, unknown> = {};
  const obj = value as Record<string, unknown>;
  for (const k in obj) {
    if (!Object.hasOwn(obj, k)) continue;
    const v = obj[k];
    if (v !== undefined) out[k] = toJsonShape(v);
  }
  return out;
}

/** An awsJson request's input: its body's JSON object, `{}` for an empty (or blank) body. */
function jsonInput(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  const text = body.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse takes JSON's whitespace around the value itself; a blank body is still no input, and
    // other whitespace (a byte order mark) is trimmed as before.
    const trimmed = text.trim();
    if (trimmed === '') return {};
    try {
      parsed = JSON.parse(trimmed);
    } catch {
      throw new AwsError('SerializationException', 'Request body is not a JSON object');
    }
  }
  if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
    return parsed as Record<string, unknown>;
  throw new AwsError('SerializationException', 'Request body is not a JSON object');
}

function toAwsError(err: unknown): AwsError {
  if (err instanceof AwsError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new AwsError('InternalFailure', `Internal error: ${message}`, 500);
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function headerMap(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

/** The request as the router sees it: method, the request target (path and query), headers, body. */
export function rawRequest(
  method: string,
  target: string,
  headers: Record<string, string>,
  body: Buffer,
  remoteAddress?: string,
): RawHttpRequest {
  // The RPC protocols post to `/`, nothing to parse there; any other target goes through URL.
  const url = target === '/' ? undefined : new URL(target, 'http://localhost');
  return {
    method: method.toUpperCase(),
    path: url?.pathname ?? '/',
    query: url?.searchParams ?? new URLSearchParams(),
    headers,
    body,
    ...(remoteAddress ? { remoteAddress } : {}),
  };
}

/** An awsQuery request: a form post (or GET) naming its Action, without a JSON target header. */
function isQueryRequest(raw: RawHttpRequest): boolean {
  if (raw.query.has('Action')) return true;
  const type = (raw.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  return type === 'application/x-www-form-urlencoded';
}

export class SandboxServer {
  private server: Server | undefined;
  /** `signed`: the route also takes SigV4-signed requests (a Function URL with AuthType AWS_IAM checks them itself). */
  private readonly routes: { prefix: string; handler: HttpRouteHandler; signed: boolean }[] = [];
  /** Whether any route takes signed requests (else a signed request never looks at the routes). */
  private signedRoutes = false;
  private readonly bySigningName = new Map<string, ServiceModule>();
  private readonly byTargetPrefix = new Map<string, ServiceModule>();
  port = 0;

  constructor(private readonly options: ServerOptions) {
    for (const m of options.services) this.addService(m);
  }

  addService(m: ServiceModule): void {
    this.bySigningName.set(m.signingName, m);
    if (m.protocol === 'awsQuery' || m.protocol === 'ec2Query') preloadSchemas(m.signingName);
    if (m.targetPrefix) this.byTargetPrefix.set(m.targetPrefix, m);
  }

  /** Unsigned paths (e.g. `/approvals/…`), matched by prefix before any AWS routing. */
  registerHttpRoute(prefix: string, handler: HttpRouteHandler, opts: { signed?: boolean } = {}): void {
    this.routes.push({ prefix, handler, signed: opts.signed === true });
    this.signedRoutes ||= opts.signed === true;
    this.routes.sort((a, b) => b.prefix.length - a.prefix.length);
  }

  get endpoint(): string {
    return `http://${this.options.host ?? '127.0.0.1'}:${this.port}`;
  }

  listen(): Promise<number> {
    const server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.options.log?.(`server: unhandled ${err instanceof Error ? err.stack : String(err)}`);
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
        }
        res.end('Internal error');
      });
    });
    server.keepAliveTimeout = 5000;
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 4566, this.options.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        this.port = (server.address() as AddressInfo).port;
        resolve(this.port);
      });
    });
  }

  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = rawRequest(
      req.method ?? 'GET',
      req.url ?? '/',
      headerMap(req),
      await readBody(req),
      req.socket.remoteAddress,
    );
    const out = await this.serve(raw);
    res.writeHead(out.status, out.headers);
    res.end(out.body);
  }

  /**
   * One request from either transport (a socket, or the in-process transport of sandbox/core/transport.ts):
   * routes it, logs it when asked, and returns the status, headers (with content-length) and body that go
   * back to the caller — the same bytes either way.
   */
  async serve(
    raw: RawHttpRequest,
  ): Promise<{ status: number; headers: Record<string, string>; body?: string | Buffer }> {
    const started = Date.now();
    const out = await this.route(raw).catch((err: unknown): RawHttpResponse => {
      this.options.log?.(`server: unhandled ${err instanceof Error ? err.stack : String(err)}`);
      return { status: 500, headers: { 'content-type': 'text/plain' }, body: 'Internal error' };
    });
    if (this.options.logRequests) this.logRequest(raw, out.status, Date.now() - started);
    const body = out.body ?? '';
    const headers = { 'content-length': String(Buffer.byteLength(body)), ...(out.headers ?? {}) };
    return { status: out.status, headers, ...(raw.method === 'HEAD' ? {} : { body }) };
  }

  private logRequest(raw: RawHttpRequest, status: number, elapsedMs: number): void {
    const scope = credentialScope(raw.headers, raw.query);
    const target = raw.headers['x-amz-target'];
    const op = target
      ? target.slice(target.lastIndexOf('.') + 1)
      : (new URLSearchParams(raw.body.toString('utf8')).get('Action') ?? raw.query.get('Action') ?? raw.path);
    this.options.log?.(`http: ${raw.method} ${scope?.service ?? '-'}:${op} ${status} ${elapsedMs} ms`);
  }

  /** Routes one request; exported for tests that do not need a socket. */
  async route(raw: RawHttpRequest): Promise<RawHttpResponse> {
    const requestId = randomUUID();
    const scope = credentialScope(raw.headers, raw.query);
    if (!scope || this.signedRoutes) {
      const route = this.routes.find((r) => raw.path.startsWith(r.prefix) && (!scope || r.signed));
      if (route) {
        try {
          return await route.handler(raw);
        } catch (err) {
          const e = toAwsError(err);
          return { status: e.statusCode, headers: { 'content-type': 'text/plain' }, body: e.message };
        }
      }
    }
    const target = raw.headers['x-amz-target'];
    let module = scope ? this.bySigningName.get(scope.service) : undefined;
    if (!module && target) module = this.byTargetPrefix.get(target.slice(0, target.lastIndexOf('.')));
    const region = scope?.region ?? this.options.defaultRegion;
    const meta: RequestMeta = { region, requestId, signed: true, accessKeyId: scope?.accessKeyId };
    if (!module) {
      const err = new AwsError(
        target ? 'UnknownOperationException' : 'InvalidAction',
        scope
          ? `Service ${scope.service} is not emulated by the sandbox`
          : 'Request is not signed with SigV4; no service to route to',
        400,
      );
      if (target) return this.jsonError(err, requestId, '1.1', undefined);
      return this.queryError(err, requestId, '');
    }
    switch (module.protocol) {
      case 'awsJson1_0':
      case 'awsJson1_1':
        // awsQueryCompatible services (SQS) also answer older clients' awsQuery form posts.
        if (module.awsQueryCompatible && !target && isQueryRequest(raw)) {
          return this.handleQuery(module, raw, meta);
        }
        return this.handleJson(module, raw, meta);
      case 'awsQuery':
      case 'ec2Query':
        return this.handleQuery(module, raw, meta);
      default:
        return this.handleRest(module, raw, meta);
    }
  }

  private jsonError(
    err: AwsError,
    requestId: string,
    version: string,
    module: ServiceModule | undefined,
  ): RawHttpResponse {
    const headers: Record<string, string> = {
      'content-type': `application/x-amz-json-${version}`,
      'x-amzn-requestid': requestId,
      'x-amzn-errortype': err.code,
    };
    const queryCode = module?.awsQueryCompatible?.[err.code];
    if (queryCode) headers['x-amzn-query-error'] = `${queryCode};${err.fault}`;
    const ns = module?.targetPrefix ? `com.amazonaws.${module.signingName}#` : '';
    return {
      status: err.statusCode,
      headers,
      body: JSON.stringify({ __type: `${ns}${err.code}`, message: err.message }),
    };
  }

  private queryError(err: AwsError, requestId: string, ns: string, module?: ServiceModule): RawHttpResponse {
    const code = module?.awsQueryCompatible?.[err.code] ?? err.code;
    return {
      status: err.statusCode,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
      body: encodeQueryError(code, err.message, err.fault, requestId, ns),
    };
  }

  private async handleJson(
    module: ServiceModule,
    raw: RawHttpRequest,
    meta: RequestMeta,
  ): Promise<RawHttpResponse> {
    const { requestId } = meta;
    const version = module.protocol === 'awsJson1_0' ? '1.0' : '1.1';
    const target = raw.headers['x-amz-target'] ?? '';
    const operation = target.slice(target.lastIndexOf('.') + 1);
    try {
      if (!operation || !Object.hasOwn(module.operations, operation)) {
        throw new AwsError(
          'UnknownOperationException',
          `Operation ${operation || '(none)'} is not supported by the sandbox's ${module.serviceName}`,
        );
      }
      const input = jsonInput(raw.body);
      const output = await this.options.dispatch(module, operation, input, meta);
      return {
        status: 200,
        headers: { 'content-type': `application/x-amz-json-${version}`, 'x-amzn-requestid': requestId },
        body: encodeJson(output),
      };
    } catch (err) {
      const e = toAwsError(err);
      if (e.statusCode >= 500)
        this.options.log?.(`${module.serviceName}:${operation} failed: ${e.code}: ${e.message}`);
      return this.jsonError(e, requestId, version, module);
    }
  }

  private async handleQuery(
    module: ServiceModule,
    raw: RawHttpRequest,
    meta: RequestMeta,
  ): Promise<RawHttpResponse> {
    const { requestId } = meta;
    const ec2 = module.protocol === 'ec2Query';
    const ns = module.xmlNamespace ?? DEFAULT_NAMESPACES[module.signingName] ?? '';
    const form = new URLSearchParams(raw.query);
    if (raw.body.length > 0) {
      for (const [k, v] of new URLSearchParams(raw.body.toString('utf8'))) form.append(k, v);
    }
    const operation = form.get('Action') ?? '';
    try {
      if (!operation || !Object.hasOwn(module.operations, operation)) {
        throw new AwsError(
          'InvalidAction',
          `The action ${operation || '(none)'} is not valid for this web service.`,
        );
      }
      const schemas = await operationSchemas(module.signingName, operation);
      const input = decodeQueryInput(schemas, form, ec2);
      const output = await this.options.dispatch(module, operation, input, meta);
      const body = ec2
        ? encodeEc2Response(schemas, operation, output, ns, requestId)
        : encodeQueryResponse(schemas, operation, output, ns, requestId);
      return { status: 200, headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId }, body };
    } catch (err) {
      const e = toAwsError(err);
      if (e.statusCode >= 500)
        this.options.log?.(`${module.serviceName}:${operation} failed: ${e.code}: ${e.message}`);
      if (ec2) {
        return {
          status: e.statusCode,
          headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
          body: encodeEc2Error(e.code, e.message, requestId),
        };
      }
      return this.queryError(e, requestId, ns, module);
    }
  }

  private async handleRest(
    module: ServiceModule,
    raw: RawHttpRequest,
    meta: RequestMeta,
  ): Promise<RawHttpResponse> {
    const { requestId } = meta;
    const rest = module.rest;
    const fallbackError = (e: AwsError): RawHttpResponse =>
      module.protocol === 'restJson1'
        ? {
            status: e.statusCode,
            headers: {
              'content-type': 'application/json',
              'x-amzn-errortype': e.code,
              'x-amzn-requestid': requestId,
            },
            body: JSON.stringify({ message: e.message, __type: e.code }),
          }
        : {
            status: e.statusCode,
            headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
            body: `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${e.code}</Code><Message>${e.message}</Message><RequestId>${requestId}</RequestId></Error>`,
          };
    if (!rest)
      return fallbackError(new AwsError('InternalFailure', `${module.serviceName} has no REST codec`, 500));
    let operation = '';
    try {
      const routed = rest.route(raw);
      if (!routed || !Object.hasOwn(module.operations, routed.operation)) {
        throw new AwsError(
          module.protocol === 'restJson1' ? 'UnknownOperationException' : 'NotImplemented',
          `${raw.method} ${raw.path} is not supported by the sandbox's ${module.serviceName}`,
          module.protocol === 'restJson1' ? 404 : 501,
        );
      }
      operation = routed.operation;
      const output = await this.options.dispatch(module, operation, routed.input, meta);
      const res = rest.encode(operation, output);
      return {
        ...res,
        headers: { 'x-amzn-requestid': requestId, 'x-amz-request-id': requestId, ...(res.headers ?? {}) },
      };
    } catch (err) {
      const e = toAwsError(err);
      if (e.statusCode >= 500)
        this.options.log?.(`${module.serviceName}:${operation} failed: ${e.code}: ${e.message}`);
      try {
        return rest.encodeError(e, requestId);
      } catch {
        return fallbackError(e);
      }
    }
  }
}
