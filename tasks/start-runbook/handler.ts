import { ssmClient } from '../shared/clients';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { StartRunbookInput, startRunbook } from './core';

export const handler = taskHandler('start-runbook', StartRunbookInput, (input) =>
  startRunbook(input, {
    ssm: ssmClient(),
    automationAssumeRoleArn: requireEnv(ENV.AUTOMATION_ASSUME_ROLE_ARN),
  }),
);
