import { configIn } from '../shared/accounts';
import { sfnClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { AwaitComplianceInput, awaitCompliance } from './core';

export const handler = taskHandler('await-compliance', AwaitComplianceInput, (input) =>
  awaitCompliance(input, {
    config: configIn(input.event),
    ddb: dynamoClient(),
    sfn: sfnClient(),
    waitsTable: requireEnv(ENV.WAITS_TABLE),
    orderingTable: requireEnv(ENV.ORDERING_TABLE),
    now: clockNow,
  }),
);
