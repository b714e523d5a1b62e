import { describe, expect, it } from 'vitest';
import { PolicyError } from '../../../tasks/shared/errors';
import { findEntry } from '../../../tasks/shared/policy/match';
import { outOfScope } from '../../../tasks/shared/policy/scope';
import { rawPolicy, testPolicy } from './fixtures/core-tasks';

const CENTRAL = '111111111111';
const MEMBER = '222222222222';
const PAUSED = '333333333333';
const OU = 'ou-ab12-cd34ef56';
const organization = {
  id: 'o-a1b2c3d4e5',
  regions: ['us-east-1', 'us-west-2'],
  members: [
    { account: MEMBER, ou: OU },
    { account: PAUSED, paused: true, pausedReason: 'migration until Friday' },
  ],
};
const SG = 'AWS::EC2::SecurityGroup';

describe('organization scope', () => {
  const policy = testPolicy({ organization });

  it('admits the central account and the members in the organization regions', () => {
    expect(outOfScope(policy, { awsAccountId: CENTRAL, awsRegion: 'us-east-1' }, CENTRAL)).toBeUndefined();
    expect(outOfScope(policy, { awsAccountId: MEMBER, awsRegion: 'us-west-2' }, CENTRAL)).toBeUndefined();
  });

  it('names why an account outside the organization, a region out of scope or a paused member is skipped', () => {
    expect(outOfScope(policy, { awsAccountId: '444444444444', awsRegion: 'us-west-2' }, CENTRAL)).toBe(
      'out of scope: account 444444444444 is not a member of organization o-a1b2c3d4e5 (policy organization.members)',
    );
    expect(outOfScope(policy, { awsAccountId: MEMBER, awsRegion: 'eu-west-1' }, CENTRAL)).toBe(
      "out of scope: region eu-west-1 is not one of the organization's regions (us-east-1, us-west-2)",
    );
    expect(outOfScope(policy, { awsAccountId: PAUSED, awsRegion: 'us-east-1' }, CENTRAL)).toBe(
      'member account 333333333333 is paused: migration until Friday',
    );
  });

  it('leaves single-account policies as they were: every account-region in scope', () => {
    expect(outOfScope(testPolicy(), { awsAccountId: '444444444444', awsRegion: 'eu-west-1' }, CENTRAL)).toBe(
      undefined,
    );
  });

  it('matches entries scoped to accounts, OUs and regions only there, and lets disjoint scopes share a rule', () => {
    const raw = rawPolicy({ organization });
    const [sg] = raw.remediations;
    const scoped = testPolicy({
      organization,
      remediations: [
        { ...sg, id: 'sg-members', match: { ...sg?.match, ous: [OU], regions: ['us-west-2'] } },
        { ...sg, id: 'sg-central', match: { ...sg?.match, accounts: [CENTRAL] } },
      ],
    });
    const at = (awsAccountId: string, awsRegion: string) =>
      findEntry(scoped, { configRuleName: 'restricted-ssh', resourceType: SG, awsAccountId, awsRegion })?.id;
    expect(at(MEMBER, 'us-west-2')).toBe('sg-members');
    expect(at(MEMBER, 'us-east-1')).toBeUndefined();
    expect(at(CENTRAL, 'us-east-1')).toBe('sg-central');
  });

  it('refuses scopes that overlap, name unknown OUs or regions outside the organization, or lack one', () => {
    const [sg] = rawPolicy().remediations;
    const bad = (o: Record<string, unknown>) => () => testPolicy(o);
    expect(
      bad({
        organization,
        remediations: [
          { ...sg, id: 'a', match: { ...sg?.match, ous: [OU] } },
          { ...sg, id: 'b', match: { ...sg?.match, accounts: [MEMBER] } },
        ],
      }),
    ).toThrow(/rule restricted-ssh \/ AWS::EC2::SecurityGroup is matched by both a and b/);
    expect(
      bad({ organization, remediations: [{ ...sg, match: { ...sg?.match, ous: ['ou-zz99-zz99zz99'] } }] }),
    ).toThrow(/match.ous: no member of policy.organization.members is in ou-zz99-zz99zz99/);
    expect(
      bad({ organization, remediations: [{ ...sg, match: { ...sg?.match, regions: ['eu-west-1'] } }] }),
    ).toThrow(/match.regions: eu-west-1 is not one of policy.organization.regions/);
    expect(bad({ remediations: [{ ...sg, match: { ...sg?.match, accounts: [MEMBER] } }] })).toThrow(
      /need an organization section/,
    );
    expect(
      bad({ organization: { ...organization, members: [{ account: MEMBER }, { account: MEMBER }] } }),
    ).toThrow(PolicyError);
    expect(bad({ organization: { ...organization, id: 'org-1' } })).toThrow(/organization.id: must be/);
  });
});
