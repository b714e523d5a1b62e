import { accountsConfigFromEnv, cloudControlIn, cloudFormationIn } from '../shared/accounts';
import { cloudControlClient, cloudFormationClient, sqsClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { policyFromEnv } from '../shared/policy-env';
import { FastPathInput, fastPath } from './core';

export const handler = taskHandler('fast-path', FastPathInput, (input) =>
  fastPath(input, {
    policy: policyFromEnv(),
    cloudFormation: cloudFormationClient(),
    cloudControl: cloudControlClient(),
    sqs: sqsClient(),
    ddb: dynamoClient(),
    intakeQueueUrl: requireEnv(ENV.INTAKE_QUEUE_URL),
    outcomesTable: requireEnv(ENV.OUTCOMES_TABLE),
    ownRoles: (process.env[ENV.FAST_PATH_OWN_ROLES] ?? '').split(',').filter((s) => s !== ''),
    now: clockNow,
    clientsIn: (place) => ({ cloudFormation: cloudFormationIn(place), cloudControl: cloudControlIn(place) }),
    centralAccountId: accountsConfigFromEnv().centralAccountId || undefined,
  }),
);
