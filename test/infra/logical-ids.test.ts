/**
 * Concern constructs are left out of logical IDs, so the split into infra/constructs/ replaced nothing:
 * CloudFormation replaces a resource whose logical ID changes (new key and tables; a failed deploy for
 * named documents, rules, the state machine and a second event source mapping on the same queue).
 */
import { App, CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { Concern, keepStableLogicalIds, stableLogicalId } from '../../infra/constructs/logical-ids';
import { synth } from './synth';

/** A queue and a function reading it (an event source mapping whose id embeds the queue's unique id). */
function addQueueAndReader(scope: Construct): void {
  const queue = new sqs.Queue(scope, 'IntakeQueue');
  const fn = new lambda.Function(scope, 'IntakeFunction', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('export const handler = async () => {};'),
  });
  fn.addEventSource(new SqsEventSource(queue));
}

function build(inConcern: boolean): { stack: Stack; template: Record<string, unknown> } {
  const stack = new Stack(new App(), 'S');
  const root = new Construct(stack, 'Root');
  addQueueAndReader(inConcern ? new Concern(root, 'Intake') : root);
  keepStableLogicalIds(root);
  return { stack, template: Template.fromStack(stack).toJSON() };
}

describe('stable logical IDs', () => {
  it('resources under a Concern get the logical IDs they have directly under its parent', () => {
    const flat = build(false).template;
    const nested = build(true).template;
    expect(Object.keys(nested.Resources as object).sort()).toEqual(
      Object.keys(flat.Resources as object).sort(),
    );
    expect(Object.keys(flat.Resources as object).some((id) => id.includes('SqsEventSource'))).toBe(true);
    expect(nested).toEqual(flat);
  });

  it('without keepStableLogicalIds the Concern would change them (the check is live)', () => {
    const stack = new Stack(new App(), 'S');
    addQueueAndReader(new Concern(new Construct(stack, 'Root'), 'Intake'));
    const ids = Object.keys(Template.fromStack(stack).toJSON().Resources as object);
    expect(ids.sort()).not.toEqual(Object.keys(build(false).template.Resources as object).sort());
  });

  it('stableLogicalId names what the template holds (cdk-nag acknowledgements use it)', () => {
    const { stack, template } = build(true);
    const ids = Object.keys(template.Resources as object);
    const elements = stack.node.findAll().filter(CfnResource.isCfnResource);
    for (const el of elements.filter((e) => !e.node.path.includes('SqsEventSource'))) {
      expect(ids).toContain(stableLogicalId(el));
    }
  });

  it('the stack keeps the logical IDs of its stateful and named resources from before the split', () => {
    const ids = Object.keys(synth({ nag: false }).json.Resources);
    expect(ids).toEqual(
      expect.arrayContaining([
        'DriftRemediationKeyF1D71A1A',
        'DriftRemediationLeasesTable061BAC10',
        'DriftRemediationApprovalsTable2E160939',
        'DriftRemediationOutcomesTable0BE5CFC9',
        'DriftRemediationOrderingTable553C9805',
        'DriftRemediationApprovalSigningSecret1A8BC0AE',
        'DriftRemediationIntakeQueueD45DC26D',
        'DriftRemediationIntakeDeadLetterQueue22CD0414',
        'DriftRemediationIntakeFunctionSqsEventSourceDriftRemediationIntakeQueue34C28AB8767B54BF',
        'DriftRemediationStateMachineB830C025',
        'DriftRemediationApprovalTopic7FE36C94',
        'DriftRemediationOutcomeTopicBEADC79B',
        'DriftRemediationAlarmTopic7F5EC8A6',
        'DriftRemediationAutomationAssumeRole28E44FCD',
        'DriftRemediationRunbookDriftRemediationRevertStackDriftC1BEAD7E',
        'DriftRemediationConfigRuleCloudformationStackDriftDetectionCheckEB6E6EF4',
        'DriftRemediationPlanFunction1967BB81',
        'DriftRemediationApprovalEndpointFunctionFunctionUrlD2C1A255',
      ]),
    );
  });
});
