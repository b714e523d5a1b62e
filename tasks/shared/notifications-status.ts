/**
 * Failed notification deliveries, as the ops console's fleet view can show them: the items tasks/notify
 * writes under `notification#failed` in the outcomes table (sort key `<failedAt>#<deliveryId>#<channel>`).
 * One Query (the console's read-only commands allow it), newest first.
 */
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import { FAILED_DELIVERIES_KEY } from './notifications';

export interface FailedDelivery {
  failedAt: string;
  channel: string;
  deliveryId: string;
  outcome: string;
  subject: string;
  executionName: string;
  error: string;
}

/** Deliveries that gave up since `since` (ISO), newest first, at most `limit`. */
export async function failedDeliveries(
  ddb: DynamoDBDocumentClient,
  outcomesTable: string,
  since: string,
  limit = 50,
): Promise<FailedDelivery[]> {
  const res = await ddb.send(
    new QueryCommand({
      TableName: outcomesTable,
      KeyConditionExpression: '#pk = :pk AND #sk >= :since',
      ExpressionAttributeNames: { '#pk': 'resourceKey', '#sk': 'sk' },
      ExpressionAttributeValues: { ':pk': FAILED_DELIVERIES_KEY, ':since': since },
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  return (res.Items ?? []).map((i) => ({
    failedAt: str(i.failedAt),
    channel: str(i.channel),
    deliveryId: str(i.deliveryId),
    outcome: str(i.outcome),
    subject: str(i.subject),
    executionName: str(i.executionName),
    error: str(i.error),
  }));
}
