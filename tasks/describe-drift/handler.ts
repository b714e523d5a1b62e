import { cloudFormationIn } from '../shared/accounts';
import { clockNow } from '../shared/clock';
import { taskHandler } from '../shared/handler';
import { DescribeDriftInput, describeDrift } from './core';

export const handler = taskHandler('describe-drift', DescribeDriftInput, (input) =>
  describeDrift(input, { cloudFormation: cloudFormationIn(input.event), now: clockNow }),
);
