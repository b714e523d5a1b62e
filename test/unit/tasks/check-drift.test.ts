import 'aws-sdk-client-mock-vitest/extend';
import {
  CloudFormationClient,
  DescribeStackDriftDetectionStatusCommand,
} from '@aws-sdk/client-cloudformation';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { beforeEach, describe, expect, it } from 'vitest';
import { checkDrift } from '../../../tasks/check-drift/core';
import { handler } from '../../../tasks/check-drift/handler';
import { type DriftState, DriftState as DriftStateSchema } from '../../../tasks/shared/contracts';
import {
  DriftDetectionFailedError,
  DriftDetectionTimeoutError,
  InvalidInputError,
} from '../../../tasks/shared/errors';
import { maxPollsFor, nextWaitSeconds, totalWaitSeconds } from '../../../tasks/shared/polling';
import { awsError, STACK_ARN } from './fixtures/core-tasks';

const cfn = mockClient(CloudFormationClient);
const deps = () => ({
  cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
  now: () => new Date(),
});

const stackDrift = (o: Partial<DriftState> = {}): DriftState => ({
  inStack: true,
  mode: 'stack',
  stackName: 'app-stack',
  detectionId: 'det-1',
  detectionStatus: 'DETECTION_IN_PROGRESS',
  polls: 0,
  maxPolls: 5,
  waitSeconds: 2,
  ...o,
});

const status = (DetectionStatus: string, extra = {}) => ({
  StackId: STACK_ARN,
  StackDriftDetectionId: 'det-1',
  DetectionStatus: DetectionStatus as 'DETECTION_COMPLETE',
  Timestamp: new Date(),
  ...extra,
});

beforeEach(() => cfn.reset());

describe('check-drift', () => {
  it('in progress → polls + 1 and a wait of 10 % of the time elapsed (at least 1 s): lag ≤ 10 %', async () => {
    cfn.on(DescribeStackDriftDetectionStatusCommand).resolves(status('DETECTION_IN_PROGRESS'));
    const started = new Date('2026-11-23T10:00:00.000Z');
    const atSecond = (s: number) => ({ ...deps(), now: () => new Date(started.getTime() + s * 1000) });
    const drift = stackDrift({ detectionStartedAt: started.toISOString() });
    const one = await checkDrift({ drift }, atSecond(4));
    expect(v.parse(DriftStateSchema, one)).toEqual(one);
    expect(one).toMatchObject({ detectionStatus: 'DETECTION_IN_PROGRESS', polls: 1, waitSeconds: 1 });
    const two = await checkDrift({ drift: one }, atSecond(45));
    expect(two).toMatchObject({ polls: 2, waitSeconds: 4 });
    expect((await checkDrift({ drift: two }, atSecond(300))).waitSeconds).toBe(30);
    expect(cfn).toHaveReceivedCommandWith(DescribeStackDriftDetectionStatusCommand, {
      StackDriftDetectionId: 'det-1',
    });
  });

  it('complete → DETECTION_COMPLETE with everything else kept', async () => {
    cfn
      .on(DescribeStackDriftDetectionStatusCommand)
      .resolves(status('DETECTION_COMPLETE', { StackDriftStatus: 'DRIFTED' }));
    const r = await checkDrift({ drift: stackDrift({ polls: 3 }) }, deps());
    expect(r).toEqual(stackDrift({ polls: 4, detectionStatus: 'DETECTION_COMPLETE' }));
  });

  it('complete on the last allowed poll is still complete, not a timeout', async () => {
    cfn.on(DescribeStackDriftDetectionStatusCommand).resolves(status('DETECTION_COMPLETE'));
    expect((await checkDrift({ drift: stackDrift({ polls: 4, maxPolls: 5 }) }, deps())).detectionStatus).toBe(
      'DETECTION_COMPLETE',
    );
  });

  it('still in progress when the budget is spent → DriftDetectionTimeoutError', async () => {
    cfn.on(DescribeStackDriftDetectionStatusCommand).resolves(status('DETECTION_IN_PROGRESS'));
    const err = await checkDrift({ drift: stackDrift({ polls: 4, maxPolls: 5 }) }, deps()).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DriftDetectionTimeoutError);
    expect((err as Error).name).toBe('DriftDetectionTimeoutError');
    expect((err as Error).message).toMatch(/after 5 polls \(max 5\)/);
  });

  it('DETECTION_FAILED → DriftDetectionFailedError carrying the reason', async () => {
    cfn
      .on(DescribeStackDriftDetectionStatusCommand)
      .resolves(
        status('DETECTION_FAILED', { DetectionStatusReason: 'Failed to detect drift on resource [Fn]' }),
      );
    const err = await checkDrift({ drift: stackDrift() }, deps()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriftDetectionFailedError);
    expect(err).toMatchObject({
      name: 'DriftDetectionFailedError',
      retryable: false,
      message: 'drift detection det-1 failed: Failed to detect drift on resource [Fn]',
    });
  });

  it('throttling → TransientServiceError; an unknown detection id → DriftDetectionFailedError', async () => {
    cfn.on(DescribeStackDriftDetectionStatusCommand).rejects(awsError('Throttling'));
    await expect(checkDrift({ drift: stackDrift() }, deps())).rejects.toMatchObject({
      name: 'TransientServiceError',
    });
    cfn
      .on(DescribeStackDriftDetectionStatusCommand)
      .rejects(awsError('ValidationError', 'Drift detection id det-1 not found'));
    await expect(checkDrift({ drift: stackDrift() }, deps())).rejects.toBeInstanceOf(
      DriftDetectionFailedError,
    );
  });

  it('not a stack-mode detection → InvalidInputError, no call', async () => {
    await expect(checkDrift({ drift: stackDrift({ mode: 'resource' }) }, deps())).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    await expect(
      checkDrift({ drift: stackDrift({ detectionId: undefined }) }, deps()),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(handler({ drift: { mode: 'stack' } })).rejects.toBeInstanceOf(InvalidInputError);
    expect(cfn).not.toHaveReceivedCommand(DescribeStackDriftDetectionStatusCommand);
  });
});

describe('adaptive polling helper', () => {
  it('grows 2, 4, 8, 16, then stays at the 30 s cap', () => {
    expect([0, 1, 2, 3, 4, 5, 50, 5000].map((p) => nextWaitSeconds(p))).toEqual([
      2, 4, 8, 16, 30, 30, 30, 30,
    ]);
  });
  it('honours custom bounds and never returns less than 1 s', () => {
    expect(
      [0, 1, 2].map((p) => nextWaitSeconds(p, { initialSeconds: 5, factor: 3, maxSeconds: 40 })),
    ).toEqual([5, 15, 40]);
    expect(nextWaitSeconds(0, { initialSeconds: 0 })).toBe(1);
  });
  it('sizes poll budgets: ceil(timeout / interval), capped', () => {
    expect(maxPollsFor(900, 30)).toBe(30);
    expect(maxPollsFor(901, 30)).toBe(31);
    expect(maxPollsFor(86_400, 1)).toBe(200);
    expect(maxPollsFor(10, 60)).toBe(1);
    expect(totalWaitSeconds(6)).toBe(2 + 4 + 8 + 16 + 30 + 30);
  });
});
