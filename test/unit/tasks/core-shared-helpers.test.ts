import 'aws-sdk-client-mock-vitest/extend';
import { CloudControlClient, GetResourceCommand } from '@aws-sdk/client-cloudcontrol';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { bundledPolicyFor } from '../../../infra/bundled-policy';
import { PolicyError } from '../../../tasks/shared/errors';
import { canonicalTimestamp, executionName, ruleOrSource } from '../../../tasks/shared/execution-name';
import { OUTCOME_RETENTION_DAYS, outcomeItem, putOutcome } from '../../../tasks/shared/outcomes';
import { policyFromEnv, resetPolicyCache } from '../../../tasks/shared/policy-env';
import { lookupResource, tagsOf } from '../../../tasks/shared/resource-lookup';
import { awsError, SG_ID } from './fixtures/core-tasks';

const ddbDoc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'eu-west-1' }));
const ddb = mockClient(ddbDoc);
const cc = mockClient(CloudControlClient);
const cfn = mockClient(CloudFormationClient);
const lookupDeps = () => ({
  cloudControl: new CloudControlClient({ region: 'eu-west-1' }),
  cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
});

beforeEach(() => {
  ddb.reset();
  cc.reset();
  cfn.reset();
});

describe('outcome items (tables.ts OUTCOMES layout)', () => {
  it('has resourceKey, sk = recordedAt#executionName, the loop-breaker flag and a TTL', () => {
    const item = outcomeItem({
      resourceKey: 'k',
      executionName: 'exec-1',
      outcome: 'VERIFIED',
      reason: 'ok',
      recordedAt: '2026-11-23T12:00:00.000Z',
      remediated: true,
      attempts: 2,
      runbook: 'DriftRemediation-X',
      extra: { resourceKey: 'must not override', eventId: 'e' },
    });
    expect(item).toEqual({
      resourceKey: 'k',
      sk: '2026-11-23T12:00:00.000Z#exec-1',
      executionName: 'exec-1',
      outcome: 'VERIFIED',
      reason: 'ok',
      recordedAt: '2026-11-23T12:00:00.000Z',
      attempts: 2,
      remediated: true,
      runbook: 'DriftRemediation-X',
      eventId: 'e',
      auditDay: '2026-11-23',
      expiresAt: Date.parse('2026-11-23T12:00:00.000Z') / 1000 + OUTCOME_RETENTION_DAYS * 86_400,
    });
  });

  it('fills the audit indexes: day, and the account, region and id of an account/region/type/id resource key', () => {
    const item = outcomeItem({
      resourceKey:
        '123456789012/eu-west-1/AWS::CloudFormation::Stack/arn:aws:cloudformation:eu-west-1:123456789012:stack/app/1',
      executionName: 'n',
      outcome: 'FAILED',
      reason: 'r',
      recordedAt: '2026-11-23T23:59:59.999Z',
    });
    expect(item).toMatchObject({
      auditDay: '2026-11-23',
      accountId: '123456789012',
      region: 'eu-west-1',
      resourceId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/app/1',
    });
  });

  it('defaults remediated to false and caps the reason', () => {
    const item = outcomeItem({
      resourceKey: 'k',
      executionName: 'n',
      outcome: 'SKIPPED',
      reason: 'x'.repeat(5000),
      recordedAt: '2026-11-23T12:00:00.000Z',
    });
    expect(item.remediated).toBe(false);
    expect(String(item.reason)).toHaveLength(2000);
  });

  it('putOutcome writes the item; throttling → TransientServiceError', async () => {
    ddb.on(PutCommand).resolves({});
    await putOutcome(ddbDoc, 'outcomes', {
      resourceKey: 'k',
      executionName: 'n',
      outcome: 'SKIPPED',
      reason: 'r',
      recordedAt: '2026-11-23T12:00:00.000Z',
    });
    expect(ddb).toHaveReceivedCommandWith(PutCommand, {
      TableName: 'outcomes',
      Item: expect.objectContaining({ sk: '2026-11-23T12:00:00.000Z#n' }),
    });
    ddb.on(PutCommand).rejects(awsError('ProvisionedThroughputExceededException'));
    await expect(
      putOutcome(ddbDoc, 'outcomes', {
        resourceKey: 'k',
        executionName: 'n',
        outcome: 'SKIPPED',
        reason: 'r',
        recordedAt: 'x',
      }),
    ).rejects.toMatchObject({ name: 'TransientServiceError' });
  });
});

describe('resource lookup', () => {
  it('reads tags in list and map form', () => {
    expect(tagsOf({ Tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: 2 }, { Value: 'no key' }] })).toEqual(
      { a: '1', b: '2' },
    );
    expect(tagsOf({ Tags: { a: '1' } })).toEqual({ a: '1' });
    expect(tagsOf(null)).toEqual({});
  });

  it('Cloud Control for resources, DescribeStacks for stacks; DELETE_COMPLETE counts as gone', async () => {
    cc.on(GetResourceCommand).resolves({
      ResourceDescription: { Identifier: SG_ID, Properties: '{"Tags":[{"Key":"team","Value":"web"}]}' },
    });
    expect(await lookupResource(lookupDeps(), 'AWS::EC2::SecurityGroup', SG_ID)).toEqual({
      exists: true,
      tags: { team: 'web' },
    });
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 's',
          StackStatus: 'DELETE_COMPLETE',
          CreationTime: new Date(),
          Tags: [{ Key: 'a', Value: 'b' }],
        },
      ],
    });
    expect(await lookupResource(lookupDeps(), 'AWS::CloudFormation::Stack', 's')).toEqual({
      exists: false,
      tags: {},
    });
    cfn.on(DescribeStacksCommand).resolves({
      Stacks: [
        {
          StackName: 's',
          StackStatus: 'CREATE_COMPLETE',
          CreationTime: new Date(),
          Tags: [{ Key: 'a', Value: 'b' }],
        },
      ],
    });
    expect(await lookupResource(lookupDeps(), 'AWS::CloudFormation::Stack', 's')).toEqual({
      exists: true,
      tags: { a: 'b' },
    });
  });
});

describe('execution-name helpers', () => {
  it('canonicalizes timestamps and rejects non-timestamps', () => {
    expect(canonicalTimestamp('2026-11-23T10:00:00+01:00')).toBe('2026-11-23T09:00:00.000Z');
    expect(() => canonicalTimestamp('soon')).toThrow(RangeError);
  });
  it("uses 'cloudformation' for events without a rule", () => {
    expect(ruleOrSource({ configRuleName: undefined })).toBe('cloudformation');
    expect(
      executionName({
        awsAccountId: '111111111111',
        awsRegion: 'us-east-1',
        resourceType: 'AWS::IAM::Role',
        resourceId: 'r',
        orderingTimestamp: '2026-11-23T10:00:00Z',
      }),
    ).toMatch(/^cloudformation-Role-111111111111-use1-[0-9a-f]{26}$/);
  });
});

describe('policy from env', () => {
  it('loads POLICY_FILE once per path and names a missing variable', () => {
    resetPolicyCache();
    const env = { POLICY_FILE: bundledPolicyFor('runbooks/policy.yaml') };
    const a = policyFromEnv(env);
    expect(a.entries.map((e) => e.id)).toContain('sg-ingress');
    expect(policyFromEnv(env)).toBe(a);
    expect(() => policyFromEnv({})).toThrow(/POLICY_FILE is not set/);
    expect(() => policyFromEnv({ POLICY_FILE: 'runbooks/no-such-policy.json' })).toThrow(PolicyError);
    resetPolicyCache();
    expect(policyFromEnv(env)).not.toBe(a);
  });

  it('reads JSON only (the bundled policy.json), naming the file when given YAML', () => {
    resetPolicyCache();
    expect(() => policyFromEnv({ POLICY_FILE: 'runbooks/policy.yaml' })).toThrow(
      /runbooks\/policy\.yaml: not valid JSON/,
    );
  });
});
