/**
 * The fleet view, read without a table scan: the outcomes of the last FLEET_DAYS days by the outcome table's
 * time index (byTime: one Query per day partition, newest first), which give the outcomes per day, the
 * cost per day (the `cost` Record outcome stored on each item), the resources that flap most (remediated
 * outcomes per resource) and the escalations still waiting for a human (resources whose newest outcome is
 * ESCALATED); slot usage from the leases admission item (GetItem) and queue depth by a COUNT Query per slot
 * queue the admission item names; executions waiting at Request approval from the execution list; the
 * Slack / webhook deliveries that gave up in the period (one Query of the `notification#failed` partition:
 * tasks/shared/notifications-status.ts).
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { readAdmission } from '../../tasks/shared/leases';
import { type FailedDelivery, failedDeliveries } from '../../tasks/shared/notifications-status';
import { AUDIT_INDEXES, GLOBAL_SCOPE, SLOT_QUEUE } from '../../tasks/shared/tables';
import { STATES } from '../../workflows/state-names';
import type { ConsoleData, ConsoleDeps } from './data';

/** Days of outcomes the fleet view reads (today included). */
export const FLEET_DAYS = 14;
/** Most outcome items it reads in all (newest days first). */
export const FLEET_ITEM_LIMIT = 5000;
/** Most failed notification deliveries it lists. */
export const FLEET_FAILED_DELIVERIES = 50;

export interface FleetDay {
  day: string;
  outcomes: Record<string, number>;
  /** Sum of the stored cost of the day's outcomes (USD). */
  costUsd: number;
  /** Outcomes with a stored cost (executions priced). */
  costed: number;
}

export interface FleetView {
  days: FleetDay[];
  /** The period read: FLEET_DAYS days up to today, and whether FLEET_ITEM_LIMIT cut it. */
  period: { from: string; to: string; truncated: boolean };
  slots: { inUse: number; holders: string[]; byScope: Record<string, number>; queueDepth: number };
  flapping: Array<{ resourceKey: string; remediations: number }>;
  escalations: Array<{
    resourceKey: string;
    reason: string;
    recordedAt: string;
    executionName?: string | undefined;
  }>;
  awaitingApproval: Array<{ name: string; resourceId?: string | undefined; since: string }>;
  /** Notification deliveries that gave up in the period, newest first (at most FLEET_FAILED_DELIVERIES). */
  failedDeliveries: FailedDelivery[];
}

export interface OutcomeItem {
  resourceKey?: string;
  outcome?: string;
  recordedAt?: string;
  remediated?: boolean;
  reason?: string;
  executionName?: string;
  cost?: { usd?: { total?: number } };
}

/** The UTC days (YYYY-MM-DD) of the period, newest first. */
export function fleetDays(now: Date, days = FLEET_DAYS): string[] {
  return Array.from({ length: days }, (_, i) =>
    new Date(now.getTime() - i * 86_400_000).toISOString().slice(0, 10),
  );
}

/** One day's outcomes from the time index, newest first, up to `limit` items. */
async function outcomesOfDay(deps: ConsoleDeps, table: string, day: string, limit: number) {
  const items: OutcomeItem[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const r = await deps.ddb.send(
      new QueryCommand({
        TableName: table,
        IndexName: 'byTime',
        KeyConditionExpression: '#day = :day',
        ExpressionAttributeNames: {
          '#day': AUDIT_INDEXES.byTime,
          '#rk': 'resourceKey',
          '#o': 'outcome',
          '#at': 'recordedAt',
          '#rem': 'remediated',
          '#why': 'reason',
          '#ex': 'executionName',
          '#cost': 'cost',
          '#usd': 'usd',
          '#total': 'total',
        },
        ExpressionAttributeValues: { ':day': day },
        ProjectionExpression: '#rk, #o, #at, #rem, #why, #ex, #cost.#usd.#total',
        ScanIndexForward: false,
        ExclusiveStartKey: start,
      }),
    );
    items.push(...((r.Items ?? []) as OutcomeItem[]));
    start = r.LastEvaluatedKey;
  } while (start && items.length < limit);
  return items.slice(0, limit);
}

/** The outcomes of the period (newest first) and whether the item limit cut it short. */
export async function recentOutcomes(
  deps: ConsoleDeps,
  table: string | undefined,
  days: string[],
): Promise<{ items: OutcomeItem[]; truncated: boolean }> {
  const items: OutcomeItem[] = [];
  if (!table) return { items, truncated: false };
  for (const day of days) {
    if (items.length >= FLEET_ITEM_LIMIT) return { items, truncated: true };
    items.push(...(await outcomesOfDay(deps, table, day, FLEET_ITEM_LIMIT - items.length)));
  }
  return { items, truncated: false };
}

async function slotsOf(deps: ConsoleDeps, leases?: string, queue?: string): Promise<FleetView['slots']> {
  const admission = leases ? await readAdmission(deps.ddb, leases) : undefined;
  let queueDepth = 0;
  for (const id of queue ? (admission?.queues ?? []) : []) {
    let start: Record<string, unknown> | undefined;
    do {
      const r = await deps.ddb.send(
        new QueryCommand({
          TableName: queue,
          KeyConditionExpression: '#q = :q',
          ExpressionAttributeNames: { '#q': SLOT_QUEUE.partitionKey },
          ExpressionAttributeValues: { ':q': id },
          Select: 'COUNT',
          ExclusiveStartKey: start,
        }),
      );
      queueDepth += r.Count ?? 0;
      start = r.LastEvaluatedKey;
    } while (start);
  }
  const holders = Object.keys(admission?.holders ?? {});
  const byScope = admission?.counts ?? {};
  return { inUse: byScope[GLOBAL_SCOPE] ?? holders.length, holders, byScope, queueDepth };
}

/** Outcomes and cost per day, flapping resources and open escalations, from the period's outcomes (pure). */
export function summarize(items: OutcomeItem[]): Pick<FleetView, 'days' | 'flapping' | 'escalations'> {
  const days = new Map<string, FleetDay>();
  const flaps = new Map<string, number>();
  const newest = new Map<string, OutcomeItem>();
  for (const o of items) {
    if (!o.recordedAt || !o.outcome) continue;
    const key = o.recordedAt.slice(0, 10);
    const d = days.get(key) ?? { day: key, outcomes: {}, costUsd: 0, costed: 0 };
    days.set(key, d);
    d.outcomes[o.outcome] = (d.outcomes[o.outcome] ?? 0) + 1;
    const usd = o.cost?.usd?.total;
    if (typeof usd === 'number') {
      d.costUsd += usd;
      d.costed++;
    }
    if (!o.resourceKey) continue;
    if (o.remediated) flaps.set(o.resourceKey, (flaps.get(o.resourceKey) ?? 0) + 1);
    const seen = newest.get(o.resourceKey);
    if (!seen?.recordedAt || seen.recordedAt < o.recordedAt) newest.set(o.resourceKey, o);
  }
  return {
    days: [...days.values()]
      .map((d) => ({ ...d, costUsd: Math.round(d.costUsd * 1e9) / 1e9 }))
      .sort((a, b) => a.day.localeCompare(b.day)),
    flapping: [...flaps.entries()]
      .map(([resourceKey, remediations]) => ({ resourceKey, remediations }))
      .sort((a, b) => b.remediations - a.remediations)
      .slice(0, 10),
    escalations: [...newest.values()]
      .filter((o) => o.outcome === 'ESCALATED')
      .map((o) => ({
        resourceKey: o.resourceKey ?? '',
        reason: o.reason ?? '',
        recordedAt: o.recordedAt ?? '',
        executionName: o.executionName,
      }))
      .sort((a, b) => b.recordedAt.localeCompare(a.recordedAt))
      .slice(0, 20),
  };
}

export async function fleetView(data: ConsoleData, deps: ConsoleDeps): Promise<FleetView> {
  const tables = await data.tableNames();
  const days = fleetDays(deps.now?.() ?? new Date());
  const { items, truncated } = await recentOutcomes(deps, tables.outcomes, days);
  const awaitingApproval: FleetView['awaitingApproval'] = [];
  for (const r of await data.executions({ status: 'RUNNING' })) {
    const steps = (await data.execution(r.arn)).steps;
    const current = steps[steps.length - 1];
    if (current?.name === STATES.requestApproval && !current.exitedAt)
      awaitingApproval.push({ name: r.name, resourceId: r.resourceId, since: current.enteredAt });
  }
  return {
    ...summarize(items),
    period: { from: days[days.length - 1] ?? '', to: days[0] ?? '', truncated },
    slots: await slotsOf(deps, tables.leases, tables.slotQueue),
    awaitingApproval,
    failedDeliveries: tables.outcomes
      ? await failedDeliveries(
          deps.ddb,
          tables.outcomes,
          days[days.length - 1] ?? '',
          FLEET_FAILED_DELIVERIES,
        )
      : [],
  };
}
