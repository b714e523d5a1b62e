/**
 * An AccessDenied in each wire protocol, as AWS answers it: the error code the SDK maps, the message
 * (`User: <principal> is not authorized to perform: <action> on resource: <arn> because no identity-based
 * policy allows the <action> action`, with each protocol's own wrapping), the HTTP status — and the denied
 * call changed nothing. One caller, a role session with no permissions, through real SDK v3 clients.
 */
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { CreateRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateBucketCommand,
  GetBucketVersioningCommand,
  PutBucketVersioningCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { CreateDocumentCommand, DescribeDocumentCommand, SSMClient } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { credentialsFor } from '../../../sandbox/core/authz';
import { dynamoDbService } from '../../../sandbox/services/dynamodb';
import { ec2Service } from '../../../sandbox/services/ec2';
import { iamService } from '../../../sandbox/services/iam';
import { s3Service } from '../../../sandbox/services/s3';
import { ssmService } from '../../../sandbox/services/ssm';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({
  services: [iamService(), ec2Service(), s3Service(), dynamoDbService(), ssmService()],
}));
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const USER = `arn:aws:sts::${ACCOUNT}:assumed-role/no-permissions/denied`;
const because = (action: string) => `because no identity-based policy allows the ${action} action`;

let nobody: ReturnType<typeof credentialsFor>;
beforeAll(async () => {
  const trust = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
    ],
  });
  const r = await new IAMClient(sb.clientConfig).send(
    new CreateRoleCommand({ RoleName: 'no-permissions', AssumeRolePolicyDocument: trust }),
  );
  nobody = credentialsFor(sb.sandbox.context, String(r.Role?.Arn), 'denied');
});
const asNobody = () => ({ ...sb.clientConfig, credentials: nobody });

interface Denial {
  name: string;
  message: string;
  status?: number;
}

async function denial(p: Promise<unknown>): Promise<Denial> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to be denied');
}

describe('AccessDenied per wire protocol', () => {
  it('awsQuery (IAM): AccessDenied, HTTP 403; the role is not created', async () => {
    const d = await denial(
      new IAMClient(asNobody()).send(
        new CreateRoleCommand({ RoleName: 'never', AssumeRolePolicyDocument: '{}' }),
      ),
    );
    expect(d).toEqual({
      name: 'AccessDenied',
      status: 403,
      message: `User: ${USER} is not authorized to perform: iam:CreateRole on resource: arn:aws:iam::${ACCOUNT}:role/never ${because('iam:CreateRole')}`,
    });
    await expect(
      new IAMClient(sb.clientConfig).send(new GetRoleCommand({ RoleName: 'never' })),
    ).rejects.toMatchObject({
      name: 'NoSuchEntityException',
    });
  });

  it('ec2Query (EC2): UnauthorizedOperation, HTTP 403, with the encoded failure; no rule is added', async () => {
    const admin = new EC2Client(sb.clientConfig);
    const { GroupId } = await admin.send(
      new CreateSecurityGroupCommand({ GroupName: 'denied-sg', Description: 'x' }),
    );
    const d = await denial(
      new EC2Client(asNobody()).send(
        new AuthorizeSecurityGroupIngressCommand({
          GroupId,
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
          ],
        }),
      ),
    );
    const sg = `arn:aws:ec2:${REGION}:${ACCOUNT}:security-group/${GroupId}`;
    expect(d.name).toBe('UnauthorizedOperation');
    expect(d.status).toBe(403);
    const prefix = `You are not authorized to perform this operation. User: ${USER} is not authorized to perform: ec2:AuthorizeSecurityGroupIngress on resource: ${sg} ${because('ec2:AuthorizeSecurityGroupIngress')}. Encoded authorization failure message: `;
    expect(d.message.startsWith(prefix)).toBe(true);
    const decoded = JSON.parse(Buffer.from(d.message.slice(prefix.length), 'base64url').toString());
    expect(decoded).toMatchObject({
      allowed: false,
      context: { action: 'ec2:AuthorizeSecurityGroupIngress', resource: sg },
    });
    const groups = await admin.send(new DescribeSecurityGroupsCommand({ GroupIds: [String(GroupId)] }));
    expect(groups.SecurityGroups?.[0]?.IpPermissions ?? []).toEqual([]);
  });

  it('restXml (S3): AccessDenied, HTTP 403, the resource quoted; versioning is unchanged', async () => {
    const admin = new S3Client({ ...sb.clientConfig, forcePathStyle: true });
    await admin.send(new CreateBucketCommand({ Bucket: 'denied-versioning' }));
    const d = await denial(
      new S3Client({ ...asNobody(), forcePathStyle: true }).send(
        new PutBucketVersioningCommand({
          Bucket: 'denied-versioning',
          VersioningConfiguration: { Status: 'Enabled' },
        }),
      ),
    );
    expect(d).toEqual({
      name: 'AccessDenied',
      status: 403,
      message: `User: ${USER} is not authorized to perform: s3:PutBucketVersioning on resource: "arn:aws:s3:::denied-versioning" ${because('s3:PutBucketVersioning')}`,
    });
    expect(
      (await admin.send(new GetBucketVersioningCommand({ Bucket: 'denied-versioning' }))).Status,
    ).toBeUndefined();
  });

  it('awsJson1.0 (DynamoDB): AccessDeniedException, HTTP 400; the item is not written', async () => {
    const admin = new DynamoDBClient(sb.clientConfig);
    await admin.send(
      new CreateTableCommand({
        TableName: 'denied-table',
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const d = await denial(
      new DynamoDBClient(asNobody()).send(
        new PutItemCommand({ TableName: 'denied-table', Item: { pk: { S: 'x' } } }),
      ),
    );
    expect(d).toEqual({
      name: 'AccessDeniedException',
      status: 400,
      message: `User: ${USER} is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/denied-table ${because('dynamodb:PutItem')}`,
    });
    const got = await admin.send(new GetItemCommand({ TableName: 'denied-table', Key: { pk: { S: 'x' } } }));
    expect(got.Item).toBeUndefined();
  });

  it('awsJson1.1 (SSM): AccessDeniedException, HTTP 400; the document is not created', async () => {
    const d = await denial(
      new SSMClient(asNobody()).send(
        new CreateDocumentCommand({
          Name: 'never-document',
          DocumentType: 'Automation',
          Content: JSON.stringify({
            schemaVersion: '0.3',
            mainSteps: [{ name: 's', action: 'aws:sleep', inputs: { Duration: 'PT1S' } }],
          }),
        }),
      ),
    );
    expect(d).toEqual({
      name: 'AccessDeniedException',
      status: 400,
      message: `User: ${USER} is not authorized to perform: ssm:CreateDocument on resource: arn:aws:ssm:${REGION}:${ACCOUNT}:document/never-document ${because('ssm:CreateDocument')}`,
    });
    await expect(
      new SSMClient(sb.clientConfig).send(new DescribeDocumentCommand({ Name: 'never-document' })),
    ).rejects.toMatchObject({ name: 'InvalidDocument' });
  });
});
