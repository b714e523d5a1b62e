/**
 * Who asked for a manual start, and whether that is proven.
 *
 * `requestedBy` in an execution's event is whatever its sender wrote (a manual event's detail, a
 * StartExecution input), so on its own it proves nothing. The manual-start entry (tasks/manual-start/, a
 * Lambda Function URL with AuthType AWS_IAM) sets it to the caller's IAM principal ARN, which Lambda
 * authenticated (SigV4), and adds `requesterProof`: an HMAC over the event's identifying fields under a key
 * derived from the approval signing secret with its own label. Only a holder of that secret (the entry,
 * and request-approval, which checks it) can make one; a caller who copies a proof into another event or
 * names someone else gets one that does not verify.
 *
 * The four-eyes rule (request-approval, approval-endpoint) compares an approver id with the requester's
 * identities: the principal ARN; for a role session also the role's ARN; the IAM user's name; and for an
 * IAM Identity Center session (role `AWSReservedSSO_*`) the session name, which Identity Center sets to the
 * user's name. Other role sessions' names are chosen by whoever assumes the role, so they identify nobody.
 */
import type { RemediationEvent } from '../contracts';
import { mac, type SigningKeys, safeEqual } from './signing';

type Proved = Pick<
  RemediationEvent,
  | 'eventId'
  | 'requestedBy'
  | 'resourceType'
  | 'resourceId'
  | 'awsAccountId'
  | 'awsRegion'
  | 'configRuleName'
  | 'orderingTimestamp'
>;

function claims(e: Proved): string[] {
  return [
    'requester',
    e.eventId,
    e.requestedBy ?? '',
    e.resourceType,
    e.resourceId,
    e.awsAccountId,
    e.awsRegion,
    e.configRuleName ?? '',
    e.orderingTimestamp,
  ];
}

/** The proof the manual-start entry puts beside an authenticated `requestedBy`. */
export function requesterProof(keys: SigningKeys, e: Proved & { requestedBy: string }): string {
  return mac(keys.requester, claims(e));
}

/**
 * True only when the event carries a requester and a proof the entry made for exactly this event. The
 * entry signs the id it was given; intake may then name the resource by its physical id and keep the given
 * one (an IAM role's AROA… id) as `configResourceId`, so either id is accepted.
 */
export function requesterAuthenticated(
  keys: SigningKeys,
  e: Proved & { requesterProof?: string | undefined; configResourceId?: string | undefined },
): boolean {
  const proof = e.requesterProof;
  if (!e.requestedBy || !proof) return false;
  const ids = [e.resourceId, ...(e.configResourceId ? [e.configResourceId] : [])];
  return ids
    .map((resourceId) => safeEqual(mac(keys.requester, claims({ ...e, resourceId })), proof))
    .includes(true);
}

const ASSUMED_ROLE = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/;
const IAM_USER = /^arn:aws[a-z-]*:iam::\d{12}:user\/(?:.*\/)?([^/]+)$/;

/** The ids an approver list may name an authenticated requester by (lower case). */
export function requesterIdentities(principalArn: string): string[] {
  const ids = [principalArn];
  const role = ASSUMED_ROLE.exec(principalArn);
  if (role) {
    const [, partition, account, name = '', session = ''] = role;
    ids.push(`arn:${partition}:iam::${account}:role/${name}`);
    if (name.startsWith('AWSReservedSSO_')) ids.push(session);
  }
  const user = IAM_USER.exec(principalArn);
  if (user?.[1]) ids.push(user[1]);
  return [...new Set(ids.map((id) => id.toLowerCase()))];
}

/** Whether `approver` is (one of the names of) the requester. */
export function isRequester(approver: string, identities: readonly string[]): boolean {
  return identities.includes(approver.toLowerCase());
}
