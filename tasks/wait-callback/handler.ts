import { sfnClient, ssmClient } from '../shared/clients';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { WaitCallbackInput, waitCallback } from './core';

export const handler = taskHandler('wait-callback', WaitCallbackInput, (input) =>
  waitCallback(input, {
    ssm: ssmClient(),
    ddb: dynamoClient(),
    sfn: sfnClient(),
    waitsTable: requireEnv(ENV.WAITS_TABLE),
  }),
);
