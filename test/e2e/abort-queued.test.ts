/**
 * An execution stopped while it waits in the slot queue leaves no waiter behind: with one slot per runbook,
 * A holds it (its runbook is slowed down), B and then C queue for it; B is stopped (StopExecution). Its
 * ABORTED status-change event reaches abort-cleanup, which removes B's queue item; when A releases, the slot
 * goes to C (B's place is not handed a slot), C ends VERIFIED, and nothing is left queued or held —
 * end to end through the sandbox with real SDK clients.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StopExecutionCommand } from '@aws-sdk/client-sfn';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { DriftCase } from '../../sandbox/demo/cases';
import { ADMISSION_ID, SLOT_QUEUE } from '../../tasks/shared/tables';
import {
  automationsFor,
  awaitExecutionFor,
  demoCase,
  deployCase,
  type ExecutionInfo,
  finished,
  scanAll,
  until,
  waitCompliant,
} from './support/harness';
import { sandboxPerFile } from './support/per-file';

/** The shipped policy with one slot per runbook. */
function oneSlotPolicy(): string {
  const doc = parse(readFileSync('runbooks/policy.yaml', 'utf8')) as {
    defaults: Record<string, Record<string, unknown>>;
  };
  doc.defaults.concurrency = { ...doc.defaults.concurrency, perRunbook: 1 };
  const file = join(mkdtempSync(join(tmpdir(), 'drift-abort-queued-')), 'policy.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

const e = sandboxPerFile({ timeScale: 0.01, policyFile: oneSlotPolicy() });

const ssh = (): DriftCase => demoCase('ssh-open');

const queued = async () => scanAll(e, e.env('SLOT_QUEUE_TABLE'));

async function holders(): Promise<string[]> {
  const r = await e.c.ddb.send(
    new GetCommand({ TableName: e.env('LEASES_TABLE'), Key: { lockId: ADMISSION_ID }, ConsistentRead: true }),
  );
  return Object.keys((r.Item?.holders ?? {}) as object);
}

/** Drifts `groupId` and returns its execution once that execution is parked in the slot queue. */
async function driftAndQueue(dc: DriftCase, groupId: string): Promise<ExecutionInfo> {
  await dc.inject(e.c, groupId);
  const x = await awaitExecutionFor(e, groupId, { resourceType: dc.resourceType });
  await until(`${x.name} queued for a slot`, 30_000, async () =>
    (await queued()).some((w) => w.waiter === x.name) ? true : undefined,
  );
  return x;
}

describe('abort while queued', () => {
  it('StopExecution of a queued execution removes its waiter; the next waiter gets the slot; nothing is stuck', async () => {
    const dc = ssh();
    const ids: string[] = [];
    for (const name of ['queued-a', 'queued-b', 'queued-c']) {
      const id = await deployCase(e, dc, { stackName: name });
      await waitCompliant(e, { ...dc, stackName: name }, id);
      ids.push(id);
    }
    const [a, b, c] = ids as [string, string, string];
    // A's revoke takes 1000 emulated seconds (10 s here): A holds the only slot while B and C queue.
    e.sb.faults.setRules({ 'ec2:RevokeSecurityGroupIngress': { latencySeconds: 1000 } });
    try {
      await dc.inject(e.c, a);
      const xa = await awaitExecutionFor(e, a, { resourceType: dc.resourceType });
      await until('A holding the slot', 30_000, async () =>
        (await holders()).includes(xa.name) ? true : undefined,
      );
      const xb = await driftAndQueue(dc, b);
      const xc = await driftAndQueue(dc, c);
      // B queued first: without the cleanup, A's release would hand B the slot.
      const waiting = await queued();
      const position = (name: string) =>
        String(waiting.find((w) => w.waiter === name)?.[SLOT_QUEUE.positionKey] ?? '');
      expect(position(xb.name) < position(xc.name)).toBe(true);

      await e.c.sfn.send(new StopExecutionCommand({ executionArn: xb.arn, cause: 'operator stop' }));
      expect((await finished(e, xb.arn, 20_000)).status).toBe('ABORTED');
      await until("B's waiter removed", 20_000, async () =>
        (await queued()).some((w) => w.waiter === xb.name) ? undefined : true,
      );
      e.sb.faults.setRules({});

      expect((await finished(e, xa.arn, 60_000)).outcome).toBe('VERIFIED');
      const rc = await finished(e, xc.arn, 60_000);
      expect(rc.outcome).toBe('VERIFIED');
      // B never got a slot: no automation ran for it; C's did.
      expect(await automationsFor(e, b)).toEqual([]);
      expect((await automationsFor(e, c)).map((x) => x.AutomationExecutionStatus)).toEqual(['Success']);
      expect(await queued()).toEqual([]);
      expect(await holders()).toEqual([]);
    } finally {
      e.sb.faults.setRules({});
    }
  }, 240_000);
});
