import { AuthorizeSecurityGroupIngressCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CASES } from '../../sandbox/demo/cases';
import {
  awaitExecutionFor,
  deployCase,
  type E2E,
  entryOf,
  finished,
  shippedPolicyWith,
  startE2E,
  waitCompliant,
} from './support/harness';

const SG = 'AWS::EC2::SecurityGroup';
const DOCUMENT = 'AWS-DisablePublicAccessForSecurityGroup';

/** The shipped policy with sg-ingress running the AWS-managed document instead of the first-party runbook. */
const policyWithAwsManagedIngress = () =>
  shippedPolicyWith((doc) => {
    const entry = entryOf(doc, 'sg-ingress');
    entry.runbook = DOCUMENT;
    entry.parameters = { GroupId: { from: 'event.resourceId' } };
  });

let e: E2E;
beforeAll(async () => {
  e = await startE2E({
    timeScale: 0.01,
    policyFile: policyWithAwsManagedIngress(),
    serviceOptions: { ssm: { awsDocumentsDir: 'test/fixtures/aws-documents' } },
  });
});
afterAll(async () => {
  await e?.stop();
});

describe('a policy entry naming an AWS-managed runbook', () => {
  it('SSH from the world → restricted-ssh → AWS-DisablePublicAccessForSecurityGroup (Owner Amazon) → VERIFIED', async () => {
    const dc = CASES.find((c) => c.id === 'ssh-open');
    if (!dc) throw new Error('no ssh-open demo case');
    const stackName = 'drift-e2e-aws-managed';
    const id = await deployCase(e, dc, { stackName });
    await waitCompliant(e, dc, id, 20_000, stackName);
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
      runbook: { documentName: DOCUMENT, firstParty: false },
    });
    const group = (await e.c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [id] })))
      .SecurityGroups?.[0];
    expect(group?.IpPermissions?.some((p) => p.FromPort === 22)).toBe(false);
  }, 120_000);
});
