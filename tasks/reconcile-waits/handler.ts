import { centralPlace, configIn, ssmIn } from '../shared/accounts';
import { sfnClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { ReconcileWaitsInput, reconcileWaits } from './core';

export const handler = taskHandler('reconcile-waits', ReconcileWaitsInput, () =>
  reconcileWaits({
    ssm: ssmIn,
    config: configIn,
    central: centralPlace(),
    ddb: dynamoClient(),
    sfn: sfnClient(),
    waitsTable: requireEnv(ENV.WAITS_TABLE),
    orderingTable: requireEnv(ENV.ORDERING_TABLE),
    leasesTable: requireEnv(ENV.LEASES_TABLE),
    queueTable: requireEnv(ENV.SLOT_QUEUE_TABLE),
    now: clockNow,
  }),
);
