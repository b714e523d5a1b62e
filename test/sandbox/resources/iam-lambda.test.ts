import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  DeleteConflictException,
  DeletePolicyCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  DetachRolePolicyCommand,
  EntityAlreadyExistsException,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListPoliciesCommand,
  ListRolePoliciesCommand,
  MalformedPolicyDocumentException,
  NoSuchEntityException,
  PutRolePolicyCommand,
  TagRoleCommand,
  UpdateAssumeRolePolicyCommand,
  UpdateRoleDescriptionCommand,
} from '@aws-sdk/client-iam';
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  GetFunctionConfigurationCommand,
  InvalidParameterValueException,
  LambdaClient,
  ListFunctionsCommand,
  ResourceConflictException,
  ResourceNotFoundException,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { iamService } from '../../../sandbox/services/iam';
import { lambdaService } from '../../../sandbox/services/lambda';
import { resourceProviders } from '../../../sandbox/services/providers';
import { trustingRole } from '../core/iam-support';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({ services: [iamService(), lambdaService()], providers: resourceProviders() }));

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

const TRUST = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});
const ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess';

describe('IAM through IAMClient', () => {
  it('manages a role: trust policy (URL-encoded back), description, tags, managed and inline policies', async () => {
    const iam = new IAMClient(sb.clientConfig);
    const created = await iam.send(
      new CreateRoleCommand({ RoleName: 'reporting', AssumeRolePolicyDocument: TRUST, Description: 'reads' }),
    );
    expect(created.Role?.Arn).toBe(`arn:aws:iam::${sb.sandbox.accountId}:role/reporting`);
    expect(created.Role?.RoleId).toMatch(/^AROA[A-Z0-9]{17}$/);
    expect(created.Role?.CreateDate).toBeInstanceOf(Date);

    const got = await iam.send(new GetRoleCommand({ RoleName: 'reporting' }));
    expect(got.Role?.AssumeRolePolicyDocument).toBe(encodeURIComponent(TRUST));
    expect(JSON.parse(decodeURIComponent(got.Role?.AssumeRolePolicyDocument ?? ''))).toEqual(
      JSON.parse(TRUST),
    );
    expect(got.Role?.Description).toBe('reads');

    await iam.send(
      new AttachRolePolicyCommand({
        RoleName: 'reporting',
        PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
      }),
    );
    await iam.send(new AttachRolePolicyCommand({ RoleName: 'reporting', PolicyArn: ADMIN }));
    const attached = await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: 'reporting' }));
    expect(attached.AttachedPolicies).toEqual([
      { PolicyName: 'ReadOnlyAccess', PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' },
      { PolicyName: 'AdministratorAccess', PolicyArn: ADMIN },
    ]);
    await iam.send(new DetachRolePolicyCommand({ RoleName: 'reporting', PolicyArn: ADMIN }));
    expect(
      await errorOf(iam.send(new DetachRolePolicyCommand({ RoleName: 'reporting', PolicyArn: ADMIN }))),
    ).toBeInstanceOf(NoSuchEntityException);

    const inline = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    });
    await iam.send(
      new PutRolePolicyCommand({ RoleName: 'reporting', PolicyName: 'read-objects', PolicyDocument: inline }),
    );
    expect((await iam.send(new ListRolePoliciesCommand({ RoleName: 'reporting' }))).PolicyNames).toEqual([
      'read-objects',
    ]);
    const rp = await iam.send(
      new GetRolePolicyCommand({ RoleName: 'reporting', PolicyName: 'read-objects' }),
    );
    expect(decodeURIComponent(rp.PolicyDocument ?? '')).toBe(inline);

    const desc = await iam.send(
      new UpdateRoleDescriptionCommand({ RoleName: 'reporting', Description: 'weekly report' }),
    );
    expect(desc.Role?.Description).toBe('weekly report');
    await iam.send(new TagRoleCommand({ RoleName: 'reporting', Tags: [{ Key: 'team', Value: 'data' }] }));
    expect((await iam.send(new GetRoleCommand({ RoleName: 'reporting' }))).Role?.Tags).toEqual([
      { Key: 'team', Value: 'data' },
    ]);
    const badTrust = await errorOf(
      iam.send(
        new UpdateAssumeRolePolicyCommand({
          RoleName: 'reporting',
          PolicyDocument: JSON.stringify({ Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] }),
        }),
      ),
    );
    expect(badTrust).toBeInstanceOf(MalformedPolicyDocumentException);

    expect(
      await errorOf(
        iam.send(new CreateRoleCommand({ RoleName: 'reporting', AssumeRolePolicyDocument: TRUST })),
      ),
    ).toBeInstanceOf(EntityAlreadyExistsException);
    expect(await errorOf(iam.send(new DeleteRoleCommand({ RoleName: 'reporting' })))).toBeInstanceOf(
      DeleteConflictException,
    );
    await iam.send(
      new DetachRolePolicyCommand({
        RoleName: 'reporting',
        PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
      }),
    );
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'reporting', PolicyName: 'read-objects' }));
    await iam.send(new DeleteRoleCommand({ RoleName: 'reporting' }));
    expect(await errorOf(iam.send(new GetRoleCommand({ RoleName: 'reporting' })))).toBeInstanceOf(
      NoSuchEntityException,
    );
  });

  it('manages customer policies with versions and lists AWS managed ones', async () => {
    const iam = new IAMClient(sb.clientConfig);
    const doc = (action: string) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }],
      });
    const created = await iam.send(
      new CreatePolicyCommand({ PolicyName: 'app', PolicyDocument: doc('s3:*'), Description: 'app access' }),
    );
    const arn = created.Policy?.Arn ?? '';
    expect(arn).toBe(`arn:aws:iam::${sb.sandbox.accountId}:policy/app`);
    expect(created.Policy?.DefaultVersionId).toBe('v1');
    const v2 = await iam.send(
      new CreatePolicyVersionCommand({ PolicyArn: arn, PolicyDocument: doc('*'), SetAsDefault: true }),
    );
    expect(v2.PolicyVersion).toMatchObject({ VersionId: 'v2', IsDefaultVersion: true });
    const got = await iam.send(new GetPolicyCommand({ PolicyArn: arn }));
    expect(got.Policy).toMatchObject({
      DefaultVersionId: 'v2',
      AttachmentCount: 0,
      Description: 'app access',
    });
    const version = await iam.send(new GetPolicyVersionCommand({ PolicyArn: arn, VersionId: 'v2' }));
    expect(JSON.parse(decodeURIComponent(version.PolicyVersion?.Document ?? ''))).toEqual(
      JSON.parse(doc('*')),
    );

    const awsPolicies = await iam.send(new ListPoliciesCommand({ Scope: 'AWS' }));
    const names = awsPolicies.Policies?.map((p) => p.PolicyName) ?? [];
    expect(names).toEqual(
      expect.arrayContaining(['AdministratorAccess', 'ReadOnlyAccess', 'PowerUserAccess']),
    );
    const local = await iam.send(new ListPoliciesCommand({ Scope: 'Local' }));
    expect(local.Policies?.map((p) => p.Arn)).toEqual([arn]);

    expect(await errorOf(iam.send(new DeletePolicyCommand({ PolicyArn: arn })))).toBeInstanceOf(
      DeleteConflictException,
    );
    expect(
      await errorOf(iam.send(new CreatePolicyCommand({ PolicyName: 'app', PolicyDocument: doc('s3:*') }))),
    ).toBeInstanceOf(EntityAlreadyExistsException);
    expect(
      await errorOf(
        iam.send(new CreatePolicyCommand({ PolicyName: 'broken', PolicyDocument: '{"Statement": [' })),
      ),
    ).toBeInstanceOf(MalformedPolicyDocumentException);
    expect(
      await errorOf(
        iam.send(new GetPolicyCommand({ PolicyArn: `arn:aws:iam::${sb.sandbox.accountId}:policy/none` })),
      ),
    ).toBeInstanceOf(NoSuchEntityException);
  });
});

describe('Lambda configuration through LambdaClient', () => {
  const role = () => `arn:aws:iam::${sb.sandbox.accountId}:role/fn-role`;

  it('creates, reads, updates, lists and deletes a function configuration', async () => {
    const lambda = new LambdaClient(sb.clientConfig);
    await trustingRole(sb.sandbox, 'fn-role');
    const created = await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'thumbnail',
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Role: role(),
        MemorySize: 128,
        Timeout: 30,
        Environment: { Variables: { SIZE: '256' } },
        Code: { ZipFile: new TextEncoder().encode('export const handler = async () => 1;') },
      }),
    );
    expect(created.FunctionArn).toBe(
      `arn:aws:lambda:${sb.sandbox.region}:${sb.sandbox.accountId}:function:thumbnail`,
    );
    expect(created.State).toBe('Active');

    const updated = await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName: 'thumbnail',
        MemorySize: 1024,
        Description: 'bigger',
      }),
    );
    expect(updated.MemorySize).toBe(1024);
    expect(updated.RevisionId).not.toBe(created.RevisionId);
    const cfg = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: created.FunctionArn }));
    expect(cfg).toMatchObject({
      MemorySize: 1024,
      Timeout: 30,
      Description: 'bigger',
      Environment: { Variables: { SIZE: '256' } },
    });
    const fn = await lambda.send(new GetFunctionCommand({ FunctionName: 'thumbnail' }));
    expect(fn.Configuration?.Handler).toBe('index.handler');
    expect(fn.Code?.RepositoryType).toBe('S3');
    const listed = await lambda.send(new ListFunctionsCommand({}));
    expect(listed.Functions?.map((f) => f.FunctionName)).toEqual(['thumbnail']);

    expect(
      await errorOf(
        lambda.send(
          new CreateFunctionCommand({
            FunctionName: 'thumbnail',
            Runtime: 'nodejs22.x',
            Handler: 'i.h',
            Role: role(),
            Code: { ZipFile: new Uint8Array([1]) },
          }),
        ),
      ),
    ).toBeInstanceOf(ResourceConflictException);
    expect(
      await errorOf(
        lambda.send(
          new UpdateFunctionConfigurationCommand({
            FunctionName: 'thumbnail',
            Runtime: 'cobol85' as 'nodejs22.x',
          }),
        ),
      ),
    ).toBeInstanceOf(InvalidParameterValueException);
    const tooSmall = await errorOf(
      lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'thumbnail', MemorySize: 64 })),
    );
    expect(tooSmall.name).toBe('ValidationException');

    await lambda.send(new DeleteFunctionCommand({ FunctionName: 'thumbnail' }));
    expect(
      await errorOf(lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'thumbnail' }))),
    ).toBeInstanceOf(ResourceNotFoundException);
    expect(
      await errorOf(lambda.send(new DeleteFunctionCommand({ FunctionName: 'thumbnail' }))),
    ).toBeInstanceOf(ResourceNotFoundException);
  });
});
