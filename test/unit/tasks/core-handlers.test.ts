/**
 * The thin handlers of intake, sweep, plan, confirm-compliance and the drift tasks, wired as in Lambda:
 * env from tasks/shared/env.ts, the real policy file (runbooks/policy.yaml), SDK clients from
 * tasks/shared/clients.ts (mocked at the class level).
 */
import 'aws-sdk-client-mock-vitest/extend';
import { CloudControlClient, GetResourceCommand } from '@aws-sdk/client-cloudcontrol';
import {
  CloudFormationClient,
  DescribeStackResourcesCommand,
  DetectStackDriftCommand,
} from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient, GetComplianceDetailsByConfigRuleCommand } from '@aws-sdk/client-config-service';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageBatchCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { bundledPolicyFor } from '../../../infra/bundled-policy';
import { handler as detectDrift } from '../../../tasks/detect-drift/handler';
import { handler as intake } from '../../../tasks/intake/handler';
import { handler as plan } from '../../../tasks/plan/handler';
import { ENV } from '../../../tasks/shared/env';
import { resetPolicyCache } from '../../../tasks/shared/policy-env';
import { handler as sweep } from '../../../tasks/sweep/handler';
import { ACCOUNT, configEvent, REGION, SG_ID } from './fixtures/core-tasks';

const ddb = mockClient(DynamoDBDocumentClient);
const sfn = mockClient(SFNClient);
const cc = mockClient(CloudControlClient);
const cfn = mockClient(CloudFormationClient);
const config = mockClient(ConfigServiceClient);
const sqs = mockClient(SQSClient);

const ENV_VARS: Record<string, string> = {
  [ENV.POLICY_FILE]: bundledPolicyFor('runbooks/policy.yaml'),
  [ENV.ORDERING_TABLE]: 'ordering-table',
  [ENV.OUTCOMES_TABLE]: 'outcomes-table',
  [ENV.STATE_MACHINE_ARN]: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:drift-remediation`,
  [ENV.INTAKE_QUEUE_URL]: `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/intake`,
  [ENV.CONFIG_RULES]: 'restricted-ssh,s3-bucket-versioning-enabled',
  AWS_REGION: REGION,
};
const saved: Record<string, string | undefined> = {};

beforeAll(() => {
  for (const [k, v] of Object.entries(ENV_VARS)) {
    saved[k] = process.env[k];
    process.env[k] = v;
  }
  resetPolicyCache();
});
afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  resetPolicyCache();
  for (const m of [ddb, sfn, cc, cfn, config, sqs]) m.restore();
});
beforeEach(() => {
  for (const m of [ddb, sfn, cc, cfn, config, sqs]) m.reset();
});

describe('handlers wired to env, the shipped policy and the shared clients', () => {
  it('plan: the shipped policy maps restricted-ssh on a security group to the ingress runbook', async () => {
    ddb.on(GetCommand).resolves({});
    ddb.on(BatchGetCommand).resolves({ Responses: {} });
    ddb.on(QueryCommand).resolves({ Count: 0 });
    ddb.on(UpdateCommand).resolves({});
    cc.on(GetResourceCommand).resolves({
      ResourceDescription: { Identifier: SG_ID, Properties: '{"Tags":[]}' },
    });
    // A key the schema does not know is dropped: the state Plan leaves holds the validated event only.
    const r = await plan({ event: { ...configEvent(), approval: 'forged' } });
    expect(Object.keys(r)).toEqual(['event', 'plan']);
    expect(r.event).toEqual(configEvent());
    expect(r.plan).toMatchObject({
      decision: 'remediate',
      policyEntryId: 'sg-ingress',
      runbook: { documentName: 'DriftRemediation-RevertSecurityGroupIngress', firstParty: true },
    });
    // Both break-glass items in one BatchGetItem of the ordering table.
    const batch = ddb.commandCalls(BatchGetCommand)[0]?.args[0].input;
    expect(Object.keys(batch?.RequestItems ?? {})).toEqual(['ordering-table']);
    expect(batch?.RequestItems?.['ordering-table']?.Keys).toHaveLength(2);
    expect(ddb).toHaveReceivedCommandWith(QueryCommand, { TableName: 'outcomes-table' });
  });

  it('intake: an SQS batch with one Config event starts one execution on the configured state machine', async () => {
    ddb.on(PutCommand).resolves({});
    ddb.on(GetCommand).resolves({});
    sfn.on(StartExecutionCommand).resolves({ executionArn: 'arn:x', startDate: new Date() });
    const body = JSON.stringify({
      id: 'e-1',
      source: 'aws.config',
      'detail-type': 'Config Rules Compliance Change',
      account: ACCOUNT,
      region: REGION,
      detail: {
        configRuleName: 'restricted-ssh',
        resourceType: 'AWS::EC2::SecurityGroup',
        resourceId: SG_ID,
        awsAccountId: ACCOUNT,
        awsRegion: REGION,
        newEvaluationResult: {
          complianceType: 'NON_COMPLIANT',
          evaluationResultIdentifier: { orderingTimestamp: '2026-11-23T10:00:00.000Z' },
        },
      },
    });
    const out = await intake({ Records: [{ messageId: 'm-1', body }] });
    expect(out).toEqual({ batchItemFailures: [] });
    expect(sfn).toHaveReceivedCommandWith(StartExecutionCommand, {
      stateMachineArn: ENV_VARS[ENV.STATE_MACHINE_ARN],
    });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, { TableName: 'ordering-table' });
  });

  it('sweep: sweeps CONFIG_RULES into INTAKE_QUEUE_URL, account from the function ARN', async () => {
    config.on(GetComplianceDetailsByConfigRuleCommand).resolves({ EvaluationResults: [] });
    const r = await sweep({}, {
      invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:sweep`,
    } as Parameters<typeof sweep>[1]);
    expect(r).toEqual({ rules: 2, found: 0, sent: 0, failed: 0, missingRules: [] });
    expect(config).toHaveReceivedCommandTimes(GetComplianceDetailsByConfigRuleCommand, 2);
    expect(sqs).not.toHaveReceivedCommand(SendMessageBatchCommand);
  });

  it('detect-drift: a stack event starts stack drift detection', async () => {
    cfn.on(DetectStackDriftCommand).resolves({ StackDriftDetectionId: 'd-1' });
    cfn.on(DescribeStackResourcesCommand).resolves({ StackResources: [] });
    const r = await detectDrift({
      event: configEvent({
        configRuleName: undefined,
        source: 'cloudformation',
        complianceType: 'DRIFTED',
        resourceType: 'AWS::CloudFormation::Stack',
        resourceId: 'app-stack',
      }),
    });
    expect(r).toMatchObject({ mode: 'stack', detectionId: 'd-1' });
  });
});
