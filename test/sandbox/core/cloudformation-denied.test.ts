/**
 * CloudFormation provisions a stack's resources as the stack's service role (RoleARN), or else with the
 * caller's credentials, through the same IAM enforcement: each call the handler makes is authorized when
 * it makes it — create, update, delete, and the read for drift detection — so a template needs the
 * permissions of the calls its resources need (an untagged group no ec2:CreateTags) and nothing else. A role lacking one fails that resource naming the denied action
 * (CREATE_FAILED and a rollback, UPDATE_FAILED, DELETE_FAILED leaving the stack DELETE_FAILED or
 * ROLLBACK_FAILED with the resource kept); a RoleARN CloudFormation cannot assume (deleted, or not
 * trusting cloudformation.amazonaws.com) is refused as AWS refuses it. Real SDK v3 clients against the sandbox.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DeleteStackCommand,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStackEventsCommand,
  DescribeStacksCommand,
  DetectStackDriftCommand,
  DetectStackResourceDriftCommand,
  type StackEvent,
  UpdateStackCommand,
} from '@aws-sdk/client-cloudformation';
import { DescribeSecurityGroupsCommand, EC2Client } from '@aws-sdk/client-ec2';
import { DeleteRoleCommand, DeleteRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { resourceSchema } from '../../../infra/runbook-permissions';
import { allServices } from '../../../sandbox/services';
import { resourceProviders } from '../../../sandbox/services/providers';
import { withSandbox } from '../helpers';
import { actingAs, failure, role } from './iam-support';
import { settle } from './stack-support';

const sb = withSandbox(() => ({
  timeScale: 0.01,
  services: allServices(),
  providers: resourceProviders(),
}));
const TEMPLATE = `Resources:
  WebSg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: cfn-denied web
      SecurityGroupIngress:
        - { IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 10.0.0.0/8 }
`;

/** A CloudFormation service role allowed EC2, less the actions `denied` names. */
async function serviceRole(name: string, denied: string[]): Promise<string> {
  const statements: object[] = [{ Effect: 'Allow', Action: 'ec2:*', Resource: '*' }];
  if (denied.length > 0) statements.push({ Effect: 'Deny', Action: denied, Resource: '*' });
  return role(sb, name, statements, 'cloudformation.amazonaws.com');
}

async function events(cfn: CloudFormationClient, name: string): Promise<StackEvent[]> {
  return (await cfn.send(new DescribeStackEventsCommand({ StackName: name }))).StackEvents ?? [];
}

async function stackStatus(cfn: CloudFormationClient, name: string) {
  const s = (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
  return { status: s?.StackStatus, reason: s?.StackStatusReason };
}

async function groupsNamed(description: string): Promise<number> {
  const ec2 = new EC2Client(sb.clientConfig);
  const out = await ec2.send(new DescribeSecurityGroupsCommand({}));
  return (out.SecurityGroups ?? []).filter((g) => g.Description === description).length;
}

describe('CloudFormation provisioning as the stack role', () => {
  it('a role without ec2:AuthorizeSecurityGroupIngress: CREATE_FAILED naming it, rolled back, nothing left', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const roleArn = await serviceRole('cfn-no-ingress', ['ec2:AuthorizeSecurityGroupIngress']);
    await cfn.send(new CreateStackCommand({ StackName: 'denied', TemplateBody: TEMPLATE, RoleARN: roleArn }));
    expect(await settle(cfn, 'denied')).toBe('ROLLBACK_COMPLETE');
    const events =
      (await cfn.send(new DescribeStackEventsCommand({ StackName: 'denied' }))).StackEvents ?? [];
    const failed = events.find(
      (e) => e.LogicalResourceId === 'WebSg' && e.ResourceStatus === 'CREATE_FAILED',
    );
    expect(failed?.ResourceStatusReason).toMatch(
      /^Resource handler returned message: "You are not authorized to perform this operation\. User: arn:aws:sts::\d{12}:assumed-role\/cfn-no-ingress\/AWSCloudFormation is not authorized to perform: ec2:AuthorizeSecurityGroupIngress .*HandlerErrorCode: AccessDenied\)$/,
    );
    expect(await groupsNamed('cfn-denied web')).toBe(0);
  });

  it('with the permission the same template deploys as the role', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const roleArn = await serviceRole('cfn-ec2', []);
    await cfn.send(
      new CreateStackCommand({ StackName: 'allowed', TemplateBody: TEMPLATE, RoleARN: roleArn }),
    );
    expect(await settle(cfn, 'allowed')).toBe('CREATE_COMPLETE');
    expect(await groupsNamed('cfn-denied web')).toBe(1);
  });

  it('an update by a role lacking the permission fails; its rollback needs the same call, so UPDATE_ROLLBACK_FAILED, the group kept', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    await cfn.send(new CreateStackCommand({ StackName: 'kept', TemplateBody: TEMPLATE }));
    expect(await settle(cfn, 'kept')).toBe('CREATE_COMPLETE');
    const roleArn = await serviceRole('cfn-no-update', ['ec2:AuthorizeSecurityGroupIngress']);
    const changed = TEMPLATE.replace('443, ToPort: 443', '8443, ToPort: 8443');
    await cfn.send(new UpdateStackCommand({ StackName: 'kept', TemplateBody: changed, RoleARN: roleArn }));
    // The update revoked 443 before the authorize of 8443 was refused; bringing 443 back is refused too.
    expect(await settle(cfn, 'kept')).toBe('UPDATE_ROLLBACK_FAILED');
    const events = (await cfn.send(new DescribeStackEventsCommand({ StackName: 'kept' }))).StackEvents ?? [];
    const failed = events.find(
      (e) => e.LogicalResourceId === 'WebSg' && e.ResourceStatus === 'UPDATE_FAILED',
    );
    expect(failed?.ResourceStatusReason).toContain('ec2:AuthorizeSecurityGroupIngress');
  });

  it('a deployer without iam:PassRole on the RoleARN is refused at CreateStack; no stack is made', async () => {
    const roleArn = await serviceRole('cfn-passed', []);
    const allowed = ['ec2:*', 'cloudformation:*'];
    const deployerArn = await role(sb, 'deployer-no-pass', [
      { Effect: 'Allow', Action: allowed, Resource: '*' },
    ]);
    const deployer = new CloudFormationClient(actingAs(sb, deployerArn, 'ci'));
    const refused = deployer.send(
      new CreateStackCommand({ StackName: 'unpassed', TemplateBody: TEMPLATE, RoleARN: roleArn }),
    );
    await expect(refused).rejects.toThrow(
      /not authorized to perform: iam:PassRole on resource: .*cfn-passed/,
    );
    const cfn = new CloudFormationClient(sb.clientConfig);
    await expect(cfn.send(new DescribeStacksCommand({ StackName: 'unpassed' }))).rejects.toThrow(
      /does not exist/,
    );
  });
});

/** The schema's permissions of one handler of the security group type, as the data package publishes them. */
function handlerActions(handler: 'create' | 'update' | 'delete' | 'read'): string[] {
  return resourceSchema('AWS::EC2::SecurityGroup').handlers?.[handler]?.permissions ?? [];
}

describe('CloudFormation needs the permissions of the handler that runs, when it runs', () => {
  it('a role that may create but not delete: the stack is created, DeleteStack ends DELETE_FAILED naming the delete action, nothing deleted', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const roleArn = await serviceRole('cfn-no-delete', ['ec2:DeleteSecurityGroup']);
    const template = TEMPLATE.replace('cfn-denied web', 'cfn-kept web');
    await cfn.send(
      new CreateStackCommand({ StackName: 'undeletable', TemplateBody: template, RoleARN: roleArn }),
    );
    expect(await settle(cfn, 'undeletable')).toBe('CREATE_COMPLETE');
    await cfn.send(new DeleteStackCommand({ StackName: 'undeletable' }));
    expect(await settle(cfn, 'undeletable')).toBe('DELETE_FAILED');
    expect((await stackStatus(cfn, 'undeletable')).reason).toBe(
      'The following resource(s) failed to delete: [WebSg]. ',
    );
    const failed = (await events(cfn, 'undeletable')).find(
      (e) => e.LogicalResourceId === 'WebSg' && e.ResourceStatus === 'DELETE_FAILED',
    );
    expect(failed?.ResourceStatusReason).toMatch(
      /^Resource handler returned message: "You are not authorized to perform this operation\. User: arn:aws:sts::\d{12}:assumed-role\/cfn-no-delete\/AWSCloudFormation is not authorized to perform: ec2:DeleteSecurityGroup .*HandlerErrorCode: AccessDenied\)$/,
    );
    expect(await groupsNamed('cfn-kept web')).toBe(1);
  });

  it('an update needing only the update handler permissions succeeds without any create permission', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const template = TEMPLATE.replace('cfn-denied web', 'cfn-updated web');
    await cfn.send(new CreateStackCommand({ StackName: 'update-only', TemplateBody: template }));
    expect(await settle(cfn, 'update-only')).toBe('CREATE_COMPLETE');
    const update = handlerActions('update');
    expect(update).not.toContain('ec2:CreateSecurityGroup');
    const roleArn = await role(
      sb,
      'cfn-update-only',
      [{ Effect: 'Allow', Action: update, Resource: '*' }],
      'cloudformation.amazonaws.com',
    );
    const changed = template.replace('443, ToPort: 443', '8443, ToPort: 8443');
    await cfn.send(
      new UpdateStackCommand({ StackName: 'update-only', TemplateBody: changed, RoleARN: roleArn }),
    );
    expect(await settle(cfn, 'update-only')).toBe('UPDATE_COMPLETE');
    const ec2 = new EC2Client(sb.clientConfig);
    const groups = (await ec2.send(new DescribeSecurityGroupsCommand({}))).SecurityGroups ?? [];
    const group = groups.find((g) => g.Description === 'cfn-updated web');
    expect(group?.IpPermissions?.map((p) => p.FromPort)).toEqual([8443]);
    // The same role cannot create the stack: creating needs the create handler's permissions.
    await cfn.send(
      new CreateStackCommand({ StackName: 'create-denied', TemplateBody: template, RoleARN: roleArn }),
    );
    expect(await settle(cfn, 'create-denied')).toBe('ROLLBACK_COMPLETE');
    const failed = (await events(cfn, 'create-denied')).find((e) => e.ResourceStatus === 'CREATE_FAILED');
    expect(failed?.ResourceStatusReason).toContain('ec2:CreateSecurityGroup');
  });

  it('a create needs the calls it makes: an untagged group no ec2:CreateTags, a tagged one fails naming it', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const calls = ['ec2:CreateSecurityGroup', 'ec2:AuthorizeSecurityGroupIngress'];
    expect(handlerActions('create')).toEqual(expect.arrayContaining([...calls, 'ec2:CreateTags']));
    const roleArn = await role(
      sb,
      'cfn-create-calls',
      [{ Effect: 'Allow', Action: calls, Resource: '*' }],
      'cloudformation.amazonaws.com',
    );
    const untagged = TEMPLATE.replace('cfn-denied web', 'cfn-untagged web');
    await cfn.send(
      new CreateStackCommand({ StackName: 'untagged', TemplateBody: untagged, RoleARN: roleArn }),
    );
    expect(await settle(cfn, 'untagged')).toBe('CREATE_COMPLETE');
    expect(await groupsNamed('cfn-untagged web')).toBe(1);
    const tagged = `${TEMPLATE.replace('cfn-denied web', 'cfn-tagged web')}      Tags: [{ Key: team, Value: web }]\n`;
    await cfn.send(new CreateStackCommand({ StackName: 'tagged', TemplateBody: tagged, RoleARN: roleArn }));
    expect(await settle(cfn, 'tagged')).toBe('ROLLBACK_COMPLETE');
    const failed = (await events(cfn, 'tagged')).find((e) => e.ResourceStatus === 'CREATE_FAILED');
    expect(failed?.ResourceStatusReason).toContain('is not authorized to perform: ec2:CreateTags');
    expect(await groupsNamed('cfn-tagged web')).toBe(0);
  });

  it('a rollback that cannot delete what it created ends ROLLBACK_FAILED, the resource kept', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const roleArn = await serviceRole('cfn-no-rollback', ['ec2:DeleteSecurityGroup']);
    const template = `${TEMPLATE.replace('cfn-denied web', 'cfn-orphan web')}  Data:
    Type: AWS::S3::Bucket
    DependsOn: WebSg
`;
    await cfn.send(
      new CreateStackCommand({ StackName: 'unrolled', TemplateBody: template, RoleARN: roleArn }),
    );
    expect(await settle(cfn, 'unrolled')).toBe('ROLLBACK_FAILED');
    expect((await stackStatus(cfn, 'unrolled')).reason).toBe(
      'The following resource(s) failed to delete: [WebSg]. ',
    );
    const byStatus = (await events(cfn, 'unrolled')).map((e) => `${e.LogicalResourceId} ${e.ResourceStatus}`);
    expect(byStatus).toEqual(expect.arrayContaining(['Data CREATE_FAILED', 'WebSg DELETE_FAILED']));
    expect(await groupsNamed('cfn-orphan web')).toBe(1);
  });

  it('drift detection reads as the caller: without the read handler permissions DETECTION_FAILED naming the action', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const template = TEMPLATE.replace('cfn-denied web', 'cfn-drift web');
    await cfn.send(new CreateStackCommand({ StackName: 'drift-read', TemplateBody: template }));
    expect(await settle(cfn, 'drift-read')).toBe('CREATE_COMPLETE');
    const detect = { Effect: 'Allow', Action: 'cloudformation:*', Resource: '*' };
    const blind = actingAs(sb, await role(sb, 'drift-blind', [detect]), 'drift');
    const reads = { Effect: 'Allow', Action: handlerActions('read'), Resource: '*' };
    const reader = actingAs(sb, await role(sb, 'drift-reader', [detect, reads]), 'drift');
    const detection = async (config: typeof blind) => {
      const client = new CloudFormationClient(config);
      const { StackDriftDetectionId: id } = await client.send(
        new DetectStackDriftCommand({ StackName: 'drift-read' }),
      );
      for (let i = 0; i < 2000; i++) {
        const s = await client.send(
          new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId: id }),
        );
        if (s.DetectionStatus !== 'DETECTION_IN_PROGRESS') return s;
        await new Promise((res) => setTimeout(res, 5));
      }
      throw new Error('drift detection did not finish');
    };
    const refused = await detection(blind);
    expect(refused.DetectionStatus).toBe('DETECTION_FAILED');
    expect(refused.DetectionStatusReason).toMatch(
      /^Failed to detect drift on resources \[WebSg\]\. WebSg: Resource handler returned message: "You are not authorized to perform this operation\. User: \S+assumed-role\/drift-blind\/drift is not authorized to perform: ec2:DescribeSecurityGroups /,
    );
    const one = await failure(
      new CloudFormationClient(blind).send(
        new DetectStackResourceDriftCommand({ StackName: 'drift-read', LogicalResourceId: 'WebSg' }),
      ),
    );
    expect(one).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(one.message).toContain('ec2:DescribeSecurityGroups');
    const allowed = await detection(reader);
    expect(allowed).toMatchObject({ DetectionStatus: 'DETECTION_COMPLETE', StackDriftStatus: 'IN_SYNC' });
  });
});

describe('the stack role must be one CloudFormation can assume', () => {
  const invalid = (arn: string) => `Role ${arn} is invalid or cannot be assumed`;

  it('CreateStack with a role not trusting cloudformation.amazonaws.com, or one that does not exist: ValidationError, no stack', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const lambdaRole = await role(sb, 'cfn-untrusted', [{ Effect: 'Allow', Action: 'ec2:*', Resource: '*' }]);
    const missing = lambdaRole.replace('cfn-untrusted', 'cfn-never-created');
    for (const [name, arn] of [
      ['untrusted', lambdaRole],
      ['unknown-role', missing],
    ] as const) {
      const refused = await failure(
        cfn.send(new CreateStackCommand({ StackName: name, TemplateBody: TEMPLATE, RoleARN: arn })),
      );
      expect(refused).toMatchObject({ name: 'ValidationError', message: invalid(arn), status: 400 });
      await expect(cfn.send(new DescribeStacksCommand({ StackName: name }))).rejects.toThrow(
        /does not exist/,
      );
    }
  });

  it('UpdateStack with an untrusting role is refused and changes nothing; DeleteStack after the stack role was deleted ends DELETE_FAILED', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const iam = new IAMClient(sb.clientConfig);
    const template = TEMPLATE.replace('cfn-denied web', 'cfn-orphaned role web');
    const stackRole = await serviceRole('cfn-short-lived', []);
    const { StackId = '' } = await cfn.send(
      new CreateStackCommand({ StackName: 'role-gone', TemplateBody: template, RoleARN: stackRole }),
    );
    expect(await settle(cfn, 'role-gone')).toBe('CREATE_COMPLETE');
    const before = (await events(cfn, 'role-gone')).length;
    const untrusting = await role(sb, 'cfn-lambda-only', [
      { Effect: 'Allow', Action: 'ec2:*', Resource: '*' },
    ]);
    const changed = template.replace('443, ToPort: 443', '8443, ToPort: 8443');
    const refused = await failure(
      cfn.send(
        new UpdateStackCommand({ StackName: 'role-gone', TemplateBody: changed, RoleARN: untrusting }),
      ),
    );
    expect(refused).toMatchObject({ name: 'ValidationError', message: invalid(untrusting) });
    expect(await stackStatus(cfn, 'role-gone')).toEqual({ status: 'CREATE_COMPLETE', reason: undefined });
    expect((await events(cfn, 'role-gone')).length).toBe(before);

    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'cfn-short-lived', PolicyName: 'inline' }));
    await iam.send(new DeleteRoleCommand({ RoleName: 'cfn-short-lived' }));
    const updateRefused = await failure(
      cfn.send(new UpdateStackCommand({ StackName: 'role-gone', TemplateBody: changed })),
    );
    expect(updateRefused.message).toBe(invalid(stackRole));
    await cfn.send(new DeleteStackCommand({ StackName: 'role-gone' }));
    expect(await settle(cfn, 'role-gone')).toBe('DELETE_FAILED');
    expect((await stackStatus(cfn, 'role-gone')).reason).toBe(invalid(stackRole));
    expect(await groupsNamed('cfn-orphaned role web')).toBe(1);
    // AWS's way out: delete with a role CloudFormation can assume.
    const rescue = await serviceRole('cfn-rescue', []);
    await cfn.send(new DeleteStackCommand({ StackName: 'role-gone', RoleARN: rescue }));
    expect(await settle(cfn, StackId)).toBe('DELETE_COMPLETE');
    expect(await groupsNamed('cfn-orphaned role web')).toBe(0);
  });
});
