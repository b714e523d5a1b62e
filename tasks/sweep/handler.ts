import type { Context } from 'aws-lambda';
import { configClient, sqsClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { parseRuleList, SweepInput, sweep } from './core';

/** The account comes from the function's own ARN, else from the queue URL (`…/<account>/<queue>`). */
export function accountOf(context: Context | undefined, queueUrl: string): string {
  const fromArn = context?.invokedFunctionArn?.split(':')[4];
  if (fromArn && /^\d{12}$/.test(fromArn)) return fromArn;
  const fromUrl = /\/(\d{12})\/[^/]+$/.exec(queueUrl)?.[1];
  if (fromUrl) return fromUrl;
  throw new Error('cannot tell the account id (no function ARN, queue URL without an account)');
}

export const handler = taskHandler('sweep', SweepInput, (input, context) => {
  const queueUrl = requireEnv(ENV.INTAKE_QUEUE_URL);
  return sweep(input, {
    config: configClient(),
    sqs: sqsClient(),
    queueUrl,
    configRules: parseRuleList(process.env[ENV.CONFIG_RULES]),
    accountId: accountOf(context, queueUrl),
    region: requireEnv('AWS_REGION'),
    now: clockNow,
  });
});
