import { cloudFormationClient } from '../shared/clients';
import { taskHandler } from '../shared/handler';
import { DetectDriftInput, detectDrift } from './core';

export const handler = taskHandler('detect-drift', DetectDriftInput, (input) =>
  detectDrift(input, { cloudFormation: cloudFormationClient(), now: () => new Date() }),
);
