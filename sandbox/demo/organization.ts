/**
 * The demo's organization (#13): central account 111111111111 in us-east-1 remediates a member,
 * 222222222222, in us-west-2. The sandbox gets the organization model (for aws:PrincipalOrgID in the
 * member role's trust and the central bus's policy), the policy gets its `organization` section (written
 * to a temporary copy of the policy file), and the member stack is installed in the member account-region
 * from the same synthesized app, as StackSets would (sandbox/install/member.ts).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import type { DriftSandboxOptions } from '../main';

export const ORGANIZATION = {
  id: 'o-drift0demo01',
  central: { accountId: '111111111111', region: 'us-east-1' },
  member: { accountId: '222222222222', region: 'us-west-2' },
} as const;

/** Extra policy members (e.g. a paused one) and organization accounts (e.g. one outside the policy). */
export interface OrganizationSetup {
  /** Policy `organization.members` beyond the demo member. */
  policyMembers?: ReadonlyArray<Record<string, unknown>>;
  /** Accounts in the sandbox's organization model beyond the central and the member account. */
  accounts?: readonly string[];
  /** Install the member stack into the member account-region (default true). */
  installMember?: boolean;
}

/** `policyFile` (default the shipped policy) with the demo's organization section, in a temporary file. */
export function organizationPolicyFile(
  policyFile = 'runbooks/policy.yaml',
  setup: OrganizationSetup = {},
): string {
  const doc = parse(readFileSync(policyFile, 'utf8')) as Record<string, unknown>;
  const { central, member } = ORGANIZATION;
  doc.organization = {
    id: ORGANIZATION.id,
    regions: [...new Set([central.region, member.region])],
    members: [{ account: member.accountId }, ...(setup.policyMembers ?? [])],
  };
  const file = join(mkdtempSync(join(tmpdir(), 'drift-org-policy-')), 'policy.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

/** Sandbox options for the organization: home = the central account-region, the member stack installed. */
export function organizationSandboxOptions(
  policyFile = 'runbooks/policy.yaml',
  setup: OrganizationSetup = {},
): Pick<DriftSandboxOptions, 'accountId' | 'region' | 'organization' | 'policyFile' | 'members'> {
  const { central, member } = ORGANIZATION;
  const accounts = [central.accountId, member.accountId, ...(setup.accounts ?? [])];
  return {
    accountId: central.accountId,
    region: central.region,
    organization: {
      id: ORGANIZATION.id,
      managementAccountId: central.accountId,
      accounts: accounts.map((id) => ({ id })),
    },
    policyFile: organizationPolicyFile(policyFile, setup),
    members: setup.installMember === false ? [] : [member],
  };
}
