import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import type { Context } from 'aws-lambda';
import { secretsClient } from '../shared/clients';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { metrics } from '../shared/metrics';
import { policyFromEnv } from '../shared/policy-env';
import { type NotifyDeps, NotifyInput, notify } from './core';
import { httpPost, readSecret } from './io';

function deps(): NotifyDeps {
  return {
    ddb: dynamoClient(),
    table: requireEnv(ENV.OUTCOMES_TABLE),
    policy: policyFromEnv().notifications,
    secret: (ref) => readSecret(secretsClient(), ref),
    post: httpPost,
    metrics,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    random: Math.random,
    now: () => new Date(),
  };
}

export const handler = taskHandler(
  'notify',
  NotifyInput,
  (input, context: Context | undefined) => notify(input, deps(), context),
  { use: [logMetrics(metrics)] },
);
