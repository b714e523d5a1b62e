import 'aws-sdk-client-mock-vitest/extend';
import {
  CloudFormationClient,
  DescribeStackResourcesCommand,
  DetectStackDriftCommand,
  DetectStackResourceDriftCommand,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { beforeEach, describe, expect, it } from 'vitest';
import { detectDrift, driftFirstWaitSeconds, driftMaxPolls } from '../../../tasks/detect-drift/core';
import { handler } from '../../../tasks/detect-drift/handler';
import { DriftState } from '../../../tasks/shared/contracts';
import {
  DriftDetectionFailedError,
  InvalidInputError,
  InvalidResourceIdError,
} from '../../../tasks/shared/errors';
import { awsError, configEvent, driftEvent, EXECUTION, SG_ID, STACK_ARN } from './fixtures/core-tasks';

const cfn = mockClient(CloudFormationClient);
const T0 = new Date('2026-11-23T10:00:00.000Z');
const deps = () => ({
  cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
  now: () => T0,
});

const stackEvent = (o = {}) =>
  configEvent({
    configRuleName: 'cloudformation-stack-drift-detection-check',
    resourceType: 'AWS::CloudFormation::Stack',
    resourceId: 'app-stack',
    ...o,
  });

beforeEach(() => {
  cfn.reset();
  cfn.on(DetectStackDriftCommand).resolves({ StackDriftDetectionId: 'det-1' });
  // Stack mode counts what it detects: 8 resources → first wait 1 + 0.25 × 8 = 3 s.
  cfn.on(DescribeStackResourcesCommand).resolves({
    StackResources: Array.from({ length: 8 }, (_, i) => ({
      LogicalResourceId: `R${i}`,
      ResourceType: 'AWS::EC2::SecurityGroup',
      ResourceStatus: 'CREATE_COMPLETE',
      Timestamp: new Date(),
    })),
  });
  cfn.on(DetectStackResourceDriftCommand).resolves({
    StackResourceDrift: {
      StackId: STACK_ARN,
      LogicalResourceId: 'WebSg',
      ResourceType: 'AWS::EC2::SecurityGroup',
      StackResourceDriftStatus: 'MODIFIED',
      Timestamp: new Date(),
    },
  });
});

describe('detect-drift: stack mode', () => {
  it('starts asynchronous stack drift detection with a first wait sized by the resources detected', async () => {
    const r = await detectDrift({ event: stackEvent(), execution: EXECUTION }, deps());
    expect(v.parse(DriftState, r)).toEqual(r);
    expect(driftFirstWaitSeconds(8)).toBe(3);
    expect(r).toEqual({
      inStack: true,
      mode: 'stack',
      stackName: 'app-stack',
      detectionId: 'det-1',
      detectionStatus: 'DETECTION_IN_PROGRESS',
      detectionStartedAt: T0.toISOString(),
      polls: 0,
      maxPolls: driftMaxPolls(3),
      waitSeconds: 3,
    });
    expect(cfn).toHaveReceivedCommandWith(DetectStackDriftCommand, { StackName: 'app-stack' });
    expect(cfn).not.toHaveReceivedCommand(DetectStackResourceDriftCommand);
  });

  it('prefers the stack id when the event carries one', async () => {
    await detectDrift({ event: stackEvent({ stackId: STACK_ARN, stackName: 'app-stack' }) }, deps());
    expect(cfn).toHaveReceivedCommandWith(DetectStackDriftCommand, { StackName: STACK_ARN });
  });

  it('CloudFormation refusing detection (stack busy) → DriftDetectionFailedError; throttling → TransientServiceError', async () => {
    cfn
      .on(DetectStackDriftCommand)
      .rejects(awsError('ValidationError', 'Stack app-stack is in UPDATE_IN_PROGRESS state'));
    await expect(detectDrift({ event: stackEvent() }, deps())).rejects.toBeInstanceOf(
      DriftDetectionFailedError,
    );
    cfn.on(DetectStackDriftCommand).rejects(awsError('Throttling', 'Rate exceeded'));
    await expect(detectDrift({ event: stackEvent() }, deps())).rejects.toMatchObject({
      name: 'TransientServiceError',
    });
  });
});

describe('detect-drift: resource mode', () => {
  it('uses the stack and logical id from a CloudFormation event (no lookup), synchronously, and describes the result', async () => {
    const expected = { RoleName: 'app', ManagedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] };
    const actual = { RoleName: 'app', ManagedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] };
    const difference = {
      PropertyPath: '/ManagedPolicyArns/0',
      ExpectedValue: 'arn:aws:iam::aws:policy/ReadOnlyAccess',
      ActualValue: 'arn:aws:iam::aws:policy/AdministratorAccess',
      DifferenceType: 'NOT_EQUAL' as const,
    };
    cfn.on(DetectStackResourceDriftCommand).resolves({
      StackResourceDrift: {
        StackId: STACK_ARN,
        LogicalResourceId: 'AppRole',
        ResourceType: 'AWS::IAM::Role',
        StackResourceDriftStatus: 'MODIFIED',
        ExpectedProperties: JSON.stringify(expected),
        ActualProperties: JSON.stringify(actual),
        PropertyDifferences: [difference],
        Timestamp: new Date(),
      },
    });
    const r = await detectDrift({ event: driftEvent() }, deps());
    expect(r).toEqual({
      inStack: true,
      mode: 'resource',
      stackName: 'app-stack',
      logicalResourceId: 'AppRole',
      detectionStatus: 'DETECTION_COMPLETE',
      resourceDriftStatus: 'MODIFIED',
      polls: 0,
      maxPolls: 1,
      waitSeconds: 1,
      expected,
      actual,
      propertyDifferences: [difference],
      added: { ManagedPolicyArns: ['arn:aws:iam::aws:policy/AdministratorAccess'] },
      removed: { ManagedPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'] },
      templateViolatesRule: false,
    });
    expect(cfn).not.toHaveReceivedCommand(DescribeStackResourcesCommand);
    expect(cfn).toHaveReceivedCommandWith(DetectStackResourceDriftCommand, {
      StackName: 'app-stack',
      LogicalResourceId: 'AppRole',
    });
  });

  it('finds the stack of a Config-reported resource by its physical id', async () => {
    cfn.on(DescribeStackResourcesCommand).resolves({
      StackResources: [
        {
          StackName: 'web',
          LogicalResourceId: 'Other',
          PhysicalResourceId: 'sg-0aaaaaaaaaaaaaaaa',
          ResourceType: 'AWS::EC2::SecurityGroup',
          ResourceStatus: 'CREATE_COMPLETE',
          Timestamp: new Date(),
        },
        {
          StackName: 'web',
          LogicalResourceId: 'WebSg',
          PhysicalResourceId: SG_ID,
          ResourceType: 'AWS::EC2::SecurityGroup',
          ResourceStatus: 'CREATE_COMPLETE',
          Timestamp: new Date(),
        },
      ],
    });
    const r = await detectDrift({ event: configEvent() }, deps());
    expect(cfn).toHaveReceivedCommandWith(DescribeStackResourcesCommand, { PhysicalResourceId: SG_ID });
    expect(r).toMatchObject({
      mode: 'resource',
      inStack: true,
      stackName: 'web',
      logicalResourceId: 'WebSg',
      resourceDriftStatus: 'MODIFIED',
    });
    expect(cfn).toHaveReceivedCommandWith(DetectStackResourceDriftCommand, {
      StackName: 'web',
      LogicalResourceId: 'WebSg',
    });
  });

  it('a resource outside any stack → mode none, inStack false, no detection', async () => {
    cfn
      .on(DescribeStackResourcesCommand)
      .rejects(awsError('ValidationError', `Stack for ${SG_ID} does not exist`));
    const r = await detectDrift({ event: configEvent() }, deps());
    expect(r).toEqual({
      inStack: false,
      mode: 'none',
      detectionStatus: 'DETECTION_COMPLETE',
      resourceDriftStatus: 'NOT_CHECKED',
      polls: 0,
      maxPolls: 1,
      waitSeconds: 1,
    });
    expect(cfn).not.toHaveReceivedCommand(DetectStackResourceDriftCommand);
  });

  it('a type CloudFormation cannot drift-check → DriftDetectionFailedError', async () => {
    cfn
      .on(DetectStackResourceDriftCommand)
      .rejects(awsError('ValidationError', 'Drift detection is not supported for this resource type'));
    const err = await detectDrift({ event: driftEvent() }, deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriftDetectionFailedError);
    expect((err as Error).name).toBe('DriftDetectionFailedError');
  });

  it('access denied on the stack lookup is rethrown unchanged (not retried)', async () => {
    cfn.on(DescribeStackResourcesCommand).rejects(awsError('AccessDenied', 'no'));
    await expect(detectDrift({ event: configEvent() }, deps())).rejects.toMatchObject({
      name: 'AccessDenied',
    });
  });
});

describe('detect-drift: bad input', () => {
  it('invalid resource id → InvalidResourceIdError, detection never started', async () => {
    await expect(
      detectDrift({ event: stackEvent({ resourceId: 'app stack; rm' }) }, deps()),
    ).rejects.toBeInstanceOf(InvalidResourceIdError);
    expect(cfn).not.toHaveReceivedCommand(DetectStackDriftCommand);
    expect(cfn).not.toHaveReceivedCommand(DetectStackResourceDriftCommand);
  });

  it('handler: malformed event → InvalidInputError, detection never started', async () => {
    await expect(handler({ event: { ...configEvent(), resourceType: 'EC2 group' } })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    expect(cfn).not.toHaveReceivedCommand(DetectStackDriftCommand);
    expect(cfn).not.toHaveReceivedCommand(DetectStackResourceDriftCommand);
  });
});
