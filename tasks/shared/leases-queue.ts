/**
 * The slot queue: executions waiting for a remediation slot, parked in `Acquire remediation slot`
 * (`.waitForTaskToken`) with their task token in the SLOT_QUEUE table (layout in tables.ts), FIFO per runbook.
 *
 * handOff() gives free slots to waiters: the oldest queue head whose every scope has room is admitted
 * (one conditional UpdateItem on the admission item, tasks/shared/leases.ts), then told with SendTaskSuccess
 * (the lease is the task's output), then its queue item is deleted. A dead waiter (its execution ended: the
 * token answers TaskTimedOut / TaskDoesNotExist / InvalidToken) gets its grant back and is removed; the slot
 * goes to the next. Release, the reaper and Acquire itself (right after enqueueing, so a release between its
 * look and its enqueue is never a lost wake-up) run it. A holder whose grant is younger than
 * STALE_GRANT_MS is being told by another pass and is left alone; an older one (that pass crashed) is told again.
 * The token never leaves the table and the SendTaskSuccess call.
 */
import { SendTaskSuccessCommand, type SFNClient } from '@aws-sdk/client-sfn';
import {
  DeleteCommand,
  type DynamoDBDocumentClient,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import type { PlanResult } from './contracts';
import { queryPages } from './dynamo-pages';
import { awsCall, ENDED_TOKEN_ERRORS } from './errors';
import {
  type Admission,
  fits,
  type GrantQueue,
  grantOrRead,
  mayHaveWaiters,
  readAdmission,
  release,
  type Scope,
  tryGrant,
  uncountWaiter,
} from './leases';
import { accountRegionScope, GLOBAL_SCOPE, runbookScope, SLOT_QUEUE } from './tables';

/** A grant this old whose waiter is still queued was never told (its hand-off crashed): tell it again. */
export const STALE_GRANT_MS = 120_000;
/** Grants one pass makes at most (a release frees one slot; the reaper may free many). */
export const MAX_GRANTS_PER_PASS = 50;
/** How long a queue item outlives its wait before DynamoDB's TTL removes it. */
const TTL_GRACE_SECONDS = 86_400;

export const Waiter = v.object({
  queue: v.pipe(v.string(), v.minLength(1)),
  waiter: v.pipe(v.string(), v.minLength(1)),
  position: v.pipe(v.string(), v.minLength(1)),
  taskToken: v.pipe(v.string(), v.minLength(1)),
  executionArn: v.pipe(v.string(), v.minLength(1)),
  scopes: v.pipe(
    v.array(
      v.object({
        id: v.pipe(v.string(), v.minLength(1)),
        cap: v.pipe(v.number(), v.safeInteger(), v.gtValue(0)),
      }),
    ),
    v.minLength(1),
  ),
  enqueuedAt: v.string(),
  expiresAt: v.pipe(v.number(), v.safeInteger()),
});
export type Waiter = v.InferOutput<typeof Waiter>;

/** The lease an admitted execution gets (the Acquire task's output, `$.slot`). */
export interface Lease {
  acquired: true;
  scopes: string[];
  grantedAt: string;
  queuedSeconds: number;
}

export interface QueueDeps {
  ddb: DynamoDBDocumentClient;
  sfn: SFNClient;
  leasesTable: string;
  queueTable: string;
  now: () => Date;
}

export interface HandOffResult {
  granted: number;
  /** Waiters whose execution no longer waited (their grant was given back). */
  dead: number;
}

/** Where the remediated resource lives (the event's account and region). */
export interface ResourcePlace {
  accountId: string;
  region: string;
}

/**
 * The scopes an execution of `plan` needs: its runbook's (first: it names the queue), the global one, and
 * with `concurrency.perAccountRegion` set, the one of the resource's account and region.
 */
export function scopesFor(
  plan: Pick<PlanResult, 'concurrency'> & { runbook: { documentName: string } },
  place: ResourcePlace,
): Scope[] {
  const { perAccountRegion } = plan.concurrency;
  return [
    { id: runbookScope(plan.runbook.documentName), cap: plan.concurrency.perRunbook },
    { id: GLOBAL_SCOPE, cap: plan.concurrency.global },
    ...(perAccountRegion
      ? [{ id: accountRegionScope(place.accountId, place.region), cap: perAccountRegion }]
      : []),
  ];
}

/**
 * Parks `w` in its queue. A retried Acquire keeps its place (position and enqueuedAt are set once) and
 * replaces the token (each attempt of a Task state gets a new one). True when this wrote a new item
 * (false: an earlier attempt's item was there).
 */
export async function enqueue(deps: Pick<QueueDeps, 'ddb' | 'queueTable'>, w: Waiter): Promise<boolean> {
  const res = await awsCall('UpdateItem(slot queue)', () =>
    deps.ddb.send(
      new UpdateCommand({
        TableName: deps.queueTable,
        Key: { queue: w.queue, waiter: w.waiter },
        UpdateExpression:
          'SET #pos = if_not_exists(#pos, :pos), enqueuedAt = if_not_exists(enqueuedAt, :at), taskToken = :tok, executionArn = :arn, scopes = :scopes, expiresAt = :exp',
        ExpressionAttributeNames: { '#pos': SLOT_QUEUE.positionKey },
        ExpressionAttributeValues: {
          ':pos': w.position,
          ':at': w.enqueuedAt,
          ':tok': w.taskToken,
          ':arn': w.executionArn,
          ':scopes': w.scopes,
          ':exp': w.expiresAt,
        },
        ReturnValues: 'UPDATED_OLD',
      }),
    ),
  );
  return res.Attributes?.taskToken === undefined;
}

/** Epoch seconds for a queue item's TTL: the longest wait plus a day. */
export function queueExpiresAt(now: Date, maxQueueSeconds: number): number {
  return Math.floor(now.getTime() / 1000) + maxQueueSeconds + TTL_GRACE_SECONDS;
}

/** Removes `waiter` from `queue` (only while it still has `taskToken`, when given). True when it was there. */
export async function removeWaiter(
  deps: Pick<QueueDeps, 'ddb' | 'queueTable'>,
  queue: string,
  waiter: string,
  taskToken?: string,
): Promise<boolean> {
  const res = await awsCall('DeleteItem(slot queue)', () =>
    deps.ddb.send(
      new DeleteCommand({
        TableName: deps.queueTable,
        Key: { queue, waiter },
        ReturnValues: 'ALL_OLD',
        ...(taskToken
          ? {
              ConditionExpression: 'taskToken = :tok',
              ExpressionAttributeValues: { ':tok': taskToken },
            }
          : {}),
      }),
    ),
  ).catch((err: unknown) => {
    if (err instanceof Error && err.name === 'ConditionalCheckFailedException') return undefined;
    throw err;
  });
  return !!res?.Attributes;
}

/**
 * Removes `waiter`, who leaves `queue` (timeout, abort, its execution ended), and takes it off the
 * queue's waiter counter (tasks/shared/leases.ts) unless a grant did: the counter is checked against a
 * holder entry, so call it BEFORE releasing the waiter's grant, or say `granted` (the caller knows it was
 * admitted). True when it was there.
 */
export async function leaveQueue(
  deps: Pick<QueueDeps, 'ddb' | 'queueTable' | 'leasesTable'>,
  queue: string,
  waiter: string,
  opts: { taskToken?: string; granted?: boolean } = {},
): Promise<boolean> {
  if (!(await removeWaiter(deps, queue, waiter, opts.taskToken))) return false;
  if (!opts.granted) await uncountWaiter(deps.ddb, deps.leasesTable, queue, waiter);
  return true;
}

/** The Query of `queue`'s waiters in queue order (the position index), read consistently. */
function queueQuery(deps: Pick<QueueDeps, 'queueTable'>, queue: string): QueryCommandInput {
  return {
    TableName: deps.queueTable,
    IndexName: SLOT_QUEUE.positionIndex,
    KeyConditionExpression: '#q = :q',
    ExpressionAttributeNames: { '#q': SLOT_QUEUE.partitionKey },
    ExpressionAttributeValues: { ':q': queue },
    ConsistentRead: true,
  };
}

/** Waiters one hand-off round looks at per queue (the oldest ones). */
export const HEAD_WINDOW = 10;

/**
 * The oldest well-formed waiters of `queue`, at most HEAD_WINDOW (malformed items are deleted on the way).
 * More than one: a waiter being told by another pass (its grant is young) is skipped, not waited for.
 */
export async function headsOf(deps: Pick<QueueDeps, 'ddb' | 'queueTable'>, queue: string): Promise<Waiter[]> {
  const res = await awsCall('Query(slot queue)', () =>
    deps.ddb.send(new QueryCommand({ ...queueQuery(deps, queue), Limit: HEAD_WINDOW })),
  );
  const out: Waiter[] = [];
  for (const raw of res.Items ?? []) {
    const w = v.safeParse(Waiter, raw);
    if (w.success) out.push(w.output);
    else await removeWaiter(deps, queue, String(raw.waiter));
  }
  return out;
}

/** Every waiter of `queue`, oldest first (the reaper's view). */
export async function waitersOf(
  deps: Pick<QueueDeps, 'ddb' | 'queueTable'>,
  queue: string,
): Promise<Waiter[]> {
  const out: Waiter[] = [];
  for await (const page of queryPages(deps.ddb, 'Query(slot queue)', queueQuery(deps, queue))) {
    for (const raw of page.Items ?? []) {
      const w = v.safeParse(Waiter, raw);
      if (w.success) out.push(w.output);
    }
  }
  return out;
}

type Candidate = { waiter: Waiter; held: boolean };

/**
 * The oldest waiter that can be admitted now (every scope has room), or told again (its grant is stale).
 * Per queue, waiters whose young grant another pass is telling are skipped; the first other one is the
 * queue's candidate (all waiters of a queue need the same runbook scope).
 */
function pick(adm: Admission, waiters: readonly Waiter[], nowMs: number): Candidate | undefined {
  let best: Candidate | undefined;
  const decided = new Set<string>();
  for (const w of waiters) {
    if (decided.has(w.queue)) continue;
    const h = adm.holders[w.waiter];
    if (h && nowMs - Date.parse(h.grantedAt) < STALE_GRANT_MS) continue;
    decided.add(w.queue);
    const ok = h ? true : fits(adm, w.scopes);
    if (ok && (!best || w.position < best.waiter.position)) best = { waiter: w, held: !!h };
  }
  return best;
}

/** Tells `w` it holds a slot; a dead waiter gives back the grant this pass made. 'sent' | 'dead'. */
async function tell(deps: QueueDeps, w: Waiter, lease: Lease, madeGrant: boolean): Promise<'sent' | 'dead'> {
  let told: 'sent' | 'dead' = 'sent';
  try {
    await awsCall('SendTaskSuccess(slot)', () =>
      deps.sfn.send(new SendTaskSuccessCommand({ taskToken: w.taskToken, output: JSON.stringify(lease) })),
    );
  } catch (err) {
    if (!(err instanceof Error && ENDED_TOKEN_ERRORS.has(err.name))) throw err;
    told = 'dead';
    if (madeGrant) await release(deps.ddb, deps.leasesTable, w.waiter, lease.scopes);
  }
  await removeWaiter(deps, w.queue, w.waiter, w.taskToken);
  return told;
}

/**
 * What a pass starts from instead of reading the admission item: the item as the caller's own release
 * left it (the release's UpdateItem returns it) or as the caller read it after its own enqueue, so units
 * freed before are seen (no lost wake-up). The queue heads are read fresh for every round: a waiter
 * admitted, run and released by others since an older read would be granted again and found dead (four
 * calls wasted); only right after a refused grant does the round's own read serve once more.
 */
export interface HandOffView {
  /** Absent: the pass reads the item itself. */
  admission?: Admission;
  /**
   * Read every noted queue, whatever its waiter counter says (default: only without `admission`). The
   * reaper and abort clean-up do: a counter lower than the truth is worked around there
   * (tasks/shared/leases.ts). Others read only the queues that may have waiters.
   */
  everyQueue?: boolean;
  /**
   * At most this many admissions (default MAX_GRANTS_PER_PASS): a release passes what one holder's units
   * can make room for (release-slot's newlyFitting); every other freed unit is handed on by the pass of
   * whoever freed it, so more grants would only race those passes.
   */
  maxGrants?: number;
}

/** Counts `w` as holding (granted at `grantedAt`) in the pass's own view of the admission item. */
function countHolder(adm: Admission, w: Waiter, grantedAt: string): void {
  for (const s of w.scopes) adm.counts[s.id] = (adm.counts[s.id] ?? 0) + 1;
  adm.holders[w.waiter] = { scopes: w.scopes.map((s) => s.id), grantedAt };
  const waiting = adm.waiting[w.queue];
  if (waiting !== undefined) adm.waiting[w.queue] = waiting - 1;
}

/** A hand-off grant takes its waiter off the queue's counter, when the pass saw one (counters are never removed). */
function fromQueue(adm: Admission, w: Waiter): GrantQueue {
  return adm.waiting[w.queue] === undefined ? {} : { fromQueue: w.queue };
}

/**
 * The heads of every queue that may have waiters not admitted yet (tasks/shared/leases.ts: counters), or
 * of every queue (`every`).
 */
async function headsOfQueues(deps: QueueDeps, adm: Admission, every: boolean): Promise<Waiter[]> {
  const queues = every ? adm.queues : adm.queues.filter((q) => mayHaveWaiters(adm, q));
  return (await Promise.all(queues.map((q) => headsOf(deps, q)))).flat();
}

/** Admits queue heads while slots are free (FIFO across queues by enqueue time), telling each by its token. */
export async function handOff(deps: QueueDeps, view?: HandOffView): Promise<HandOffResult> {
  const result: HandOffResult = { granted: 0, dead: 0 };
  const maxGrants = view?.maxGrants ?? MAX_GRANTS_PER_PASS;
  const everyQueue = view?.everyQueue ?? view === undefined;
  // The admission item to start a round from without reading: the caller's, then what a refused grant
  // just read (another pass got there first).
  let seen: Admission | undefined = view?.admission;
  // After a grant refused without a read: this round's view (the refused waiter counted as held: most
  // often another pass admitted the same head) for one more grant among the heads already read.
  let again: { adm: Admission; heads: Waiter[] } | undefined;
  for (let round = 0; round < 2 * MAX_GRANTS_PER_PASS && result.granted < maxGrants; round++) {
    const retry = again !== undefined;
    const adm = again?.adm ?? seen ?? (await readAdmission(deps.ddb, deps.leasesTable));
    const heads = again?.heads ?? (await headsOfQueues(deps, adm, everyQueue));
    seen = undefined;
    again = undefined;
    const now = deps.now();
    const c = pick(adm, heads, now.getTime());
    if (!c) break;
    const w = c.waiter;
    let grantedAt = adm.holders[w.waiter]?.grantedAt ?? now.toISOString();
    const queue = fromQueue(adm, w);
    if (
      !c.held &&
      !retry &&
      !(await tryGrant(deps.ddb, deps.leasesTable, w.waiter, w.scopes, grantedAt, queue))
    ) {
      // Only a next pick found in this view is tried unread; "nobody fits" from it is not trusted (units
      // freed since it was read would go unused): the next round reads afresh.
      countHolder(adm, w, grantedAt);
      if (pick(adm, heads, now.getTime())) again = { adm, heads };
      continue;
    }
    if (!c.held && retry) {
      const g = await grantOrRead(deps.ddb, deps.leasesTable, w.waiter, w.scopes, grantedAt, queue);
      if (g.result !== 'granted') {
        seen = g.admission; // refused twice: look again at what the refusal read, and at fresh heads
        continue;
      }
    }
    if (c.held) grantedAt = now.toISOString();
    const lease: Lease = {
      acquired: true,
      scopes: w.scopes.map((s) => s.id),
      grantedAt,
      queuedSeconds: Math.max(0, Math.round((now.getTime() - Date.parse(w.enqueuedAt)) / 1000)),
    };
    if ((await tell(deps, w, lease, !c.held)) === 'dead') {
      result.dead++;
      continue;
    }
    result.granted++;
    // Without another read: if no waiter this pass saw fits beside the one just admitted, stop. Units freed
    // after this pass's read are handed on by the pass of whoever frees them (release, reaper, Acquire).
    if (c.held) adm.holders[w.waiter] = { scopes: lease.scopes, grantedAt };
    else countHolder(adm, w, grantedAt);
    const rest = heads.filter((h) => h !== w);
    if (!pick(adm, rest, now.getTime())) break;
  }
  return result;
}
