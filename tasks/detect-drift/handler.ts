import { cloudFormationIn } from '../shared/accounts';
import { clockNow } from '../shared/clock';
import { taskHandler } from '../shared/handler';
import { DetectDriftInput, detectDrift } from './core';

export const handler = taskHandler('detect-drift', DetectDriftInput, (input) =>
  detectDrift(input, { cloudFormation: cloudFormationIn(input.event), now: clockNow }),
);
