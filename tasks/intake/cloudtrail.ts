/**
 * Intake's side of the CloudTrail fast path (tasks/fast-path/): its confirmed drifts arrive as
 * `drift-remediation.fastpath` events whose detail is a RemediationEvent (handled like a sweep finding), and
 * the Config result that follows minutes later for the same change is recognised as the same drift.
 *
 * Same drift: the fast-path event claimed the ordering mark of (rule, resource) with its eventId
 * (`cloudtrail:…`) at the call's eventTime. A Config NON_COMPLIANT result under that mark whose
 * orderingTimestamp (when Config recorded the configuration) is no later than the end of the fast path's
 * execution describes the change that execution already handled:
 *   - execution RUNNING → left to intake's running check (dropped as "still running");
 *   - execution SUCCEEDED and the result recorded before it stopped → SKIPPED ("already remediated");
 *   - execution failed/aborted/timed out, or a result recorded after it stopped → a new fact: it proceeds
 *     (Config is the backstop).
 */
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { type DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import * as v from 'valibot';
import { FAST_PATH_EVENT_PREFIX } from '../fast-path/calls';
import { RemediationEvent, resourceKeyOf } from '../shared/contracts';
import { awsCall } from '../shared/errors';
import { ruleOrSource } from '../shared/execution-name';
import { orderingKey } from '../shared/tables';

export { FAST_PATH_SOURCE } from '../fast-path/calls';

interface IntakeView {
  sfn: SFNClient;
  ddb: DynamoDBDocumentClient;
  stateMachineArn: string;
  orderingTable: string;
}

/** The ordering item of (rule, resource) as one consistent GetItem read it (`item` undefined: none). */
export interface OrderingRead {
  key: string;
  item: Record<string, unknown> | undefined;
}

/**
 * The reason to drop a Config result the fast path already remediated (undefined: none), and the ordering
 * item it read to decide (undefined when it read nothing): intake's running check starts from that read.
 */
export async function sameDriftAsFastPath(
  raw: Record<string, unknown>,
  deps: IntakeView,
): Promise<{ reason?: string | undefined; read?: OrderingRead | undefined }> {
  const parsed = v.safeParse(RemediationEvent, raw);
  if (!parsed.success || parsed.output.source !== 'config' || !parsed.output.configRuleName) return {};
  const event = parsed.output;
  const key = orderingKey(ruleOrSource(event), resourceKeyOf(event));
  const r = await awsCall('GetItem(ordering)', () =>
    deps.ddb.send(new GetCommand({ TableName: deps.orderingTable, Key: { key }, ConsistentRead: true })),
  );
  const read = { key, item: r.Item };
  const claimedBy = typeof r.Item?.eventId === 'string' ? r.Item.eventId : '';
  const execution = typeof r.Item?.executionName === 'string' ? r.Item.executionName : undefined;
  if (!claimedBy.startsWith(FAST_PATH_EVENT_PREFIX) || !execution) return { read };
  const ended = await executionEnd(deps, execution);
  if (ended?.status !== 'SUCCEEDED' || !ended.stopDate) return { read };
  if (Date.parse(event.orderingTimestamp) > ended.stopDate.getTime()) return { read };
  return {
    reason: `same drift as the CloudTrail fast path's execution ${execution}: already remediated (${event.configRuleName} recorded ${event.orderingTimestamp}, remediation ended ${ended.stopDate.toISOString()})`,
    read,
  };
}

async function executionEnd(
  deps: IntakeView,
  name: string,
): Promise<{ status?: string | undefined; stopDate?: Date | undefined } | undefined> {
  try {
    const arn = `${deps.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    return await awsCall('DescribeExecution', () =>
      deps.sfn.send(new DescribeExecutionCommand({ executionArn: arn })),
    );
  } catch (err) {
    if (err instanceof Error && err.name === 'ExecutionDoesNotExist') return undefined;
    throw err;
  }
}
