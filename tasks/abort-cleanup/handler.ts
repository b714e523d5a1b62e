import { centralPlace, ssmIn } from '../shared/accounts';
import { sfnClient, snsClient, sqsClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { notifyTargetFromEnv } from '../shared/notifications-enqueue';
import { AbortCleanupInput, abortCleanup } from './core';

export const handler = taskHandler('abort-cleanup', AbortCleanupInput, (input) =>
  abortCleanup(input, {
    ddb: dynamoClient(),
    sfn: sfnClient(),
    ssm: ssmIn,
    central: centralPlace(),
    sns: snsClient(),
    waitsTable: requireEnv(ENV.WAITS_TABLE),
    leasesTable: requireEnv(ENV.LEASES_TABLE),
    queueTable: requireEnv(ENV.SLOT_QUEUE_TABLE),
    outcomesTable: requireEnv(ENV.OUTCOMES_TABLE),
    outcomeTopicArn: requireEnv(ENV.OUTCOME_TOPIC_ARN),
    stateMachineArn: requireEnv(ENV.STATE_MACHINE_ARN),
    now: clockNow,
    notify: notifyTargetFromEnv(() => sqsClient()),
  }),
);
