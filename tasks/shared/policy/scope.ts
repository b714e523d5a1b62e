/**
 * Organization scope (docs/policy.md "Organization"): which account-region an event may be acted in, and
 * which entries apply there. Pure: intake, the fast path and plan call it before anything is read or
 * assumed in the event's account, so an event from outside the organization or its regions changes nothing.
 */
import type { Organization, ResolvedEntry } from './schema';

/** Where an event's resource lives. */
export interface EventPlace {
  awsAccountId: string;
  awsRegion: string;
}

/** What scoping reads from a policy. */
export interface ScopedPolicy {
  organization?: Organization | undefined;
}

/**
 * Why an event in `place` is not acted on (the SKIPPED reason), or undefined when it is in scope. Without an
 * `organization` section every account-region is in scope (single-account deployments, as before).
 * `centralAccountId` is the deployment's own account, always a member.
 */
export function outOfScope(
  policy: ScopedPolicy,
  place: EventPlace,
  centralAccountId: string | undefined,
): string | undefined {
  const org = policy.organization;
  if (!org) return undefined;
  const { awsAccountId: account, awsRegion: region } = place;
  const member = org.members.find((m) => m.account === account);
  if (!member && account !== centralAccountId) {
    return `out of scope: account ${account} is not a member of organization ${org.id} (policy organization.members)`;
  }
  if (!org.regions.includes(region)) {
    return `out of scope: region ${region} is not one of the organization's regions (${org.regions.join(', ')})`;
  }
  if (member?.paused) {
    return `member account ${account} is paused${member.pausedReason ? `: ${member.pausedReason}` : ''}`;
  }
  return undefined;
}

/** The OU the policy says `account` is in. */
export function ouOf(policy: ScopedPolicy, account: string): string | undefined {
  return policy.organization?.members.find((m) => m.account === account)?.ou;
}

/** True when `entry`'s accounts / OUs / regions admit `place` (each empty: any). */
export function entryAdmits(
  policy: ScopedPolicy,
  entry: Pick<ResolvedEntry, 'accounts' | 'ous' | 'regions'>,
  place: EventPlace,
): boolean {
  const { accounts = [], ous = [], regions = [] } = entry;
  if (regions.length > 0 && !regions.includes(place.awsRegion)) return false;
  if (accounts.length === 0 && ous.length === 0) return true;
  if (accounts.includes(place.awsAccountId)) return true;
  const ou = ouOf(policy, place.awsAccountId);
  return ou !== undefined && ous.includes(ou);
}

/**
 * True when some event could be admitted by both entries: their regions meet and their account sets meet
 * (an OU meets the accounts the members list puts in it). Used by the overlap check.
 */
export function scopesMeet(
  policy: ScopedPolicy,
  a: Pick<ResolvedEntry, 'accounts' | 'ous' | 'regions'>,
  b: Pick<ResolvedEntry, 'accounts' | 'ous' | 'regions'>,
): boolean {
  const meet = (x: readonly string[], y: readonly string[]) =>
    x.length === 0 || y.length === 0 || x.some((v) => y.includes(v));
  if (!meet(a.regions ?? [], b.regions ?? [])) return false;
  const accountsOf = (e: Pick<ResolvedEntry, 'accounts' | 'ous'>): string[] | undefined => {
    const accounts = e.accounts ?? [];
    const ous = e.ous ?? [];
    if (accounts.length === 0 && ous.length === 0) return undefined;
    const inOus = (policy.organization?.members ?? []).filter((m) => m.ou && ous.includes(m.ou));
    return [...accounts, ...inOus.map((m) => m.account)];
  };
  const x = accountsOf(a);
  const y = accountsOf(b);
  return x === undefined || y === undefined || x.some((v) => y.includes(v));
}
