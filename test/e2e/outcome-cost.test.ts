/**
 * Cost per remediation (#15 item 5) end to end: a real VERIFIED remediation in the sandbox (the demo's
 * security group opened to SSH) leaves an outcome item whose `cost` is the execution's own history priced
 * (tasks/shared/cost.ts) as Record outcome saw it — every event before its own result, plus the final
 * transition — and whose transitions are the whole history's.
 */
import { GetExecutionHistoryCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WORKFLOW_MEMORY_MB } from '../../tasks/record-outcome/cost';
import { executionCost } from '../../tasks/shared/cost';
import { awaitExecutionFor, demoCase, deployCase, type E2E, finished, startE2E } from './support/harness';

const TIME_SCALE = 0.01;
let e: E2E;

beforeAll(async () => {
  e = await startE2E({ timeScale: TIME_SCALE });
});
afterAll(async () => {
  await e?.stop();
});

async function historyOf(executionArn: string): Promise<HistoryEvent[]> {
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await e.c.sfn.send(new GetExecutionHistoryCommand({ executionArn, nextToken }));
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

describe('the outcome record carries the execution cost', () => {
  it('a VERIFIED remediation stores a non-zero cost that matches its history', async () => {
    const dc = demoCase('ssh-open');
    const id = await deployCase(e, dc);
    await dc.inject(e.c, id);
    const run = await awaitExecutionFor(e, id, { resourceType: dc.resourceType, stackName: dc.stackName });
    expect((await finished(e, run.arn)).outcome).toBe('VERIFIED');

    const r = await e.c.ddb.send(
      new QueryCommand({
        TableName: e.env('OUTCOMES_TABLE'),
        KeyConditionExpression: 'resourceKey = :k',
        ExpressionAttributeValues: { ':k': `${e.sb.accountId}/${e.sb.region}/${dc.resourceType}/${id}` },
      }),
    );
    const item = r.Items?.find((i) => i.executionName === run.name);
    expect(item?.outcome).toBe('VERIFIED');
    const stored = item?.cost as { usd: { total: number }; transitions: number; complete: boolean };
    expect(stored.complete).toBe(true);
    expect(stored.usd.total).toBeGreaterThan(0);

    const history = await historyOf(run.arn);
    const price = (events: HistoryEvent[], pendingTransitions = 0) =>
      executionCost(events, () => WORKFLOW_MEMORY_MB, {
        durationScale: TIME_SCALE,
        pendingTransitions,
        // Every Task state invokes a function (the .waitForTaskToken ones too).
        functionOfState: (state) => state,
      });
    // What Record outcome read: everything before its own result (the last Lambda result in the history).
    const recorded = history.findLastIndex(
      (x) => x.type === 'LambdaFunctionSucceeded' || x.type === 'TaskSucceeded',
    );
    expect(recorded).toBeGreaterThan(0);
    expect(stored).toEqual({ ...price(history.slice(0, recorded), 1), complete: true });
    // The final transition was counted ahead: the whole history has exactly as many.
    const whole = price(history);
    expect(stored.transitions).toBe(whole.transitions);
    // Plan, Confirm, Detect (it describes the drift itself since 07ffebb), Acquire slot, Start runbook,
    // Re-check, Wait for compliance, Record (no Release state: the runbook's callback released the slot
    // since 477e420).
    expect(whole.lambdaInvocations).toBe(8);
  });
});
