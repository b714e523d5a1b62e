/**
 * Every event ends in a recorded outcome, even the ones that start nothing: an out-of-order (older)
 * Config result, an event naming an invalid resource id and a message that is not an event at all each
 * leave an item in the outcomes table (read with DynamoDB Scan) and start no execution. A COMPLIANT result
 * is recorded on the ordering mark it moves (ordering table), not as an outcomes item.
 */
import { describe, expect, it } from 'vitest';
import { orderingKey } from '../../tasks/shared/tables';
import {
  complianceChangeEvent,
  executions,
  intakeDrained,
  scanAll,
  sendToIntake,
  until,
} from './support/harness';
import { sandboxPerFile } from './support/per-file';

const e = sandboxPerFile({ timeScale: 0.01 });

type Item = Record<string, unknown>;

async function outcomesWhere(match: (i: Item) => boolean): Promise<Item[]> {
  return (await scanAll(e, e.env('OUTCOMES_TABLE'))).filter(match);
}

describe('every event ends in a recorded outcome', () => {
  it('an older NON_COMPLIANT result after a newer one is recorded as out of order and starts nothing', async () => {
    const groupId = 'sg-0e2e0000000000a01';
    const base = {
      rule: 'restricted-ssh',
      resourceType: 'AWS::EC2::SecurityGroup',
      resourceId: groupId,
      account: e.sb.accountId,
      region: e.sb.region,
    };
    const newer = new Date(Date.now() - 60_000).toISOString();
    const older = new Date(Date.now() - 3_600_000).toISOString();
    const key = `${e.sb.accountId}/${e.sb.region}/AWS::EC2::SecurityGroup/${groupId}`;

    // Config's newer result (COMPLIANT) arrives first …
    await sendToIntake(
      e,
      JSON.stringify(complianceChangeEvent({ ...base, complianceType: 'COMPLIANT', at: newer })),
    );
    const mark = await until('the COMPLIANT result to be recorded on the ordering mark', 15_000, async () =>
      (await scanAll(e, e.env('ORDERING_TABLE'))).find((i) => i.key === orderingKey(base.rule, key)),
    );
    expect(mark).toMatchObject({ lastResult: 'COMPLIANT', lastOrderingTimestamp: newer });
    expect(mark.executionName).toBeUndefined();
    expect(await outcomesWhere((i) => i.resourceKey === key)).toEqual([]);

    // … then an older NON_COMPLIANT one, delivered late.
    await sendToIntake(
      e,
      JSON.stringify(complianceChangeEvent({ ...base, complianceType: 'NON_COMPLIANT', at: older })),
    );
    const items = await until('the late result to be recorded', 15_000, async () => {
      const all = await outcomesWhere((i) => i.resourceKey === key);
      return all.length >= 1 ? all : undefined;
    });
    const late = items.find((i) => String(i.reason).includes('out of order'));
    expect(late).toMatchObject({ outcome: 'SKIPPED', ruleName: 'restricted-ssh', remediated: false });
    await intakeDrained(e);
    expect((await executions(e)).filter((x) => x.resourceId === groupId)).toEqual([]);
  }, 60_000);

  it('an invalid resource id and a non-event message are recorded as invalid and start nothing', async () => {
    const badId = 'not-a-group;DROP TABLE';
    const eventId = 'e2e-invalid-resource-id-0001';
    await sendToIntake(
      e,
      JSON.stringify(
        complianceChangeEvent({
          id: eventId,
          rule: 'restricted-ssh',
          resourceType: 'AWS::EC2::SecurityGroup',
          resourceId: badId,
          complianceType: 'NON_COMPLIANT',
          at: new Date().toISOString(),
          account: e.sb.accountId,
          region: e.sb.region,
        }),
      ),
    );
    await sendToIntake(e, 'this is not an EventBridge event');

    const invalid = await until('both invalid events to be recorded', 15_000, async () => {
      const all = await outcomesWhere((i) => i.resourceKey === 'intake#invalid');
      return all.length >= 2 ? all : undefined;
    });
    const byId = invalid.find((i) => i.executionName === `intake-${eventId}`);
    expect(byId).toMatchObject({ outcome: 'SKIPPED', remediated: false, ruleName: 'restricted-ssh' });
    expect(String(byId?.reason)).toMatch(
      /invalid event: resource id is not a valid AWS::EC2::SecurityGroup id/,
    );
    const notJson = invalid.find((i) => String(i.reason).includes('not JSON'));
    expect(notJson).toMatchObject({ outcome: 'SKIPPED', remediated: false });

    await intakeDrained(e);
    expect(await executions(e)).toEqual([]);
  }, 60_000);
});
