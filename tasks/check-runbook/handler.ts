import { ssmClient } from '../shared/clients';
import { taskHandler } from '../shared/handler';
import { CheckRunbookInput, checkRunbook } from './core';

export const handler = taskHandler('check-runbook', CheckRunbookInput, (input) =>
  checkRunbook(input, { ssm: ssmClient() }),
);
