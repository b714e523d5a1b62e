/**
 * The fleet view: outcomes per day (outcomes table), cost per day (the listed executions' histories),
 * slot usage and queue depth (leases admission item, slot queue table), the resources that flap most
 * (remediated outcomes per resource) and the escalations waiting for a human (ESCALATED outcomes of the
 * period and executions waiting at Request approval). Scans are bounded (FLEET_SCAN_LIMIT items).
 */
import { GetCommand, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { ADMISSION_ID, GLOBAL_SCOPE } from '../../tasks/shared/tables';
import { STATES } from '../../workflows/state-names';
import type { ConsoleData, ConsoleDeps } from './data';

export const FLEET_SCAN_LIMIT = 2000;

export interface FleetView {
  days: Array<{ day: string; outcomes: Record<string, number>; costUsd: number; executions: number }>;
  slots: { inUse: number; holders: string[]; byScope: Record<string, number>; queueDepth: number };
  flapping: Array<{ resourceKey: string; remediations: number }>;
  escalations: Array<{
    resourceKey: string;
    reason: string;
    recordedAt: string;
    executionName?: string | undefined;
  }>;
  awaitingApproval: Array<{ name: string; resourceId?: string | undefined; since: string }>;
}

interface OutcomeItem {
  resourceKey?: string;
  outcome?: string;
  recordedAt?: string;
  remediated?: boolean;
  reason?: string;
  executionName?: string;
}

async function scanOutcomes(deps: ConsoleDeps, table: string | undefined): Promise<OutcomeItem[]> {
  if (!table) return [];
  const items: OutcomeItem[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const r = await deps.ddb.send(
      new ScanCommand({
        TableName: table,
        ProjectionExpression: 'resourceKey, outcome, recordedAt, remediated, reason, executionName',
        ExclusiveStartKey: start,
      }),
    );
    items.push(...((r.Items ?? []) as OutcomeItem[]));
    start = r.LastEvaluatedKey;
  } while (start && items.length < FLEET_SCAN_LIMIT);
  return items;
}

async function slotsOf(deps: ConsoleDeps, leases?: string, queue?: string): Promise<FleetView['slots']> {
  const byScope: Record<string, number> = {};
  let holders: string[] = [];
  if (leases) {
    const r = await deps.ddb.send(new GetCommand({ TableName: leases, Key: { lockId: ADMISSION_ID } }));
    for (const [k, v] of Object.entries(r.Item ?? {}))
      if (k.startsWith('n#') && typeof v === 'number') byScope[k.slice(2)] = v;
    holders = Object.keys((r.Item?.holders as Record<string, unknown> | undefined) ?? {});
  }
  let queueDepth = 0;
  if (queue) {
    let start: Record<string, unknown> | undefined;
    do {
      const r = await deps.ddb.send(
        new ScanCommand({ TableName: queue, Select: 'COUNT', ExclusiveStartKey: start }),
      );
      queueDepth += r.Count ?? 0;
      start = r.LastEvaluatedKey;
    } while (start);
  }
  return { inUse: byScope[GLOBAL_SCOPE] ?? holders.length, holders, byScope, queueDepth };
}

export async function fleetView(data: ConsoleData, deps: ConsoleDeps): Promise<FleetView> {
  const tables = await data.tableNames();
  const outcomes = await scanOutcomes(deps, tables.outcomes);
  const days = new Map<string, FleetView['days'][number]>();
  const dayOf = (d: string) => {
    const key = d.slice(0, 10);
    let v = days.get(key);
    if (!v) {
      v = { day: key, outcomes: {}, costUsd: 0, executions: 0 };
      days.set(key, v);
    }
    return v;
  };
  const flaps = new Map<string, number>();
  for (const o of outcomes) {
    if (!o.recordedAt || !o.outcome) continue;
    const d = dayOf(o.recordedAt);
    d.outcomes[o.outcome] = (d.outcomes[o.outcome] ?? 0) + 1;
    if (o.remediated && o.resourceKey) flaps.set(o.resourceKey, (flaps.get(o.resourceKey) ?? 0) + 1);
  }
  const rows = await data.executions();
  for (const r of rows) {
    if (r.status === 'RUNNING') continue;
    const d = dayOf(r.stopDate ?? r.startDate);
    d.costUsd += (await data.cost(r.arn)).usd.total;
    d.executions++;
  }
  const awaitingApproval: FleetView['awaitingApproval'] = [];
  for (const r of rows.filter((x) => x.status === 'RUNNING')) {
    const steps = (await data.execution(r.arn)).steps;
    const current = steps[steps.length - 1];
    if (current?.name === STATES.requestApproval && !current.exitedAt)
      awaitingApproval.push({ name: r.name, resourceId: r.resourceId, since: current.enteredAt });
  }
  return {
    days: [...days.values()]
      .map((d) => ({ ...d, costUsd: Math.round(d.costUsd * 1e9) / 1e9 }))
      .sort((a, b) => a.day.localeCompare(b.day)),
    slots: await slotsOf(deps, tables.leases, tables.slotQueue),
    flapping: [...flaps.entries()]
      .map(([resourceKey, remediations]) => ({ resourceKey, remediations }))
      .sort((a, b) => b.remediations - a.remediations)
      .slice(0, 10),
    escalations: outcomes
      .filter((o) => o.outcome === 'ESCALATED')
      .map((o) => ({
        resourceKey: o.resourceKey ?? '',
        reason: o.reason ?? '',
        recordedAt: o.recordedAt ?? '',
        executionName: o.executionName,
      }))
      .sort((a, b) => b.recordedAt.localeCompare(a.recordedAt))
      .slice(0, 20),
    awaitingApproval,
  };
}
