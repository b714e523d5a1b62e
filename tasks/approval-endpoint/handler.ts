/**
 * Lambda Function URL handler of the approval endpoint (see core.ts). Not a Step Functions task, so
 * it does not use taskHandler; it never logs the query string, the form, the token or the CSRF value.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { loadSigningKeys } from '../shared/approvals/signing';
import { secretsClient, sfnClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { logger } from '../shared/powertools';
import { handleApprovalRequest } from './core';
import { PAGES } from './pages';

export async function handler(
  event: APIGatewayProxyEventV2,
  context?: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  logger.appendKeys({ task: 'approval-endpoint' });
  try {
    const deps = {
      ddb: dynamoClient(),
      sfn: sfnClient(),
      approvalsTable: requireEnv(ENV.APPROVALS_TABLE),
      signingKeys: () => loadSigningKeys(secretsClient(), requireEnv(ENV.SIGNING_SECRET_ARN)),
      log: logger,
      now: clockNow,
      csrfNow: () => new Date(),
    };
    return await handleApprovalRequest(event, deps, context);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    logger.error('approval endpoint failed', { errorName: e.name, errorMessage: e.message });
    return PAGES.failure(event.requestContext?.http?.method?.toUpperCase() === 'HEAD');
  } finally {
    logger.removeKeys(['task']);
  }
}
