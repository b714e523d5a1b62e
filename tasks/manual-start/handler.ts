/**
 * Lambda Function URL handler (AuthType AWS_IAM) of the manual-start entry (see core.ts). Not a Step
 * Functions task, so it does not use taskHandler; it logs who asked and what, never the proof.
 */
import type {
  APIGatewayProxyStructuredResultV2,
  Context,
  LambdaFunctionURLEventWithIAMAuthorizer,
} from 'aws-lambda';
import { loadSigningKeys } from '../shared/approvals/signing';
import { secretsClient, sqsClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { ENV, requireEnv } from '../shared/env';
import { logger } from '../shared/powertools';
import { handleManualStart } from './core';

export async function handler(
  event: LambdaFunctionURLEventWithIAMAuthorizer,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> {
  logger.appendKeys({ task: 'manual-start' });
  try {
    const result = await handleManualStart(event, {
      sqs: sqsClient(),
      intakeQueueUrl: requireEnv(ENV.INTAKE_QUEUE_URL),
      signingKeys: () => loadSigningKeys(secretsClient(), requireEnv(ENV.SIGNING_SECRET_ARN)),
      accountId: context.invokedFunctionArn.split(':')[4] ?? '',
      region: requireEnv('AWS_REGION'),
      now: clockNow,
    });
    logger.info('manual start', {
      status: result.statusCode,
      caller: event.requestContext?.authorizer?.iam?.userArn,
      ...(result.statusCode === 202 ? { result: result.body } : {}),
    });
    return result;
  } finally {
    logger.removeKeys(['task']);
  }
}
