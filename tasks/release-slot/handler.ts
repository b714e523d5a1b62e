import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { ReleaseSlotInput, releaseSlot } from './core';

export const handler = taskHandler('release-slot', ReleaseSlotInput, (input) =>
  releaseSlot(input, { ddb: dynamoClient(), leasesTable: requireEnv(ENV.LEASES_TABLE) }),
);
