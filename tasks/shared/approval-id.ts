/**
 * The approval id of an execution. One approval per execution, so the id is derived from the
 * execution ARN: Request approval writes the APPROVALS item under it, the approval endpoint looks it
 * up, and Record outcome marks it EXPIRED when the wait timed out, all without passing it around.
 * The id is not a secret: approval links are authorized by their HMAC signature, never by the id.
 */
import { createHash } from 'node:crypto';

export const APPROVAL_ID_PATTERN = /^apr-[0-9a-f]{40}$/;

/** `apr-` + 40 hex characters of sha256(executionId). Same execution → same id. */
export function approvalIdFor(executionId: string): string {
  if (!executionId) throw new RangeError('approvalIdFor: executionId is empty');
  return `apr-${createHash('sha256').update(`approval\n${executionId}`).digest('hex').slice(0, 40)}`;
}
