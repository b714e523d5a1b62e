import { configClient } from '../shared/clients';
import { taskHandler } from '../shared/handler';
import { CheckComplianceInput, checkCompliance } from './core';

export const handler = taskHandler('check-compliance', CheckComplianceInput, (input) =>
  checkCompliance(input, { config: configClient() }),
);
