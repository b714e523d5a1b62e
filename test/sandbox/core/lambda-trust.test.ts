/**
 * Lambda takes as a function's execution role only a role it can assume: at CreateFunction and
 * UpdateFunctionConfiguration (the API and CloudFormation's handler) the role must exist and trust
 * `lambda.amazonaws.com`, else InvalidParameterValueException "The role defined for the function cannot be
 * assumed by Lambda." and nothing created or changed; the caller needs iam:PassRole on it. Lambda assumes it
 * with the function's account as `aws:SourceAccount` and the function's ARN as `aws:SourceArn`, so a trust
 * policy conditioned on them admits only that account's or that function's role use. Real SDK v3 clients.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { CreateRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import {
  CreateFunctionCommand,
  GetFunctionConfigurationCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { allServices } from '../../../sandbox/services';
import { resourceProviders } from '../../../sandbox/services/providers';
import { withSandbox } from '../helpers';
import { actingAs, failure, policy, role } from './iam-support';

const sb = withSandbox(() => ({ timeScale: 0.01, services: allServices(), providers: resourceProviders() }));
const REFUSED = 'The role defined for the function cannot be assumed by Lambda.';
const CODE = { ZipFile: new TextEncoder().encode('export const handler = async () => 1;') };

const create = (name: string, Role: string) =>
  new CreateFunctionCommand({
    FunctionName: name,
    Role,
    Runtime: 'nodejs22.x',
    Handler: 'index.handler',
    Code: CODE,
  });

describe('Lambda execution roles must trust lambda.amazonaws.com', () => {
  it('creates a function with a role trusting Lambda; refuses one trusting another service or missing', async () => {
    const lambda = new LambdaClient(sb.clientConfig);
    const ok = await role(sb, 'fn-role');
    const ssmRole = await role(sb, 'ssm-only-role', [], 'ssm.amazonaws.com');
    const made = await lambda.send(create('trusted-fn', ok));
    expect(made.Role).toBe(ok);
    for (const [name, arn] of [
      ['ssm-role-fn', ssmRole],
      ['missing-role-fn', 'arn:aws:iam::000000000000:role/no-such-role'],
    ] as const) {
      const f = await failure(lambda.send(create(name, arn)));
      expect(f).toMatchObject({ name: 'InvalidParameterValueException', message: REFUSED, status: 400 });
      const gone = await failure(lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name })));
      expect(gone.name).toBe('ResourceNotFoundException');
    }
    const update = await failure(
      lambda.send(
        new UpdateFunctionConfigurationCommand({ FunctionName: 'trusted-fn', Role: ssmRole, Timeout: 9 }),
      ),
    );
    expect(update).toMatchObject({ name: 'InvalidParameterValueException', message: REFUSED });
    const after = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName: 'trusted-fn' }));
    expect(after).toMatchObject({ Role: ok, Timeout: 3 });
    expect(sb.sandbox.logs.some((l) => l.includes(`sts:AssumeRole on resource: ${ssmRole}`))).toBe(true);
  });

  it('needs iam:PassRole on the role from a caller that is not the administrator', async () => {
    const fnRole = await role(sb, 'passed-fn-role');
    const allow = { Effect: 'Allow', Action: 'lambda:CreateFunction', Resource: '*' };
    const noPass = await role(sb, 'deployer-no-pass', [allow]);
    const withPass = await role(sb, 'deployer-pass', [
      allow,
      { Effect: 'Allow', Action: 'iam:PassRole', Resource: fnRole },
    ]);
    const denied = await failure(
      new LambdaClient(actingAs(sb, noPass, 'deploy')).send(create('no-pass-fn', fnRole)),
    );
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain(`iam:PassRole on resource: ${fnRole}`);
    const made = await new LambdaClient(actingAs(sb, withPass, 'deploy')).send(create('pass-fn', fnRole));
    expect(made.FunctionName).toBe('pass-fn');
  });

  it('fails a CloudFormation function whose role does not trust Lambda, and rolls back', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const template = `Resources:
  Role:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement: [{ Effect: Allow, Principal: { Service: ec2.amazonaws.com }, Action: sts:AssumeRole }]
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      FunctionName: cfn-wrong-role-fn
      Runtime: nodejs22.x
      Handler: index.handler
      Role: !GetAtt Role.Arn
      Code: { ZipFile: 'export const handler = async () => 1;' }
`;
    await cfn.send(
      new CreateStackCommand({
        StackName: 'wrong-role',
        TemplateBody: template,
        Capabilities: ['CAPABILITY_IAM'],
      }),
    );
    let status = '';
    for (let i = 0; i < 2000 && !/(COMPLETE|FAILED)$/.test(status); i++) {
      status =
        (await cfn.send(new DescribeStacksCommand({ StackName: 'wrong-role' }))).Stacks?.[0]?.StackStatus ??
        '';
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(status).toBe('ROLLBACK_COMPLETE');
    const events =
      (await cfn.send(new DescribeStackEventsCommand({ StackName: 'wrong-role' }))).StackEvents ?? [];
    const failed = events.find((e) => e.LogicalResourceId === 'Fn' && e.ResourceStatus === 'CREATE_FAILED');
    expect(failed?.ResourceStatusReason).toContain(REFUSED);
    const gone = await failure(
      new LambdaClient(sb.clientConfig).send(
        new GetFunctionConfigurationCommand({ FunctionName: 'cfn-wrong-role-fn' }),
      ),
    );
    expect(gone.name).toBe('ResourceNotFoundException');
  });

  it("passes the function's account and ARN as aws:SourceAccount / aws:SourceArn to the role's trust policy", async () => {
    const iam = new IAMClient(sb.clientConfig);
    const fnArn = (name: string) => `arn:aws:lambda:us-east-1:000000000000:function:${name}`;
    const scoped = async (name: string, condition: object) =>
      String(
        (
          await iam.send(
            new CreateRoleCommand({
              RoleName: name,
              AssumeRolePolicyDocument: policy({
                Effect: 'Allow',
                Principal: { Service: 'lambda.amazonaws.com' },
                Action: 'sts:AssumeRole',
                Condition: condition,
              }),
            }),
          )
        ).Role?.Arn,
      );
    const lambda = new LambdaClient(sb.clientConfig);
    const oneFunction = await scoped('one-function-role', {
      StringEquals: { 'aws:SourceAccount': '000000000000' },
      ArnEquals: { 'aws:SourceArn': fnArn('scoped-fn') },
    });
    const otherAccount = await scoped('other-account-role', {
      StringEquals: { 'aws:SourceAccount': '111111111111' },
    });
    expect((await lambda.send(create('scoped-fn', oneFunction))).Role).toBe(oneFunction);
    const elsewhere = await failure(lambda.send(create('unscoped-fn', oneFunction)));
    expect(elsewhere).toMatchObject({ name: 'InvalidParameterValueException', message: REFUSED });
    const foreign = await failure(lambda.send(create('foreign-fn', otherAccount)));
    expect(foreign).toMatchObject({ name: 'InvalidParameterValueException', message: REFUSED });
    expect(sb.sandbox.logs).toContain(
      `lambda: execution role of ${fnArn('unscoped-fn')} refused: lambda.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: ${oneFunction}`,
    );
    const moved = await failure(
      lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'scoped-fn', Role: otherAccount })),
    );
    expect(moved.name).toBe('InvalidParameterValueException');
  });
});
