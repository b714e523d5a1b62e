/**
 * The scheduled lease reaper reclaims a slot whose holder ended without releasing it and hands it to the
 * oldest live waiter, and removes a queued waiter whose execution never ran, while it keeps the running
 * ones — end to end through the sandbox (its IAM enforcement: ListExecutions and DescribeExecution as the
 * reaper's role), on its own schedule, with nothing invoked by hand.
 *
 * One slot per runbook: A holds it (its runbook is slowed down), B queues. A is stopped while the
 * "Step Functions Execution Status Change" events are dropped, so abort-cleanup never frees A's slot: only
 * the reaper can. A dead waiter (an execution name that never ran) is planted behind B.
 */
import { StopExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import type { DriftCase } from '../../sandbox/demo/cases';
import { ADMISSION_ID, SLOT_QUEUE } from '../../tasks/shared/tables';
import {
  awaitExecutionFor,
  demoCase,
  deployCase,
  finished,
  scanAll,
  shippedPolicyWith,
  until,
  waitCompliant,
} from './support/harness';
import { sandboxPerFile } from './support/per-file';

const STATUS_EVENT = 'aws.states:Step Functions Execution Status Change';
const DEAD = 'never-ran-0000-execution';

const e = sandboxPerFile({
  timeScale: 0.01,
  policyFile: shippedPolicyWith((doc) => {
    doc.defaults.concurrency = { ...doc.defaults.concurrency, perRunbook: 1 };
  }),
});

const ssh = (): DriftCase => demoCase('ssh-open');
const queued = async () => (await scanAll(e, e.env('SLOT_QUEUE_TABLE'))).map((w) => String(w.waiter));

async function holders(): Promise<string[]> {
  const r = await e.c.ddb.send(
    new GetCommand({ TableName: e.env('LEASES_TABLE'), Key: { lockId: ADMISSION_ID }, ConsistentRead: true }),
  );
  return Object.keys((r.Item?.holders ?? {}) as object);
}

/** A queue item like `like`'s for an execution that never ran, queued after it. */
async function plantDeadWaiter(like: Record<string, unknown>): Promise<void> {
  const position = `${String(like[SLOT_QUEUE.positionKey])}~`;
  const arn = String(like.executionArn).replace(/[^:]+$/, DEAD);
  await e.c.ddb.send(
    new PutCommand({
      TableName: e.env('SLOT_QUEUE_TABLE'),
      Item: {
        ...like,
        waiter: DEAD,
        [SLOT_QUEUE.positionKey]: position,
        taskToken: 'never-issued',
        executionArn: arn,
      },
    }),
  );
}

describe('lease reaper (scheduled)', () => {
  it('frees the slot of a holder stopped without cleanup, hands it to the live waiter, removes a dead one', async () => {
    const dc = ssh();
    const ids: string[] = [];
    for (const name of ['reap-a', 'reap-b']) {
      const id = await deployCase(e, dc, { stackName: name });
      await waitCompliant(e, { ...dc, stackName: name }, id);
      ids.push(id);
    }
    const [ga, gb] = ids as [string, string];
    // A's revoke takes 1000 emulated seconds (10 s here): A holds the only slot while B queues.
    e.sb.faults.setRules({ 'ec2:RevokeSecurityGroupIngress': { latencySeconds: 1000 } });
    try {
      await dc.inject(e.c, ga);
      const xa = await awaitExecutionFor(e, ga, { resourceType: dc.resourceType });
      await until('A holding the slot', 30_000, async () =>
        (await holders()).includes(xa.name) ? true : undefined,
      );
      await dc.inject(e.c, gb);
      const xb = await awaitExecutionFor(e, gb, { resourceType: dc.resourceType });
      const itemB = await until('B queued', 30_000, async () =>
        (await scanAll(e, e.env('SLOT_QUEUE_TABLE'))).find((w) => w.waiter === xb.name),
      );
      await plantDeadWaiter(itemB);

      // A ends without Release, and abort-cleanup never hears of it.
      e.sb.faults.setRules({
        'ec2:RevokeSecurityGroupIngress': { latencySeconds: 1000 },
        [STATUS_EVENT]: { dropRate: 1 },
      });
      await e.c.sfn.send(new StopExecutionCommand({ executionArn: xa.arn, cause: 'operator stop' }));
      expect((await finished(e, xa.arn, 20_000)).status).toBe('ABORTED');
      expect(await holders()).toEqual([xa.name]); // leaked

      // The reaper (every 5 emulated minutes: 3 s here) frees it and B holds, the dead waiter is gone.
      await until('the slot handed from A to B', 30_000, async () =>
        (await holders()).join() === xb.name ? true : undefined,
      );
      await until('the dead waiter removed', 30_000, async () =>
        (await queued()).length === 0 ? true : undefined,
      );
      expect(e.sb.faults.injected.get(STATUS_EVENT) ?? 0).toBeGreaterThanOrEqual(1);

      e.sb.faults.setRules({});
      expect((await finished(e, xb.arn, 60_000)).outcome).toBe('VERIFIED');
      expect(await holders()).toEqual([]);
    } finally {
      e.sb.faults.setRules({});
    }
  }, 240_000);
});
