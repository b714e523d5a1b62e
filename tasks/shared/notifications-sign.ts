/**
 * The generic webhook's signature (docs/operations.md "Verifying a webhook"):
 *
 *   X-Drift-Remediation-Timestamp: <unix seconds>
 *   X-Drift-Remediation-Signature: sha256=<hex HMAC-SHA256(key = the secret's value, `${timestamp}.${body}`)>
 *   X-Drift-Remediation-Delivery:  <deliveryId> (the same on every retry: receivers dedupe by it)
 *
 * A receiver recomputes the HMAC over the raw body it received, compares in constant time, and refuses a
 * timestamp more than REPLAY_WINDOW_SECONDS away from its clock. `verifyWebhook` is that procedure.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'X-Drift-Remediation-Signature';
export const TIMESTAMP_HEADER = 'X-Drift-Remediation-Timestamp';
export const DELIVERY_HEADER = 'X-Drift-Remediation-Delivery';
/** A receiver accepts a timestamp at most this far from its own clock (either way). */
export const REPLAY_WINDOW_SECONDS = 300;
/** The webhook secret's minimum length (bytes of its UTF-8 value). */
export const MIN_WEBHOOK_SECRET_LENGTH = 32;

/** `sha256=<hex>` over `${timestamp}.${body}`. */
export function webhookSignature(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The headers of one signed POST. */
export function signedHeaders(
  secret: string,
  body: string,
  deliveryId: string,
  nowS: number,
): Record<string, string> {
  const timestamp = Math.floor(nowS);
  return {
    'content-type': 'application/json',
    [TIMESTAMP_HEADER]: String(timestamp),
    [SIGNATURE_HEADER]: webhookSignature(secret, timestamp, body),
    [DELIVERY_HEADER]: deliveryId,
  };
}

export type Verification = { ok: true } | { ok: false; reason: 'malformed' | 'stale' | 'mismatch' };

/** The receiver's check: the raw body, the two header values, the receiver's clock (seconds). */
export function verifyWebhook(
  secret: string,
  rawBody: string,
  timestampHeader: string | undefined,
  signatureHeader: string | undefined,
  nowS: number,
): Verification {
  if (!timestampHeader || !/^\d{1,12}$/.test(timestampHeader)) return { ok: false, reason: 'malformed' };
  if (!signatureHeader || !/^sha256=[0-9a-f]{64}$/.test(signatureHeader))
    return { ok: false, reason: 'malformed' };
  const timestamp = Number(timestampHeader);
  if (Math.abs(nowS - timestamp) > REPLAY_WINDOW_SECONDS) return { ok: false, reason: 'stale' };
  const expected = Buffer.from(webhookSignature(secret, timestamp, rawBody));
  const given = Buffer.from(signatureHeader);
  return timingSafeEqual(expected, given) ? { ok: true } : { ok: false, reason: 'mismatch' };
}
