// biome-ignore-all lint/suspicious/noTemplateCurlyInString: CloudFormation Fn::Sub strings use ${…} placeholders
/**
 * The template engine and intrinsic resolver against the examples in AWS's intrinsic-function and
 * template-anatomy documentation, plus dependency ordering, cycles and parameter validation.
 */
import { describe, expect, it } from 'vitest';
import { AwsError } from '../../../sandbox/core/types';
import { propertyDifferences, renderValue } from '../../../sandbox/services/cloudformation/drift';
import {
  type CfnTemplate,
  deploymentOrder,
  evaluateConditions,
  type InstalledResource,
  NO_VALUE,
  parseTemplate,
  type ResolveContext,
  requiredCapability,
  resolveOutputs,
  resolveParameters,
  resolveValue,
} from '../../../sandbox/services/cloudformation/template';

const resources = new Map<string, InstalledResource>([
  [
    'vpc',
    {
      logicalId: 'vpc',
      type: 'AWS::EC2::VPC',
      physicalId: 'vpc-0abc',
      attributes: { CidrBlock: '10.0.0.0/16' },
    },
  ],
  [
    'myELB',
    {
      logicalId: 'myELB',
      type: 'AWS::ElasticLoadBalancing::LoadBalancer',
      physicalId: 'my-elb',
      attributes: { DNSName: 'my-elb-1.us-east-1.elb.amazonaws.com' },
    },
  ],
]);

const ctx: ResolveContext = {
  region: 'us-east-1',
  accountId: '123456789012',
  stackName: 'MyStack',
  stackId: 'arn:aws:cloudformation:us-east-1:123456789012:stack/MyStack/1c2fa620-982a-11e3-aff7-50e2416294e0',
  resources,
  parameters: { RootDomainName: 'example.com', Subnets: ['subnet-1', 'subnet-2'], Env: 'prod' },
  mappings: {
    RegionMap: {
      'us-east-1': { HVM64: 'ami-0ff8a91507f77f867', HVMG2: 'ami-0a584ac55a7631c0c' },
      'us-west-1': { HVM64: 'ami-0bdb828fd58c52235', HVMG2: 'ami-066ee5fd4a9ef77f1' },
    },
  },
  conditions: { UseSnapshot: false, IsProd: true },
};

const r = (v: unknown): unknown => resolveValue(v, ctx);

describe('intrinsic functions (AWS documentation examples)', () => {
  it('Fn::Join', () => {
    expect(r({ 'Fn::Join': [':', ['a', 'b', 'c']] })).toBe('a:b:c');
    expect(
      r({
        'Fn::Join': [
          '',
          ['arn:', { Ref: 'AWS::Partition' }, ':s3:::elasticbeanstalk-*-', { Ref: 'AWS::AccountId' }],
        ],
      }),
    ).toBe('arn:aws:s3:::elasticbeanstalk-*-123456789012');
    expect(r({ 'Fn::Join': [',', { Ref: 'Subnets' }] })).toBe('subnet-1,subnet-2');
  });

  it('Fn::Select and Fn::Split', () => {
    expect(r({ 'Fn::Select': ['1', ['apples', 'grapes', 'oranges', 'mangoes']] })).toBe('grapes');
    expect(r({ 'Fn::Split': ['|', 'a|b|c'] })).toEqual(['a', 'b', 'c']);
    expect(r({ 'Fn::Split': ['|', 'a||c|'] })).toEqual(['a', '', 'c', '']);
    expect(r({ 'Fn::Select': [2, { 'Fn::Split': [',', 'x,y,z'] }] })).toBe('z');
    expect(() => r({ 'Fn::Select': [4, ['a']] })).toThrow(
      /Fn::Select cannot select nonexistent value at index 4/,
    );
  });

  it('Fn::Sub: string form with pseudo parameters and resources, list form with variables, ${!Literal}', () => {
    expect(r({ 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:vpc/${vpc}' })).toBe(
      'arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0abc',
    );
    expect(r({ 'Fn::Sub': ['www.${Domain}', { Domain: { Ref: 'RootDomainName' } }] })).toBe(
      'www.example.com',
    );
    expect(r({ 'Fn::Sub': '${myELB.DNSName}:80 ${!Literal} ${AWS::StackName}' })).toBe(
      'my-elb-1.us-east-1.elb.amazonaws.com:80 ${Literal} MyStack',
    );
    expect(r({ 'Fn::Sub': '${AWS::StackId}' })).toBe(ctx.stackId);
  });

  it('Ref and Fn::GetAtt (list and dotted forms); unknown names are template errors', () => {
    expect(r({ Ref: 'vpc' })).toBe('vpc-0abc');
    expect(r({ Ref: 'Env' })).toBe('prod');
    expect(r({ 'Fn::GetAtt': ['myELB', 'DNSName'] })).toBe('my-elb-1.us-east-1.elb.amazonaws.com');
    expect(r({ 'Fn::GetAtt': 'vpc.CidrBlock' })).toBe('10.0.0.0/16');
    expect(() => r({ 'Fn::GetAtt': ['vpc', 'Nope'] })).toThrow(
      'Template error: resource vpc does not support attribute type Nope in Fn::GetAtt',
    );
    expect(() => r({ Ref: 'Missing' })).toThrow(AwsError);
  });

  it('Fn::FindInMap, Fn::Base64, Fn::GetAZs, Fn::ToJsonString, Fn::Length', () => {
    expect(r({ 'Fn::FindInMap': ['RegionMap', { Ref: 'AWS::Region' }, 'HVM64'] })).toBe(
      'ami-0ff8a91507f77f867',
    );
    expect(() => r({ 'Fn::FindInMap': ['RegionMap', 'eu-west-9', 'HVM64'] })).toThrow(
      'Unable to get mapping for RegionMap::eu-west-9::HVM64',
    );
    expect(r({ 'Fn::Base64': 'AWS CloudFormation' })).toBe('QVdTIENsb3VkRm9ybWF0aW9u');
    expect(r({ 'Fn::GetAZs': '' })).toEqual(['us-east-1a', 'us-east-1b', 'us-east-1c']);
    expect(r({ 'Fn::Select': ['0', { 'Fn::GetAZs': { Ref: 'AWS::Region' } }] })).toBe('us-east-1a');
    expect(r({ 'Fn::ToJsonString': { key1: 'value1', key2: { Ref: 'Env' } } })).toBe(
      '{"key1":"value1","key2":"prod"}',
    );
    expect(r({ 'Fn::Length': [1, 2, 3] })).toBe(3);
  });

  it('Fn::If with AWS::NoValue removes the property; conditions combine with And/Or/Not/Equals', () => {
    expect(
      r({
        DBName: 'db',
        DBSnapshotIdentifier: { 'Fn::If': ['UseSnapshot', 'snap', { Ref: 'AWS::NoValue' }] },
        Tags: [
          { 'Fn::If': ['IsProd', { Key: 'env', Value: 'prod' }, { Ref: 'AWS::NoValue' }] },
          { 'Fn::If': ['UseSnapshot', 'x', { Ref: 'AWS::NoValue' }] },
        ],
      }),
    ).toEqual({ DBName: 'db', Tags: [{ Key: 'env', Value: 'prod' }] });
    expect(r({ Ref: 'AWS::NoValue' })).toBe(NO_VALUE);
    expect(
      r({ 'Fn::And': [{ 'Fn::Equals': ['sg-mysggroup', 'sg-mysggroup'] }, { Condition: 'IsProd' }] }),
    ).toBe(true);
    expect(
      r({ 'Fn::Or': [{ 'Fn::Equals': ['sg-mysggroup', 'sg-other'] }, { Condition: 'UseSnapshot' }] }),
    ).toBe(false);
    expect(r({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] }] })).toBe(false);
  });
});

describe('template engine', () => {
  it('parses YAML short-form tags into their long forms', () => {
    const t = parseTemplate(`Resources:
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: !Sub '\${AWS::StackName}-data'
      Tags:
        - Key: arn
          Value: !GetAtt Role.Arn
        - Key: joined
          Value: !Join [ '-', [ !Ref Env, !Select [ 0, !GetAZs '' ] ] ]
`);
    expect(t.Resources.Bucket?.Properties).toEqual({
      BucketName: { 'Fn::Sub': '${AWS::StackName}-data' },
      Tags: [
        { Key: 'arn', Value: { 'Fn::GetAtt': ['Role', 'Arn'] } },
        {
          Key: 'joined',
          Value: { 'Fn::Join': ['-', [{ Ref: 'Env' }, { 'Fn::Select': [0, { 'Fn::GetAZs': '' }] }]] },
        },
      ],
    });
  });

  it('rejects malformed templates with CloudFormation messages', () => {
    expect(() => parseTemplate('{"Resources": ')).toThrow('Template format error: JSON not well-formed.');
    expect(() => parseTemplate('Resources: {}')).toThrow(
      'Template format error: At least one Resources member must be defined.',
    );
    expect(() => parseTemplate('Resources:\n  A:\n    Properties: {}\n')).toThrow(
      'Template format error: [/Resources/A] Every Resources object must contain a Type member.',
    );
    expect(() => parseTemplate('Resources:\n  A: { Type: X }\nOutput: {}\n')).toThrow(
      'Template format error: Unrecognized template section Output',
    );
  });

  const chain: CfnTemplate = {
    Resources: {
      Instance: {
        Type: 'AWS::EC2::Instance',
        DependsOn: 'Gateway',
        Properties: { SecurityGroupIds: [{ 'Fn::GetAtt': ['Sg', 'GroupId'] }] },
      },
      Gateway: { Type: 'AWS::EC2::InternetGateway' },
      Sg: { Type: 'AWS::EC2::SecurityGroup', Properties: { GroupDescription: { 'Fn::Sub': '${Vpc} sg' } } },
      Vpc: { Type: 'AWS::EC2::VPC', Properties: { CidrBlock: '10.0.0.0/16' } },
    },
  };

  it('orders resources after everything they Ref, GetAtt, Sub or DependsOn', () => {
    const order = deploymentOrder(chain);
    expect(order.indexOf('Gateway')).toBeLessThan(order.indexOf('Instance'));
    expect(order.indexOf('Sg')).toBeLessThan(order.indexOf('Instance'));
    expect(order.indexOf('Vpc')).toBeLessThan(order.indexOf('Sg'));
    expect(order).toHaveLength(4);
  });

  it('reports cycles (only the resources on the cycle) and unresolved dependencies', () => {
    const cyclic: CfnTemplate = {
      Resources: {
        Leaf: { Type: 'AWS::S3::Bucket', DependsOn: 'RoleA' },
        RoleA: { Type: 'AWS::IAM::Role', Properties: { Path: { Ref: 'RoleB' } } },
        RoleB: { Type: 'AWS::IAM::Role', Properties: { Path: { 'Fn::GetAtt': ['RoleA', 'Arn'] } } },
      },
    };
    expect(() => deploymentOrder(cyclic)).toThrow('Circular dependency between resources: [RoleA, RoleB]');
    expect(() =>
      deploymentOrder({ Resources: { A: { Type: 'X', Properties: { P: { Ref: 'Ghost' } } } } }),
    ).toThrow(
      'Template format error: Unresolved resource dependencies [Ghost] in the Resources block of the template',
    );
  });

  it('leaves out resources whose Condition is false', () => {
    const t: CfnTemplate = {
      Parameters: { Env: { Type: 'String', Default: 'test' } },
      Conditions: {
        IsProd: { 'Fn::Equals': [{ Ref: 'Env' }, 'prod'] },
        NotProd: { 'Fn::Not': [{ Condition: 'IsProd' }] },
      },
      Resources: { Always: { Type: 'A' }, ProdOnly: { Type: 'B', Condition: 'IsProd' } },
      Outputs: {
        Only: { Value: 'x', Condition: 'IsProd' },
        Other: { Value: { 'Fn::If': ['NotProd', 'dev', 'prod'] } },
      },
    };
    const base = {
      region: 'us-east-1',
      accountId: '123456789012',
      stackName: 's',
      resources: new Map(),
      parameters: { Env: 'test' },
    };
    const conditions = evaluateConditions(t, base);
    expect(conditions).toEqual({ IsProd: false, NotProd: true });
    expect(deploymentOrder(t, conditions)).toEqual(['Always']);
    expect(resolveOutputs(t, { ...base, conditions })).toEqual([{ OutputKey: 'Other', OutputValue: 'dev' }]);
  });

  it('resolves parameters: defaults, lists, NoEcho masking and constraint errors', async () => {
    const t = parseTemplate(`Parameters:
  Size: { Type: Number, Default: 2, MinValue: 1, MaxValue: 5 }
  Subnets: { Type: CommaDelimitedList }
  Password: { Type: String, NoEcho: true, MinLength: 8 }
  Name: { Type: String, AllowedPattern: '[a-z]+', ConstraintDescription: lower-case letters only }
Resources:
  A: { Type: AWS::S3::Bucket }
`);
    const ok = await resolveParameters(t, [
      { ParameterKey: 'Subnets', ParameterValue: 'a, b' },
      { ParameterKey: 'Password', ParameterValue: 'correct-horse' },
      { ParameterKey: 'Name', ParameterValue: 'web' },
    ]);
    expect(ok.values).toEqual({ Size: '2', Subnets: ['a', 'b'], Password: 'correct-horse', Name: 'web' });
    expect(ok.described.find((p) => p.ParameterKey === 'Password')?.ParameterValue).toBe('****');
    await expect(resolveParameters(t, [])).rejects.toThrow(
      'Parameters: [Subnets, Password, Name] must have values',
    );
    await expect(resolveParameters(t, [{ ParameterKey: 'Nope', ParameterValue: 'x' }])).rejects.toThrow(
      'Parameters: [Nope] do not exist in the template',
    );
    await expect(
      resolveParameters(t, [
        { ParameterKey: 'Subnets', ParameterValue: 'a' },
        { ParameterKey: 'Password', ParameterValue: 'short' },
        { ParameterKey: 'Name', ParameterValue: 'web' },
      ]),
    ).rejects.toThrow("Parameter 'Password' cannot be shorter than 8 characters");
    await expect(
      resolveParameters(t, [
        { ParameterKey: 'Size', ParameterValue: '9' },
        { ParameterKey: 'Subnets', ParameterValue: 'a' },
        { ParameterKey: 'Password', ParameterValue: 'long-enough' },
        { ParameterKey: 'Name', ParameterValue: 'web' },
      ]),
    ).rejects.toThrow("Parameter 'Size' must be a number not greater than 5");
    await expect(
      resolveParameters(t, [
        { ParameterKey: 'Subnets', ParameterValue: 'a' },
        { ParameterKey: 'Password', ParameterValue: 'long-enough' },
        { ParameterKey: 'Name', ParameterValue: 'Web1' },
      ]),
    ).rejects.toThrow("Parameter 'Name' failed to satisfy constraint: lower-case letters only");
  });

  it('requires CAPABILITY_IAM for IAM resources and CAPABILITY_NAMED_IAM when they are named', () => {
    expect(requiredCapability({ Resources: { B: { Type: 'AWS::S3::Bucket' } } })).toBeUndefined();
    expect(requiredCapability({ Resources: { R: { Type: 'AWS::IAM::Role', Properties: {} } } })).toBe(
      'CAPABILITY_IAM',
    );
    expect(
      requiredCapability({ Resources: { R: { Type: 'AWS::IAM::Role', Properties: { RoleName: 'x' } } } }),
    ).toBe('CAPABILITY_NAMED_IAM');
  });
});

describe('drift comparison', () => {
  it('compares only template properties, lists as unordered sets, nested values by path', () => {
    const expected = {
      DelaySeconds: 5,
      RedrivePolicy: { maxReceiveCount: 5, deadLetterTargetArn: 'arn:dlq' },
      Tags: [
        { Key: 'a', Value: '1' },
        { Key: 'b', Value: '2' },
      ],
    };
    const actual = {
      DelaySeconds: '120',
      RedrivePolicy: { maxReceiveCount: 12, deadLetterTargetArn: 'arn:dlq' },
      Tags: [
        { Key: 'b', Value: '2' },
        { Key: 'a', Value: '1' },
      ],
      VisibilityTimeout: 30,
    };
    expect(propertyDifferences(expected, actual)).toEqual([
      { PropertyPath: '/DelaySeconds', ExpectedValue: '5', ActualValue: '120', DifferenceType: 'NOT_EQUAL' },
      {
        PropertyPath: '/RedrivePolicy/maxReceiveCount',
        ExpectedValue: '5',
        ActualValue: '12',
        DifferenceType: 'NOT_EQUAL',
      },
    ]);
  });

  it('a changed list element is a REMOVE of the template element and an ADD of the live one', () => {
    const diffs = propertyDifferences(
      { ManagedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] },
      { ManagedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] },
    );
    expect(diffs).toEqual([
      {
        PropertyPath: '/ManagedPolicyArns/0',
        ExpectedValue: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
        ActualValue: 'null',
        DifferenceType: 'REMOVE',
      },
      {
        PropertyPath: '/ManagedPolicyArns/0',
        ExpectedValue: 'null',
        ActualValue: 'arn:aws:iam::aws:policy/AdministratorAccess',
        DifferenceType: 'ADD',
      },
    ]);
  });

  it('policy documents: JSON strings are parsed, a single value equals a one-element list', () => {
    const doc = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    };
    const live = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['s3:GetObject'], Resource: ['*'] }],
    });
    expect(
      propertyDifferences({ PolicyDocument: doc }, { PolicyDocument: encodeURIComponent(live) }),
    ).toEqual([]);
    const widened = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };
    expect(propertyDifferences({ PolicyDocument: doc }, { PolicyDocument: widened })).toEqual([
      {
        PropertyPath: '/PolicyDocument/Statement/0',
        ExpectedValue: '{"Action":"s3:GetObject","Effect":"Allow","Resource":"*"}',
        ActualValue: 'null',
        DifferenceType: 'REMOVE',
      },
      {
        PropertyPath: '/PolicyDocument/Statement/0',
        ExpectedValue: 'null',
        ActualValue: '{"Action":"*","Effect":"Allow","Resource":"*"}',
        DifferenceType: 'ADD',
      },
    ]);
  });

  it('renders scalars as text and structures as sorted compact JSON', () => {
    expect(renderValue(128)).toBe('128');
    expect(renderValue(true)).toBe('true');
    expect(renderValue(undefined)).toBe('null');
    expect(renderValue({ b: 1, a: [{ d: 2, c: 1 }] })).toBe('{"a":[{"c":1,"d":2}],"b":1}');
  });
});

describe('drift comparison of maps and JSON documents', () => {
  it('a variable added to a Lambda environment is an ADD; an added member of a structure the template sets is not compared', () => {
    expect(
      propertyDifferences(
        { MemorySize: 128, Environment: { Variables: { SIZE: '256' } } },
        { MemorySize: 1024, Environment: { Variables: { SIZE: '256', DEBUG: 'true' } } },
      ),
    ).toEqual([
      { PropertyPath: '/MemorySize', ExpectedValue: '128', ActualValue: '1024', DifferenceType: 'NOT_EQUAL' },
      {
        PropertyPath: '/Environment/Variables/DEBUG',
        ExpectedValue: 'null',
        ActualValue: 'true',
        DifferenceType: 'ADD',
      },
    ]);
    expect(
      propertyDifferences(
        { PublicAccessBlockConfiguration: { BlockPublicAcls: true } },
        { PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: false } },
      ),
    ).toEqual([]);
  });

  it('a Condition added to a policy statement is drift', () => {
    const statement = {
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Principal: { Service: 'lambda.amazonaws.com' },
    };
    const diffs = propertyDifferences(
      { AssumeRolePolicyDocument: { Version: '2012-10-17', Statement: [statement] } },
      {
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ ...statement, Condition: { Bool: { 'aws:SecureTransport': 'true' } } }],
        },
      },
    );
    expect(diffs.map((d) => [d.PropertyPath, d.DifferenceType])).toEqual([
      ['/AssumeRolePolicyDocument/Statement/0', 'REMOVE'],
      ['/AssumeRolePolicyDocument/Statement/0', 'ADD'],
    ]);
  });
});
