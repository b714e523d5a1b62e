import {
  accountsConfigFromEnv,
  isMemberPlace,
  memberAutomationRoleArn,
  type Place,
  ssmIn,
} from '../shared/accounts';
import { sfnClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { dynamoClient } from '../shared/dynamo-client';
import { ENV, requireEnv } from '../shared/env';
import { taskHandler } from '../shared/handler';
import { StartRunbookInput, startRunbook } from './core';

/** In a member account the runbook runs there, as the member stack's automation role (docs/security.md). */
function automationRoleFor(place: Place): string {
  const accounts = accountsConfigFromEnv();
  if (isMemberPlace(accounts, place)) return memberAutomationRoleArn(accounts, place.awsAccountId);
  return requireEnv(ENV.AUTOMATION_ASSUME_ROLE_ARN);
}

export const handler = taskHandler('start-runbook', StartRunbookInput, (input) =>
  startRunbook(input, {
    ssm: ssmIn(input.event),
    ddb: dynamoClient(),
    sfn: sfnClient(),
    waitsTable: requireEnv(ENV.WAITS_TABLE),
    leasesTable: requireEnv(ENV.LEASES_TABLE),
    queueTable: requireEnv(ENV.SLOT_QUEUE_TABLE),
    automationAssumeRoleArn: automationRoleFor(input.event),
    now: clockNow,
  }),
);
