import { configClient } from '../shared/clients';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { RequestReevaluationInput, requestReevaluation } from './core';

export const handler = taskHandler('request-reevaluation', RequestReevaluationInput, (input) =>
  requestReevaluation(input, {
    config: configClient(),
    ddb: dynamoClient(),
    orderingTable: requireEnv(ENV.ORDERING_TABLE),
    now: () => new Date(),
  }),
);
