import { cloudFormationIn } from '../shared/accounts';
import { cloudFormationClient } from '../shared/clients';
import { clockNow } from '../shared/clock';
import { taskHandler } from '../shared/handler';
import { CheckDriftInput, checkDrift } from './core';

export const handler = taskHandler('check-drift', CheckDriftInput, (input) =>
  checkDrift(input, {
    cloudFormation: input.event ? cloudFormationIn(input.event) : cloudFormationClient(),
    now: clockNow,
  }),
);
