import { loadSigningKeys } from '../shared/approvals/signing';
import { secretsClient, snsClient, sqsClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { notifyTargetFromEnv } from '../shared/notifications-enqueue';
import { RequestApprovalInput, requestApproval } from './core';

export const handler = taskHandler('request-approval', RequestApprovalInput, (input) =>
  requestApproval(input, {
    ddb: dynamoClient(),
    sns: snsClient(),
    approvalsTable: requireEnv(ENV.APPROVALS_TABLE),
    topicArn: requireEnv(ENV.APPROVAL_TOPIC_ARN),
    baseUrl: requireEnv(ENV.APPROVAL_BASE_URL),
    signingKeys: () => loadSigningKeys(secretsClient(), requireEnv(ENV.SIGNING_SECRET_ARN)),
    automationAssumeRoleArn: process.env[ENV.AUTOMATION_ASSUME_ROLE_ARN],
    // A failed enqueue is logged, not counted: no Powertools Metrics in this bundle (as Abort cleanup).
    notify: notifyTargetFromEnv(() => sqsClient()),
    now: clockNow,
  }),
);
