import { cloudFormationIn } from '../shared/accounts';
import { taskHandler } from '../shared/handler';
import { DetectDriftInput, detectDrift } from './core';

export const handler = taskHandler('detect-drift', DetectDriftInput, (input) =>
  detectDrift(input, { cloudFormation: cloudFormationIn(input.event), now: () => new Date() }),
);
