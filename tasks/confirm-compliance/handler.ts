import { clients } from '../shared/clients';
import { taskHandler } from '../shared/handler';
import { ConfirmComplianceInput, confirmCompliance } from './core';

export const handler = taskHandler('confirm-compliance', ConfirmComplianceInput, (input) =>
  confirmCompliance(input, {
    config: clients.config(),
    cloudControl: clients.cloudControl(),
    cloudFormation: clients.cloudFormation(),
    now: () => new Date(),
  }),
);
