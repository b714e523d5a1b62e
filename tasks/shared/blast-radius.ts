/**
 * One notice per tripped blast-radius window. Every execution the breaker escalates in a window counts
 * itself on one OUTCOMES item (`resourceKey = 'blast-radius'`, `sk = notice#<windowStartIso>`) with a single
 * UpdateItem that also sets `notifier` once (if_not_exists): the execution that set it sends the window's
 * aggregated notice, every other one only records its outcome. A retried Record outcome of the notifier is
 * still the notifier (at-least-once notice); the count may include such retries.
 */
import { type DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { awsCall } from './errors';

export const BLAST_NOTICE_KEY = 'blast-radius';
export const blastNoticeSk = (windowStartIso: string) => `notice#${windowStartIso}`;

export interface BlastNotice {
  /** This execution sends the window's notice. */
  notifier: boolean;
  /** Escalations counted in the window so far (this one included). */
  escalated: number;
}

export async function countBlastEscalation(
  ddb: DynamoDBDocumentClient,
  outcomesTable: string,
  windowStart: string,
  executionName: string,
  expiresAt: number,
): Promise<BlastNotice> {
  const res = await awsCall('UpdateItem(blast-radius notice)', () =>
    ddb.send(
      new UpdateCommand({
        TableName: outcomesTable,
        Key: { resourceKey: BLAST_NOTICE_KEY, sk: blastNoticeSk(windowStart) },
        UpdateExpression:
          'ADD escalated :one SET notifier = if_not_exists(notifier, :me), expiresAt = if_not_exists(expiresAt, :exp)',
        ExpressionAttributeValues: { ':one': 1, ':me': executionName, ':exp': expiresAt },
        ReturnValues: 'ALL_NEW',
      }),
    ),
  );
  const a = res.Attributes ?? {};
  return {
    notifier: a.notifier === executionName,
    escalated: typeof a.escalated === 'number' ? a.escalated : 1,
  };
}
