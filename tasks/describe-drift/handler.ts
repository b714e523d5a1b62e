import { cloudFormationClient } from '../shared/clients';
import { taskHandler } from '../shared/handler';
import { DescribeDriftInput, describeDrift } from './core';

export const handler = taskHandler('describe-drift', DescribeDriftInput, (input) =>
  describeDrift(input, { cloudFormation: cloudFormationClient(), now: () => new Date() }),
);
