/**
 * The named parameter conversions (tasks/shared/parameters.ts `as:`) the runbooks rely on, and the
 * real policy resolved against realistic drift states: every entry yields parameters its runbook
 * accepts (the same check StartAutomationExecution makes), and hostile ids are refused.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAutomationDocument, validateExecutionParameters } from '../../sandbox/services/ssm/document';
import type { DriftState, RemediationEvent } from '../../tasks/shared/contracts';
import { InvalidInputError } from '../../tasks/shared/errors';
import { cloudControlPatch, resolveParameters, toEc2IpPermission } from '../../tasks/shared/parameters';
import { loadPolicyFile } from '../../tasks/shared/policy/load';
import { sampleProperties } from './support/scenarios';

const ROLE = 'arn:aws:iam::000000000000:role/drift-remediation-automation';

const event = (over: Partial<RemediationEvent> = {}): RemediationEvent => ({
  eventId: 'e-1',
  source: 'config',
  resourceType: 'AWS::EC2::SecurityGroup',
  resourceId: 'sg-0123456789abcdef0',
  awsAccountId: '000000000000',
  awsRegion: 'us-east-1',
  complianceType: 'NON_COMPLIANT',
  orderingTimestamp: '2026-11-23T20:00:00Z',
  ...over,
});

const drift = (over: Partial<DriftState> = {}): DriftState => ({
  inStack: true,
  mode: 'resource',
  stackName: 'drift-demo-web',
  logicalResourceId: 'WebSecurityGroup',
  detectionStatus: 'DETECTION_COMPLETE',
  polls: 1,
  maxPolls: 10,
  waitSeconds: 5,
  resourceDriftStatus: 'MODIFIED',
  ...over,
});

describe('toEc2IpPermission (as: ec2IpPermissions)', () => {
  it.each([
    [
      { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '0.0.0.0/0', Description: 'ssh' },
      {
        IpProtocol: 'tcp',
        FromPort: 22,
        ToPort: 22,
        IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'ssh' }],
      },
    ],
    [
      { IpProtocol: 'TCP', FromPort: '3389', ToPort: '3389', CidrIpv6: '::/0' },
      { IpProtocol: 'tcp', FromPort: 3389, ToPort: 3389, Ipv6Ranges: [{ CidrIpv6: '::/0' }] },
    ],
    [
      {
        IpProtocol: '-1',
        FromPort: -1,
        ToPort: -1,
        SourceSecurityGroupId: 'sg-0aaaaaaaaaaaaaaaa',
        SourceSecurityGroupOwnerId: '111122223333',
      },
      { IpProtocol: '-1', UserIdGroupPairs: [{ GroupId: 'sg-0aaaaaaaaaaaaaaaa', UserId: '111122223333' }] },
    ],
    [
      { IpProtocol: 'udp', FromPort: 53, ToPort: 53, SourcePrefixListId: 'pl-12345678' },
      { IpProtocol: 'udp', FromPort: 53, ToPort: 53, PrefixListIds: [{ PrefixListId: 'pl-12345678' }] },
    ],
  ])('%j → %j', (rule, perm) => {
    expect(toEc2IpPermission(rule)).toEqual(perm);
  });

  it('refuses a rule without a source or protocol', () => {
    expect(() => toEc2IpPermission({ IpProtocol: 'tcp', FromPort: 22, ToPort: 22 })).toThrow(
      InvalidInputError,
    );
    expect(() => toEc2IpPermission({ CidrIp: '0.0.0.0/0' })).toThrow(InvalidInputError);
    expect(() => toEc2IpPermission('tcp/22')).toThrow(InvalidInputError);
  });
});

describe('cloudControlPatch (as: cloudControlPatch)', () => {
  it('sets each drifted top-level property to its expected value, removes undeclared ones, once per property', () => {
    const patch = cloudControlPatch({
      expected: { Description: 'demo', PolicyDocument: { Version: '2012-10-17', Statement: [] } },
      propertyDifferences: [
        {
          PropertyPath: '/PolicyDocument/Statement/0/Action',
          ExpectedValue: 's3:GetObject',
          ActualValue: '*',
          DifferenceType: 'NOT_EQUAL',
        },
        {
          PropertyPath: '/PolicyDocument/Statement/1',
          ExpectedValue: '',
          ActualValue: '{}',
          DifferenceType: 'ADD',
        },
        {
          PropertyPath: '/Description',
          ExpectedValue: 'demo',
          ActualValue: 'x',
          DifferenceType: 'NOT_EQUAL',
        },
        { PropertyPath: '/Path', ExpectedValue: '', ActualValue: '/x/', DifferenceType: 'ADD' },
      ],
    });
    expect(patch).toEqual([
      { op: 'add', path: '/PolicyDocument', value: { Version: '2012-10-17', Statement: [] } },
      { op: 'add', path: '/Description', value: 'demo' },
      { op: 'remove', path: '/Path' },
    ]);
  });

  it('refuses a PropertyPath that is not a property path', () => {
    expect(() =>
      cloudControlPatch({
        expected: {},
        propertyDifferences: [
          { PropertyPath: '/../x', ExpectedValue: '', ActualValue: '', DifferenceType: 'ADD' },
        ],
      }),
    ).toThrow(InvalidInputError);
  });
});

describe('resolveParameters conversions', () => {
  const ctx = {
    event: event({ resourceType: 'AWS::IAM::Role', resourceId: 'drift-demo-reporting' }),
    drift: drift({
      expected: {
        Policies: [{ PolicyName: 'read', PolicyDocument: { Statement: [] } }],
        Environment: { Variables: { A: '1' } },
      },
      added: {
        Policies: [{ PolicyName: 'extra', PolicyDocument: {} }],
        ManagedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'],
      },
    }),
  };

  it('jsonPatchSet, list, present, json', () => {
    const out = resolveParameters(
      {
        Patch: { from: 'drift.expected.Policies', as: 'jsonPatchSet' },
        Arns: { from: 'drift.added.ManagedPolicyArns', as: 'list' },
        HasEnv: { from: 'drift.expected.Environment', as: 'present' },
        HasTags: { from: 'drift.expected.Tags', as: 'present' },
        Vars: { from: 'drift.expected.Environment.Variables', as: 'json' },
      },
      ctx,
    );
    expect(out).toEqual({
      Patch: [
        JSON.stringify([
          {
            op: 'add',
            path: '/Policies',
            value: [{ PolicyName: 'read', PolicyDocument: { Statement: [] } }],
          },
        ]),
      ],
      Arns: ['arn:aws:iam::aws:policy/AdministratorAccess'],
      HasEnv: ['true'],
      HasTags: ['false'],
      Vars: ['{"A":"1"}'],
    });
  });

  it('uses a default as the SSM value itself, never converted', () => {
    const out = resolveParameters(
      {
        Revoke: { from: 'drift.added.SecurityGroupIngress', as: 'ec2IpPermissions', default: [] },
        Json: { from: 'drift.added.Nothing', as: 'json', default: '[]' },
        Patch: { from: 'drift.expected.Missing', as: 'jsonPatchSet', default: '[]' },
      },
      ctx,
    );
    expect(out).toEqual({ Revoke: [], Json: ['[]'], Patch: ['[]'] });
  });

  it('a list conversion of something that is not a list is an InvalidInputError', () => {
    expect(() =>
      resolveParameters({ X: { from: 'drift.expected.Environment', as: 'ec2IpPermissions' } }, ctx),
    ).toThrow(InvalidInputError);
  });
});

describe('the real policy, resolved the way the workflow does, is accepted by each runbook', () => {
  const policy = loadPolicyFile('runbooks/policy.yaml');
  const doc = (name: string) =>
    parseAutomationDocument(readFileSync(`runbooks/${name}.yaml`, 'utf8'), 'YAML');
  const entry = (id: string) => {
    const e = policy.entries.find((x) => x.id === id);
    if (!e) throw new Error(`no policy entry ${id}`);
    return e;
  };

  const cases: Array<{
    id: string;
    event: RemediationEvent;
    drift?: DriftState;
    expect?: Record<string, string[]>;
  }> = [
    {
      id: 'sg-ingress',
      event: event(),
      drift: drift({
        added: {
          SecurityGroupIngress: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '0.0.0.0/0' }],
        },
      }),
      expect: {
        RevokeIngress: [
          JSON.stringify({
            IpProtocol: 'tcp',
            FromPort: 22,
            ToPort: 22,
            IpRanges: [{ CidrIp: '0.0.0.0/0' }],
          }),
        ],
        AuthorizeIngress: [],
      },
    },
    {
      id: 's3-encryption',
      event: event({ resourceType: 'AWS::S3::Bucket', resourceId: 'drift-demo-data-000000000000' }),
      drift: drift({
        logicalResourceId: 'DataBucket',
        expected: {
          BucketEncryption: {
            ServerSideEncryptionConfiguration: [
              { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
            ],
          },
        },
      }),
      expect: { SSEAlgorithm: ['AES256'], KMSMasterKeyID: [''], BucketKeyEnabled: ['false'] },
    },
    {
      id: 's3-versioning',
      event: event({ resourceType: 'AWS::S3::Bucket', resourceId: 'drift-demo-data-000000000000' }),
    },
    {
      id: 's3-public-access',
      event: event({ resourceType: 'AWS::S3::Bucket', resourceId: 'drift-demo-data-000000000000' }),
    },
    {
      id: 'iam-role-policies',
      event: event({
        source: 'cloudformation',
        resourceType: 'AWS::IAM::Role',
        resourceId: 'drift-demo-reporting',
        complianceType: 'DRIFTED',
      }),
      drift: drift({
        stackName: 'drift-demo-reporting',
        logicalResourceId: 'ReportingRole',
        added: { ManagedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] },
      }),
      expect: {
        DetachPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'],
        AttachPolicyArns: [],
        InlinePoliciesPatch: ['[]'],
      },
    },
    {
      id: 'stack-drift',
      event: event({
        source: 'manual',
        resourceType: 'AWS::CloudFormation::Stack',
        resourceId: 'drift-demo-web',
        complianceType: 'DRIFTED',
      }),
    },
    {
      id: 'lambda-configuration',
      event: event({ resourceType: 'AWS::Lambda::Function', resourceId: 'drift-demo-thumbnail' }),
      drift: drift({
        logicalResourceId: 'ThumbnailFunction',
        expected: { MemorySize: 128, Timeout: 30, Environment: { Variables: { SIZE: '256' } } },
      }),
      expect: {
        MemorySize: ['128'],
        Timeout: ['30'],
        RestoreEnvironment: ['true'],
        EnvironmentVariables: ['{"SIZE":"256"}'],
      },
    },
    {
      id: 'lambda-configuration',
      event: event({ resourceType: 'AWS::Lambda::Function', resourceId: 'outside-any-stack' }),
      expect: {
        MemorySize: ['128'],
        Timeout: ['30'],
        RestoreEnvironment: ['false'],
        EnvironmentVariables: ['{}'],
      },
    },
    {
      id: 'cloudcontrol-property-revert',
      event: event({
        source: 'cloudformation',
        resourceType: 'AWS::IAM::ManagedPolicy',
        resourceId: 'arn:aws:iam::000000000000:policy/demo',
        complianceType: 'DRIFTED',
      }),
      drift: drift({
        logicalResourceId: 'DemoPolicy',
        expected: { Description: 'demo' },
        propertyDifferences: [
          {
            PropertyPath: '/Description',
            ExpectedValue: 'demo',
            ActualValue: 'changed',
            DifferenceType: 'NOT_EQUAL',
          },
        ],
      }),
      expect: { PatchDocument: ['[{"op":"add","path":"/Description","value":"demo"}]'] },
    },
  ];

  it.each(cases)('$id ($event.resourceId)', (c) => {
    const e = entry(c.id);
    const params = resolveParameters(e.parameters, { event: c.event, drift: c.drift }, ROLE);
    for (const [k, v] of Object.entries(c.expect ?? {})) expect(params[k], k).toEqual(v);
    expect(() => validateExecutionParameters(doc(e.runbook), params)).not.toThrow();
  });

  it('a hostile resource id resolves, but every runbook refuses it before anything runs', () => {
    for (const e of policy.entries) {
      const type = e.resourceTypes[0] ?? 'AWS::S3::Bucket';
      const hostile = event({ resourceType: type, resourceId: 'x;aws iam delete-role' });
      // The drift of the type's sandbox sample: what its template declares is what drift detection expects.
      const expected = sampleProperties(type, 'sample');
      const params = resolveParameters(e.parameters, { event: hostile, drift: drift({ expected }) }, ROLE);
      expect(() => validateExecutionParameters(doc(e.runbook), params), e.id).toThrow(
        /does not match the allowed pattern/,
      );
    }
  });
});
