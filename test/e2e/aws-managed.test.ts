import { AuthorizeSecurityGroupIngressCommand, DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import {
  awaitExecutionFor,
  demoCase,
  deployCase,
  entryOf,
  finished,
  shippedPolicyWith,
  waitCompliant,
} from './support/harness';
import { sandboxPerFile } from './support/per-file';

const SG = 'AWS::EC2::SecurityGroup';
const DOCUMENT = 'AWS-DisablePublicAccessForSecurityGroup';

/** The shipped policy with sg-ingress running the AWS-managed document instead of the first-party runbook. */
const policyWithAwsManagedIngress = () =>
  shippedPolicyWith((doc) => {
    const entry = entryOf(doc, 'sg-ingress');
    entry.runbook = DOCUMENT;
    entry.parameters = { GroupId: { from: 'event.resourceId' } };
  });

const e = sandboxPerFile({
  timeScale: 0.01,
  policyFile: policyWithAwsManagedIngress(),
  serviceOptions: { ssm: { awsDocumentsDir: 'test/fixtures/aws-documents' } },
});

describe('a policy entry naming an AWS-managed runbook', () => {
  it('SSH from the world → restricted-ssh → AWS-DisablePublicAccessForSecurityGroup (Owner Amazon) → VERIFIED', async () => {
    const dc = demoCase('ssh-open');
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
