import { sfnClient, ssmClient } from '../shared/clients';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { StartRunbookInput, startRunbook } from './core';

export const handler = taskHandler('start-runbook', StartRunbookInput, (input) =>
  startRunbook(input, {
    ssm: ssmClient(),
    ddb: dynamoClient(),
    sfn: sfnClient(),
    waitsTable: requireEnv(ENV.WAITS_TABLE),
    automationAssumeRoleArn: requireEnv(ENV.AUTOMATION_ASSUME_ROLE_ARN),
    now: () => new Date(),
  }),
);
