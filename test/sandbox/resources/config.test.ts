import {
  BatchGetResourceConfigCommand,
  type ConfigRule,
  ConfigServiceClient,
  DeleteConfigRuleCommand,
  DescribeComplianceByConfigRuleCommand,
  DescribeConfigRulesCommand,
  type EvaluationResult,
  GetComplianceDetailsByConfigRuleCommand,
  GetComplianceDetailsByResourceCommand,
  GetDiscoveredResourceCountsCommand,
  InvalidParameterValueException,
  LimitExceededException,
  ListDiscoveredResourcesCommand,
  NoSuchConfigRuleException,
  PutConfigRuleCommand,
  type ResourceType,
  StartConfigRulesEvaluationCommand,
} from '@aws-sdk/client-config-service';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  DeleteSecurityGroupCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  GetRoleCommand,
  IAMClient,
  ListRolesCommand,
} from '@aws-sdk/client-iam';
import {
  CreateFunctionCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import {
  CreateBucketCommand,
  DeleteBucketEncryptionCommand,
  DeletePublicAccessBlockCommand,
  PutBucketVersioningCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { AwsError, type ServiceModule } from '../../../sandbox/core/types';
import { configService } from '../../../sandbox/services/config';
import { ec2Service } from '../../../sandbox/services/ec2';
import { eventsService } from '../../../sandbox/services/events';
import { iamService } from '../../../sandbox/services/iam';
import { lambdaService } from '../../../sandbox/services/lambda';
import { resourceProviders } from '../../../sandbox/services/providers';
import { s3Service } from '../../../sandbox/services/s3';
import { sqsService } from '../../../sandbox/services/sqs';
import { trustingRole } from '../core/iam-support';
import { withSandbox } from '../helpers';

/**
 * A stand-in CloudFormation with one stack holding one role, whose drift status the test sets: it
 * checks that the stack drift rule drives drift detection through the CloudFormation API contract.
 */
const STACK_ID =
  'arn:aws:cloudformation:us-east-1:000000000000:stack/app/11111111-2222-3333-4444-555555555555';

function fakeCloudFormation(world: { drifted: boolean; detections: number }): ServiceModule {
  const stackId = STACK_ID;
  return {
    serviceName: 'cloudformation',
    signingName: 'cloudformation',
    protocol: 'awsQuery',
    operations: {
      DescribeStacks: (input) => {
        if (input.StackName && input.StackName !== stackId && input.StackName !== 'app') {
          throw new AwsError('ValidationError', `Stack with id ${String(input.StackName)} does not exist`);
        }
        return { Stacks: [{ StackId: stackId, StackName: 'app', StackStatus: 'CREATE_COMPLETE' }] };
      },
      DescribeStackResources: (input) => {
        if (input.PhysicalResourceId !== 'app-role')
          throw new AwsError('ValidationError', 'Stack for app does not exist');
        return {
          StackResources: [
            { StackId: stackId, StackName: 'app', PhysicalResourceId: 'app-role', LogicalResourceId: 'Role' },
          ],
        };
      },
      DetectStackDrift: () => {
        world.detections++;
        return { StackDriftDetectionId: `det-${world.detections}` };
      },
      DescribeStackDriftDetectionStatus: (input) => ({
        StackId: stackId,
        StackDriftDetectionId: input.StackDriftDetectionId,
        DetectionStatus: 'DETECTION_COMPLETE',
        StackDriftStatus: world.drifted ? 'DRIFTED' : 'IN_SYNC',
        DriftedStackResourceCount: world.drifted ? 1 : 0,
      }),
    },
  };
}

const stackWorld = { drifted: false, detections: 0 };
const sb = withSandbox(() => ({
  timeScale: 0.01,
  services: [
    ec2Service(),
    s3Service(),
    iamService(),
    lambdaService(),
    eventsService(),
    sqsService(),
    fakeCloudFormation(stackWorld),
    configService({ evaluationDelaySeconds: 1, evaluationSeconds: 1 }),
  ],
  providers: resourceProviders(),
}));

/** A sandbox where an emulated hour takes 3.6 s, for the stack drift rule's periodic run. */
const hourlyWorld = { drifted: false, detections: 0 };
const hourly = withSandbox(() => ({
  timeScale: 0.001,
  services: [iamService(), fakeCloudFormation(hourlyWorld), configService()],
}));

async function errorOf(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected the call to fail');
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function resultFor(
  rule: string,
  type: string,
  id: string,
  compliance: string,
): Promise<EvaluationResult> {
  const config = new ConfigServiceClient(sb.clientConfig);
  return until(`${rule} ${id} ${compliance}`, async () => {
    const r = await config.send(
      new GetComplianceDetailsByResourceCommand({ ResourceType: type, ResourceId: id }),
    );
    return r.EvaluationResults?.find(
      (e) =>
        e.EvaluationResultIdentifier?.EvaluationResultQualifier?.ConfigRuleName === rule &&
        e.ComplianceType === compliance,
    );
  });
}

/** StartConfigRulesEvaluation for `rule`, retried while Config answers LimitExceededException. */
async function startAccepted(config: ConfigServiceClient, rule: string): Promise<void> {
  await until('an accepted start', async () => {
    try {
      await config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: [rule] }));
      return true;
    } catch (err) {
      if (err instanceof LimitExceededException) return undefined;
      throw err;
    }
  });
}

async function putRule(
  name: string,
  sourceIdentifier: string,
  inputParameters?: Record<string, string>,
): Promise<void> {
  const config = new ConfigServiceClient(sb.clientConfig);
  await config.send(
    new PutConfigRuleCommand({
      ConfigRule: {
        ConfigRuleName: name,
        Source: { Owner: 'AWS', SourceIdentifier: sourceIdentifier },
        InputParameters: inputParameters ? JSON.stringify(inputParameters) : undefined,
      },
    }),
  );
}

describe('Config rules through ConfigServiceClient', () => {
  it('flags SSH opened to the world on change and emits the compliance-change event AWS sends', async () => {
    const sqs = new SQSClient(sb.clientConfig);
    const events = new EventBridgeClient(sb.clientConfig);
    const queueArn = `arn:aws:sqs:${sb.sandbox.region}:${sb.sandbox.accountId}:config-events`;
    // EventBridge delivers only where the queue's policy admits it (as in AWS).
    const Policy = JSON.stringify({
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'events.amazonaws.com' },
          Action: 'sqs:SendMessage',
          Resource: queueArn,
        },
      ],
    });
    const queue = await sqs.send(
      new CreateQueueCommand({ QueueName: 'config-events', Attributes: { Policy } }),
    );
    await events.send(
      new PutRuleCommand({
        Name: 'config-compliance',
        EventPattern: JSON.stringify({
          source: ['aws.config'],
          'detail-type': ['Config Rules Compliance Change'],
        }),
      }),
    );
    await events.send(
      new PutTargetsCommand({
        Rule: 'config-compliance',
        Targets: [{ Id: 'q', Arn: queueArn }],
      }),
    );
    const ec2 = new EC2Client(sb.clientConfig);
    const { GroupId = '' } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'cfg-web', Description: 'web' }),
    );
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId,
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        CidrIp: '10.0.0.0/8',
      }),
    );
    await putRule('restricted-ssh', 'INCOMING_SSH_DISABLED');
    const compliant = await resultFor('restricted-ssh', 'AWS::EC2::SecurityGroup', GroupId, 'COMPLIANT');
    expect(compliant.EvaluationResultIdentifier?.EvaluationResultQualifier?.EvaluationMode).toBe('DETECTIVE');

    const changedAt = Date.now();
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId,
        IpProtocol: 'tcp',
        FromPort: 22,
        ToPort: 22,
        CidrIp: '0.0.0.0/0',
      }),
    );
    const non = await resultFor('restricted-ssh', 'AWS::EC2::SecurityGroup', GroupId, 'NON_COMPLIANT');
    expect(non.ResultRecordedTime).toBeInstanceOf(Date);
    expect(non.EvaluationResultIdentifier?.OrderingTimestamp?.getTime()).toBeGreaterThanOrEqual(
      changedAt - 5,
    );

    const detail = await until('the NON_COMPLIANT event', async () => {
      const r = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10 }),
      );
      for (const m of r.Messages ?? []) {
        await sqs.send(
          new DeleteMessageCommand({ QueueUrl: queue.QueueUrl, ReceiptHandle: m.ReceiptHandle }),
        );
        const e = JSON.parse(m.Body ?? '{}');
        if (
          e.detail?.resourceId === GroupId &&
          e.detail?.newEvaluationResult?.complianceType === 'NON_COMPLIANT'
        )
          return e;
      }
      return undefined;
    });
    expect(detail).toMatchObject({
      source: 'aws.config',
      'detail-type': 'Config Rules Compliance Change',
      account: sb.sandbox.accountId,
      region: sb.sandbox.region,
    });
    const d = detail.detail;
    expect(d).toMatchObject({
      resourceId: GroupId,
      resourceType: 'AWS::EC2::SecurityGroup',
      awsRegion: sb.sandbox.region,
      awsAccountId: sb.sandbox.accountId,
      configRuleName: 'restricted-ssh',
      recordVersion: '1.0',
      messageType: 'ComplianceChangeNotification',
      newEvaluationResult: {
        evaluationResultIdentifier: {
          evaluationResultQualifier: {
            configRuleName: 'restricted-ssh',
            resourceType: 'AWS::EC2::SecurityGroup',
            resourceId: GroupId,
            evaluationMode: 'DETECTIVE',
          },
        },
        complianceType: 'NON_COMPLIANT',
      },
      oldEvaluationResult: { complianceType: 'COMPLIANT' },
    });
    expect(d.configRuleARN).toMatch(
      /^arn:aws:config:[a-z0-9-]+:\d{12}:config-rule\/config-rule-[a-z0-9]{6}$/,
    );
    for (const t of [
      d.notificationCreationTime,
      d.newEvaluationResult.resultRecordedTime,
      d.newEvaluationResult.configRuleInvokedTime,
      d.newEvaluationResult.evaluationResultIdentifier.orderingTimestamp,
    ]) {
      expect(t).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(typeof d.newEvaluationResult.annotation).toBe('string');

    await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId,
        IpProtocol: 'tcp',
        FromPort: 22,
        ToPort: 22,
        CidrIp: '0.0.0.0/0',
      }),
    );
    await resultFor('restricted-ssh', 'AWS::EC2::SecurityGroup', GroupId, 'COMPLIANT');
    await ec2.send(new DeleteSecurityGroupCommand({ GroupId }));
    await resultFor('restricted-ssh', 'AWS::EC2::SecurityGroup', GroupId, 'NOT_APPLICABLE');
  });

  it('evaluates RESTRICTED_INCOMING_TRAFFIC with its blocked ports', async () => {
    const ec2 = new EC2Client(sb.clientConfig);
    await putRule('restricted-common-ports', 'RESTRICTED_INCOMING_TRAFFIC', { blockedPort1: '8080' });
    const { GroupId: open = '' } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'rdp', Description: 'rdp' }),
    );
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: open,
        IpProtocol: 'tcp',
        FromPort: 3380,
        ToPort: 3390,
        CidrIp: '0.0.0.0/0',
      }),
    );
    const { GroupId: custom = '' } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'alt-http', Description: 'x' }),
    );
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: custom,
        IpProtocol: 'tcp',
        FromPort: 8080,
        ToPort: 8080,
        CidrIp: '0.0.0.0/0',
      }),
    );
    const { GroupId: fine = '' } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'internal-rdp', Description: 'x' }),
    );
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: fine,
        IpProtocol: 'tcp',
        FromPort: 3389,
        ToPort: 3389,
        CidrIp: '10.0.0.0/8',
      }),
    );
    await resultFor('restricted-common-ports', 'AWS::EC2::SecurityGroup', open, 'NON_COMPLIANT');
    await resultFor('restricted-common-ports', 'AWS::EC2::SecurityGroup', custom, 'NON_COMPLIANT');
    await resultFor('restricted-common-ports', 'AWS::EC2::SecurityGroup', fine, 'COMPLIANT');
  });

  it('counts the resources it records per type (GetDiscoveredResourceCounts), filtered by type', async () => {
    const ec2 = new EC2Client(sb.clientConfig);
    const config = new ConfigServiceClient(sb.clientConfig);
    const before = await config.send(
      new GetDiscoveredResourceCountsCommand({ resourceTypes: ['AWS::EC2::SecurityGroup'] }),
    );
    for (const name of ['count-a', 'count-b', 'count-c'])
      await ec2.send(new CreateSecurityGroupCommand({ GroupName: name, Description: 'x' }));
    const after = await config.send(
      new GetDiscoveredResourceCountsCommand({ resourceTypes: ['AWS::EC2::SecurityGroup'] }),
    );
    expect(after.totalDiscoveredResources).toBe((before.totalDiscoveredResources ?? 0) + 3);
    expect(after.resourceCounts).toEqual([
      { resourceType: 'AWS::EC2::SecurityGroup', count: after.totalDiscoveredResources },
    ]);
    const all = await config.send(new GetDiscoveredResourceCountsCommand({}));
    expect(all.resourceCounts?.map((c) => c.resourceType)).toContain('AWS::EC2::SecurityGroup');
    expect(all.totalDiscoveredResources).toBeGreaterThanOrEqual(after.totalDiscoveredResources ?? 0);
  });

  it('evaluates the three S3 bucket rules', async () => {
    const s3 = new S3Client({ ...sb.clientConfig, forcePathStyle: true });
    await s3.send(new CreateBucketCommand({ Bucket: 'cfg-data' }));
    await putRule('s3-sse', 'S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED');
    await putRule('s3-versioning', 'S3_BUCKET_VERSIONING_ENABLED');
    await putRule('s3-public', 'S3_BUCKET_LEVEL_PUBLIC_ACCESS_PROHIBITED');
    await resultFor('s3-sse', 'AWS::S3::Bucket', 'cfg-data', 'COMPLIANT');
    await resultFor('s3-versioning', 'AWS::S3::Bucket', 'cfg-data', 'NON_COMPLIANT');
    await resultFor('s3-public', 'AWS::S3::Bucket', 'cfg-data', 'COMPLIANT');
    await s3.send(new DeleteBucketEncryptionCommand({ Bucket: 'cfg-data' }));
    await s3.send(
      new PutBucketVersioningCommand({ Bucket: 'cfg-data', VersioningConfiguration: { Status: 'Enabled' } }),
    );
    await s3.send(new DeletePublicAccessBlockCommand({ Bucket: 'cfg-data' }));
    const sse = await resultFor('s3-sse', 'AWS::S3::Bucket', 'cfg-data', 'NON_COMPLIANT');
    expect(sse.Annotation).toMatch(/encryption/);
    await resultFor('s3-versioning', 'AWS::S3::Bucket', 'cfg-data', 'COMPLIANT');
    await resultFor('s3-public', 'AWS::S3::Bucket', 'cfg-data', 'NON_COMPLIANT');
  });

  it('evaluates IAM policies for admin statements and Lambda settings against input parameters', async () => {
    const iam = new IAMClient(sb.clientConfig);
    await putRule('iam-admin', 'IAM_POLICY_NO_STATEMENTS_WITH_ADMIN_ACCESS');
    const doc = (action: string) =>
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }],
      });
    const admin = await iam.send(
      new CreatePolicyCommand({ PolicyName: 'too-broad', PolicyDocument: doc('*') }),
    );
    const narrow = await iam.send(
      new CreatePolicyCommand({ PolicyName: 'narrow', PolicyDocument: doc('s3:GetObject') }),
    );
    await resultFor('iam-admin', 'AWS::IAM::Policy', admin.Policy?.PolicyId ?? '', 'NON_COMPLIANT');
    await resultFor('iam-admin', 'AWS::IAM::Policy', narrow.Policy?.PolicyId ?? '', 'COMPLIANT');

    const lambda = new LambdaClient(sb.clientConfig);
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: 'cfg-fn',
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Role: await trustingRole(sb.sandbox, 'r'),
        MemorySize: 128,
        Timeout: 30,
        Code: { ZipFile: new Uint8Array([1, 2, 3]) },
      }),
    );
    await putRule('lambda-settings', 'LAMBDA_FUNCTION_SETTINGS_CHECK', {
      runtime: 'nodejs22.x',
      memorySize: '128',
      timeout: '30',
    });
    await resultFor('lambda-settings', 'AWS::Lambda::Function', 'cfg-fn', 'COMPLIANT');
    await lambda.send(new UpdateFunctionConfigurationCommand({ FunctionName: 'cfg-fn', MemorySize: 1024 }));
    const non = await resultFor('lambda-settings', 'AWS::Lambda::Function', 'cfg-fn', 'NON_COMPLIANT');
    expect(non.Annotation).toContain('memorySize is 1024 (expected 128)');
  });

  it('honours a TagKey/TagValue Scope: only functions carrying the tag are evaluated', async () => {
    const lambda = new LambdaClient(sb.clientConfig);
    const config = new ConfigServiceClient(sb.clientConfig);
    const role = await trustingRole(sb.sandbox, 'r');
    const fn = (name: string, tags?: Record<string, string>) =>
      lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: 'nodejs20.x',
          Handler: 'index.handler',
          Role: role,
          Code: { ZipFile: new Uint8Array([1, 2, 3]) },
          ...(tags ? { Tags: tags } : {}),
        }),
      );
    await fn('scoped-in', { 'drift-remediation:scope': 'managed' });
    await fn('scoped-other-value', { 'drift-remediation:scope': 'other' });
    await fn('scoped-out');
    await config.send(
      new PutConfigRuleCommand({
        ConfigRule: {
          ConfigRuleName: 'lambda-scoped',
          Source: { Owner: 'AWS', SourceIdentifier: 'LAMBDA_FUNCTION_SETTINGS_CHECK' },
          InputParameters: JSON.stringify({ runtime: 'nodejs22.x' }),
          Scope: { TagKey: 'drift-remediation:scope', TagValue: 'managed' },
        },
      }),
    );
    await resultFor('lambda-scoped', 'AWS::Lambda::Function', 'scoped-in', 'NON_COMPLIANT');
    // A change to an out-of-scope function is not evaluated either.
    await lambda.send(
      new UpdateFunctionConfigurationCommand({ FunctionName: 'scoped-out', MemorySize: 512 }),
    );
    // A tagged function created after that change is evaluated after it: by then the change was seen.
    await fn('scoped-late', { 'drift-remediation:scope': 'managed' });
    await resultFor('lambda-scoped', 'AWS::Lambda::Function', 'scoped-late', 'NON_COMPLIANT');
    const all = await config.send(
      new GetComplianceDetailsByConfigRuleCommand({ ConfigRuleName: 'lambda-scoped' }),
    );
    const ids = (all.EvaluationResults ?? []).map(
      (e) => e.EvaluationResultIdentifier?.EvaluationResultQualifier?.ResourceId,
    );
    expect(ids.sort()).toEqual(['scoped-in', 'scoped-late']);
  });

  it('records IAM roles by unique id (AROA…): compliance-change events, ListDiscoveredResources, BatchGetResourceConfig', async () => {
    const iam = new IAMClient(sb.clientConfig);
    const config = new ConfigServiceClient(sb.clientConfig);
    const created = await iam.send(
      new CreateRoleCommand({
        RoleName: 'aroa-role',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        }),
      }),
    );
    const roleId = created.Role?.RoleId ?? '';
    expect(roleId).toMatch(/^AROA[A-Z0-9]{17}$/);
    await putRule('no-admin', 'IAM_POLICY_BLACKLISTED_CHECK');
    await resultFor('no-admin', 'AWS::IAM::Role', roleId, 'COMPLIANT');
    await iam.send(
      new AttachRolePolicyCommand({
        RoleName: 'aroa-role',
        PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
      }),
    );
    const non = await resultFor('no-admin', 'AWS::IAM::Role', roleId, 'NON_COMPLIANT');
    expect(non.Annotation).toContain('AdministratorAccess');
    // No result is ever recorded under the role's name.
    const byName = await config.send(
      new GetComplianceDetailsByResourceCommand({ ResourceType: 'AWS::IAM::Role', ResourceId: 'aroa-role' }),
    );
    expect(byName.EvaluationResults).toEqual([]);

    // The id ↔ name mapping, as Config and IAM keep it.
    const listed = await config.send(
      new ListDiscoveredResourcesCommand({ resourceType: 'AWS::IAM::Role', resourceIds: [roleId] }),
    );
    expect(listed.resourceIdentifiers).toEqual([
      { resourceType: 'AWS::IAM::Role', resourceId: roleId, resourceName: 'aroa-role' },
    ]);
    const byRoleName = await config.send(
      new ListDiscoveredResourcesCommand({ resourceType: 'AWS::IAM::Role', resourceName: 'aroa-role' }),
    );
    expect(byRoleName.resourceIdentifiers?.map((r) => r.resourceId)).toEqual([roleId]);
    const items = await config.send(
      new BatchGetResourceConfigCommand({
        resourceKeys: [{ resourceType: 'AWS::IAM::Role', resourceId: roleId }],
      }),
    );
    const item = items.baseConfigurationItems?.[0];
    expect(item).toMatchObject({
      resourceId: roleId,
      resourceName: 'aroa-role',
      resourceType: 'AWS::IAM::Role',
    });
    expect(JSON.parse(item?.configuration ?? '{}')).toMatchObject({
      roleName: 'aroa-role',
      roleId,
      attachedManagedPolicies: [{ policyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }],
    });
    const role = await iam.send(new GetRoleCommand({ RoleName: 'aroa-role' }));
    expect(role.Role?.RoleId).toBe(roleId);
    const listRoles = await iam.send(new ListRolesCommand({}));
    expect(listRoles.Roles?.find((r) => r.RoleId === roleId)?.RoleName).toBe('aroa-role');
    // Types come from Config's published list: a made-up one is refused.
    const bad = await errorOf(
      config.send(new ListDiscoveredResourcesCommand({ resourceType: 'AWS::Made::Up' as ResourceType })),
    );
    expect(bad.name).toBe('ValidationException');
  });

  it('runs CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK on demand, not on a change to a resource in the stack', async () => {
    const iam = new IAMClient(sb.clientConfig);
    const config = new ConfigServiceClient(sb.clientConfig);
    await putRule('stack-drift', 'CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK');
    await resultFor('stack-drift', 'AWS::CloudFormation::Stack', STACK_ID, 'COMPLIANT');
    const before = stackWorld.detections;
    stackWorld.drifted = true;
    // A change to a resource the stack owns (the fake stack owns role app-role) is not a change of the
    // stack: AWS triggers the rule on the stack's own configuration changes and periodically.
    await iam.send(
      new CreateRoleCommand({
        RoleName: 'app-role',
        AssumeRolePolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        }),
      }),
    );
    await sb.sandbox.context.clock.sleep(20);
    expect(stackWorld.detections).toBe(before);
    await resultFor('stack-drift', 'AWS::CloudFormation::Stack', STACK_ID, 'COMPLIANT');
    // StartConfigRulesEvaluation runs it (once the initial evaluation is over and a minute has passed).
    await startAccepted(config, 'stack-drift');
    const drifted = await resultFor('stack-drift', 'AWS::CloudFormation::Stack', STACK_ID, 'NON_COMPLIANT');
    expect(drifted.Annotation).toContain('DRIFTED');
    expect(stackWorld.detections).toBeGreaterThan(before);
  });

  it('runs CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK every MaximumExecutionFrequency on the sandbox clock', async () => {
    const config = new ConfigServiceClient(hourly.clientConfig);
    await config.send(
      new PutConfigRuleCommand({
        ConfigRule: {
          ConfigRuleName: 'stack-drift-hourly',
          Source: { Owner: 'AWS', SourceIdentifier: 'CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK' },
          MaximumExecutionFrequency: 'One_Hour',
        },
      }),
    );
    const stackResult = async () =>
      (
        await config.send(
          new GetComplianceDetailsByResourceCommand({
            ResourceType: 'AWS::CloudFormation::Stack',
            ResourceId: STACK_ID,
          }),
        )
      ).EvaluationResults?.[0]?.ComplianceType;
    await until('the first evaluation', async () =>
      (await stackResult()) === 'COMPLIANT' ? true : undefined,
    );
    const before = hourlyWorld.detections;
    hourlyWorld.drifted = true;
    // Nothing asks for it: one emulated hour later the periodic run detects the drift.
    await until(
      'the hourly run',
      async () => ((await stackResult()) === 'NON_COMPLIANT' ? true : undefined),
      15_000,
    );
    expect(hourlyWorld.detections).toBe(before + 1);
  }, 30_000);

  it('filters and pages compliance details, summarizes by rule, and enforces the API limits', async () => {
    const config = new ConfigServiceClient(sb.clientConfig);
    const ec2 = new EC2Client(sb.clientConfig);
    await putRule('paging-ssh', 'INCOMING_SSH_DISABLED');
    for (const name of ['p1', 'p2', 'p3']) {
      const { GroupId = '' } = await ec2.send(
        new CreateSecurityGroupCommand({ GroupName: `paging-${name}`, Description: 'x' }),
      );
      await ec2.send(
        new AuthorizeSecurityGroupIngressCommand({ GroupId, IpProtocol: '-1', CidrIp: '0.0.0.0/0' }),
      );
    }
    const all = await until('three NON_COMPLIANT results', async () => {
      const r = await config.send(
        new GetComplianceDetailsByConfigRuleCommand({
          ConfigRuleName: 'paging-ssh',
          ComplianceTypes: ['NON_COMPLIANT'],
          Limit: 100,
        }),
      );
      return (r.EvaluationResults?.length ?? 0) >= 3 ? r.EvaluationResults : undefined;
    });
    expect(all.every((e) => e.ComplianceType === 'NON_COMPLIANT')).toBe(true);
    const page1 = await config.send(
      new GetComplianceDetailsByConfigRuleCommand({
        ConfigRuleName: 'paging-ssh',
        ComplianceTypes: ['NON_COMPLIANT'],
        Limit: 2,
      }),
    );
    expect(page1.EvaluationResults).toHaveLength(2);
    expect(page1.NextToken).toBeTruthy();
    const page2 = await config.send(
      new GetComplianceDetailsByConfigRuleCommand({
        ConfigRuleName: 'paging-ssh',
        ComplianceTypes: ['NON_COMPLIANT'],
        Limit: 2,
        NextToken: page1.NextToken,
      }),
    );
    expect((page2.EvaluationResults?.length ?? 0) + 2).toBe(all.length);
    const summary = await config.send(
      new DescribeComplianceByConfigRuleCommand({ ConfigRuleNames: ['paging-ssh'] }),
    );
    expect(summary.ComplianceByConfigRules?.[0]?.Compliance?.ComplianceType).toBe('NON_COMPLIANT');
    expect(summary.ComplianceByConfigRules?.[0]?.Compliance?.ComplianceContributorCount?.CappedCount).toBe(
      all.length,
    );

    const described = await config.send(new DescribeConfigRulesCommand({ ConfigRuleNames: ['paging-ssh'] }));
    expect(described.ConfigRules?.[0]).toMatchObject({
      ConfigRuleName: 'paging-ssh',
      Source: { Owner: 'AWS', SourceIdentifier: 'INCOMING_SSH_DISABLED' },
    });

    // the initial evaluation may still run; wait until a start is accepted, then a second start is refused
    await startAccepted(config, 'paging-ssh');
    expect(
      await errorOf(config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: ['paging-ssh'] }))),
    ).toBeInstanceOf(LimitExceededException);
    const many = Array.from({ length: 26 }, (_, i) => `rule-${i}`);
    expect(
      await errorOf(config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: many }))),
    ).toBeInstanceOf(InvalidParameterValueException);
    expect(
      await errorOf(
        config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: ['no-such-rule'] })),
      ),
    ).toBeInstanceOf(NoSuchConfigRuleException);
    expect(
      await errorOf(
        config.send(new GetComplianceDetailsByConfigRuleCommand({ ConfigRuleName: 'no-such-rule' })),
      ),
    ).toBeInstanceOf(NoSuchConfigRuleException);
    expect(
      await errorOf(
        config.send(
          new PutConfigRuleCommand({
            ConfigRule: { ConfigRuleName: 'bad', Source: { Owner: 'AWS', SourceIdentifier: 'NOT_A_RULE' } },
          }),
        ),
      ),
    ).toBeInstanceOf(InvalidParameterValueException);
    expect(
      await errorOf(
        config.send(
          new PutConfigRuleCommand({
            ConfigRule: {
              ConfigRuleName: 'no-runtime',
              Source: { Owner: 'AWS', SourceIdentifier: 'LAMBDA_FUNCTION_SETTINGS_CHECK' },
            },
          }),
        ),
      ),
    ).toBeInstanceOf(InvalidParameterValueException);

    await config.send(new DeleteConfigRuleCommand({ ConfigRuleName: 'paging-ssh' }));
    expect(
      await errorOf(config.send(new DescribeConfigRulesCommand({ ConfigRuleNames: ['paging-ssh'] }))),
    ).toBeInstanceOf(NoSuchConfigRuleException);
  });

  it('refuses a MaximumExecutionFrequency AWS refuses (a change-triggered managed rule, an unknown value), storing nothing', async () => {
    const config = new ConfigServiceClient(sb.clientConfig);
    // A value outside the SDK's enum, as a hand-written request could send it.
    const put = (name: string, SourceIdentifier: string, frequency: string) =>
      errorOf(
        config.send(
          new PutConfigRuleCommand({
            ConfigRule: {
              ConfigRuleName: name,
              Source: { Owner: 'AWS', SourceIdentifier },
              MaximumExecutionFrequency: frequency as ConfigRule['MaximumExecutionFrequency'],
            },
          }),
        ),
      );
    const changeOnly = await put('ssh-hourly', 'INCOMING_SSH_DISABLED', 'One_Hour');
    expect(changeOnly).toBeInstanceOf(InvalidParameterValueException);
    expect(changeOnly.message).toBe(
      'A maximum execution frequency for this rule is not allowed because only a change in resources triggers this managed rule.',
    );
    const unknown = await put('drift-hourly', 'CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK', 'Hourly');
    expect(unknown).toBeInstanceOf(InvalidParameterValueException);
    expect(unknown.message).toBe('The frequency Hourly is invalid.');
    for (const name of ['ssh-hourly', 'drift-hourly'])
      expect(
        await errorOf(config.send(new DescribeConfigRulesCommand({ ConfigRuleNames: [name] }))),
      ).toBeInstanceOf(NoSuchConfigRuleException);
  });
});

describe('Config rule-wide evaluation time (ruleEvaluationSeconds)', () => {
  const slow = withSandbox(() => ({
    timeScale: 0.01,
    services: [ec2Service(), configService({ evaluationDelaySeconds: 1, ruleEvaluationSeconds: 30 })],
    providers: resourceProviders(),
  }));

  it('records the results of a requested evaluation only after the configured emulated seconds', async () => {
    const config = new ConfigServiceClient(slow.clientConfig);
    const ec2 = new EC2Client(slow.clientConfig);
    await config.send(
      new PutConfigRuleCommand({
        ConfigRule: {
          ConfigRuleName: 'slow-ssh',
          Source: { Owner: 'AWS', SourceIdentifier: 'INCOMING_SSH_DISABLED' },
        },
      }),
    );
    const { GroupId = '' } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'slow-eval', Description: 'x' }),
    );
    const latest = async () =>
      (
        await config.send(
          new GetComplianceDetailsByResourceCommand({
            ResourceType: 'AWS::EC2::SecurityGroup',
            ResourceId: GroupId,
          }),
        )
      ).EvaluationResults?.[0];
    // the change-triggered evaluation (1 s) is not slowed down
    const first = await until('the change-triggered result', latest);
    // the evaluation at rule creation takes 30 s too; a start is accepted once it is over
    // `requested` (before the call) bounds the requested evaluation's start from below; `accepted` (after
    // it) is later than any earlier evaluation's result, which ended before the start was accepted.
    let requested = 0;
    let accepted = 0;
    await until('an accepted start', async () => {
      try {
        requested = slow.sandbox.clock.now().getTime();
        await config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: ['slow-ssh'] }));
        accepted = slow.sandbox.clock.now().getTime();
        return true;
      } catch (err) {
        if (err instanceof LimitExceededException) return undefined;
        throw err;
      }
    });
    const redone = await until('the requested evaluation', async () => {
      const r = await latest();
      return (r?.ResultRecordedTime?.getTime() ?? 0) > accepted ? r : undefined;
    });
    expect(first.ComplianceType).toBe('COMPLIANT');
    expect(redone.ResultRecordedTime?.getTime() ?? 0).toBeGreaterThanOrEqual(requested + 30_000);
  });
});
