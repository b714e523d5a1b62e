/**
 * AWS-owned Automation documents in the sandbox: a pulled-documents folder (here the first-party
 * fixtures in test/fixtures/aws-documents) is served with Owner Amazon, read-only, runnable; names AWS
 * reserves are refused at CreateDocument. Real SDK v3 clients throughout; the fixture's Python step
 * changes a security group through boto3.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import {
  CreateDocumentCommand,
  DeleteDocumentCommand,
  DescribeDocumentCommand,
  GetDocumentCommand,
  ListDocumentsCommand,
  SSMClient,
  StartAutomationExecutionCommand,
  UpdateDocumentCommand,
} from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { ec2Service } from '../../../sandbox/services/ec2';
import { ssmService } from '../../../sandbox/services/ssm';
import { withSandbox } from '../helpers';
import { automationIn } from './automation-support';

const DIR = 'test/fixtures/aws-documents';
const NAME = 'AWS-DisablePublicAccessForSecurityGroup';
const sb = withSandbox(() => ({
  services: [ssmService({ awsDocumentsDir: DIR }), ec2Service()],
  timeScale: 0.001,
}));

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return `${(err as Error).name}: ${(err as Error).message}`;
  }
  throw new Error('expected an error');
}

/** A security group with tcp ingress from the world on each port. */
async function groupOpenOn(ec2: EC2Client, ports: number[]): Promise<string> {
  const { GroupId } = await ec2.send(
    new CreateSecurityGroupCommand({ GroupName: 'aws-doc-target', Description: 'x' }),
  );
  if (!GroupId) throw new Error('no group');
  const IpPermissions = ports.map((p) => ({
    IpProtocol: 'tcp',
    FromPort: p,
    ToPort: p,
    IpRanges: [{ CidrIp: '0.0.0.0/0' }],
  }));
  await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, IpPermissions }));
  return GroupId;
}

describe('AWS-owned documents loaded from a pulled folder', () => {
  it('are listed, described and returned with Owner Amazon, their version and content', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const amazon = await ssm.send(
      new ListDocumentsCommand({ Filters: [{ Key: 'Owner', Values: ['Amazon'] }] }),
    );
    expect(amazon.DocumentIdentifiers?.map((d) => [d.Name, d.Owner])).toEqual([[NAME, 'Amazon']]);
    const self = await ssm.send(new ListDocumentsCommand({ Filters: [{ Key: 'Owner', Values: ['Self'] }] }));
    expect(self.DocumentIdentifiers?.map((d) => d.Name)).not.toContain(NAME);
    const described = await ssm.send(new DescribeDocumentCommand({ Name: NAME }));
    expect(described.Document).toMatchObject({
      Name: NAME,
      Owner: 'Amazon',
      DocumentVersion: '7',
      LatestVersion: '7',
    });
    expect(described.Document?.Parameters?.map((p) => p.Name)).toEqual([
      'AutomationAssumeRole',
      'GroupId',
      'IpAddressToBlock',
    ]);
    const got = await ssm.send(new GetDocumentCommand({ Name: NAME }));
    expect(got).toMatchObject({ Name: NAME, DocumentVersion: '7', DocumentFormat: 'YAML' });
    expect(got.Content).toContain('aws:executeScript');
  });

  it('are read-only: UpdateDocument and DeleteDocument are refused', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const content = (await ssm.send(new GetDocumentCommand({ Name: NAME }))).Content ?? '';
    expect(
      await codeOf(ssm.send(new UpdateDocumentCommand({ Name: NAME, Content: `${content}\n# changed\n` }))),
    ).toMatch(
      /^InvalidDocumentOperation: Document AWS-DisablePublicAccessForSecurityGroup is owned by Amazon/,
    );
    expect(await codeOf(ssm.send(new DeleteDocumentCommand({ Name: NAME })))).toMatch(
      /^InvalidDocumentOperation/,
    );
  });

  it.each(['AWS-MyRunbook', 'aws-lowercase', 'Amazon-Thing', 'amznSomething'])(
    'CreateDocument refuses the reserved name %s with ValidationException',
    async (name) => {
      const ssm = new SSMClient(sb.clientConfig);
      const content = (await ssm.send(new GetDocumentCommand({ Name: NAME }))).Content ?? '';
      expect(
        await codeOf(
          ssm.send(new CreateDocumentCommand({ Name: name, Content: content, DocumentType: 'Automation' })),
        ),
      ).toMatch(/^ValidationException: Invalid document name .*can't begin with aws, amazon or amzn/);
    },
  );

  it('runs: its Python step revokes the world-open SSH rule through boto3 and leaves the rest', async () => {
    const ssm = new SSMClient(sb.clientConfig);
    const ec2 = new EC2Client(sb.clientConfig);
    const GroupId = await groupOpenOn(ec2, [22, 443]);
    const { AutomationExecutionId } = await ssm.send(
      new StartAutomationExecutionCommand({ DocumentName: NAME, Parameters: { GroupId: [GroupId] } }),
    );
    const e = await automationIn(ssm, AutomationExecutionId ?? '');
    expect(e.FailureMessage).toBeUndefined();
    expect(e.AutomationExecutionStatus).toBe('Success');
    expect(e.DocumentVersion).toBe('7');
    expect(e.Outputs?.['RevokeOpenAdminPorts.Revoked']).toEqual(['22']);
    const group = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [GroupId] })))
      .SecurityGroups?.[0];
    expect(group?.IpPermissions?.map((p) => p.FromPort)).toEqual([443]);
  }, 90_000);
});
