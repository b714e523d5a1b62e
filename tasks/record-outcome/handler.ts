import { sfnClient, snsClient, sqsClient } from '../shared/clients';
import { clockNow, taskClock } from '../shared/clock';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { metrics } from '../shared/metrics';
import { notifyTargetFromEnv } from '../shared/notifications-enqueue';
import { RecordOutcomeInput, recordOutcome } from './core';

export const handler = taskHandler('record-outcome', RecordOutcomeInput, (input) =>
  recordOutcome(input, {
    ddb: dynamoClient(),
    sns: snsClient(),
    sfn: sfnClient(),
    durationScale: taskClock().scale,
    outcomesTable: requireEnv(ENV.OUTCOMES_TABLE),
    approvalsTable: requireEnv(ENV.APPROVALS_TABLE),
    outcomeTopicArn: requireEnv(ENV.OUTCOME_TOPIC_ARN),
    approvalTopicArn: requireEnv(ENV.APPROVAL_TOPIC_ARN),
    metrics,
    now: clockNow,
    notify: {
      ...notifyTargetFromEnv(() => sqsClient()),
      countFailure: () => metrics.singleMetric().addMetric('NotificationEnqueueFailed', 'Count', 1),
    },
  }),
);
