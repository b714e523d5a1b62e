import { cloudFormationClient } from '../shared/clients';
import { taskHandler } from '../shared/handler';
import { RecheckDriftInput, recheckDrift } from './core';

export const handler = taskHandler('recheck-drift', RecheckDriftInput, (input) =>
  recheckDrift(input, { cloudFormation: cloudFormationClient(), now: () => new Date() }),
);
