/** Cost per execution from a history (tasks/shared/cost.ts): transitions with retries, Lambda GB-s, prices. */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { executionCost, formatUsd, PRICES, usageOf } from '../../../tasks/shared/cost';

const T0 = Date.parse('2026-12-07T10:00:00.000Z');
let id = 0;
const ev = (type: string, atMs: number, details: Partial<HistoryEvent> = {}): HistoryEvent => ({
  id: ++id,
  type: type as HistoryEvent['type'],
  timestamp: new Date(T0 + atMs),
  ...details,
});
const entered = (name: string, at: number) =>
  ev('TaskStateEntered', at, { stateEnteredEventDetails: { name, input: '{}' } });
const scheduled = (fn: string, at: number, callback = false) =>
  ev('TaskScheduled', at, {
    taskScheduledEventDetails: {
      resourceType: 'lambda',
      resource: callback ? 'invoke.waitForTaskToken' : 'invoke',
      region: 'us-east-1',
      parameters: JSON.stringify({
        FunctionName: `arn:aws:lambda:us-east-1:111111111111:function:${fn}`,
        Payload: {},
      }),
    },
  });

/** Plan, Start runbook (callback: submitted after 40 ms, waits 10 s), Plan retried once (failed after 20 ms, then 30 ms). */
const HISTORY: HistoryEvent[] = [
  ev('ExecutionStarted', 0),
  entered('Plan remediation', 0),
  scheduled('plan-fn', 0),
  ev('TaskStarted', 1),
  ev('TaskFailed', 21, {
    taskFailedEventDetails: { resourceType: 'lambda', resource: 'invoke', error: 'TransientServiceError' },
  }),
  scheduled('plan-fn', 500),
  ev('TaskStarted', 500),
  ev('TaskSucceeded', 530),
  ev('TaskStateExited', 531, { stateExitedEventDetails: { name: 'Plan remediation', output: '{}' } }),
  entered('Start runbook', 540),
  scheduled('runbook-fn', 540, true),
  ev('TaskStarted', 541),
  ev('TaskSubmitted', 581),
  ev('TaskSucceeded', 10_581),
  ev('TaskStateExited', 10_582, { stateExitedEventDetails: { name: 'Start runbook', output: '{}' } }),
  entered('Acquire slot', 10_600),
  scheduled('slot-fn', 10_600, true),
  ev('TaskStarted', 10_601),
  ev('TaskSucceeded', 12_000),
  ev('SucceedStateEntered', 12_001, { stateEnteredEventDetails: { name: 'Done', input: '{}' } }),
  ev('ExecutionSucceeded', 12_002),
];

describe('executionCost', () => {
  it('counts one transition per state entered plus one per retry', () => {
    expect(usageOf(HISTORY).transitions).toBe(4 + 1);
  });

  it('measures plain invocations to their result and callback ones to TaskSubmitted, rounded up to the ms', () => {
    const { invocations } = usageOf(HISTORY);
    expect(invocations).toEqual([
      { functionName: 'plan-fn', billedMs: 20 },
      { functionName: 'plan-fn', billedMs: 30 },
      { functionName: 'runbook-fn', billedMs: 40 },
      // No TaskSubmitted: the history does not show when the invocation returned.
      { functionName: 'slot-fn', billedMs: undefined },
    ]);
  });

  it('prices transitions, requests and GB-s at each function’s memory; estimates the unmeasured at the median', () => {
    const memory: Record<string, number> = { 'plan-fn': 512, 'runbook-fn': 1024 };
    const c = executionCost(HISTORY, (fn) => memory[fn]);
    // median of 20, 30, 40 = 30 ms for slot-fn, at the default 256 MB.
    const gbs = (512 / 1024) * 0.02 + (512 / 1024) * 0.03 + 1 * 0.04 + (256 / 1024) * 0.03;
    expect(c.lambdaInvocations).toBe(4);
    expect(c.estimatedInvocations).toBe(1);
    expect(c.lambdaBilledMs).toBe(20 + 30 + 40 + 30);
    expect(c.lambdaGbSeconds).toBeCloseTo(gbs, 6);
    expect(c.usd.transitions).toBeCloseTo((5 / 1000) * 0.025, 9);
    expect(c.usd.lambdaRequests).toBeCloseTo(4 * 0.0000002, 9);
    expect(c.usd.lambdaDuration).toBeCloseTo(gbs * 0.0000133334, 9);
    expect(c.usd.total).toBeCloseTo(c.usd.transitions + c.usd.lambdaRequests + c.usd.lambdaDuration, 9);
    expect(c.prices).toEqual({ region: PRICES.region, asOf: PRICES.asOf });
  });

  it('uses the price table it is given', () => {
    const double = { ...PRICES, transitionsPer1000: 0.05 };
    expect(executionCost(HISTORY, () => 128, { prices: double }).usd.transitions).toBeCloseTo(
      (5 / 1000) * 0.05,
      9,
    );
  });

  it('names the function from the definition when a schedule event does not (by the state it is in)', () => {
    const unnamed = HISTORY.map((e) =>
      e.taskScheduledEventDetails
        ? { ...e, taskScheduledEventDetails: { ...e.taskScheduledEventDetails, parameters: '{}' } }
        : e,
    );
    expect(usageOf(unnamed).invocations).toEqual([]);
    const byState: Record<string, string> = {
      'Plan remediation': 'plan-fn',
      'Start runbook': 'runbook-fn',
      'Acquire slot': 'slot-fn',
    };
    expect(usageOf(unnamed, 1, (s) => byState[s]).invocations).toEqual(usageOf(HISTORY).invocations);
  });

  it('scales history time to real time (the sandbox runs on an emulated clock)', () => {
    const { invocations } = usageOf(HISTORY, 0.1);
    expect(invocations.map((i) => i.billedMs)).toEqual([2, 3, 4, undefined]);
    expect(executionCost(HISTORY, () => 1024, { durationScale: 0.1 }).lambdaBilledMs).toBe(2 + 3 + 4 + 3);
  });

  it('an execution with no task costs its transitions only', () => {
    const c = executionCost(
      [ev('ExecutionStarted', 0), entered('Pass', 0), ev('ExecutionSucceeded', 1)],
      () => 256,
    );
    expect(c).toMatchObject({ transitions: 1, lambdaInvocations: 0, lambdaGbSeconds: 0 });
    expect(c.usd.total).toBeCloseTo(0.000025, 9);
    expect(formatUsd(c.usd.total)).toBe('$0.000025');
  });
});
