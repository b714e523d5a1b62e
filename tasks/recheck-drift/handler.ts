import { cloudFormationIn } from '../shared/accounts';
import { clockNow } from '../shared/clock';
import { taskHandler } from '../shared/handler';
import { RecheckDriftInput, recheckDrift } from './core';

export const handler = taskHandler('recheck-drift', RecheckDriftInput, (input) =>
  recheckDrift(input, { cloudFormation: cloudFormationIn(input.event), now: clockNow }),
);
