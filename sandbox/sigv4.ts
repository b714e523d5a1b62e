/**
 * SigV4 for a Lambda Function URL with AuthType AWS_IAM (service `lambda`): `signedRequest` signs what
 * `drift-remediation remediate` sends (the SDK's own signer, @smithy/signature-v4), `signatureMatches`
 * re-signs a received request with the key's secret to check it (the sandbox's emulation of the URL).
 */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytes(d: SourceData): string | Uint8Array {
  if (typeof d === 'string') return d;
  if (d instanceof ArrayBuffer) return new Uint8Array(d);
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** The SDK signer's hash interface over node:crypto (HMAC when given a key). */
class Sha256 {
  private readonly h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.h = secret ? createHmac('sha256', bytes(secret)) : createHash('sha256');
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
}

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface SignedRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string;
}

function signer(credentials: SigningCredentials, region: string): SignatureV4 {
  return new SignatureV4({ credentials, region, service: 'lambda', sha256: Sha256 });
}

/** A POST of `body` (JSON) to `url`, signed for `region` with `credentials`. */
export async function signedRequest(
  url: URL,
  body: string,
  credentials: SigningCredentials,
  region: string,
  signingDate?: Date,
): Promise<SignedRequest> {
  const request = {
    method: 'POST',
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: { host: url.host, 'content-type': 'application/json' },
    body,
  };
  const signed = await signer(credentials, region).sign(request, signingDate ? { signingDate } : {});
  return { method: 'POST', url, headers: signed.headers, body };
}

const AUTH =
  /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

/** The parts of a SigV4 Authorization header, or undefined when it is not one. */
export function authorizationOf(
  header: string | undefined,
):
  | { accessKeyId: string; region: string; service: string; signedHeaders: string[]; signature: string }
  | undefined {
  const m = AUTH.exec(header ?? '');
  if (!m) return undefined;
  const [, accessKeyId = '', , region = '', service = '', signed = '', signature = ''] = m;
  return { accessKeyId, region, service, signedHeaders: signed.split(';'), signature };
}

/** Whether the received request's signature is the one `credentials` make over its signed headers and body. */
export async function signatureMatches(
  req: {
    method: string;
    path: string;
    query: URLSearchParams;
    headers: Record<string, string>;
    body: Buffer;
  },
  credentials: SigningCredentials,
): Promise<boolean> {
  const auth = authorizationOf(req.headers.authorization);
  const amzDate = req.headers['x-amz-date'];
  if (!auth || !amzDate || !auth.signedHeaders.includes('host')) return false;
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
  if (!m) return false;
  const signingDate = new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  const headers: Record<string, string> = {};
  for (const h of auth.signedHeaders) headers[h] = req.headers[h] ?? '';
  const resigned = await signer(credentials, auth.region).sign(
    {
      method: req.method,
      protocol: 'http:',
      hostname: (headers.host ?? '').split(':')[0] ?? '',
      path: req.path,
      query: Object.fromEntries(req.query),
      headers,
      body: req.body.toString('utf8'),
    },
    { signingDate },
  );
  return authorizationOf(resigned.headers.authorization)?.signature === auth.signature;
}
