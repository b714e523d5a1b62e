import { cloudControlIn, cloudFormationIn, configIn } from '../shared/accounts';
import { clockNow } from '../shared/clock';
import { taskHandler } from '../shared/handler';
import { ConfirmComplianceInput, confirmCompliance } from './core';

export const handler = taskHandler('confirm-compliance', ConfirmComplianceInput, (input) =>
  confirmCompliance(input, {
    config: configIn(input.event),
    cloudControl: cloudControlIn(input.event),
    cloudFormation: cloudFormationIn(input.event),
    now: clockNow,
  }),
);
