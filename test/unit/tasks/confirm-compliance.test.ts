import 'aws-sdk-client-mock-vitest/extend';
import { CloudControlClient, GetResourceCommand } from '@aws-sdk/client-cloudcontrol';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import {
  ConfigServiceClient,
  type EvaluationResult,
  GetComplianceDetailsByResourceCommand,
} from '@aws-sdk/client-config-service';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { beforeEach, describe, expect, it } from 'vitest';
import { type ConfirmComplianceDeps, confirmCompliance } from '../../../tasks/confirm-compliance/core';
import { handler } from '../../../tasks/confirm-compliance/handler';
import { ConfirmationResult } from '../../../tasks/shared/contracts';
import { InvalidInputError, InvalidResourceIdError } from '../../../tasks/shared/errors';
import { awsError, configEvent, driftEvent, EXECUTION, SG_ID } from './fixtures/core-tasks';
import { plan } from './fixtures/late-stages';

const config = mockClient(ConfigServiceClient);
const cc = mockClient(CloudControlClient);
const cfn = mockClient(CloudFormationClient);

const deps = (): ConfirmComplianceDeps => ({
  config: new ConfigServiceClient({ region: 'eu-west-1' }),
  cloudControl: new CloudControlClient({ region: 'eu-west-1' }),
  cloudFormation: new CloudFormationClient({ region: 'eu-west-1' }),
  now: () => new Date('2026-11-23T12:00:00Z'),
});

const EVENT_TS = '2026-11-23T10:00:00.000Z';

function evaluation(rule: string, compliance: string, ordering: string): EvaluationResult {
  return {
    EvaluationResultIdentifier: {
      EvaluationResultQualifier: {
        ConfigRuleName: rule,
        ResourceType: 'AWS::EC2::SecurityGroup',
        ResourceId: SG_ID,
      },
      OrderingTimestamp: new Date(ordering),
    },
    ComplianceType: compliance as EvaluationResult['ComplianceType'],
    ResultRecordedTime: new Date(ordering),
  };
}

beforeEach(() => {
  config.reset();
  cc.reset();
  cfn.reset();
  cc.on(GetResourceCommand).resolves({ ResourceDescription: { Identifier: SG_ID, Properties: '{}' } });
});

describe('confirm-compliance: Config-sourced events', () => {
  it('still NON_COMPLIANT and the resource exists → proceed', async () => {
    config.on(GetComplianceDetailsByResourceCommand).resolves({
      EvaluationResults: [
        evaluation('other-rule', 'COMPLIANT', '2026-11-23T11:00:00Z'),
        evaluation('restricted-ssh', 'NON_COMPLIANT', '2026-11-23T10:00:00Z'),
      ],
    });
    const r = await confirmCompliance(
      { event: configEvent({ orderingTimestamp: EVENT_TS }), execution: EXECUTION },
      deps(),
    );
    expect(v.parse(ConfirmationResult, r)).toEqual(r);
    expect(r).toEqual({
      stillNonCompliant: true,
      resourceExists: true,
      currentCompliance: 'NON_COMPLIANT',
      reason: 'restricted-ssh reports NON_COMPLIANT (not newer than the event; the event stands)',
    });
    expect(config).toHaveReceivedCommandWith(GetComplianceDetailsByResourceCommand, {
      ResourceType: 'AWS::EC2::SecurityGroup',
      ResourceId: SG_ID,
    });
    expect(cc).toHaveReceivedCommandWith(GetResourceCommand, {
      TypeName: 'AWS::EC2::SecurityGroup',
      Identifier: SG_ID,
    });
  });

  it('COMPLIANT with a newer timestamp → stale: stillNonCompliant false, no existence lookup', async () => {
    config.on(GetComplianceDetailsByResourceCommand).resolves({
      EvaluationResults: [evaluation('restricted-ssh', 'COMPLIANT', '2026-11-23T10:05:00Z')],
    });
    const r = await confirmCompliance({ event: configEvent({ orderingTimestamp: EVENT_TS }) }, deps());
    expect(r.stillNonCompliant).toBe(false);
    expect(r.currentCompliance).toBe('COMPLIANT');
    expect(r.reason).toBe(
      'stale event: restricted-ssh reports COMPLIANT since 2026-11-23T10:05:00.000Z (event 2026-11-23T10:00:00.000Z)',
    );
    expect(cc).not.toHaveReceivedCommand(GetResourceCommand);
  });

  it('NOT_APPLICABLE with a newer timestamp (resource left the rule scope) → stale', async () => {
    config.on(GetComplianceDetailsByResourceCommand).resolves({
      EvaluationResults: [evaluation('restricted-ssh', 'NOT_APPLICABLE', '2026-11-23T10:05:00Z')],
    });
    expect((await confirmCompliance({ event: configEvent() }, deps())).stillNonCompliant).toBe(false);
  });

  it('COMPLIANT but older than the event does not override the event', async () => {
    config.on(GetComplianceDetailsByResourceCommand).resolves({
      EvaluationResults: [evaluation('restricted-ssh', 'COMPLIANT', '2026-11-23T09:00:00Z')],
    });
    const r = await confirmCompliance({ event: configEvent({ orderingTimestamp: EVENT_TS }) }, deps());
    expect(r.stillNonCompliant).toBe(true);
    expect(r.currentCompliance).toBe('COMPLIANT');
  });

  it('uses the most recent of several results for the rule, across pages', async () => {
    config
      .on(GetComplianceDetailsByResourceCommand)
      .resolvesOnce({
        EvaluationResults: [evaluation('restricted-ssh', 'NON_COMPLIANT', '2026-11-23T10:00:00Z')],
        NextToken: 'p2',
      })
      .resolvesOnce({
        EvaluationResults: [evaluation('restricted-ssh', 'COMPLIANT', '2026-11-23T10:30:00Z')],
      });
    const r = await confirmCompliance({ event: configEvent({ orderingTimestamp: EVENT_TS }) }, deps());
    expect(config).toHaveReceivedCommandTimes(GetComplianceDetailsByResourceCommand, 2);
    expect(config).toHaveReceivedNthCommandWith(GetComplianceDetailsByResourceCommand, 2, {
      NextToken: 'p2',
    });
    expect(r.stillNonCompliant).toBe(false);
  });

  it('no current result for the rule → acts on the event', async () => {
    config.on(GetComplianceDetailsByResourceCommand).resolves({ EvaluationResults: [] });
    const r = await confirmCompliance({ event: configEvent() }, deps());
    expect(r).toMatchObject({
      stillNonCompliant: true,
      resourceExists: true,
      currentCompliance: 'INSUFFICIENT_DATA',
    });
  });

  it('with a plan that remediates, the resource is not read again (plan just read it)', async () => {
    config.on(GetComplianceDetailsByResourceCommand).resolves({
      EvaluationResults: [evaluation('restricted-ssh', 'NON_COMPLIANT', EVENT_TS)],
    });
    cc.on(GetResourceCommand).rejects(awsError('ResourceNotFoundException'));
    const r = await confirmCompliance({ event: configEvent(), plan: plan(), execution: EXECUTION }, deps());
    expect(r).toMatchObject({ stillNonCompliant: true, resourceExists: true });
    expect(cc).not.toHaveReceivedCommand(GetResourceCommand);
    // Without a plan the existence lookup still runs.
    expect((await confirmCompliance({ event: configEvent() }, deps())).resourceExists).toBe(false);
  });

  it('resource deleted → resourceExists false', async () => {
    config.on(GetComplianceDetailsByResourceCommand).resolves({
      EvaluationResults: [evaluation('restricted-ssh', 'NON_COMPLIANT', EVENT_TS)],
    });
    cc.on(GetResourceCommand).rejects(awsError('ResourceNotFoundException'));
    const r = await confirmCompliance({ event: configEvent() }, deps());
    expect(r).toMatchObject({ resourceExists: false, reason: 'resource no longer exists' });
  });

  it('a type Cloud Control cannot read is assumed to exist; access denied is rethrown', async () => {
    config.on(GetComplianceDetailsByResourceCommand).resolves({ EvaluationResults: [] });
    cc.on(GetResourceCommand).rejects(awsError('UnsupportedActionException'));
    expect((await confirmCompliance({ event: configEvent() }, deps())).resourceExists).toBe(true);
    cc.on(GetResourceCommand).rejects(awsError('AccessDeniedException'));
    await expect(confirmCompliance({ event: configEvent() }, deps())).rejects.toMatchObject({
      name: 'AccessDeniedException',
    });
  });

  it('throttling from Config → TransientServiceError; NoSuchConfigRuleException is permanent', async () => {
    config.on(GetComplianceDetailsByResourceCommand).rejects(awsError('ThrottlingException'));
    await expect(confirmCompliance({ event: configEvent() }, deps())).rejects.toMatchObject({
      name: 'TransientServiceError',
      retryable: true,
    });
    config.on(GetComplianceDetailsByResourceCommand).rejects(awsError('InvalidParameterValueException'));
    await expect(confirmCompliance({ event: configEvent() }, deps())).rejects.toMatchObject({
      name: 'InvalidParameterValueException',
    });
  });
});

describe('confirm-compliance: CloudFormation-sourced events', () => {
  it('no Config call; NOT_APPLICABLE; still non-compliant', async () => {
    cc.on(GetResourceCommand).resolves({ ResourceDescription: { Identifier: 'app-role', Properties: '{}' } });
    const r = await confirmCompliance({ event: driftEvent() }, deps());
    expect(r).toEqual({
      stillNonCompliant: true,
      resourceExists: true,
      currentCompliance: 'NOT_APPLICABLE',
      reason: 'CloudFormation drift event: no Config rule to re-check',
    });
    expect(config).not.toHaveReceivedCommand(GetComplianceDetailsByResourceCommand);
  });

  it('a deleted stack (DescribeStacks ValidationError) → resourceExists false', async () => {
    cfn
      .on(DescribeStacksCommand)
      .rejects(awsError('ValidationError', 'Stack with id app-stack does not exist'));
    const r = await confirmCompliance(
      { event: driftEvent({ resourceType: 'AWS::CloudFormation::Stack', resourceId: 'app-stack' }) },
      deps(),
    );
    expect(r.resourceExists).toBe(false);
    expect(cc).not.toHaveReceivedCommand(GetResourceCommand);
  });
});

describe('confirm-compliance: bad input', () => {
  it('an invalid resource id → InvalidResourceIdError before any call', async () => {
    await expect(
      confirmCompliance({ event: configEvent({ resourceId: 'sg-../../etc' }) }, deps()),
    ).rejects.toBeInstanceOf(InvalidResourceIdError);
    expect(config).not.toHaveReceivedCommand(GetComplianceDetailsByResourceCommand);
    expect(cc).not.toHaveReceivedCommand(GetResourceCommand);
  });

  it('handler: missing event → InvalidInputError', async () => {
    await expect(handler({ plan: {} })).rejects.toBeInstanceOf(InvalidInputError);
    expect(config).not.toHaveReceivedCommand(GetComplianceDetailsByResourceCommand);
  });
});
