import 'aws-sdk-client-mock-vitest/extend';
import { readFileSync } from 'node:fs';
import { CloudControlClient, GetResourceCommand } from '@aws-sdk/client-cloudcontrol';
import {
  CloudFormationClient,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  DetectStackResourceDriftCommand,
} from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DescribeExecutionCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { beforeEach, describe, expect, it } from 'vitest';
import { FAST_PATH_EVENT_PREFIX, FAST_PATH_SOURCE, fastPathCalls } from '../../../tasks/fast-path/calls';
import { type FastPathDeps, type FastPathInput, fastPath, intendedBy } from '../../../tasks/fast-path/core';
import { type IntakeDeps, processMessage } from '../../../tasks/intake/core';
import { RemediationEvent } from '../../../tasks/shared/contracts';
import { executionName } from '../../../tasks/shared/execution-name';
import { loadPolicyFile, normalizePolicy, parsePolicyText } from '../../../tasks/shared/policy/load';
import type { NormalizedPolicy } from '../../../tasks/shared/policy/schema';
import { ACCOUNT, awsError, REGION, SG_ID } from './fixtures/core-tasks';

const sfn = mockClient(SFNClient);
const cfn = mockClient(CloudFormationClient);
const cc = mockClient(CloudControlClient);
const sqs = mockClient(SQSClient);
const ddbDoc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: REGION }));
const ddb = mockClient(ddbDoc);

const NOW = new Date('2026-11-23T12:00:00.000Z');
const CALL_TIME = '2026-11-23T11:59:50Z';
const SM_ARN = `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:drift-remediation`;
const POLICY = loadPolicyFile('runbooks/policy.yaml');
const DEPLOYER = `arn:aws:iam::${ACCOUNT}:role/deploy-pipeline`;
const SCOPE_TAG = { Key: 'drift-remediation:scope', Value: 'managed' };

function policyWith(extra: Record<string, unknown>): NormalizedPolicy {
  const raw = parsePolicyText(readFileSync('runbooks/policy.yaml', 'utf8')) as object;
  return normalizePolicy({ ...raw, ...extra });
}

function deps(overrides: Partial<FastPathDeps> = {}): FastPathDeps {
  return {
    policy: POLICY,
    cloudFormation: new CloudFormationClient({ region: REGION }),
    cloudControl: new CloudControlClient({ region: REGION }),
    sqs: new SQSClient({ region: REGION }),
    ddb: ddbDoc,
    intakeQueueUrl: 'https://sqs/intake',
    outcomesTable: 'outcomes',
    ownRoles: ['DriftRemediation-AutomationRole'],
    now: () => NOW,
    ...overrides,
  };
}

function intakeDeps(): IntakeDeps {
  return {
    config: new ConfigServiceClient({ region: REGION }),
    sfn: new SFNClient({ region: REGION }),
    ddb: ddbDoc,
    cloudFormation: new CloudFormationClient({ region: REGION }),
    policy: POLICY,
    stateMachineArn: SM_ARN,
    orderingTable: 'ordering',
    outcomesTable: 'outcomes',
    now: () => NOW,
  };
}

/** What the fast path sent to the intake queue. */
function forwarded(): Array<Record<string, unknown>> {
  return sqs.commandCalls(SendMessageCommand).map((c) => JSON.parse(c.args[0].input.MessageBody ?? '{}'));
}

function assumedRole(role: string, session = 'alice') {
  return {
    type: 'AssumedRole',
    principalId: `AROAEXAMPLE:${session}`,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}`,
    accountId: ACCOUNT,
    sessionContext: {
      sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${ACCOUNT}:role/${role}`, userName: role },
    },
  };
}

function cloudTrail(
  detail: Record<string, unknown> = {},
  eventName = 'AuthorizeSecurityGroupIngress',
): FastPathInput {
  return {
    version: '0',
    id: 'e1e2e3e4-0000-1111-2222-333344445555',
    'detail-type': 'AWS API Call via CloudTrail',
    source: 'aws.ec2',
    account: ACCOUNT,
    time: CALL_TIME,
    region: REGION,
    resources: [],
    detail: {
      eventVersion: '1.08',
      userIdentity: assumedRole('Developer'),
      eventTime: CALL_TIME,
      eventSource: 'ec2.amazonaws.com',
      eventName,
      awsRegion: REGION,
      sourceIPAddress: '203.0.113.7',
      userAgent: 'aws-cli/2.15.0',
      requestParameters: {
        groupId: SG_ID,
        ipPermissions: {
          items: [
            { ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } },
          ],
        },
      },
      responseElements: { _return: true },
      eventID: 'f0f1f2f3-0000-1111-2222-333344445555',
      eventType: 'AwsApiCall',
      recipientAccountId: ACCOUNT,
      ...detail,
    },
  };
}

function groupOpenOn(port: number, tags = [SCOPE_TAG]) {
  const props = {
    GroupId: SG_ID,
    GroupDescription: 'web',
    Tags: tags,
    SecurityGroupIngress: [{ IpProtocol: 'tcp', FromPort: port, ToPort: port, CidrIp: '0.0.0.0/0' }],
  };
  cc.on(GetResourceCommand).resolves({
    TypeName: 'AWS::EC2::SecurityGroup',
    ResourceDescription: { Identifier: SG_ID, Properties: JSON.stringify(props) },
  });
}

beforeEach(() => {
  for (const m of [sfn, cfn, cc, sqs, ddb]) m.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm' });
  cfn
    .on(DescribeStackResourcesCommand)
    .rejects(awsError('ValidationError', `Stack for ${SG_ID} does not exist`));
  ddb.on(GetCommand).resolves({});
  ddb.on(PutCommand).resolves({});
  sfn.on(StartExecutionCommand).resolves({ executionArn: `${SM_ARN}:x` });
});

describe('the fast path rule is derived from the policy', () => {
  it('covers the calls that drift every type in scope', () => {
    const c = fastPathCalls(POLICY);
    for (const name of [
      'AuthorizeSecurityGroupIngress',
      'AuthorizeSecurityGroupEgress',
      'RevokeSecurityGroupIngress',
      'PutBucketEncryption',
      'DeleteBucketEncryption',
      'PutBucketVersioning',
      'PutBucketPublicAccessBlock',
      'DeleteBucketPublicAccessBlock',
      'PutBucketPolicy',
      'AttachRolePolicy',
      'DetachRolePolicy',
      'PutRolePolicy',
      'DeleteRolePolicy',
      'CreatePolicyVersion',
      'UpdateFunctionConfiguration20150331v2',
    ]) {
      expect(c.eventNames).toContain(name);
    }
    expect(c.sources).toEqual(['aws.ec2', 'aws.iam', 'aws.lambda', 'aws.s3']);
  });

  it('lists only the calls of the types the entries name', () => {
    const onlyVersioning = policyWith({
      remediations: [
        {
          id: 's3-versioning',
          match: { configRules: ['s3-bucket-versioning-enabled'], resourceTypes: ['AWS::S3::Bucket'] },
          runbook: 'DriftRemediation-EnableS3BucketVersioning',
          parameters: { BucketName: { from: 'event.resourceId' } },
        },
      ],
    });
    const c = fastPathCalls(onlyVersioning);
    expect(c.sources).toEqual(['aws.s3']);
    expect(c.eventNames).not.toContain('AuthorizeSecurityGroupIngress');
    expect(c.eventNames).toContain('PutBucketVersioning');
  });
});

describe('fast-path: CloudTrail calls as suspected drift', () => {
  it('sends the restricted-ssh drift to intake at once for SSH opened to the world, ordered at the call', async () => {
    groupOpenOn(22);
    const [out] = await fastPath(cloudTrail(), deps());
    expect(out?.status).toBe('forwarded');
    const [envelope] = forwarded();
    expect(envelope).toMatchObject({ source: FAST_PATH_SOURCE, account: ACCOUNT, region: REGION });
    const input = { event: v.parse(RemediationEvent, envelope?.detail) };
    expect(input.event).toMatchObject({
      source: 'config',
      configRuleName: 'restricted-ssh',
      resourceType: 'AWS::EC2::SecurityGroup',
      resourceId: SG_ID,
      awsAccountId: ACCOUNT,
      orderingTimestamp: '2026-11-23T11:59:50.000Z',
    });
    expect(input.event.eventId.startsWith(FAST_PATH_EVENT_PREFIX)).toBe(true);
    expect(out && 'executionName' in out ? out.executionName : '').toBe(executionName(input.event));
    // intake starts it like any Config result
    const [started] = await processMessage(JSON.stringify(envelope), 'q1', intakeDeps());
    expect(started?.status).toBe('started');
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      name: executionName(input.event),
    });
  });

  it('reads ModifySecurityGroupRules in the shape CloudTrail records it (ModifySecurityGroupRulesRequest.GroupId)', async () => {
    groupOpenOn(22);
    const modified = cloudTrail(
      {
        requestParameters: {
          ModifySecurityGroupRulesRequest: {
            GroupId: SG_ID,
            SecurityGroupRule: {
              SecurityGroupRuleId: 'sgr-0123456789abcdef0',
              SecurityGroupRule: { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIpv4: '0.0.0.0/0' },
            },
          },
        },
        responseElements: { ModifySecurityGroupRulesResponse: { return: true } },
      },
      'ModifySecurityGroupRules',
    );
    const [out] = await fastPath(modified, deps());
    expect(out?.status).toBe('forwarded');
    const [envelope] = forwarded();
    expect(v.parse(RemediationEvent, envelope?.detail)).toMatchObject({
      configRuleName: 'restricted-ssh',
      resourceId: SG_ID,
    });
  });

  it('starts nothing when the call left the group compliant (port 443)', async () => {
    groupOpenOn(443);
    const [out] = await fastPath(cloudTrail(), deps());
    expect(out).toMatchObject({ status: 'skipped' });
    expect(out?.status === 'skipped' && out.reason).toMatch(/not drifted.*restricted-ssh: COMPLIANT/);
    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
  });

  it('skips a resource outside the rules tag scope', async () => {
    groupOpenOn(22, []);
    const [out] = await fastPath(cloudTrail(), deps());
    expect(out?.status === 'skipped' && out.reason).toMatch(/outside its scope/);
    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
  });

  it.each([
    ['a failed call', { errorCode: 'Client.UnauthorizedOperation', errorMessage: 'denied' }, /failed call/],
    [
      'CloudFormation on behalf of a stack',
      {
        userIdentity: {
          ...assumedRole('cfn-exec', 'AWSCloudFormation'),
          invokedBy: 'cloudformation.amazonaws.com',
        },
      },
      /CloudFormation/,
    ],
    [
      'the remediation automation role',
      { userIdentity: assumedRole('DriftRemediation-AutomationRole', 'exec-1') },
      /own role/,
    ],
    ['a trusted deployer', { userIdentity: assumedRole('deploy-pipeline', 'build-42') }, /trusted deployer/],
  ])('records SKIPPED and starts nothing for %s', async (_what, detail, reason) => {
    groupOpenOn(22);
    const policy = policyWith({ fastPath: { trustedDeployers: [`arn:aws:iam::${ACCOUNT}:role/deploy-*`] } });
    const [out] = await fastPath(cloudTrail(detail), deps({ policy }));
    expect(out?.status === 'skipped' && out.reason).toMatch(reason);
    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
    expect(ddb).toHaveReceivedCommandWith(PutCommand, { TableName: 'outcomes' });
  });

  it('skips an unknown call and a call naming no resource', async () => {
    const [unknown] = await fastPath(cloudTrail({}, 'CreateTags'), deps());
    expect(unknown?.status === 'skipped' && unknown.reason).toMatch(
      /unknown call ec2.amazonaws.com CreateTags/,
    );
    const [nameless] = await fastPath(cloudTrail({ requestParameters: {} }), deps());
    expect(nameless?.status === 'skipped' && nameless.reason).toMatch(/names no AWS::EC2::SecurityGroup/);
    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
  });

  it('leaves a stack-managed group whose template itself opens SSH to the Config path', async () => {
    groupOpenOn(22);
    cfn.on(DescribeStackResourcesCommand).resolves({
      StackResources: [
        {
          StackName: 'app',
          StackId: 'app-id',
          LogicalResourceId: 'Sg',
          PhysicalResourceId: SG_ID,
          ResourceType: 'AWS::EC2::SecurityGroup',
          ResourceStatus: 'CREATE_COMPLETE',
          Timestamp: NOW,
        },
      ],
    });
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [{ StackName: 'app', CreationTime: NOW, StackStatus: 'CREATE_COMPLETE', Tags: [] }],
    });
    cfn.on(DetectStackResourceDriftCommand).resolves({
      StackResourceDrift: {
        StackId: 'app-id',
        LogicalResourceId: 'Sg',
        ResourceType: 'AWS::EC2::SecurityGroup',
        StackResourceDriftStatus: 'IN_SYNC',
        Timestamp: NOW,
      },
    });
    const [out] = await fastPath(cloudTrail(), deps());
    expect(out?.status === 'skipped' && out.reason).toMatch(/IN_SYNC with its template/);
    cfn.on(DetectStackResourceDriftCommand).resolves({
      StackResourceDrift: {
        StackId: 'app-id',
        LogicalResourceId: 'Sg',
        ResourceType: 'AWS::EC2::SecurityGroup',
        StackResourceDriftStatus: 'MODIFIED',
        Timestamp: NOW,
      },
    });
    const [drifted] = await fastPath(cloudTrail(), deps());
    expect(drifted?.status).toBe('forwarded');
    expect(forwarded()[0]?.detail).toMatchObject({
      stackName: 'app',
      logicalResourceId: 'Sg',
      configRuleName: 'restricted-ssh',
    });
  });
});

describe('the Config result that follows a fast-path remediation', () => {
  function configResult(ordering: string) {
    return JSON.stringify({
      id: 'c0c0c0c0-0000-1111-2222-333344445555',
      'detail-type': 'Config Rules Compliance Change',
      source: 'aws.config',
      account: ACCOUNT,
      region: REGION,
      time: NOW.toISOString(),
      detail: {
        configRuleName: 'restricted-ssh',
        resourceType: 'AWS::EC2::SecurityGroup',
        resourceId: SG_ID,
        awsAccountId: ACCOUNT,
        awsRegion: REGION,
        newEvaluationResult: {
          complianceType: 'NON_COMPLIANT',
          evaluationResultIdentifier: { orderingTimestamp: ordering },
        },
      },
    });
  }
  const claimed = {
    key: 'x',
    eventId: `${FAST_PATH_EVENT_PREFIX}f0f1`,
    executionName: 'restricted-ssh-SecurityGroup-abc',
    lastOrderingTimestamp: '2026-11-23T11:59:50.000Z',
  };

  const STOPPED = new Date('2026-11-23T12:00:40.000Z');

  it('recorded before the fast-path execution succeeded: the same drift, SKIPPED, nothing started', async () => {
    ddb.on(GetCommand).resolves({ Item: claimed });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', stopDate: STOPPED } as never);
    const [out] = await processMessage(configResult('2026-11-23T11:59:51.000Z'), 'c1', intakeDeps());
    expect(out?.status === 'skipped' && out.reason).toMatch(
      /same drift as the CloudTrail fast path's execution/,
    );
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it('while the fast-path execution runs, the running check drops it', async () => {
    ddb.on(GetCommand).resolves({ Item: claimed });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'RUNNING' } as never);
    const [out] = await processMessage(configResult('2026-11-23T11:59:51.000Z'), 'c2', intakeDeps());
    expect(out?.status === 'skipped' && out.reason).toMatch(/still running/);
    expect(sfn).not.toHaveReceivedCommand(StartExecutionCommand);
  });

  it.each([
    ['the fast-path execution failed', 'FAILED', '2026-11-23T11:59:51.000Z'],
    ['recorded after the remediation ended (a new change)', 'SUCCEEDED', '2026-11-23T12:05:00.000Z'],
  ])('proceeds when %s', async (_what, status, ordering) => {
    ddb.on(GetCommand).resolves({ Item: claimed });
    sfn.on(DescribeExecutionCommand).resolves({ status, stopDate: STOPPED } as never);
    const [out] = await processMessage(configResult(ordering), 'c3', intakeDeps());
    expect(out?.status).toBe('started');
  });

  it('a claim by a Config result (not the fast path) is left to the usual rules', async () => {
    ddb.on(GetCommand).resolves({ Item: { ...claimed, eventId: 'c9c9' } });
    sfn.on(DescribeExecutionCommand).resolves({ status: 'SUCCEEDED', stopDate: STOPPED } as never);
    const [out] = await processMessage(configResult('2026-11-23T11:59:51.000Z'), 'c4', intakeDeps());
    expect(out?.status).toBe('started');
  });
});

describe('intendedBy', () => {
  it('matches own roles by name and trusted deployers by pattern, nobody else', () => {
    const d = { sourceIPAddress: '198.51.100.1' };
    expect(
      intendedBy(assumedRole('Someone'), d, ['DriftRemediation-AutomationRole'], [DEPLOYER]),
    ).toBeUndefined();
    expect(intendedBy(assumedRole('deploy-pipeline'), d, [], [DEPLOYER])).toMatch(/trusted deployer/);
    expect(intendedBy(assumedRole('TaskRole'), d, [`arn:aws:iam::${ACCOUNT}:role/TaskRole`], [])).toMatch(
      /own role TaskRole/,
    );
    expect(intendedBy({ type: 'AWSService', invokedBy: 'cloudformation.amazonaws.com' }, d, [], [])).toMatch(
      /CloudFormation/,
    );
  });
});
