import {
  CloudFormationClient,
  DescribeStacksCommand,
  ListStacksCommand,
} from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupsCommand,
  DescribeVpcsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { GetDocumentCommand, ListDocumentsCommand, SSMClient } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { credentialScope, encodeJson } from '../../../sandbox/core/server';
import type { ServiceModule } from '../../../sandbox/core/types';
import { AwsError } from '../../../sandbox/core/types';
import { withSandbox } from '../helpers';

const seen: { operation: string; input: Record<string, unknown> }[] = [];

const ec2: ServiceModule = {
  serviceName: 'ec2',
  signingName: 'ec2',
  protocol: 'ec2Query',
  operations: {
    DescribeSecurityGroups(input) {
      seen.push({ operation: 'DescribeSecurityGroups', input });
      const ids = (input.GroupIds as string[] | undefined) ?? [];
      if (ids.includes('sg-missing'))
        throw new AwsError('InvalidGroup.NotFound', "The security group 'sg-missing' does not exist");
      return {
        SecurityGroups: ids.map((id) => ({
          GroupId: id,
          GroupName: `name-${id}`,
          Description: 'a <b> & c',
          VpcId: 'vpc-1',
          IpPermissions: [
            {
              IpProtocol: 'tcp',
              FromPort: 22,
              ToPort: 22,
              IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'ssh' }],
            },
          ],
          Tags: [{ Key: 'env', Value: 'dev' }],
        })),
      };
    },
    AuthorizeSecurityGroupIngress(input) {
      seen.push({ operation: 'AuthorizeSecurityGroupIngress', input });
      return {
        Return: true,
        SecurityGroupRules: [{ SecurityGroupRuleId: 'sgr-1', GroupId: input.GroupId, IsEgress: false }],
      };
    },
    DescribeVpcs() {
      throw new Error('boom');
    },
  },
};

const cfn: ServiceModule = {
  serviceName: 'cloudformation',
  signingName: 'cloudformation',
  protocol: 'awsQuery',
  operations: {
    DescribeStacks(input) {
      seen.push({ operation: 'DescribeStacks', input });
      if (input.StackName === 'nope')
        throw new AwsError('ValidationError', 'Stack with id nope does not exist');
      return {
        Stacks: [
          {
            StackName: input.StackName,
            StackId: 'arn:aws:cloudformation:us-east-1:000000000000:stack/s/1',
            CreationTime: '2026-01-02T03:04:05.000Z',
            StackStatus: 'CREATE_COMPLETE',
            Parameters: [{ ParameterKey: 'P', ParameterValue: 'v' }],
            Outputs: [{ OutputKey: 'O', OutputValue: 'x' }],
            Capabilities: ['CAPABILITY_IAM'],
            DriftInformation: {
              StackDriftStatus: 'DRIFTED',
              LastCheckTimestamp: new Date('2026-01-02T00:00:00Z'),
            },
          },
        ],
      };
    },
  },
};

const ssm: ServiceModule = {
  serviceName: 'ssm',
  signingName: 'ssm',
  protocol: 'awsJson1_1',
  targetPrefix: 'AmazonSSM',
  operations: {
    GetDocument(input) {
      seen.push({ operation: 'GetDocument', input });
      if (input.Name === 'missing') throw new AwsError('InvalidDocument', 'Document missing does not exist');
      return {
        Name: input.Name,
        Content: '{}',
        CreatedDate: new Date('2026-01-02T03:04:05Z'),
        DocumentType: 'Automation',
      };
    },
  },
};

const sb = withSandbox({ services: [ec2, cfn, ssm], timeScale: 0 });

describe('sandbox server: ec2Query', () => {
  it('decodes flattened EC2 lists into SDK member names and encodes EC2 XML the client parses', async () => {
    const client = new EC2Client(sb.clientConfig);
    const out = await client.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-1', 'sg-2'] }));
    expect(seen.at(-1)?.input).toEqual({ GroupIds: ['sg-1', 'sg-2'] });
    expect(out.SecurityGroups?.map((g) => g.GroupId)).toEqual(['sg-1', 'sg-2']);
    const g = out.SecurityGroups?.[0];
    expect(g?.Description).toBe('a <b> & c');
    expect(g?.IpPermissions?.[0]).toMatchObject({ IpProtocol: 'tcp', FromPort: 22, ToPort: 22 });
    expect(g?.IpPermissions?.[0]?.IpRanges).toEqual([{ CidrIp: '0.0.0.0/0', Description: 'ssh' }]);
    expect(g?.Tags).toEqual([{ Key: 'env', Value: 'dev' }]);
  });

  it('decodes nested structures (IpPermissions.N.IpRanges.N.CidrIp)', async () => {
    const client = new EC2Client(sb.clientConfig);
    const out = await client.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: 'sg-1',
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
        ],
      }),
    );
    expect(seen.at(-1)?.input).toEqual({
      GroupId: 'sg-1',
      IpPermissions: [
        { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
      ],
    });
    expect(out.Return).toBe(true);
    expect(out.SecurityGroupRules?.[0]?.SecurityGroupRuleId).toBe('sgr-1');
  });

  it('returns EC2 errors with their code', async () => {
    const client = new EC2Client(sb.clientConfig);
    await expect(
      client.send(new DescribeSecurityGroupsCommand({ GroupIds: ['sg-missing'] })),
    ).rejects.toMatchObject({
      name: 'InvalidGroup.NotFound',
      $metadata: { httpStatusCode: 400 },
    });
  });

  it('maps a crash in a handler to InternalFailure 500', async () => {
    const client = new EC2Client(sb.clientConfig);
    await expect(client.send(new DescribeVpcsCommand({}))).rejects.toMatchObject({
      name: 'InternalFailure',
      $metadata: { httpStatusCode: 500 },
    });
  });
});

describe('sandbox server: awsQuery', () => {
  it('round-trips DescribeStacks with timestamps, lists and nested structures', async () => {
    const client = new CloudFormationClient(sb.clientConfig);
    const out = await client.send(new DescribeStacksCommand({ StackName: 'demo' }));
    expect(seen.at(-1)?.input).toEqual({ StackName: 'demo' });
    const s = out.Stacks?.[0];
    expect(s?.StackName).toBe('demo');
    expect(s?.CreationTime).toEqual(new Date('2026-01-02T03:04:05Z'));
    expect(s?.Parameters).toEqual([{ ParameterKey: 'P', ParameterValue: 'v' }]);
    expect(s?.Capabilities).toEqual(['CAPABILITY_IAM']);
    expect(s?.DriftInformation?.StackDriftStatus).toBe('DRIFTED');
  });

  it('answers an error in the awsQuery ErrorResponse shape', async () => {
    const client = new CloudFormationClient(sb.clientConfig);
    const err = await client.send(new DescribeStacksCommand({ StackName: 'nope' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'ValidationError', message: 'Stack with id nope does not exist' });
  });

  it('answers an unknown action with InvalidAction, not a crash', async () => {
    const client = new CloudFormationClient(sb.clientConfig);
    await expect(client.send(new ListStacksCommand({}))).rejects.toMatchObject({ name: 'InvalidAction' });
  });
});

describe('sandbox server: awsJson', () => {
  it('routes by credential scope and returns epoch-second timestamps the SDK parses', async () => {
    const client = new SSMClient(sb.clientConfig);
    const out = await client.send(new GetDocumentCommand({ Name: 'doc' }));
    expect(out.Name).toBe('doc');
    expect(out.CreatedDate).toEqual(new Date('2026-01-02T03:04:05Z'));
  });

  it('returns typed JSON errors and UnknownOperationException', async () => {
    const client = new SSMClient(sb.clientConfig);
    const err = await client.send(new GetDocumentCommand({ Name: 'missing' })).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'InvalidDocument', $metadata: { httpStatusCode: 400 } });
    await expect(client.send(new ListDocumentsCommand({}))).rejects.toMatchObject({
      name: 'UnknownOperationException',
    });
  });

  it('answers a service it does not emulate with an error, not a crash', async () => {
    const res = await fetch(`${sb.endpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'Nope.DoThing',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/nope/aws4_request, SignedHeaders=host, Signature=x',
      },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });
});

describe('sandbox server: awsJson bodies', () => {
  const post = (body: string) =>
    fetch(`${sb.endpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'AmazonSSM.GetDocument',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/ssm/aws4_request, SignedHeaders=host, Signature=x',
      },
      body,
    });

  it('takes a blank body as no input, and JSON with whitespace or a byte order mark around it', async () => {
    seen.length = 0;
    expect((await post('')).status).toBe(200);
    expect((await post(' \n\t')).status).toBe(200);
    expect((await post(' {"Name":"a"} \n')).status).toBe(200);
    expect((await post('\ufeff{"Name":"b"}')).status).toBe(200);
    expect(seen.map((x) => x.input)).toEqual([{}, {}, { Name: 'a' }, { Name: 'b' }]);
  });

  it('refuses a body that is not a JSON object with SerializationException, running nothing', async () => {
    seen.length = 0;
    for (const body of ['[1]', '"text"', '{"Name":', 'null']) {
      const res = await post(body);
      expect(res.status, body).toBe(400);
      expect(await res.json()).toMatchObject({ __type: 'com.amazonaws.ssm#SerializationException' });
    }
    expect(seen).toEqual([]);
  });
});

describe('encodeJson', () => {
  it('writes plain outputs as they are, Dates as epoch seconds and bytes as base64 wherever they sit', () => {
    expect(encodeJson({ a: [1, undefined, 'x'], b: undefined, c: { d: null } })).toBe(
      '{"a":[1,null,"x"],"c":{"d":null}}',
    );
    expect(encodeJson(undefined)).toBe('{}');
    expect(encodeJson(Object.assign(Object.create(null), { n: 1 }))).toBe('{"n":1}');
    expect(encodeJson({ at: new Date(1500), list: [{ raw: new Uint8Array([1, 2, 3]) }] })).toBe(
      '{"at":1.5,"list":[{"raw":"AQID"}]}',
    );
    // A class instance is written by its own fields (its prototype's toJSON is not called).
    class Shaped {
      own = 'yes';
      toJSON() {
        return 'replaced';
      }
    }
    expect(encodeJson({ x: new Shaped() })).toBe('{"x":{"own":"yes"}}');
  });
});

describe('sandbox server: unsigned routes', () => {
  it('serves registered HTTP routes by prefix', async () => {
    sb.sandbox.registerHttpRoute('/approvals/', (req) => ({
      status: 200,
      headers: { 'content-type': 'text/plain' },
      body: `${req.method} ${req.path} ${req.query.get('t') ?? ''}`,
    }));
    const res = await fetch(`${sb.endpoint}/approvals/abc?t=1`);
    expect(await res.text()).toBe('GET /approvals/abc 1');
  });
});

describe('credentialScope', () => {
  const none = new URLSearchParams();
  const signed = (credential: string, tail = ', SignedHeaders=host, Signature=x') => ({
    authorization: `AWS4-HMAC-SHA256 Credential=${credential}${tail}`,
  });

  it('reads key, date, region and service from the Authorization header, the same on every call', () => {
    const h = signed('AKIDA/20260101/eu-west-1/sqs/aws4_request');
    const want = { accessKeyId: 'AKIDA', date: '20260101', region: 'eu-west-1', service: 'sqs' };
    expect(credentialScope(h, none)).toEqual(want);
    expect(credentialScope(h, none)).toEqual(want);
    // A space or a tab ends the credential as a comma does.
    expect(
      credentialScope(signed('AKIDB/20260101/us-east-1/ssm/aws4_request', ' SignedHeaders=host'), none),
    ).toEqual({
      accessKeyId: 'AKIDB',
      date: '20260101',
      region: 'us-east-1',
      service: 'ssm',
    });
    expect(credentialScope(signed('AKIDC/20260101/us-east-1/s3/aws4_request', '\tx'), none)?.service).toBe(
      's3',
    );
  });

  it('falls back to a presigned X-Amz-Credential, and is undefined for an unsigned or short credential', () => {
    const q = new URLSearchParams({ 'X-Amz-Credential': 'AKIDQ/20260101/us-east-2/s3/aws4_request' });
    expect(credentialScope({}, q)).toEqual({
      accessKeyId: 'AKIDQ',
      date: '20260101',
      region: 'us-east-2',
      service: 's3',
    });
    expect(credentialScope({ authorization: 'Bearer x' }, none)).toBeUndefined();
    expect(credentialScope(signed('AKID/20260101/us-east-1'), none)).toBeUndefined();
    expect(credentialScope(signed(''), none)).toBeUndefined();
  });
});
