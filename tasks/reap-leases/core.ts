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
 * For each holder or waiter (the execution *name*), DescribeExecution on the ARN rebuilt from
 * STATE_MACHINE_ARN; any status other than RUNNING, or ExecutionDoesNotExist, frees it (conditional: one
 * that released itself meanwhile is a no-op). Only definite evidence frees anything; doubt keeps it.
 * At most MAX_DESCRIBES executions are described per run (the rest wait for the next run).
 */
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { awsCall } from '../shared/errors';
import { readAdmission, release } from '../shared/leases';
import { handOff, removeWaiter, waitersOf } from '../shared/leases-queue';

export const ReapLeasesInput = v.unknown();
export type ReapLeasesInput = v.InferOutput<typeof ReapLeasesInput>;

/** DescribeExecution calls per run at most (holders first, then the queues' waiters). */
export const MAX_DESCRIBES = 500;

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

/** DescribeExecution verdicts, cached per run and bounded by MAX_DESCRIBES ('unknown' beyond). */
function verdicts(deps: ReapLeasesDeps): (name: string) => Promise<Verdict> {
  const known = new Map<string, Verdict>();
  return async (name) => {
    const cached = known.get(name);
    if (cached) return cached;
    if (known.size >= MAX_DESCRIBES) return 'unknown';
    let v: Verdict;
    try {
      const res = await awsCall('DescribeExecution', () =>
        deps.sfn.send(
          new DescribeExecutionCommand({ executionArn: executionArnFor(deps.stateMachineArn, name) }),
        ),
      );
      v = res.status === 'RUNNING' ? 'running' : 'gone';
    } catch (err) {
      // Throttling, InvalidArn, access denied…: not proof the execution is gone, so keep it.
      v = err instanceof Error && err.name === 'ExecutionDoesNotExist' ? 'gone' : 'unknown';
    }
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
    for (const w of await waitersOf(deps, queue)) {
      r.waiters++;
      const v = await verdictFor(w.waiter);
      if (v === 'unknown') r.errors++;
      else if (v === 'gone' && (await removeWaiter(deps, queue, w.waiter, w.taskToken))) r.removed++;
    }
  }
  r.granted = (await handOff(deps)).granted;
  return r;
}
