import { cloudFormationIn } from '../shared/accounts';
import { taskHandler } from '../shared/handler';
import { DescribeDriftInput, describeDrift } from './core';

export const handler = taskHandler('describe-drift', DescribeDriftInput, (input) =>
  describeDrift(input, { cloudFormation: cloudFormationIn(input.event), now: () => new Date() }),
);
