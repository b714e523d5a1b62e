import { sfnClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { ReleaseSlotInput, releaseSlot } from './core';

export const handler = taskHandler('release-slot', ReleaseSlotInput, (input) =>
  releaseSlot(input, {
    ddb: dynamoClient(),
    sfn: sfnClient(),
    leasesTable: requireEnv(ENV.LEASES_TABLE),
    queueTable: requireEnv(ENV.SLOT_QUEUE_TABLE),
    now: clockNow,
  }),
);
