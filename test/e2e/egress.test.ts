/**
 * Two remediations for one resource type, end to end through real SDK clients: on a demo-style web
 * security group stack that declares its egress, an egress rule added to the world is CloudFormation
 * drift of `SecurityGroupEgress` only → the policy's `sg-egress` entry (matched on the drifted property
 * path) → DriftRemediation-RevertSecurityGroupEgress → VERIFIED; SSH opened to the world on the same kind
 * of stack still goes through the `restricted-ssh` Config rule to the ingress runbook → VERIFIED.
 */
import {
  AuthorizeSecurityGroupEgressCommand,
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupsCommand,
  type IpPermission,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { CASES, type DriftCase } from '../../sandbox/demo/cases';
import {
  awaitExecutionFor,
  deployCase,
  executionsFor,
  finished,
  stackDriftStatus,
  waitCompliant,
} from './support/harness';
import { sandboxPerFile } from './support/per-file';

const SG = 'AWS::EC2::SecurityGroup';
const DECLARED_EGRESS = `      SecurityGroupEgress:
        - IpProtocol: tcp
          FromPort: 443
          ToPort: 443
          CidrIp: 10.0.0.0/8
          Description: HTTPS to the private network
      Tags:`;

const e = sandboxPerFile({ timeScale: 0.01 });

const webCase = (): DriftCase => {
  const dc = CASES.find((c) => c.id === 'ssh-open');
  if (!dc) throw new Error('no ssh-open demo case');
  return dc;
};

/** The web group's stack with declared egress, under its own name; returns the group id. */
async function deployWeb(stackName: string): Promise<string> {
  const dc = webCase();
  const id = await deployCase(e, dc, {
    stackName,
    edit: (t) => {
      const out = t.replace('      Tags:', DECLARED_EGRESS);
      if (out === t) throw new Error('the demo template changed: no Tags to insert egress before');
      return out;
    },
  });
  await waitCompliant(e, dc, id, 20_000, stackName);
  return id;
}

async function rules(id: string) {
  const g = (await e.c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] }))).SecurityGroups?.[0];
  const brief = (ps: IpPermission[] | undefined) =>
    (ps ?? [])
      .map((p) => `${p.IpProtocol}/${p.FromPort ?? ''}-${p.ToPort ?? ''} ${p.IpRanges?.[0]?.CidrIp}`)
      .sort();
  return { ingress: brief(g?.IpPermissions), egress: brief(g?.IpPermissionsEgress) };
}

const DECLARED = { ingress: ['tcp/443-443 10.0.0.0/8'], egress: ['tcp/443-443 10.0.0.0/8'] };

describe('two remediations for one resource type', () => {
  it('egress drift → sg-egress → the egress runbook → VERIFIED; ingress untouched', async () => {
    const stackName = 'drift-e2e-egress';
    const id = await deployWeb(stackName);
    expect(await rules(id)).toEqual(DECLARED);
    await e.c.ec2.send(
      new AuthorizeSecurityGroupEgressCommand({
        GroupId: id,
        IpPermissions: [{ IpProtocol: '-1', IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'debugging' }] }],
      }),
    );
    expect((await rules(id)).egress).toContain('-1/- 0.0.0.0/0');
    // Egress is no Config rule's: Config's stack drift rule would find it on its periodic run; an operator
    // runs drift detection, whose event the remediation stack consumes.
    expect(await stackDriftStatus(e, stackName)).toBe('DRIFTED');

    const execution = await awaitExecutionFor(e, id, { resourceType: SG });
    const result = await finished(e, execution.arn);
    expect({ status: result.status, outcome: result.outcome }).toEqual({
      status: 'SUCCEEDED',
      outcome: 'VERIFIED',
    });
    const input = JSON.parse(result.describe.input ?? '{}') as { event?: Record<string, unknown> };
    expect(input.event).toMatchObject({
      source: 'cloudformation',
      driftedProperties: ['SecurityGroupEgress'],
    });
    expect(result.output.plan).toMatchObject({
      policyEntryId: 'sg-egress',
      runbook: { documentName: 'DriftRemediation-RevertSecurityGroupEgress' },
    });
    expect(await rules(id)).toEqual(DECLARED);
    expect(await stackDriftStatus(e, stackName)).toBe('IN_SYNC');
    expect(await executionsFor(e, id, SG)).toHaveLength(1);
  }, 90_000);

  it('ingress drift (SSH from the world) still → restricted-ssh → the ingress runbook → VERIFIED', async () => {
    const stackName = 'drift-e2e-ingress';
    const id = await deployWeb(stackName);
    await e.c.ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: id,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    const execution = await awaitExecutionFor(e, id, { resourceType: SG });
    const result = await finished(e, execution.arn);
    expect({ status: result.status, outcome: result.outcome }).toEqual({
      status: 'SUCCEEDED',
      outcome: 'VERIFIED',
    });
    expect(result.output.plan).toMatchObject({
      policyEntryId: 'sg-ingress',
      runbook: { documentName: 'DriftRemediation-RevertSecurityGroupIngress' },
    });
    expect(await rules(id)).toEqual(DECLARED);
    expect(await stackDriftStatus(e, stackName)).toBe('IN_SYNC');
    // The drift detection run above reports nothing left; no execution ran the egress runbook on it.
    for (const x of await executionsFor(e, id, SG)) {
      const r = await finished(e, x.arn);
      expect(r.output.plan).not.toMatchObject({ policyEntryId: 'sg-egress' });
    }
  }, 90_000);
});
