/**
 * Lease reaper (scheduled by EventBridge Scheduler). Frees leases whose holder execution is no
 * longer running: an execution that was stopped, timed out or crashed outside a Catch cannot run its
 * Release state, and its lease would otherwise block remediations forever.
 *
 * Input  anything (the scheduler's payload is ignored; an object or nothing).
 * Output { locks, holders, running, released, errors }: counts of lock items scanned, holder
 *        entries seen, holders still RUNNING (kept), holders released, holders left alone because
 *        their execution could not be described (throttling, unexpected errors: kept, retried next run).
 *
 * For each holder (the execution *name*), DescribeExecution on the ARN rebuilt from STATE_MACHINE_ARN;
 * any status other than RUNNING, or ExecutionDoesNotExist, releases it (conditional: a holder that
 * released itself meanwhile is a no-op). Only definite evidence releases a lease; doubt keeps it.
 */
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { type DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { awsCall } from '../shared/errors';
import { releaseLock } from '../shared/leases';

export const ReapLeasesInput = z.unknown();
export type ReapLeasesInput = z.infer<typeof ReapLeasesInput>;

export interface ReapLeasesDeps {
  ddb: DynamoDBDocumentClient;
  sfn: SFNClient;
  leasesTable: string;
  stateMachineArn: string;
}

export interface ReapLeasesResult {
  locks: number;
  holders: number;
  running: number;
  released: number;
  errors: number;
}

const STATE_MACHINE_ARN = /^(arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}):stateMachine:([A-Za-z0-9_-]{1,80})$/;

/** arn:…:stateMachine:NAME + execution name → arn:…:execution:NAME:EXECUTION. */
export function executionArnFor(stateMachineArn: string, executionName: string): string {
  const m = STATE_MACHINE_ARN.exec(stateMachineArn);
  if (!m) throw new Error(`STATE_MACHINE_ARN is not a state machine ARN: ${stateMachineArn}`);
  return `${m[1]}:execution:${m[2]}:${executionName}`;
}

type HolderVerdict = 'running' | 'gone' | 'unknown';

export async function reapLeases(_input: ReapLeasesInput, deps: ReapLeasesDeps): Promise<ReapLeasesResult> {
  // Validate configuration before touching anything.
  executionArnFor(deps.stateMachineArn, 'probe');
  const result: ReapLeasesResult = { locks: 0, holders: 0, running: 0, released: 0, errors: 0 };
  const verdicts = new Map<string, HolderVerdict>();

  const verdictFor = async (name: string): Promise<HolderVerdict> => {
    const known = verdicts.get(name);
    if (known) return known;
    let v: HolderVerdict;
    try {
      const res = await awsCall('DescribeExecution', () =>
        deps.sfn.send(
          new DescribeExecutionCommand({ executionArn: executionArnFor(deps.stateMachineArn, name) }),
        ),
      );
      v = res.status === 'RUNNING' ? 'running' : 'gone';
    } catch (err) {
      // Throttling, InvalidArn, access denied…: not proof the holder is gone, so keep the lease.
      v = err instanceof Error && err.name === 'ExecutionDoesNotExist' ? 'gone' : 'unknown';
    }
    verdicts.set(name, v);
    return v;
  };

  let startKey: Record<string, unknown> | undefined;
  do {
    const page = await awsCall('Scan(leases)', () =>
      deps.ddb.send(
        new ScanCommand({ TableName: deps.leasesTable, ExclusiveStartKey: startKey, ConsistentRead: true }),
      ),
    );
    for (const item of page.Items ?? []) {
      const lockId = item.lockId;
      if (typeof lockId !== 'string') continue;
      result.locks++;
      const holders =
        item.holders && typeof item.holders === 'object' ? Object.keys(item.holders as object) : [];
      for (const holder of holders) {
        result.holders++;
        const v = await verdictFor(holder);
        if (v === 'running') result.running++;
        else if (v === 'unknown') result.errors++;
        else {
          try {
            if (await releaseLock(deps.ddb, deps.leasesTable, lockId, holder)) result.released++;
          } catch {
            result.errors++;
          }
        }
      }
    }
    startKey = page.LastEvaluatedKey;
  } while (startKey);
  return result;
}
