import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { accountsConfigFromEnv, cloudFormationIn, configIn } from '../shared/accounts';
import { sfnClient } from '../shared/clients';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { metrics } from '../shared/metrics';
import { policyFromEnv } from '../shared/policy-env';
import { type IntakeDeps, IntakeInput, intake } from './core';

function deps(context: Context | undefined): IntakeDeps {
  const central = accountsConfigFromEnv().centralAccountId || context?.invokedFunctionArn?.split(':')[4];
  return {
    sfn: sfnClient(),
    config: configIn,
    ddb: dynamoClient(),
    cloudFormation: cloudFormationIn,
    policy: policyFromEnv(),
    centralAccountId: central,
    stateMachineArn: requireEnv(ENV.STATE_MACHINE_ARN),
    orderingTable: requireEnv(ENV.ORDERING_TABLE),
    outcomesTable: requireEnv(ENV.OUTCOMES_TABLE),
    now: () => new Date(),
  };
}

export const handler = taskHandler(
  'intake',
  IntakeInput,
  (input, context) => intake(input, deps(context), context),
  { use: [logMetrics(metrics)] },
);
