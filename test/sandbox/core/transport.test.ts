/**
 * The in-process transport (sandbox/core/transport.ts) answers exactly what HTTP answers: the same
 * operations, sent once over loopback and once in-process by real SDK v3 clients, give equal outputs
 * (request ids aside) and equal errors for each protocol family — awsJson (DynamoDB, SSM, SQS), awsQuery
 * (IAM, CloudFormation), ec2Query (EC2) and restXml (S3) — and the service sees the caller's headers,
 * SigV4 authorization included.
 */
import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStacksCommand,
} from '@aws-sdk/client-cloudformation';
import {
  type AttributeValue,
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
} from '@aws-sdk/client-dynamodb';
import {
  CreateSecurityGroupCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { CreateRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { GetFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  CreateBucketCommand,
  GetBucketEncryptionCommand,
  GetBucketTaggingCommand,
  HeadBucketCommand,
  ListBucketsCommand,
  PutBucketTaggingCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { CreateDocumentCommand, GetDocumentCommand, SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import type { Sandbox } from '../../../sandbox/core/sandbox';
import type { RawHttpRequest, ServiceModule } from '../../../sandbox/core/types';
import { wireHandler } from '../../../sandbox/core/wire';
import { allProviders, allServices } from '../../../sandbox/services';
import { clientConfigFor, withSandbox } from '../helpers';

/** A restJson1 stand-in for Lambda that records the headers each request arrives with. */
const headersSeen: Record<string, string>[] = [];
const echo: ServiceModule = {
  serviceName: 'lambda',
  signingName: 'lambda',
  protocol: 'restJson1',
  operations: { GetFunction: (input) => ({ Configuration: { FunctionName: input.FunctionName } }) },
  rest: {
    route(req: RawHttpRequest) {
      headersSeen.push(req.headers);
      const name = decodeURIComponent(req.path.split('/')[3] ?? '');
      return { operation: 'GetFunction', input: { FunctionName: name } };
    },
    encode: (_op, output) => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(output),
    }),
    encodeError: (e) => ({ status: e.statusCode, body: JSON.stringify({ message: e.message }) }),
  },
};

const sb = withSandbox(() => ({
  services: [...allServices().filter((m) => m.serviceName !== 'lambda'), echo],
  providers: allProviders(),
}));

type Send = { send(command: unknown): Promise<unknown> };
type Pair<C> = { http: C; local: C };

type Config = ReturnType<typeof clientConfigFor> & { requestHandler?: Sandbox['requestHandler'] };

function pair<C>(make: (config: Config) => C): Pair<C> {
  const config = clientConfigFor(sb.sandbox);
  const handler = sb.sandbox.requestHandler;
  if (!handler) throw new Error('the sandbox has no in-process transport');
  return { http: make(config), local: make({ ...config, requestHandler: handler }) };
}

/** An output or error with what differs per request (request ids, dates in headers) taken out. */
function comparable(value: unknown): unknown {
  if (value instanceof Error) {
    const e = value as Error & { $fault?: string; $metadata?: { httpStatusCode?: number } };
    return { name: e.name, message: e.message, fault: e.$fault, status: e.$metadata?.httpStatusCode };
  }
  const { $metadata, ...rest } = value as { $metadata?: { httpStatusCode?: number } };
  return { status: $metadata?.httpStatusCode, ...rest };
}

async function both(clients: Pair<Send>, command: () => unknown): Promise<[unknown, unknown]> {
  const viaHttp = await clients.http.send(command()).catch((e: unknown) => e);
  const inProcess = await clients.local.send(command()).catch((e: unknown) => e);
  return [comparable(viaHttp), comparable(inProcess)];
}

describe('in-process transport', () => {
  it('awsJson: DynamoDB and SSM outputs and errors are the same as over HTTP', async () => {
    const ddb = pair((c) => new DynamoDBClient(c));
    await ddb.http.send(
      new CreateTableCommand({
        TableName: 'transport',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
    const item: Record<string, AttributeValue> = {
      pk: { S: 'a' },
      n: { N: '1' },
      b: { B: Uint8Array.of(1, 2) },
    };
    await ddb.local.send(new PutItemCommand({ TableName: 'transport', Item: item }));
    const [get1, get2] = await both(
      ddb,
      () => new GetItemCommand({ TableName: 'transport', Key: { pk: { S: 'a' } } }),
    );
    expect(get2).toEqual(get1);
    expect((get2 as { Item?: unknown }).Item).toEqual(item);
    const [q1, q2] = await both(
      ddb,
      () =>
        new QueryCommand({
          TableName: 'transport',
          KeyConditionExpression: 'pk = :p',
          ExpressionAttributeValues: { ':p': { S: 'a' } },
        }),
    );
    expect(q2).toEqual(q1);
    const [d1, d2] = await both(ddb, () => new DescribeTableCommand({ TableName: 'missing' }));
    expect(d2).toEqual(d1);
    expect(d2).toMatchObject({ name: 'ResourceNotFoundException', status: 400 });

    const ssm = pair((c) => new SSMClient(c));
    await ssm.http.send(
      new CreateDocumentCommand({
        Name: 'Transport',
        DocumentType: 'Automation',
        DocumentFormat: 'YAML',
        Content:
          "schemaVersion: '0.3'\nmainSteps:\n  - name: wait\n    action: aws:sleep\n    inputs:\n      Duration: PT1S\n",
      }),
    );
    const [p1, p2] = await both(ssm, () => new GetDocumentCommand({ Name: 'Transport' }));
    expect(p2).toEqual(p1);
    expect(p2).toMatchObject({ Name: 'Transport', DocumentType: 'Automation' });
    const [m1, m2] = await both(ssm, () => new GetDocumentCommand({ Name: 'Missing' }));
    expect(m2).toEqual(m1);
    expect(m2).toMatchObject({ name: 'InvalidDocument' });
  });

  it('awsJson with the awsQuery-compatible trait: SQS errors keep their query code', async () => {
    const sqs = pair((c) => new SQSClient(c));
    const { QueueUrl } = await sqs.http.send(new CreateQueueCommand({ QueueName: 'transport' }));
    await sqs.local.send(new SendMessageCommand({ QueueUrl, MessageBody: 'hello' }));
    const [a1, a2] = await both(
      sqs,
      () => new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    );
    expect(a2).toEqual(a1);
    expect(a2).toMatchObject({ Attributes: { ApproximateNumberOfMessages: '1' } });
    const missing = `${String(QueueUrl).slice(0, String(QueueUrl).lastIndexOf('/'))}/nope`;
    const [e1, e2] = await both(sqs, () => new GetQueueAttributesCommand({ QueueUrl: missing }));
    expect(e2).toEqual(e1);
    expect(e2).toMatchObject({ name: 'QueueDoesNotExist' });
  });

  it('awsQuery: IAM and CloudFormation outputs and errors are the same as over HTTP', async () => {
    const iam = pair((c) => new IAMClient(c));
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'ssm.amazonaws.com' }, Action: 'sts:AssumeRole' }],
    });
    await iam.local.send(new CreateRoleCommand({ RoleName: 'transport', AssumeRolePolicyDocument: trust }));
    const [r1, r2] = await both(iam, () => new GetRoleCommand({ RoleName: 'transport' }));
    expect(r2).toEqual(r1);
    const [n1, n2] = await both(iam, () => new GetRoleCommand({ RoleName: 'nobody' }));
    expect(n2).toEqual(n1);
    expect(n2).toMatchObject({ name: 'NoSuchEntityException', status: 404 });

    const cf = pair((c) => new CloudFormationClient(c));
    const [l1, l2] = await both(cf, () => new ListStacksCommand({}));
    expect(l2).toEqual(l1);
    const [s1, s2] = await both(cf, () => new DescribeStacksCommand({ StackName: 'nope' }));
    expect(s2).toEqual(s1);
    expect(s2).toMatchObject({ name: 'ValidationError' });
  });

  it('ec2Query: EC2 outputs and errors are the same as over HTTP', async () => {
    const ec2 = pair((c) => new EC2Client(c));
    const { GroupId } = await ec2.local.send(
      new CreateSecurityGroupCommand({ GroupName: 'transport', Description: 'a <b> & "c"' }),
    );
    const [g1, g2] = await both(
      ec2,
      () => new DescribeSecurityGroupsCommand({ GroupIds: [String(GroupId)] }),
    );
    expect(g2).toEqual(g1);
    expect(g2).toMatchObject({ SecurityGroups: [{ GroupId, Description: 'a <b> & "c"' }] });
    const [e1, e2] = await both(
      ec2,
      () => new DescribeSecurityGroupsCommand({ GroupIds: ['sg-0000000000'] }),
    );
    expect(e2).toEqual(e1);
    expect(e2).toMatchObject({ name: 'InvalidGroup.NotFound' });
    const [v1, v2] = await both(
      ec2,
      () =>
        new RevokeSecurityGroupIngressCommand({
          GroupId: String(GroupId),
          IpPermissions: [
            { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
          ],
        }),
    );
    expect(v2).toEqual(v1);
  });

  it('restXml: S3 buckets, tags, listings and errors are the same as over HTTP', async () => {
    const s3 = pair((c) => new S3Client({ ...c, forcePathStyle: true }));
    await s3.http.send(new CreateBucketCommand({ Bucket: 'transport' }));
    await s3.local.send(
      new PutBucketTaggingCommand({
        Bucket: 'transport',
        Tagging: { TagSet: [{ Key: 'a b', Value: 'c+d & <e>' }] },
      }),
    );
    const [t1, t2] = await both(s3, () => new GetBucketTaggingCommand({ Bucket: 'transport' }));
    expect(t2).toEqual(t1);
    expect(t2).toMatchObject({ TagSet: [{ Key: 'a b', Value: 'c+d & <e>' }] });
    const [l1, l2] = await both(s3, () => new ListBucketsCommand({}));
    expect(l2).toEqual(l1);
    expect(l2).toMatchObject({ Buckets: [{ Name: 'transport' }] });
    const [h1, h2] = await both(s3, () => new HeadBucketCommand({ Bucket: 'transport' }));
    expect(h2).toEqual(h1);
    const [m1, m2] = await both(s3, () => new HeadBucketCommand({ Bucket: 'missing' }));
    expect(m2).toEqual(m1);
    expect(m2).toMatchObject({ status: 404 });
    const [e1, e2] = await both(s3, () => new GetBucketEncryptionCommand({ Bucket: 'missing' }));
    expect(e2).toEqual(e1);
    expect(e2).toMatchObject({ name: 'NoSuchBucket', status: 404 });
  });

  it('the service sees the same request headers, SigV4 authorization included', async () => {
    const lambda = pair((c) => new LambdaClient(c));
    headersSeen.length = 0;
    const [o1, o2] = await both(lambda, () => new GetFunctionCommand({ FunctionName: 'fn' }));
    expect(o2).toEqual(o1);
    expect(headersSeen).toHaveLength(2);
    const [viaHttp, inProcess] = headersSeen as [Record<string, string>, Record<string, string>];
    // Node's HTTP client adds connection management; everything the SDK sent arrives either way.
    const { connection: _c, ...sent } = viaHttp;
    expect(Object.keys(inProcess).sort()).toEqual(Object.keys(sent).sort());
    expect(inProcess.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIASANDBOXTEST00000\/\d{8}\/us-east-1\/lambda\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/,
    );
    expect(inProcess.host).toBe(viaHttp.host);
  });

  it('refuses a request for another host rather than answering it', async () => {
    const handler = sb.sandbox.requestHandler;
    if (!handler) throw new Error('no in-process transport');
    const ssm = new SSMClient({
      ...clientConfigFor(sb.sandbox),
      endpoint: 'http://127.0.0.2:1',
      requestHandler: handler,
    });
    await expect(ssm.send(new GetDocumentCommand({ Name: 'Transport' }))).rejects.toThrow(/serves .* only/);
  });

  it('follows its endpoint when it moves (parsed once per value, not once per request)', async () => {
    let endpoint = 'http://127.0.0.1:4566';
    const seen: string[] = [];
    const handler = wireHandler(
      () => endpoint,
      async (r) => {
        seen.push(r.headers.host ?? '');
        return { status: 200, headers: {}, body: new TextEncoder().encode('{}'), streaming: false };
      },
    );
    const at = (url: string) =>
      new SQSClient({ ...clientConfigFor(sb.sandbox), endpoint: url, requestHandler: handler });
    await at('http://127.0.0.1:4566').send(new ListQueuesCommand({}));
    await expect(at('http://127.0.0.1:4567').send(new ListQueuesCommand({}))).rejects.toThrow(
      /serves .* only/,
    );
    endpoint = 'http://127.0.0.1:4567';
    await at('http://127.0.0.1:4567').send(new ListQueuesCommand({}));
    await expect(at('http://127.0.0.1:4566').send(new ListQueuesCommand({}))).rejects.toThrow(
      /serves .* only/,
    );
    expect(seen).toEqual(['127.0.0.1:4566', '127.0.0.1:4567']);
  });
});
