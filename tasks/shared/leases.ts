/**
 * Slot admission: ONE LEASES item (`lockId = 'admission'`, layout in tables.ts) holds a counter per scope
 * (`n#global`, `n#runbook#<doc>`, room for `n#account-region#…`) and the holders map. A grant is one
 * conditional UpdateItem that takes a unit of every scope or none, so no holder is ever admitted over a cap
 * and a holder is added or removed at most once (retries are harmless). No transactions: the sandbox's
 * DynamoDB (dynalite) has none, and one item needs none.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
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
}

export type GrantResult = 'granted' | 'held' | 'full';

const COUNTER_PREFIX = 'n#';
const counter = (scope: string) => `${COUNTER_PREFIX}${scope}`;

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
  for (const [k, v] of Object.entries(item)) {
    if (k.startsWith(COUNTER_PREFIX) && typeof v === 'number') counts[k.slice(COUNTER_PREFIX.length)] = v;
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
  return { counts, holders, queues: queues.sort() };
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

function grantCommand(table: string, holder: string, scopes: readonly Scope[], nowIso: string) {
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
 * The conditional grant alone: true when `holder` was admitted, false when refused (it already holds, or
 * a scope is at its cap: not told apart, nothing read).
 */
export async function tryGrant(
  ddb: DynamoDBDocumentClient,
  table: string,
  holder: string,
  scopes: readonly Scope[],
  nowIso: string,
): Promise<boolean> {
  if (scopes.length === 0) throw new Error('grant: no scopes');
  try {
    await awsCall('UpdateItem(admission grant)', async () => {
      try {
        await ddb.send(grantCommand(table, holder, scopes, nowIso));
      } catch (err) {
        if (!isMissingDocumentPath(err)) throw err;
        await ensureAdmission(ddb, table);
        await ddb.send(grantCommand(table, holder, scopes, nowIso));
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
): Promise<{ result: GrantResult; admission?: Admission }> {
  if (await tryGrant(ddb, table, holder, scopes, nowIso)) return { result: 'granted' };
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

/** Records that queue `queueId` may have waiters (a string set on the admission item; never shrinks). */
export async function noteQueue(ddb: DynamoDBDocumentClient, table: string, queueId: string): Promise<void> {
  await awsCall('UpdateItem(admission queues)', () =>
    ddb.send(
      new UpdateCommand({
        TableName: table,
        Key: { lockId: ADMISSION_ID },
        UpdateExpression: 'ADD #queues :q',
        ExpressionAttributeNames: { '#queues': 'queues' },
        ExpressionAttributeValues: { ':q': new Set([queueId]) },
      }),
    ),
  );
}
