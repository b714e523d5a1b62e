/**
 * Approval link signatures and CSRF tokens.
 *
 * A link is `${baseUrl}/approvals/<approvalId>?approver=<id>&exp=<epoch s>&sig=<hmac>`; `sig` is
 * HMAC-SHA256 over the JSON array [approvalId, approver, exp] under a key derived from the signing
 * secret (Secrets Manager, SIGNING_SECRET_ARN). The CSRF token of the review form is made per page load:
 * `<nonce>.<issuedAt>.<hmac>`, a fresh random nonce and the load time, with an HMAC over
 * [approvalId, approver, purpose, nonce, issuedAt] under a second derived key, so a link signature can
 * never be replayed as a CSRF token or the other way round. A token is accepted for CSRF_TTL_SECONDS
 * after its load only: a token a link scanner saw in a page it fetched is worthless minutes later, and
 * no two loads of a link carry the same token. Comparisons are constant-time. The task token is never
 * part of either: it stays in the APPROVALS item.
 *
 * A *review* link (`${baseUrl}/approvals/<approvalId>/review?exp=<epoch s>&sig=<hmac>`, posted to the shared
 * Slack channel / webhook) opens the read-only review page only. Its signature is an HMAC over
 * ["review", approvalId, exp] under a third derived key, so it can never verify as a decision link's
 * signature (other key, other input, no approver) nor a decision signature as a review signature.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { awsCall } from '../errors';

/** Minimum secret length (bytes of the UTF-8 secret string). */
export const MIN_SECRET_LENGTH = 32;
/** The only CSRF purpose today: the decision form. */
export const CSRF_PURPOSE_DECIDE = 'decide';

/** The derived keys, built from one secret with domain separation. */
export interface SigningKeys {
  readonly link: Buffer;
  readonly csrf: Buffer;
  /** Review links only (read-only page): never accepted where a decision link is. */
  readonly review: Buffer;
  /** Manual starts' requester proofs (tasks/shared/approvals/requester.ts): only the manual-start entry signs. */
  readonly requester: Buffer;
}

export function deriveKeys(secret: string | Buffer): SigningKeys {
  const raw = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret;
  if (raw.length < MIN_SECRET_LENGTH) {
    throw new RangeError(`the approval signing secret must be at least ${MIN_SECRET_LENGTH} bytes`);
  }
  const derive = (label: string) => createHmac('sha256', raw).update(label).digest();
  return {
    link: derive('drift-remediation/approval-link/v1'),
    csrf: derive('drift-remediation/approval-csrf/v1'),
    review: derive('drift-remediation/approval-review/v1'),
    requester: derive('drift-remediation/manual-requester/v1'),
  };
}

export function mac(key: Buffer, parts: ReadonlyArray<string | number>): string {
  return createHmac('sha256', key).update(JSON.stringify(parts)).digest('base64url');
}

/** Constant-time comparison of two base64url MACs (length mismatch → false, still without early exit on content). */
export function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  if (x.length !== y.length) {
    timingSafeEqual(x, x);
    return false;
  }
  return timingSafeEqual(x, y);
}

export interface LinkClaims {
  approvalId: string;
  approver: string;
  /** Expiry, epoch seconds. */
  exp: number;
}

export function signLink(keys: SigningKeys, c: LinkClaims): string {
  return mac(keys.link, [c.approvalId, c.approver, c.exp]);
}

/** True when `sig` is the signature of exactly these claims. Does not check expiry (see linkExpired). */
export function verifyLink(keys: SigningKeys, c: LinkClaims, sig: string): boolean {
  if (!Number.isSafeInteger(c.exp) || c.exp <= 0) return false;
  return safeEqual(signLink(keys, c), sig);
}

export function linkUrl(baseUrl: string, keys: SigningKeys, c: LinkClaims): string {
  const base = baseUrl.replace(/\/+$/, '');
  const q = new URLSearchParams({ approver: c.approver, exp: String(c.exp), sig: signLink(keys, c) });
  return `${base}/approvals/${encodeURIComponent(c.approvalId)}?${q.toString()}`;
}

/** A review link's claims: the approval and its expiry; no approver (it is for everyone in a channel). */
export interface ReviewClaims {
  approvalId: string;
  /** Expiry, epoch seconds: the approval's own. */
  exp: number;
}

/** The purpose bound into every review signature. */
export const REVIEW_PURPOSE = 'review';

export function signReview(keys: SigningKeys, c: ReviewClaims): string {
  return mac(keys.review, [REVIEW_PURPOSE, c.approvalId, c.exp]);
}

/** True when `sig` is the review signature of exactly these claims. Does not check expiry. */
export function verifyReview(keys: SigningKeys, c: ReviewClaims, sig: string): boolean {
  if (!Number.isSafeInteger(c.exp) || c.exp <= 0) return false;
  return safeEqual(signReview(keys, c), sig);
}

export function reviewUrl(baseUrl: string, keys: SigningKeys, c: ReviewClaims): string {
  const base = baseUrl.replace(/\/+$/, '');
  const q = new URLSearchParams({ exp: String(c.exp), sig: signReview(keys, c) });
  return `${base}/approvals/${encodeURIComponent(c.approvalId)}/review?${q.toString()}`;
}

/** How long a review page's CSRF token is accepted after the page was loaded (seconds). */
export const CSRF_TTL_SECONDS = 15 * 60;
/** Clock skew tolerated between the functions that issue and check a token (seconds). */
const CSRF_SKEW_SECONDS = 60;
const NONCE = /^[A-Za-z0-9_-]{22}$/;

/** One page load: a fresh random nonce (128 bits) and the load time (epoch seconds). */
export interface PageLoad {
  nonce: string;
  issuedAt: number;
}

export function newPageLoad(nowS: number): PageLoad {
  return { nonce: randomBytes(16).toString('base64url'), issuedAt: Math.floor(nowS) };
}

/** The CSRF token of one page load of this approver's review page. */
export function csrfToken(
  keys: SigningKeys,
  approvalId: string,
  approver: string,
  load: PageLoad,
  purpose = CSRF_PURPOSE_DECIDE,
): string {
  const m = mac(keys.csrf, [approvalId, approver, purpose, load.nonce, load.issuedAt]);
  return `${load.nonce}.${load.issuedAt}.${m}`;
}

/** True when `token` was issued for this approval and approver, within CSRF_TTL_SECONDS before `nowS`. */
export function verifyCsrf(
  keys: SigningKeys,
  approvalId: string,
  approver: string,
  token: string,
  nowS: number,
  purpose = CSRF_PURPOSE_DECIDE,
): boolean {
  const [nonce = '', issued = '', m = '', ...rest] = token.split('.');
  if (rest.length > 0 || !NONCE.test(nonce) || !/^\d{1,12}$/.test(issued)) return false;
  const issuedAt = Number(issued);
  const age = nowS - issuedAt;
  const expected = csrfToken(keys, approvalId, approver, { nonce, issuedAt }, purpose);
  const authentic = safeEqual(expected, `${nonce}.${issued}.${m}`);
  return authentic && age >= -CSRF_SKEW_SECONDS && age <= CSRF_TTL_SECONDS;
}

/**
 * How long a fetched signing secret is used before it is read again (seconds): a rotated secret reaches
 * warm functions within this time. Links signed just before a rotation fail verification afterwards
 * and the approver gets a fresh link on the next reminder.
 */
export const SIGNING_SECRET_MAX_AGE_SECONDS = 300;

/** Powertools' secrets provider (its cache honours maxAge), bound to the client the handler passes in. */
let provider: { client: SecretsManagerClient; secrets: SecretsProvider } | undefined;

/**
 * The signing keys from Secrets Manager (SIGNING_SECRET_ARN), through Powertools Parameters: fetched
 * once, reused for SIGNING_SECRET_MAX_AGE_SECONDS, then read again. A failed fetch is not cached, so
 * the next request tries again; a transient failure is a TransientServiceError (original as cause).
 */
export async function loadSigningKeys(
  secrets: SecretsManagerClient,
  secretArn: string,
): Promise<SigningKeys> {
  if (provider?.client !== secrets)
    provider = { client: secrets, secrets: new SecretsProvider({ awsSdkV3Client: secrets }) };
  const store = provider.secrets;
  const value = await awsCall('GetSecretValue(approval signing secret)', () =>
    store.get(secretArn, { maxAge: SIGNING_SECRET_MAX_AGE_SECONDS }),
  );
  if (value === undefined) throw new Error('the approval signing secret has no value');
  return deriveKeys(typeof value === 'string' ? value : Buffer.from(value));
}

/** Forgets the cached secret (tests, and the sandbox when it restarts with a new secret). */
export function clearSigningKeyCache(): void {
  provider = undefined;
}
