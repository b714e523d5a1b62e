/**
 * Slot admission: ONE LEASES item (`lockId = 'admission'`, layout in tables.ts) holds a counter per scope
 * (`n#global`, `n#runbook#<doc>`, room for `n#account-region#…`) and the holders map. A grant is one
 * conditional UpdateItem that takes a unit of every scope or none, so no holder is ever admitted over a cap
 * and a holder is added or removed at most once (retries are harmless). No transactions: the sandbox's
 * DynamoDB (dynalite) has none, and one item needs none.
 *
 * Waiter counters (`w#<queue>`): how many of a queue's waiters are not admitted yet, so that Acquire takes a
 * free slot with one conditional UpdateItem when nobody waits (no Query of the queue) and a hand-off pass
 * reads only queues that have waiters. Acquire adds one after its queue item is written (the same UpdateItem
 * returns the item: the read after enqueueing); a hand-off grant takes one off in its own UpdateItem; a
 * waiter that leaves unadmitted (timeout, abort, ended) takes one off only while it holds no grant — the
 * holder entry makes the grant's and the leave's decrement exclusive. A queue noted before counters
 * existed has none and is always read until the reaper sets one (raiseWaiting). Lower than the truth is the
 * unsafe side (a waiter no pass reads): only a Lambda crash between the queue write and the count, or a
 * leave racing a grant of the same waiter, can make it so; the reaper, which reads every queue, hands on
 * and raises such a counter every run.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import {
  type DynamoDBDocumentClient,
  GetCommand,
  UpdateCommand,
  type UpdateCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { awsCall } from './errors';
import { ADMISSION_ID } from './tables';

/** A scope an execution needs a unit of, with its cap (from the plan). */
export interface Scope {
  id: string;
  cap: number;
}

/** A holder's entry in the admission item. */
export interface Holder {
  scopes: string[];
  grantedAt: string;
}

export interface Admission {
  /** Units taken, by scope id. */
  counts: Record<string, number>;
  holders: Record<string, Holder>;
  /** Queue ids (runbook scopes) that have had waiters; the hand-off looks at each one's oldest waiter. */
  queues: string[];
  /** Waiters not admitted yet, by queue id (absent: a queue noted before counters, always read). */
  waiting: Record<string, number>;
}

export type GrantResult = 'granted' | 'held' | 'full';

const COUNTER_PREFIX = 'n#';
const counter = (scope: string) => `${COUNTER_PREFIX}${scope}`;
const WAITING_PREFIX = 'w#';
const waitingCounter = (queue: string) => `${WAITING_PREFIX}${queue}`;

export function isConditionFailed(err: unknown): boolean {
  return (
    err instanceof ConditionalCheckFailedException ||
    (err instanceof Error && err.name === 'ConditionalCheckFailedException')
  );
}

/** DynamoDB's answer when `holders.#h` is set on an item that has no `holders` map yet. */
function isMissingDocumentPath(err: unknown): boolean {
  return err instanceof Error && err.name === 'ValidationException' && /document path/i.test(err.message);
}

function parseHolder(v: unknown): Holder | undefined {
  if (!v || typeof v !== 'object') return undefined;
  const o = v as Record<string, unknown>;
  const scopes = Array.isArray(o.scopes) ? o.scopes.filter((s): s is string => typeof s === 'string') : [];
  return { scopes, grantedAt: typeof o.grantedAt === 'string' ? o.grantedAt : '' };
}

/** The admission item (strongly consistent); an absent item is an empty admission. */
export async function readAdmission(ddb: DynamoDBDocumentClient, table: string): Promise<Admission> {
  const res = await awsCall('GetItem(admission)', () =>
    ddb.send(new GetCommand({ TableName: table, Key: { lockId: ADMISSION_ID }, ConsistentRead: true })),
  );
  return admissionOf(res.Item ?? {});
}

/** The admission an item holds (counters, holders, queues); unknown attributes are ignored. */
function admissionOf(item: Record<string, unknown>): Admission {
  const counts: Record<string, number> = {};
  const waiting: Record<string, number> = {};
  for (const [k, v] of Object.entries(item)) {
    if (typeof v !== 'number') continue;
    if (k.startsWith(COUNTER_PREFIX)) counts[k.slice(COUNTER_PREFIX.length)] = v;
    else if (k.startsWith(WAITING_PREFIX)) waiting[k.slice(WAITING_PREFIX.length)] = v;
  }
  const holders: Record<string, Holder> = {};
  const rawHolders = item.holders && typeof item.holders === 'object' ? item.holders : {};
  for (const [name, v] of Object.entries(rawHolders as Record<string, unknown>)) {
    const h = parseHolder(v);
    if (h) holders[name] = h;
  }
  const rawQueues = item.queues;
  const queues =
    rawQueues instanceof Set
      ? [...rawQueues].filter((q): q is string => typeof q === 'string')
      : Array.isArray(rawQueues)
        ? rawQueues.filter((q): q is string => typeof q === 'string')
        : [];
  return { counts, holders, queues: queues.sort(), waiting };
}

/** Whether a hand-off pass must read `queue`: it may have waiters not admitted yet (or has no counter). */
export function mayHaveWaiters(adm: Admission, queue: string): boolean {
  const n = adm.waiting[queue];
  return n === undefined || n > 0;
}

/** Whether every scope has room in `adm` (what the conditional grant will check). */
export function fits(adm: Admission, scopes: readonly Scope[]): boolean {
  return scopes.every((s) => (adm.counts[s.id] ?? 0) < s.cap);
}

/** Creates the admission item's holders map when absent (keeps everything else). */
async function ensureAdmission(ddb: DynamoDBDocumentClient, table: string): Promise<void> {
  await ddb.send(
    new UpdateCommand({
      TableName: table,
      Key: { lockId: ADMISSION_ID },
      UpdateExpression: 'SET #holders = if_not_exists(#holders, :empty)',
      ExpressionAttributeNames: { '#holders': 'holders' },
      ExpressionAttributeValues: { ':empty': {} },
    }),
  );
}

/**
 * How a grant treats the queue's waiter counter: `ifNoWaiters` (Acquire's direct grant) also requires that
 * nobody waits in that queue (its counter is 0, or the queue never had waiters); `fromQueue` (a hand-off
 * grant of a counted queue's waiter) takes one off its counter.
 */
export interface GrantQueue {
  ifNoWaiters?: string;
  fromQueue?: string;
}

function grantCommand(
  table: string,
  holder: string,
  scopes: readonly Scope[],
  nowIso: string,
  queue: GrantQueue = {},
) {
  const names: Record<string, string> = { '#holders': 'holders', '#h': holder };
  const values: Record<string, unknown> = {
    ':one': 1,
    ':holder': { scopes: scopes.map((s) => s.id), grantedAt: nowIso },
  };
  const adds: string[] = [];
  const conditions: string[] = [];
  scopes.forEach((s, i) => {
    names[`#n${i}`] = counter(s.id);
    values[`:c${i}`] = s.cap;
    adds.push(`#n${i} :one`);
    conditions.push(`(attribute_not_exists(#n${i}) OR #n${i} < :c${i})`);
  });
  if (queue.ifNoWaiters) {
    Object.assign(names, { '#w': waitingCounter(queue.ifNoWaiters), '#queues': 'queues' });
    Object.assign(values, { ':zero': 0, ':q': queue.ifNoWaiters });
    conditions.push('(#w <= :zero OR NOT contains(#queues, :q))');
  } else if (queue.fromQueue) {
    names['#w'] = waitingCounter(queue.fromQueue);
    values[':minusOne'] = -1;
    adds.push('#w :minusOne');
  }
  return new UpdateCommand({
    TableName: table,
    Key: { lockId: ADMISSION_ID },
    UpdateExpression: `ADD ${adds.join(', ')} SET #holders.#h = :holder`,
    ConditionExpression: [...conditions, 'attribute_not_exists(#holders.#h)'].join(' AND '),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  });
}

/**
 * Admits `holder` with one unit of every scope, or nothing: 'granted'; 'held' when it already holds
 * (a retried call: nothing changes); 'full' when a scope is at its cap.
 */
export async function grant(
  ddb: DynamoDBDocumentClient,
  table: string,
  holder: string,
  scopes: readonly Scope[],
  nowIso: string,
): Promise<GrantResult> {
  return (await grantOrRead(ddb, table, holder, scopes, nowIso)).result;
}

/**
 * The conditional grant alone: true when `holder` was admitted, false when refused (it already holds, a
 * scope is at its cap, or with `ifNoWaiters` somebody waits: not told apart, nothing read).
 */
export async function tryGrant(
  ddb: DynamoDBDocumentClient,
  table: string,
  holder: string,
  scopes: readonly Scope[],
  nowIso: string,
  queue: GrantQueue = {},
): Promise<boolean> {
  if (scopes.length === 0) throw new Error('grant: no scopes');
  try {
    await awsCall('UpdateItem(admission grant)', async () => {
      try {
        await ddb.send(grantCommand(table, holder, scopes, nowIso, queue));
      } catch (err) {
        if (!isMissingDocumentPath(err)) throw err;
        await ensureAdmission(ddb, table);
        await ddb.send(grantCommand(table, holder, scopes, nowIso, queue));
      }
    });
    return true;
  } catch (err) {
    if (!isConditionFailed(err)) throw err;
    return false;
  }
}

/** `grant`, also returning the admission item it read when the grant was refused (for the caller's next look). */
export async function grantOrRead(
  ddb: DynamoDBDocumentClient,
  table: string,
  holder: string,
  scopes: readonly Scope[],
  nowIso: string,
  queue: GrantQueue = {},
): Promise<{ result: GrantResult; admission?: Admission }> {
  if (await tryGrant(ddb, table, holder, scopes, nowIso, queue)) return { result: 'granted' };
  const admission = await readAdmission(ddb, table);
  return { result: admission.holders[holder] ? 'held' : 'full', admission };
}

/**
 * Gives back `holder`'s units (of the scopes its entry lists: read from the item when not given).
 * Returns false, changing nothing, when `holder` holds nothing.
 */
export async function release(
  ddb: DynamoDBDocumentClient,
  table: string,
  holder: string,
  knownScopes?: readonly string[],
): Promise<boolean> {
  return (await releaseAndRead(ddb, table, holder, knownScopes)) !== undefined;
}

/**
 * `release`, returning the admission item as the release left it (the same UpdateItem returns it: the
 * hand-off that follows needs no read of its own), or undefined when `holder` held nothing.
 */
export async function releaseAndRead(
  ddb: DynamoDBDocumentClient,
  table: string,
  holder: string,
  knownScopes?: readonly string[],
): Promise<Admission | undefined> {
  const scopes = knownScopes ?? (await readAdmission(ddb, table)).holders[holder]?.scopes;
  if (!scopes) return undefined;
  const names: Record<string, string> = { '#holders': 'holders', '#h': holder };
  const adds = scopes.map((s, i) => {
    names[`#n${i}`] = counter(s);
    return `#n${i} :minusOne`;
  });
  try {
    const res = await awsCall('UpdateItem(admission release)', () =>
      ddb.send(
        new UpdateCommand({
          TableName: table,
          Key: { lockId: ADMISSION_ID },
          UpdateExpression: `${adds.length ? `ADD ${adds.join(', ')} ` : ''}REMOVE #holders.#h`,
          ConditionExpression: 'attribute_exists(#holders.#h)',
          ExpressionAttributeNames: names,
          ...(adds.length ? { ExpressionAttributeValues: { ':minusOne': -1 } } : {}),
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return admissionOf(res.Attributes ?? {});
  } catch (err) {
    if (isConditionFailed(err)) return undefined;
    throw err;
  }
}

/**
 * One conditional UpdateItem of the admission item (its waiter counters): the item as it left it (with
 * `ReturnValues: 'ALL_NEW'`; else empty), or undefined when its condition refused it.
 */
async function updateWaiting(
  ddb: DynamoDBDocumentClient,
  table: string,
  update: Pick<
    UpdateCommandInput,
    | 'UpdateExpression'
    | 'ConditionExpression'
    | 'ExpressionAttributeNames'
    | 'ExpressionAttributeValues'
    | 'ReturnValues'
  >,
): Promise<Record<string, unknown> | undefined> {
  try {
    const res = await awsCall('UpdateItem(admission waiting)', () =>
      ddb.send(new UpdateCommand({ TableName: table, Key: { lockId: ADMISSION_ID }, ...update })),
    );
    return res.Attributes ?? {};
  } catch (err) {
    if (isConditionFailed(err)) return undefined;
    throw err;
  }
}

/**
 * Counts a waiter just written to `queue` (after its queue item: a pass that reads the counter before
 * this finds the item, or this call's answer shows the units it freed) and notes the queue. Returns the
 * admission item as this left it: the read after enqueueing. A queue noted before counters existed keeps
 * having none (a first count would be lower than its waiters): the item is read instead.
 */
export async function countWaiter(
  ddb: DynamoDBDocumentClient,
  table: string,
  queue: string,
): Promise<{ admission: Admission; counted: boolean }> {
  const after = await updateWaiting(ddb, table, {
    UpdateExpression: 'ADD #w :one, #queues :qs',
    ConditionExpression: 'attribute_exists(#w) OR NOT contains(#queues, :q)',
    ExpressionAttributeNames: { '#w': waitingCounter(queue), '#queues': 'queues' },
    ExpressionAttributeValues: { ':one': 1, ':qs': new Set([queue]), ':q': queue },
    ReturnValues: 'ALL_NEW',
  });
  if (after) return { admission: admissionOf(after), counted: true };
  return { admission: await readAdmission(ddb, table), counted: false };
}

/**
 * Takes a waiter that left `queue` unadmitted off its counter: only while `waiter` holds no grant (a
 * hand-off grant took it off already) and the queue has a counter. `evenIfHolder`: the caller's own
 * count of a waiter that turned out to hold already (Acquire's retry). True when it was taken off.
 */
export async function uncountWaiter(
  ddb: DynamoDBDocumentClient,
  table: string,
  queue: string,
  waiter: string,
  evenIfHolder = false,
): Promise<boolean> {
  const done = await updateWaiting(ddb, table, {
    UpdateExpression: 'ADD #w :minusOne',
    ConditionExpression: evenIfHolder
      ? 'attribute_exists(#w)'
      : 'attribute_exists(#w) AND attribute_not_exists(#holders.#h)',
    ExpressionAttributeNames: {
      '#w': waitingCounter(queue),
      ...(evenIfHolder ? {} : { '#holders': 'holders', '#h': waiter }),
    },
    ExpressionAttributeValues: { ':minusOne': -1 },
  });
  return done !== undefined;
}

/**
 * Raises `queue`'s counter to `unadmitted` (what the reaper just counted) when it is lower, or sets it on
 * a queue that has none — only if the counter is still what `seen` (read before the count) says: a change
 * since means others are counting. Never lowers one (a waiter written after the count may not be counted
 * yet). True when set.
 */
export async function raiseWaiting(
  ddb: DynamoDBDocumentClient,
  table: string,
  queue: string,
  seen: Admission,
  unadmitted: number,
): Promise<boolean> {
  const before = seen.waiting[queue];
  if (before !== undefined && before >= unadmitted) return false;
  const done = await updateWaiting(ddb, table, {
    UpdateExpression: 'SET #w = :n',
    ConditionExpression: before === undefined ? 'attribute_not_exists(#w)' : '#w = :before',
    ExpressionAttributeNames: { '#w': waitingCounter(queue) },
    ExpressionAttributeValues: { ':n': unadmitted, ...(before === undefined ? {} : { ':before': before }) },
  });
  return done !== undefined;
}
