import { cloudFormationClient, configClient, sfnClient } from '../shared/clients';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { metrics } from '../shared/metrics';
import { policyFromEnv } from '../shared/policy-env';
import { type IntakeDeps, IntakeInput, intake } from './core';

function deps(): IntakeDeps {
  return {
    sfn: sfnClient(),
    config: configClient(),
    ddb: dynamoClient(),
    cloudFormation: cloudFormationClient(),
    policy: policyFromEnv(),
    stateMachineArn: requireEnv(ENV.STATE_MACHINE_ARN),
    orderingTable: requireEnv(ENV.ORDERING_TABLE),
    outcomesTable: requireEnv(ENV.OUTCOMES_TABLE),
    now: () => new Date(),
  };
}

export const handler = taskHandler(
  'intake',
  IntakeInput,
  (input, context) => intake(input, deps(), context),
  { metrics },
);
