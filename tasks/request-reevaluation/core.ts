/**
 * Request re-evaluation: asks Config to re-evaluate the event's rule now, coalesced to at most one
 * StartConfigRulesEvaluation per rule per minute across all executions (Config itself allows one
 * per minute and answers LimitExceededException while an evaluation is in progress).
 *
 * Input  { event: RemediationEvent (configRuleName required), plan: PlanResult, verification?: VerificationState,
 *          execution?: { id, name, startTime } }
 * Output VerificationState ($.verification): status pending, reevaluationRequested: true (requested
 *        or coalesced into one already requested/in progress), startedAt kept (or set now).
 *
 * Coalescing: a conditional PutItem on ORDERING `reeval#<rule>` = { requestedAt } that only succeeds
 * when no request was made in the last 60 s. Only the winner calls Config; the others ride along.
 * If Config then refuses for another reason the marker is removed (so the next caller tries again).
 * The workflow may loop Wait → Request re-evaluation → Check compliance: repeats cost one conditional write.
 * Errors: InvalidInputError (no Config rule: nothing is written); TransientServiceError.
 *   NoSuchConfigRuleException → status failed (the rule is gone, so nothing can verify the fix).
 */
import { type ConfigServiceClient, StartConfigRulesEvaluationCommand } from '@aws-sdk/client-config-service';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import * as z from 'zod';
import { PlanResult, RemediationEvent, VerificationState } from '../shared/contracts';
import { awsCall, InvalidInputError } from '../shared/errors';
import { ExecutionRef } from '../shared/execution-ref';
import { reevalKey } from '../shared/tables';
import { verificationBase } from '../shared/verification';

export const COALESCE_SECONDS = 60;

export const RequestReevaluationInput = z.object({
  event: RemediationEvent,
  plan: PlanResult,
  verification: VerificationState.optional(),
  execution: ExecutionRef.optional(),
});
export type RequestReevaluationInput = z.infer<typeof RequestReevaluationInput>;

export interface RequestReevaluationDeps {
  config: ConfigServiceClient;
  ddb: DynamoDBDocumentClient;
  orderingTable: string;
  now: () => Date;
}

function isConditionFailed(err: unknown): boolean {
  return (
    err instanceof ConditionalCheckFailedException ||
    (err instanceof Error && err.name === 'ConditionalCheckFailedException')
  );
}

/** Claims the per-rule request slot for this minute. false: someone requested within the last 60 s. */
async function claim(deps: RequestReevaluationDeps, rule: string, now: Date): Promise<boolean> {
  const requestedAt = now.toISOString();
  const cutoff = new Date(now.getTime() - COALESCE_SECONDS * 1000).toISOString();
  try {
    await awsCall('PutItem(ordering reeval)', () =>
      deps.ddb.send(
        new PutCommand({
          TableName: deps.orderingTable,
          Item: { key: reevalKey(rule), requestedAt, expiresAt: Math.floor(now.getTime() / 1000) + 86_400 },
          ConditionExpression: 'attribute_not_exists(#key) OR #requestedAt <= :cutoff',
          ExpressionAttributeNames: { '#key': 'key', '#requestedAt': 'requestedAt' },
          ExpressionAttributeValues: { ':cutoff': cutoff },
        }),
      ),
    );
    return true;
  } catch (err) {
    if (isConditionFailed(err)) return false;
    throw err;
  }
}

async function unclaim(deps: RequestReevaluationDeps, rule: string, now: Date): Promise<void> {
  await deps.ddb
    .send(
      new DeleteCommand({
        TableName: deps.orderingTable,
        Key: { key: reevalKey(rule) },
        ConditionExpression: '#requestedAt = :mine',
        ExpressionAttributeNames: { '#requestedAt': 'requestedAt' },
        ExpressionAttributeValues: { ':mine': now.toISOString() },
      }),
    )
    .catch(() => undefined); // best effort: the marker also lapses after 60 s
}

export async function requestReevaluation(
  input: RequestReevaluationInput,
  deps: RequestReevaluationDeps,
): Promise<VerificationState> {
  const { event, plan } = input;
  const rule = event.configRuleName;
  if (!rule) {
    throw new InvalidInputError('request-reevaluation: the event has no Config rule to re-evaluate', [
      'event.configRuleName: missing',
    ]);
  }
  const now = deps.now();
  const base = verificationBase(input.verification, plan, now);
  const pending = (reason: string): VerificationState => ({
    ...base,
    status: 'pending',
    reevaluationRequested: true,
    reason,
  });

  if (!(await claim(deps, rule, now))) {
    return pending(
      `re-evaluation of ${rule} already requested within the last ${COALESCE_SECONDS} s (coalesced)`,
    );
  }
  try {
    await awsCall('StartConfigRulesEvaluation', () =>
      deps.config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: [rule] })),
    );
    return pending(`re-evaluation of ${rule} requested at ${now.toISOString()}`);
  } catch (err) {
    const name = err instanceof Error ? err.name : '';
    if (name === 'LimitExceededException') {
      return pending(`an evaluation of ${rule} is already in progress (coalesced)`);
    }
    await unclaim(deps, rule, now);
    if (name === 'NoSuchConfigRuleException') {
      return {
        ...base,
        status: 'failed',
        reevaluationRequested: false,
        reason: `Config rule ${rule} does not exist; cannot verify`,
      };
    }
    throw err;
  }
}
