/**
 * Lease reaper (scheduled by EventBridge Scheduler). Frees the slots of holders whose execution is no
 * longer running (stopped, timed out or crashed outside a Catch: it cannot run its Release state), removes
 * queued waiters whose execution ended, then hands the freed slots to the oldest live waiters.
 *
 * Input  anything (the scheduler's payload is ignored; an object or nothing).
 * Output { holders, running, released, waiters, removed, granted, errors }: holder entries seen, holders still
 *        RUNNING (kept), holders released, waiters seen, waiters removed (execution ended), slots handed on,
 *        entries left alone because their execution could not be described (kept, retried next run).
 *
 * Which executions still run: one ListExecutions(statusFilter RUNNING) of the state machine (at most
 * MAX_LIST_PAGES pages of 1,000), read only when there is a holder or waiter to judge. A listed name is
 * running and kept, with no call of its own (under a burst every waiter is; describing each one was ≈ 2 s of
 * CPU per run). A name not listed is only a candidate (the listing is eventually consistent: a just-started
 * execution may be missing): DescribeExecution on the ARN rebuilt from STATE_MACHINE_ARN confirms it; any
 * status other than RUNNING, or ExecutionDoesNotExist, frees it (conditional: one that released itself
 * meanwhile is a no-op). Only definite evidence frees anything; doubt keeps it. If the listing fails, every
 * name is described as before. At most MAX_DESCRIBES executions are described per run (the rest wait for
 * the next run).
 */
import { DescribeExecutionCommand, ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { awsCall, errorName } from '../shared/errors';
import { raiseWaiting, readAdmission, release } from '../shared/leases';
import { handOff, leaveQueue, waitersOf } from '../shared/leases-queue';
import { logger } from '../shared/powertools';

export const ReapLeasesInput = v.unknown();
export type ReapLeasesInput = v.InferOutput<typeof ReapLeasesInput>;

/** DescribeExecution calls per run at most (holders first, then the queues' waiters). */
export const MAX_DESCRIBES = 500;
/** ListExecutions pages (1,000 executions each) per run at most; names beyond them are described. */
export const MAX_LIST_PAGES = 20;

export interface ReapLeasesDeps {
  ddb: DynamoDBDocumentClient;
  sfn: SFNClient;
  leasesTable: string;
  queueTable: string;
  stateMachineArn: string;
  now: () => Date;
}

export interface ReapLeasesResult {
  holders: number;
  running: number;
  released: number;
  waiters: number;
  removed: number;
  granted: number;
  errors: number;
}

const STATE_MACHINE_ARN = /^(arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}):stateMachine:([A-Za-z0-9_-]{1,80})$/;

/** arn:…:stateMachine:NAME + execution name → arn:…:execution:NAME:EXECUTION. */
export function executionArnFor(stateMachineArn: string, executionName: string): string {
  const m = STATE_MACHINE_ARN.exec(stateMachineArn);
  if (!m) throw new Error(`STATE_MACHINE_ARN is not a state machine ARN: ${stateMachineArn}`);
  return `${m[1]}:execution:${m[2]}:${executionName}`;
}

type Verdict = 'running' | 'gone' | 'unknown';

/**
 * The names of the state machine's executions ListExecutions reports RUNNING; undefined when the listing
 * failed (throttled, denied…: every name is then described).
 */
async function listRunning(deps: ReapLeasesDeps): Promise<Set<string> | undefined> {
  const names = new Set<string>();
  let nextToken: string | undefined;
  try {
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const res = await awsCall('ListExecutions', () =>
        deps.sfn.send(
          new ListExecutionsCommand({
            stateMachineArn: deps.stateMachineArn,
            statusFilter: 'RUNNING',
            maxResults: 1000,
            ...(nextToken ? { nextToken } : {}),
          }),
        ),
      );
      for (const x of res.executions ?? []) if (x.name) names.add(x.name);
      nextToken = res.nextToken;
      if (!nextToken) break;
    }
  } catch (err) {
    logger.warn('reap-leases: ListExecutions failed; each holder and waiter is described instead', {
      error: errorName(err),
    });
    return undefined;
  }
  return names;
}

/** DescribeExecution's verdict on one execution name. */
async function describe(deps: ReapLeasesDeps, name: string): Promise<Verdict> {
  try {
    const res = await awsCall('DescribeExecution', () =>
      deps.sfn.send(
        new DescribeExecutionCommand({ executionArn: executionArnFor(deps.stateMachineArn, name) }),
      ),
    );
    return res.status === 'RUNNING' ? 'running' : 'gone';
  } catch (err) {
    // Throttling, InvalidArn, access denied…: not proof the execution is gone, so keep it.
    return err instanceof Error && err.name === 'ExecutionDoesNotExist' ? 'gone' : 'unknown';
  }
}

/**
 * Verdicts per execution name for one run: listed RUNNING → running (no call); otherwise DescribeExecution,
 * cached and bounded by MAX_DESCRIBES ('unknown' beyond). The listing is made on the first question.
 */
function verdicts(deps: ReapLeasesDeps): (name: string) => Promise<Verdict> {
  const known = new Map<string, Verdict>();
  let running: Promise<Set<string> | undefined> | undefined;
  let described = 0;
  return async (name) => {
    const cached = known.get(name);
    if (cached) return cached;
    running ??= listRunning(deps);
    if ((await running)?.has(name)) return 'running';
    if (described >= MAX_DESCRIBES) return 'unknown';
    described++;
    const v = await describe(deps, name);
    known.set(name, v);
    return v;
  };
}

export async function reapLeases(_input: ReapLeasesInput, deps: ReapLeasesDeps): Promise<ReapLeasesResult> {
  // Validate configuration before touching anything.
  executionArnFor(deps.stateMachineArn, 'probe');
  const r: ReapLeasesResult = {
    holders: 0,
    running: 0,
    released: 0,
    waiters: 0,
    removed: 0,
    granted: 0,
    errors: 0,
  };
  const verdictFor = verdicts(deps);
  const adm = await readAdmission(deps.ddb, deps.leasesTable);
  for (const [name, holder] of Object.entries(adm.holders)) {
    r.holders++;
    const v = await verdictFor(name);
    if (v === 'running') r.running++;
    else if (v === 'unknown') r.errors++;
    else if (await release(deps.ddb, deps.leasesTable, name, holder.scopes)) r.released++;
  }
  for (const queue of adm.queues) {
    let removed = 0;
    let unadmitted = 0;
    for (const w of await waitersOf(deps, queue)) {
      r.waiters++;
      const v = await verdictFor(w.waiter);
      if (v === 'unknown') r.errors++;
      // A holder of the read above was admitted (its grant took it off the counter; released above).
      const granted = adm.holders[w.waiter] !== undefined;
      if (v === 'gone' && (await leaveQueue(deps, queue, w.waiter, { taskToken: w.taskToken, granted })))
        removed++;
      else if (!granted) unadmitted++;
    }
    r.removed += removed;
    // A waiter counter lower than the waiters just seen (or none yet) is raised: passes read the queue again.
    if (removed === 0) await raiseWaiting(deps.ddb, deps.leasesTable, queue, adm, unadmitted);
  }
  r.granted = (await handOff(deps)).granted;
  return r;
}
