import 'aws-sdk-client-mock-vitest/extend';
import {
  CloudFormationClient,
  DescribeStackResourceDriftsCommand,
  type StackResourceDrift,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { beforeEach, describe, expect, it } from 'vitest';
import { canonical, describeDrift, listDifferences } from '../../../tasks/describe-drift/core';
import { handler } from '../../../tasks/describe-drift/handler';
import {
  type ConfirmationResult,
  type DriftState,
  DriftState as DriftStateSchema,
} from '../../../tasks/shared/contracts';
import { DriftDetectionFailedError, InvalidInputError } from '../../../tasks/shared/errors';
import { awsError, configEvent, driftEvent, EXECUTION, STACK_ARN } from './fixtures/core-tasks';

const cfn = mockClient(CloudFormationClient);
const deps = () => ({
  cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
  now: () => new Date(),
});

const ssh = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '0.0.0.0/0' };
const https = { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '0.0.0.0/0' };
const https2 = { CidrIp: '0.0.0.0/0', ToPort: 443, FromPort: 443, IpProtocol: 'tcp' }; // same rule, other key order

const resourceDrift = (o: Partial<DriftState> = {}): DriftState => ({
  inStack: true,
  mode: 'resource',
  stackName: 'web',
  logicalResourceId: 'WebSg',
  detectionStatus: 'DETECTION_COMPLETE',
  resourceDriftStatus: 'MODIFIED',
  polls: 0,
  maxPolls: 30,
  waitSeconds: 2,
  ...o,
});

const sgDrift = (
  status: string,
  expected: unknown,
  actual: unknown,
  extra: Partial<StackResourceDrift> = {},
): StackResourceDrift => ({
  StackId: STACK_ARN,
  LogicalResourceId: 'WebSg',
  PhysicalResourceId: 'sg-0123456789abcdef0',
  ResourceType: 'AWS::EC2::SecurityGroup',
  StackResourceDriftStatus: status as StackResourceDrift['StackResourceDriftStatus'],
  ExpectedProperties: JSON.stringify(expected),
  ActualProperties: JSON.stringify(actual),
  Timestamp: new Date('2026-11-23T10:00:00Z'),
  ...extra,
});

const stillNonCompliant: ConfirmationResult = {
  stillNonCompliant: true,
  resourceExists: true,
  currentCompliance: 'NON_COMPLIANT',
  reason: 'x',
};

beforeEach(() => cfn.reset());

describe('describe-drift: resource mode', () => {
  it('passes on a drift Detect drift already described, reading nothing; IN_SYNC yet non-compliant escalates', async () => {
    const described = resourceDrift({
      resourceDriftStatus: 'IN_SYNC',
      expected: { SecurityGroupIngress: [ssh] },
      actual: { SecurityGroupIngress: [ssh] },
      propertyDifferences: [],
      added: {},
      removed: {},
    });
    const r = await describeDrift(
      { event: configEvent(), drift: described, confirmation: stillNonCompliant },
      deps(),
    );
    expect(r).toEqual({ ...described, templateViolatesRule: true });
    expect(cfn).not.toHaveReceivedCommand(DescribeStackResourceDriftsCommand);
  });

  it('returns expected/actual, the differences and the added/removed list elements', async () => {
    cfn.on(DescribeStackResourceDriftsCommand).resolves({
      StackResourceDrifts: [
        sgDrift('IN_SYNC', {}, {}, { LogicalResourceId: 'Other' }),
        sgDrift(
          'MODIFIED',
          { GroupDescription: 'web', SecurityGroupIngress: [https] },
          { GroupDescription: 'web', SecurityGroupIngress: [https2, ssh] },
          {
            PropertyDifferences: [
              {
                PropertyPath: '/SecurityGroupIngress/1',
                ExpectedValue: 'null',
                ActualValue: JSON.stringify(ssh),
                DifferenceType: 'ADD',
              },
            ],
          },
        ),
      ],
    });
    const r = await describeDrift(
      { event: configEvent(), drift: resourceDrift(), confirmation: stillNonCompliant, execution: EXECUTION },
      deps(),
    );
    expect(v.parse(DriftStateSchema, r)).toEqual(r);
    expect(cfn).toHaveReceivedCommandWith(DescribeStackResourceDriftsCommand, { StackName: 'web' });
    expect(r).toEqual({
      ...resourceDrift(),
      resourceDriftStatus: 'MODIFIED',
      expected: { GroupDescription: 'web', SecurityGroupIngress: [https] },
      actual: { GroupDescription: 'web', SecurityGroupIngress: [https2, ssh] },
      propertyDifferences: [
        {
          PropertyPath: '/SecurityGroupIngress/1',
          ExpectedValue: 'null',
          ActualValue: JSON.stringify(ssh),
          DifferenceType: 'ADD',
        },
      ],
      added: { SecurityGroupIngress: [ssh] },
      removed: {},
      templateViolatesRule: false,
    });
  });

  it('a detached managed policy shows up in removed; the latest result for the logical id wins', async () => {
    const arnA = 'arn:aws:iam::aws:policy/ReadOnlyAccess';
    const arnB = 'arn:aws:iam::aws:policy/AdministratorAccess';
    cfn.on(DescribeStackResourceDriftsCommand).resolves({
      StackResourceDrifts: [
        sgDrift(
          'IN_SYNC',
          { ManagedPolicyArns: [arnA] },
          { ManagedPolicyArns: [arnA] },
          {
            LogicalResourceId: 'AppRole',
            Timestamp: new Date('2026-11-01T00:00:00Z'),
          },
        ),
        sgDrift(
          'MODIFIED',
          { ManagedPolicyArns: [arnA] },
          { ManagedPolicyArns: [arnB] },
          {
            LogicalResourceId: 'AppRole',
            Timestamp: new Date('2026-11-23T10:00:00Z'),
          },
        ),
      ],
    });
    const r = await describeDrift(
      { event: driftEvent(), drift: resourceDrift({ stackName: 'app-stack', logicalResourceId: 'AppRole' }) },
      deps(),
    );
    expect(r.resourceDriftStatus).toBe('MODIFIED');
    expect(r.added).toEqual({ ManagedPolicyArns: [arnB] });
    expect(r.removed).toEqual({ ManagedPolicyArns: [arnA] });
  });

  it('IN_SYNC yet still NON_COMPLIANT for a Config rule → templateViolatesRule', async () => {
    cfn.on(DescribeStackResourceDriftsCommand).resolves({
      StackResourceDrifts: [
        sgDrift('IN_SYNC', { SecurityGroupIngress: [ssh] }, { SecurityGroupIngress: [ssh] }),
      ],
    });
    const r = await describeDrift(
      { event: configEvent(), drift: resourceDrift(), confirmation: stillNonCompliant },
      deps(),
    );
    expect(r).toMatchObject({
      resourceDriftStatus: 'IN_SYNC',
      templateViolatesRule: true,
      added: {},
      removed: {},
    });
  });

  it('IN_SYNC but not for a Config rule, or no longer non-compliant → not a template violation', async () => {
    cfn
      .on(DescribeStackResourceDriftsCommand)
      .resolves({ StackResourceDrifts: [sgDrift('IN_SYNC', {}, {})] });
    expect(
      (
        await describeDrift(
          { event: driftEvent(), drift: resourceDrift(), confirmation: stillNonCompliant },
          deps(),
        )
      ).templateViolatesRule,
    ).toBe(false);
    expect(
      (
        await describeDrift(
          {
            event: configEvent(),
            drift: resourceDrift(),
            confirmation: { ...stillNonCompliant, stillNonCompliant: false },
          },
          deps(),
        )
      ).templateViolatesRule,
    ).toBe(false);
  });

  it('a DELETED resource has no actual properties: every expected list element is removed', async () => {
    cfn.on(DescribeStackResourceDriftsCommand).resolves({
      StackResourceDrifts: [
        sgDrift('DELETED', { SecurityGroupIngress: [https] }, null, { ActualProperties: undefined }),
      ],
    });
    const r = await describeDrift({ event: configEvent(), drift: resourceDrift() }, deps());
    expect(r.resourceDriftStatus).toBe('DELETED');
    expect(r.actual).toBeUndefined();
    expect(r.removed).toEqual({ SecurityGroupIngress: [https] });
  });

  it('follows NextToken; the logical id missing from the results → UNKNOWN-safe passthrough', async () => {
    cfn
      .on(DescribeStackResourceDriftsCommand)
      .resolvesOnce({
        StackResourceDrifts: [sgDrift('IN_SYNC', {}, {}, { LogicalResourceId: 'A' })],
        NextToken: 'n',
      })
      .resolvesOnce({ StackResourceDrifts: [sgDrift('IN_SYNC', {}, {}, { LogicalResourceId: 'B' })] });
    const r = await describeDrift(
      { event: configEvent(), drift: resourceDrift({ resourceDriftStatus: undefined }) },
      deps(),
    );
    expect(cfn).toHaveReceivedCommandTimes(DescribeStackResourceDriftsCommand, 2);
    expect(cfn).toHaveReceivedNthCommandWith(DescribeStackResourceDriftsCommand, 2, { NextToken: 'n' });
    expect(r.resourceDriftStatus).toBe('UNKNOWN');
    expect(r.templateViolatesRule).toBe(false);
  });
});

describe('describe-drift: stack mode', () => {
  it('combines every drifted resource with /LogicalId-prefixed paths', async () => {
    cfn.on(DescribeStackResourceDriftsCommand).resolves({
      StackResourceDrifts: [
        sgDrift(
          'MODIFIED',
          { SecurityGroupIngress: [https] },
          { SecurityGroupIngress: [https, ssh] },
          {
            PropertyDifferences: [
              {
                PropertyPath: '/SecurityGroupIngress/1',
                ExpectedValue: 'null',
                ActualValue: 'x',
                DifferenceType: 'ADD',
              },
            ],
          },
        ),
        sgDrift('IN_SYNC', { A: 1 }, { A: 1 }, { LogicalResourceId: 'Fine' }),
        sgDrift('DELETED', { BucketName: 'b' }, null, {
          LogicalResourceId: 'Data',
          ResourceType: 'AWS::S3::Bucket',
          ActualProperties: undefined,
        }),
      ],
    });
    const drift: DriftState = {
      inStack: true,
      mode: 'stack',
      stackName: 'app-stack',
      detectionId: 'det-1',
      detectionStatus: 'DETECTION_COMPLETE',
      polls: 3,
      maxPolls: 30,
      waitSeconds: 16,
    };
    const r = await describeDrift(
      { event: configEvent({ resourceType: 'AWS::CloudFormation::Stack', resourceId: 'app-stack' }), drift },
      deps(),
    );
    expect(r.resourceDriftStatus).toBe('MODIFIED');
    expect(r.propertyDifferences).toEqual([
      {
        PropertyPath: '/WebSg/SecurityGroupIngress/1',
        ExpectedValue: 'null',
        ActualValue: 'x',
        DifferenceType: 'ADD',
      },
      { PropertyPath: '/Data', ExpectedValue: 'AWS::S3::Bucket', ActualValue: '', DifferenceType: 'REMOVE' },
    ]);
    expect(r.expected).toEqual({ WebSg: { SecurityGroupIngress: [https] }, Data: { BucketName: 'b' } });
    expect(r.actual).toEqual({ WebSg: { SecurityGroupIngress: [https, ssh] } });
    expect(r.added).toEqual({ 'WebSg/SecurityGroupIngress': [ssh] });
    expect(r.templateViolatesRule).toBe(false);
    expect(r.polls).toBe(3);
  });

  it('a stack in sync everywhere → IN_SYNC', async () => {
    cfn
      .on(DescribeStackResourceDriftsCommand)
      .resolves({ StackResourceDrifts: [sgDrift('IN_SYNC', {}, {})] });
    const r = await describeDrift(
      {
        event: configEvent({ resourceType: 'AWS::CloudFormation::Stack', resourceId: 'app-stack' }),
        drift: { ...resourceDrift(), mode: 'stack', logicalResourceId: undefined, detectionId: 'd' },
        confirmation: stillNonCompliant,
      },
      deps(),
    );
    expect(r).toMatchObject({
      resourceDriftStatus: 'IN_SYNC',
      propertyDifferences: [],
      templateViolatesRule: true,
    });
  });
});

describe('describe-drift: other modes, errors and bad input', () => {
  it('mode none → nothing to describe, no call', async () => {
    const drift: DriftState = {
      inStack: false,
      mode: 'none',
      detectionStatus: 'DETECTION_COMPLETE',
      polls: 0,
      maxPolls: 30,
      waitSeconds: 2,
    };
    const r = await describeDrift({ event: configEvent(), drift, confirmation: stillNonCompliant }, deps());
    expect(r).toEqual({ ...drift, resourceDriftStatus: 'NOT_CHECKED', templateViolatesRule: false });
    expect(cfn).not.toHaveReceivedCommand(DescribeStackResourceDriftsCommand);
  });

  it('detection not complete, or a resource drift without a logical id → InvalidInputError, no call', async () => {
    await expect(
      describeDrift(
        { event: configEvent(), drift: resourceDrift({ detectionStatus: 'DETECTION_IN_PROGRESS' }) },
        deps(),
      ),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      describeDrift({ event: configEvent(), drift: resourceDrift({ logicalResourceId: undefined }) }, deps()),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(handler({ event: configEvent(), drift: { mode: 'resource' } })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    expect(cfn).not.toHaveReceivedCommand(DescribeStackResourceDriftsCommand);
  });

  it('throttling → TransientServiceError; a deleted stack → DriftDetectionFailedError', async () => {
    cfn.on(DescribeStackResourceDriftsCommand).rejects(awsError('Throttling'));
    await expect(
      describeDrift({ event: configEvent(), drift: resourceDrift() }, deps()),
    ).rejects.toMatchObject({
      name: 'TransientServiceError',
    });
    cfn
      .on(DescribeStackResourceDriftsCommand)
      .rejects(awsError('ValidationError', 'Stack with id web does not exist'));
    await expect(
      describeDrift({ event: configEvent(), drift: resourceDrift() }, deps()),
    ).rejects.toBeInstanceOf(DriftDetectionFailedError);
  });

  it('unparseable property documents are dropped, not fatal', async () => {
    cfn.on(DescribeStackResourceDriftsCommand).resolves({
      StackResourceDrifts: [
        sgDrift('MODIFIED', {}, {}, { ExpectedProperties: '{oops', ActualProperties: '[1,2]' }),
      ],
    });
    const r = await describeDrift({ event: configEvent(), drift: resourceDrift() }, deps());
    expect(r.expected).toBeUndefined();
    expect(r.actual).toBeUndefined();
    expect(r.resourceDriftStatus).toBe('MODIFIED');
  });
});

describe('list differences', () => {
  it('is a deep-equal set difference insensitive to key order', () => {
    expect(canonical({ b: 1, a: [{ d: 2, c: 1 }] })).toBe(canonical({ a: [{ c: 1, d: 2 }], b: 1 }));
    expect(listDifferences({ L: [https], S: 'x' }, { L: [https2, ssh], S: 'y', N: [1] })).toEqual({
      added: { L: [ssh], N: [1] },
      removed: {},
    });
    expect(listDifferences(undefined, undefined)).toEqual({ added: {}, removed: {} });
  });
});
