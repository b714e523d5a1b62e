import { cloudControlIn, cloudFormationIn, type Place } from '../shared/accounts';
import { configClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { policyFromEnv } from '../shared/policy-env';
import { type PlanDeps, PlanInput, planState } from './core';

/** The resource's own tags are read where it lives; Config's in-scope count is the central account's. */
function deps(place: Place): PlanDeps {
  return {
    ddb: dynamoClient(),
    cloudControl: cloudControlIn(place),
    cloudFormation: cloudFormationIn(place),
    config: configClient(),
    policy: policyFromEnv(),
    orderingTable: requireEnv(ENV.ORDERING_TABLE),
    outcomesTable: requireEnv(ENV.OUTCOMES_TABLE),
    now: clockNow,
  };
}

export const handler = taskHandler('plan', PlanInput, (input) => planState(input, deps(input.event)));
