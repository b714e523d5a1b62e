import 'aws-sdk-client-mock-vitest/extend';
import {
  CloudFormationClient,
  DescribeStackDriftDetectionStatusCommand,
  DetectStackDriftCommand,
  DetectStackResourceDriftCommand,
} from '@aws-sdk/client-cloudformation';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { recheckDrift } from '../../../tasks/recheck-drift/core';
import { handler } from '../../../tasks/recheck-drift/handler';
import type { VerificationState } from '../../../tasks/shared/contracts';
import { InvalidInputError, TransientServiceError } from '../../../tasks/shared/errors';
import { awsError, drift, event, plan } from './fixtures/late-stages';

const NOW = new Date('2026-11-23T10:10:00.000Z');
const cloudFormation = new CloudFormationClient({ region: 'eu-west-1' });
let mock: AwsClientStub<CloudFormationClient>;
beforeAll(() => {
  mock = mockClient(CloudFormationClient);
});
beforeEach(() => mock.reset());
afterAll(() => mock.restore());

const deps = { cloudFormation, now: () => NOW };
const cfnEvent = () =>
  event({ configRuleName: undefined, source: 'cloudformation', complianceType: 'DRIFTED' });
const resourceDrift = (StackResourceDriftStatus: 'IN_SYNC' | 'MODIFIED' | 'DELETED') =>
  mock.on(DetectStackResourceDriftCommand).resolves({
    StackResourceDrift: {
      StackId: 's',
      LogicalResourceId: 'WebSecurityGroup',
      ResourceType: 'AWS::EC2::SecurityGroup',
      StackResourceDriftStatus,
      Timestamp: NOW,
    },
  });
const earlier = (over: Partial<VerificationState> = {}): VerificationState => ({
  status: 'pending',
  polls: 1,
  maxPolls: 30,
  waitSeconds: 10,
  startedAt: '2026-11-23T10:09:00.000Z',
  ...over,
});

describe('recheck-drift, resource mode', () => {
  it('with a Config rule: records the drift status, sets startedAt and hands over to re-evaluation', async () => {
    resourceDrift('IN_SYNC');
    const out = await recheckDrift({ event: event(), plan: plan(), drift: drift() }, deps);
    expect(out).toMatchObject({
      status: 'pending',
      driftStatus: 'IN_SYNC',
      polls: 0,
      maxPolls: 30,
      startedAt: NOW.toISOString(),
    });
    expect(out.reason).toMatch(/Config rule restricted-ssh/);
    expect(mock).toHaveReceivedCommandExactlyOnceWith(DetectStackResourceDriftCommand, {
      StackName: 'web-stack',
      LogicalResourceId: 'WebSecurityGroup',
    });
  });

  it('without a rule: IN_SYNC verifies', async () => {
    resourceDrift('IN_SYNC');
    const out = await recheckDrift({ event: cfnEvent(), plan: plan(), drift: drift() }, deps);
    expect(out).toMatchObject({ status: 'verified', driftStatus: 'IN_SYNC', polls: 1 });
  });

  it('without a rule: still MODIFIED → pending with a bounded wait, keeping the first startedAt', async () => {
    resourceDrift('MODIFIED');
    const out = await recheckDrift(
      { event: cfnEvent(), plan: plan(), drift: drift(), verification: earlier() },
      deps,
    );
    expect(out).toMatchObject({
      status: 'pending',
      driftStatus: 'MODIFIED',
      polls: 2,
      startedAt: '2026-11-23T10:09:00.000Z',
    });
    expect(out.waitSeconds).toBe(20);
    expect(out.waitSeconds).toBeLessThanOrEqual(plan().verification.intervalSeconds);
  });

  it('without a rule: fails once the checks are used up, naming what it saw', async () => {
    resourceDrift('MODIFIED');
    const out = await recheckDrift(
      { event: cfnEvent(), plan: plan(), drift: drift(), verification: earlier({ polls: 29 }) },
      deps,
    );
    expect(out.status).toBe('failed');
    expect(out.reason).toBe('still MODIFIED after 30 drift checks since 2026-11-23T10:09:00.000Z');
  });

  it('refuses to check without a stack or logical id (InvalidInputError, no call)', async () => {
    await expect(
      recheckDrift({ event: event(), plan: plan(), drift: drift({ logicalResourceId: undefined }) }, deps),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(
      recheckDrift(
        { event: event(), plan: plan(), drift: drift({ stackName: undefined, mode: 'stack' }) },
        { ...deps },
      ),
    ).resolves.toMatchObject({
      driftStatus: 'NOT_CHECKED',
    });
    await expect(
      recheckDrift(
        { event: cfnEvent(), plan: plan(), drift: drift({ stackName: undefined, mode: 'stack' }) },
        deps,
      ),
    ).rejects.toThrow(/drift\.stackName/);
    expect(mock).not.toHaveReceivedAnyCommand();
  });

  it('maps throttling to TransientServiceError', async () => {
    mock.on(DetectStackResourceDriftCommand).rejects(awsError('Throttling'));
    await expect(recheckDrift({ event: event(), plan: plan(), drift: drift() }, deps)).rejects.toBeInstanceOf(
      TransientServiceError,
    );
  });
});

describe('recheck-drift, stack mode (no Config rule)', () => {
  const stackDrift = () => drift({ mode: 'stack', logicalResourceId: 'AppRole' });

  it('starts a detection scoped to the logical resource and waits for it', async () => {
    mock.on(DetectStackDriftCommand).resolves({ StackDriftDetectionId: 'det-1' });
    const out = await recheckDrift({ event: cfnEvent(), plan: plan(), drift: stackDrift() }, deps);
    expect(out).toMatchObject({
      status: 'pending',
      detectionId: 'det-1',
      driftStatus: 'DETECTION_IN_PROGRESS',
      polls: 1,
    });
    expect(mock).toHaveReceivedCommandWith(DetectStackDriftCommand, {
      StackName: 'web-stack',
      LogicalResourceIds: ['AppRole'],
    });
  });

  it('polls the known detection: in progress → pending with the same id', async () => {
    mock.on(DescribeStackDriftDetectionStatusCommand).resolves({
      DetectionStatus: 'DETECTION_IN_PROGRESS',
      StackId: 's',
      StackDriftDetectionId: 'det-1',
      Timestamp: NOW,
    });
    const out = await recheckDrift(
      {
        event: cfnEvent(),
        plan: plan(),
        drift: stackDrift(),
        verification: earlier({ detectionId: 'det-1' }),
      },
      deps,
    );
    expect(out).toMatchObject({ status: 'pending', detectionId: 'det-1', polls: 2 });
    expect(mock).not.toHaveReceivedCommand(DetectStackDriftCommand);
  });

  it('complete and IN_SYNC → verified', async () => {
    mock.on(DescribeStackDriftDetectionStatusCommand).resolves({
      DetectionStatus: 'DETECTION_COMPLETE',
      StackDriftStatus: 'IN_SYNC',
      StackId: 's',
      StackDriftDetectionId: 'det-1',
      Timestamp: NOW,
    });
    const out = await recheckDrift(
      {
        event: cfnEvent(),
        plan: plan(),
        drift: stackDrift(),
        verification: earlier({ detectionId: 'det-1' }),
      },
      deps,
    );
    expect(out).toMatchObject({ status: 'verified', driftStatus: 'IN_SYNC' });
  });

  it('complete but DRIFTED → pending, and the next check starts a fresh detection', async () => {
    mock.on(DescribeStackDriftDetectionStatusCommand).resolves({
      DetectionStatus: 'DETECTION_COMPLETE',
      StackDriftStatus: 'DRIFTED',
      StackId: 's',
      StackDriftDetectionId: 'det-1',
      Timestamp: NOW,
    });
    const out = await recheckDrift(
      {
        event: cfnEvent(),
        plan: plan(),
        drift: stackDrift(),
        verification: earlier({ detectionId: 'det-1' }),
      },
      deps,
    );
    expect(out).toMatchObject({ status: 'pending', driftStatus: 'DRIFTED' });
    expect(out.detectionId).toBeUndefined();
  });
});

describe('recheck-drift, nothing to re-check', () => {
  it('mode none with a rule → NOT_APPLICABLE, handed to Config', async () => {
    const out = await recheckDrift(
      { event: event(), plan: plan(), drift: drift({ mode: 'none', inStack: false }) },
      deps,
    );
    expect(out).toMatchObject({ status: 'pending', driftStatus: 'NOT_APPLICABLE' });
    expect(mock).not.toHaveReceivedAnyCommand();
  });

  it('mode none without a rule → failed: nothing can verify it', async () => {
    const out = await recheckDrift(
      { event: cfnEvent(), plan: plan(), drift: drift({ mode: 'none', inStack: false }) },
      deps,
    );
    expect(out.status).toBe('failed');
    expect(out.reason).toMatch(/no Config rule and no CloudFormation stack/);
  });
});

describe('recheck-drift handler', () => {
  it('rejects malformed drift state with InvalidInputError and makes no call', async () => {
    await expect(
      handler({ event: event(), plan: plan(), drift: { ...drift(), mode: 'everything' } }),
    ).rejects.toThrow(/drift\.mode/);
    await expect(handler({ event: event(), plan: plan() })).rejects.toBeInstanceOf(InvalidInputError);
    expect(mock).not.toHaveReceivedAnyCommand();
  });
});
