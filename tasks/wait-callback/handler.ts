import { centralPlace, ssmIn } from '../shared/accounts';
import { sfnClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { WaitCallbackInput, waitCallback } from './core';

export const handler = taskHandler('wait-callback', WaitCallbackInput, (input) =>
  waitCallback(input, {
    ssm: ssmIn,
    central: centralPlace(),
    ddb: dynamoClient(),
    sfn: sfnClient(),
    waitsTable: requireEnv(ENV.WAITS_TABLE),
    leasesTable: requireEnv(ENV.LEASES_TABLE),
    queueTable: requireEnv(ENV.SLOT_QUEUE_TABLE),
    now: clockNow,
  }),
);
