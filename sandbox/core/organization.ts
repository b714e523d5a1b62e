/**
 * The organization model (SandboxOptions.organization) as IAM condition keys: `aws:PrincipalOrgID` and
 * `aws:PrincipalOrgPaths` of a principal in a member account; a principal outside the organization has
 * neither, so a condition on them does not match (as in AWS).
 */
import type { SandboxContext } from './types';

/** The organization's condition keys for a principal of `accountId` ({} outside the organization). */
export function organizationKeys(ctx: SandboxContext, accountId: string): Record<string, string> {
  const org = ctx.organization;
  const member = org?.accounts.find((a) => a.id === accountId);
  if (!org || (!member && org.managementAccountId !== accountId)) return {};
  const root = org.rootId ?? 'r-sbox';
  const path = `${org.id}/${root}/${member?.ou ? `${member.ou}/` : ''}`;
  return { 'aws:PrincipalOrgID': org.id, 'aws:PrincipalOrgPaths': path };
}
