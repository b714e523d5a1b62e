import { sfnClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { ReapLeasesInput, reapLeases } from './core';

export const handler = taskHandler('reap-leases', ReapLeasesInput, (input) =>
  reapLeases(input, {
    ddb: dynamoClient(),
    sfn: sfnClient(),
    leasesTable: requireEnv(ENV.LEASES_TABLE),
    queueTable: requireEnv(ENV.SLOT_QUEUE_TABLE),
    stateMachineArn: requireEnv(ENV.STATE_MACHINE_ARN),
    now: clockNow,
  }),
);
