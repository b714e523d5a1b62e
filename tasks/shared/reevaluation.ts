/**
 * Asks Config to re-evaluate a rule now, coalesced to at most one StartConfigRulesEvaluation per rule
 * per minute across all executions (Config itself allows one per minute and answers
 * LimitExceededException while an evaluation is in progress). Used by Wait for compliance and the
 * reconciler (which re-asks for verifications still waiting, so a coalesced request that ran before a
 * fix landed is followed by one after it).
 *
 * Coalescing: a conditional PutItem on ORDERING `reeval#<rule>#<account>#<region>` (each account-region
 * has its own Config and its own rule of that name; `reeval#<rule>` when no place is given) = { requestedAt }
 * that only succeeds when no request was made in the last 60 s. Only the winner calls Config; the others ride along.
 * If Config then refuses for another reason the marker is removed (so the next caller tries again).
 * Result: requested | coalesced (into one requested or in progress) | no-such-rule (nothing can verify the fix).
 * Errors: TransientServiceError; anything else Config answers is rethrown.
 */
import { type ConfigServiceClient, StartConfigRulesEvaluationCommand } from '@aws-sdk/client-config-service';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, type DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type { Place } from './accounts';
import { awsCall } from './errors';
import { reevalKey } from './tables';

export const COALESCE_SECONDS = 60;

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
async function claim(deps: RequestReevaluationDeps, key: string, now: Date): Promise<boolean> {
  const requestedAt = now.toISOString();
  const cutoff = new Date(now.getTime() - COALESCE_SECONDS * 1000).toISOString();
  try {
    await awsCall('PutItem(ordering reeval)', () =>
      deps.ddb.send(
        new PutCommand({
          TableName: deps.orderingTable,
          Item: { key, requestedAt, expiresAt: Math.floor(now.getTime() / 1000) + 86_400 },
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

async function unclaim(deps: RequestReevaluationDeps, key: string, now: Date): Promise<void> {
  await deps.ddb
    .send(
      new DeleteCommand({
        TableName: deps.orderingTable,
        Key: { key },
        ConditionExpression: '#requestedAt = :mine',
        ExpressionAttributeNames: { '#requestedAt': 'requestedAt' },
        ExpressionAttributeValues: { ':mine': now.toISOString() },
      }),
    )
    .catch(() => undefined); // best effort: the marker also lapses after 60 s
}

export type ReevaluationRequest = 'requested' | 'coalesced' | 'no-such-rule';

/** `place`: the account-region whose Config `deps.config` reaches. */
export async function requestReevaluation(
  deps: RequestReevaluationDeps,
  rule: string,
  place?: Place,
): Promise<ReevaluationRequest> {
  const now = deps.now();
  const key = reevalKey(place ? `${rule}#${place.awsAccountId}#${place.awsRegion}` : rule);
  if (!(await claim(deps, key, now))) return 'coalesced';
  try {
    await awsCall('StartConfigRulesEvaluation', () =>
      deps.config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: [rule] })),
    );
    return 'requested';
  } catch (err) {
    const name = err instanceof Error ? err.name : '';
    if (name === 'LimitExceededException') return 'coalesced';
    await unclaim(deps, key, now);
    if (name === 'NoSuchConfigRuleException') return 'no-such-rule';
    throw err;
  }
}
