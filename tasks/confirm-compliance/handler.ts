import { cloudControlClient, cloudFormationClient, configClient } from '../shared/clients';
import { taskHandler } from '../shared/handler';
import { ConfirmComplianceInput, confirmCompliance } from './core';

export const handler = taskHandler('confirm-compliance', ConfirmComplianceInput, (input) =>
  confirmCompliance(input, {
    config: configClient(),
    cloudControl: cloudControlClient(),
    cloudFormation: cloudFormationClient(),
    now: () => new Date(),
  }),
);
