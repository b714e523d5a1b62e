import { cloudControlClient, cloudFormationClient, configClient } from '../shared/clients';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { policyFromEnv } from '../shared/policy-env';
import { type PlanDeps, PlanInput, plan } from './core';

function deps(): PlanDeps {
  return {
    ddb: dynamoClient(),
    cloudControl: cloudControlClient(),
    cloudFormation: cloudFormationClient(),
    config: configClient(),
    policy: policyFromEnv(),
    orderingTable: requireEnv(ENV.ORDERING_TABLE),
    outcomesTable: requireEnv(ENV.OUTCOMES_TABLE),
    now: () => new Date(),
  };
}

export const handler = taskHandler('plan', PlanInput, (input) => plan(input, deps()));
