import { describe, expect, it } from 'vitest';
import type { ProviderContext, ResourceChange, ResourceProvider } from '../../../sandbox/core/types';
import { ec2Service } from '../../../sandbox/services/ec2';
import { ec2Store } from '../../../sandbox/services/ec2/store';
import { iamService } from '../../../sandbox/services/iam';
import { iamStore } from '../../../sandbox/services/iam/store';
import { lambdaService } from '../../../sandbox/services/lambda';
import { lambdaStore } from '../../../sandbox/services/lambda/store';
import { resourceProviders } from '../../../sandbox/services/providers';
import { s3Service } from '../../../sandbox/services/s3';
import { s3Store } from '../../../sandbox/services/s3/store';
import { trustingRole } from '../core/iam-support';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({
  services: [ec2Service(), s3Service(), iamService(), lambdaService()],
  providers: resourceProviders(),
}));

function provider(type: string): ResourceProvider {
  const p = resourceProviders().find((x) => x.type === type);
  if (!p) throw new Error(`no provider for ${type}`);
  return p;
}

function pctx(): ProviderContext {
  const c = sb.sandbox.context;
  return { stackName: 'drift-demo', region: c.region, accountId: c.accountId, sandbox: c };
}

const TRUST = {
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
};

describe('CloudFormation resource providers (template shape)', () => {
  it('provides every supported type', () => {
    expect(resourceProviders().map((p) => p.type)).toEqual([
      'AWS::EC2::SecurityGroup',
      'AWS::EC2::SecurityGroupIngress',
      'AWS::S3::Bucket',
      'AWS::IAM::Role',
      'AWS::IAM::ManagedPolicy',
      'AWS::Lambda::Function',
    ]);
  });

  it('AWS::EC2::SecurityGroup: create, read drift made through the API, revert by update, delete; changes are recorded', async () => {
    const changes: ResourceChange[] = [];
    const off = sb.sandbox.context.onChange((c) => changes.push(c));
    const sg = provider('AWS::EC2::SecurityGroup');
    const props = {
      GroupDescription: 'drift-demo-web web tier',
      SecurityGroupIngress: [
        {
          IpProtocol: 'tcp',
          FromPort: 443,
          ToPort: 443,
          CidrIp: '10.0.0.0/8',
          Description: 'HTTPS from the private network',
        },
      ],
      Tags: [{ Key: 'app', Value: 'demo' }],
    };
    const res = await sg.create('WebSecurityGroup', props, pctx());
    expect(res.physicalId).toMatch(/^sg-/);
    expect(res.attributes.GroupId).toBe(res.physicalId);
    expect(res.attributes.VpcId).toMatch(/^vpc-/);
    const read = await sg.read(res.physicalId, pctx());
    expect(read).toMatchObject({
      GroupDescription: props.GroupDescription,
      SecurityGroupIngress: props.SecurityGroupIngress,
      SecurityGroupEgress: [{ IpProtocol: '-1', CidrIp: '0.0.0.0/0' }],
      Tags: props.Tags,
    });
    expect(String(read?.GroupName)).toMatch(/^drift-demo-WebSecurityGroup-[A-Z0-9]{12}$/);

    const store = ec2Store(sb.sandbox.context);
    const g = store.get(res.physicalId);
    store.authorize(g, [
      { isEgress: false, ipProtocol: 'tcp', fromPort: 22, toPort: 22, cidrIpv4: '0.0.0.0/0' },
    ]);
    const drifted = await sg.read(res.physicalId, pctx());
    expect(drifted?.SecurityGroupIngress).toContainEqual({
      IpProtocol: 'tcp',
      FromPort: 22,
      ToPort: 22,
      CidrIp: '0.0.0.0/0',
    });

    await sg.update(res.physicalId, props, props, pctx());
    expect((await sg.read(res.physicalId, pctx()))?.SecurityGroupIngress).toEqual(props.SecurityGroupIngress);
    expect(sg.requiresReplacement?.('GroupDescription')).toBe(true);
    expect(sg.requiresReplacement?.('SecurityGroupIngress')).toBe(false);

    const ingress = provider('AWS::EC2::SecurityGroupIngress');
    const rule = await ingress.create(
      'Extra',
      { GroupId: res.physicalId, IpProtocol: 'udp', FromPort: 53, ToPort: 53, CidrIp: '10.1.0.0/16' },
      pctx(),
    );
    expect(rule.physicalId).toMatch(/^sgr-/);
    expect(await ingress.read(rule.physicalId, pctx())).toMatchObject({
      GroupId: res.physicalId,
      IpProtocol: 'udp',
      FromPort: 53,
      CidrIp: '10.1.0.0/16',
    });
    await ingress.delete(rule.physicalId, pctx());
    expect(await ingress.read(rule.physicalId, pctx())).toBeUndefined();

    await sg.delete(res.physicalId, pctx());
    expect(await sg.read(res.physicalId, pctx())).toBeUndefined();
    off();
    const mine = changes.filter((c) => c.resourceId === res.physicalId).map((c) => c.kind);
    expect(mine[0]).toBe('created');
    expect(mine).toContain('updated');
    expect(mine.at(-1)).toBe('deleted');
  });

  it('AWS::S3::Bucket: encryption, versioning, public access block and tags round-trip; removed encryption is restored', async () => {
    const bucket = provider('AWS::S3::Bucket');
    const props = {
      BucketName: 'drift-demo-data-000000000000',
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      Tags: [{ Key: 'app', Value: 'demo' }],
    };
    const res = await bucket.create('DataBucket', props, pctx());
    expect(res.physicalId).toBe(props.BucketName);
    expect(res.attributes.Arn).toBe(`arn:aws:s3:::${props.BucketName}`);
    expect(await bucket.read(res.physicalId, pctx())).toMatchObject(props);

    s3Store(sb.sandbox.context).deleteEncryption(res.physicalId);
    expect((await bucket.read(res.physicalId, pctx()))?.BucketEncryption).toBeUndefined();
    await bucket.update(res.physicalId, props, props, pctx());
    expect((await bucket.read(res.physicalId, pctx()))?.BucketEncryption).toEqual(props.BucketEncryption);

    const generated = await bucket.create('Logs', {}, pctx());
    expect(generated.physicalId).toMatch(/^drift-demo-logs-[a-z0-9]{12}$/);
    await bucket.delete(generated.physicalId, pctx());
    await bucket.delete(res.physicalId, pctx());
    expect(await bucket.read(res.physicalId, pctx())).toBeUndefined();
    expect(bucket.requiresReplacement?.('BucketName')).toBe(true);
  });

  it('AWS::IAM::Role and AWS::IAM::ManagedPolicy: trust policy, managed and inline policies, reverting an attached AdministratorAccess', async () => {
    const role = provider('AWS::IAM::Role');
    const props = {
      RoleName: 'drift-demo-reporting',
      Description: 'Reads account inventory for the weekly report',
      AssumeRolePolicyDocument: TRUST,
      ManagedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      Policies: [
        {
          PolicyName: 'logs',
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [{ Effect: 'Allow', Action: 'logs:*', Resource: '*' }],
          },
        },
      ],
    };
    const res = await role.create('ReportingRole', props, pctx());
    expect(res.physicalId).toBe('drift-demo-reporting');
    expect(res.attributes.Arn).toBe(`arn:aws:iam::${sb.sandbox.accountId}:role/drift-demo-reporting`);
    expect(res.attributes.RoleId).toMatch(/^AROA/);
    expect(await role.read(res.physicalId, pctx())).toMatchObject(props);

    iamStore(sb.sandbox.context).attachRolePolicy(
      res.physicalId,
      'arn:aws:iam::aws:policy/AdministratorAccess',
    );
    expect((await role.read(res.physicalId, pctx()))?.ManagedPolicyArns).toEqual([
      'arn:aws:iam::aws:policy/ReadOnlyAccess',
      'arn:aws:iam::aws:policy/AdministratorAccess',
    ]);
    await role.update(res.physicalId, props, props, pctx());
    expect((await role.read(res.physicalId, pctx()))?.ManagedPolicyArns).toEqual([
      'arn:aws:iam::aws:policy/ReadOnlyAccess',
    ]);

    const policy = provider('AWS::IAM::ManagedPolicy');
    const doc = (action: string) => ({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }],
    });
    const p = await policy.create(
      'AppPolicy',
      { PolicyDocument: doc('s3:GetObject'), Roles: ['drift-demo-reporting'] },
      pctx(),
    );
    expect(p.physicalId).toMatch(
      new RegExp(`^arn:aws:iam::${sb.sandbox.accountId}:policy/drift-demo-AppPolicy-`),
    );
    expect(await policy.read(p.physicalId, pctx())).toMatchObject({
      PolicyDocument: doc('s3:GetObject'),
      Roles: ['drift-demo-reporting'],
    });
    await policy.update(p.physicalId, { PolicyDocument: doc('s3:*'), Roles: [] }, {}, pctx());
    expect(await policy.read(p.physicalId, pctx())).toMatchObject({ PolicyDocument: doc('s3:*'), Roles: [] });
    expect(iamStore(sb.sandbox.context).customerPolicy(p.physicalId).defaultVersionId).toBe('v2');
    await policy.delete(p.physicalId, pctx());
    expect(await policy.read(p.physicalId, pctx())).toBeUndefined();

    await role.delete(res.physicalId, pctx());
    expect(await role.read(res.physicalId, pctx())).toBeUndefined();
  });

  it('AWS::Lambda::Function: configuration only; memory drift is read and reverted', async () => {
    const fn = provider('AWS::Lambda::Function');
    const props = {
      FunctionName: 'drift-demo-thumbnail',
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      MemorySize: 128,
      Timeout: 30,
      Role: await trustingRole(sb.sandbox, 'thumb'),
      Environment: { Variables: { SIZE: '256' } },
      Code: { ZipFile: 'export const handler = async () => ({ ok: true });' },
    };
    const res = await fn.create('ThumbnailFunction', props, pctx());
    expect(res.attributes.Arn).toBe(
      `arn:aws:lambda:${sb.sandbox.region}:${sb.sandbox.accountId}:function:drift-demo-thumbnail`,
    );
    const { Code: _code, ...config } = props;
    expect(await fn.read(res.physicalId, pctx())).toMatchObject(config);
    expect(fn.driftIgnoredProperties).toContain('Code');
    lambdaStore(sb.sandbox.context).updateConfiguration(res.physicalId, { MemorySize: 1024 });
    expect((await fn.read(res.physicalId, pctx()))?.MemorySize).toBe(1024);
    await fn.update(res.physicalId, props, props, pctx());
    expect((await fn.read(res.physicalId, pctx()))?.MemorySize).toBe(128);
    await fn.delete(res.physicalId, pctx());
    expect(await fn.read(res.physicalId, pctx())).toBeUndefined();
  });
});
