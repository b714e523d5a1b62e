import 'aws-sdk-client-mock-vitest/extend';
import {
  ConfigServiceClient,
  type EvaluationResult,
  GetComplianceDetailsByResourceCommand,
} from '@aws-sdk/client-config-service';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { checkCompliance } from '../../../tasks/check-compliance/core';
import { handler } from '../../../tasks/check-compliance/handler';
import { InvalidInputError, TransientServiceError } from '../../../tasks/shared/errors';
import { awsError, event, execution, plan } from './fixtures/late-stages';

const STARTED = '2026-11-23T10:10:00.000Z';
const config = new ConfigServiceClient({ region: 'eu-west-1' });
let mock: AwsClientStub<ConfigServiceClient>;
beforeAll(() => {
  mock = mockClient(ConfigServiceClient);
});
beforeEach(() => mock.reset());
afterAll(() => mock.restore());

const result = (
  rule: string,
  ComplianceType: 'COMPLIANT' | 'NON_COMPLIANT',
  recorded: string,
): EvaluationResult => ({
  EvaluationResultIdentifier: {
    EvaluationResultQualifier: {
      ConfigRuleName: rule,
      ResourceType: 'AWS::EC2::SecurityGroup',
      ResourceId: 'sg-0123456789abcdef0',
    },
    OrderingTimestamp: new Date(recorded),
  },
  ComplianceType,
  ResultRecordedTime: new Date(recorded),
  ConfigRuleInvokedTime: new Date(recorded),
});
const verification = (over: Record<string, unknown> = {}) => ({
  status: 'pending' as const,
  polls: 0,
  maxPolls: 5,
  waitSeconds: 5,
  startedAt: STARTED,
  ...over,
});
const input = (over: Record<string, unknown> = {}) => ({
  event: event(),
  plan: plan(),
  verification: verification(over),
  execution: execution(),
});

describe('check-compliance', () => {
  it('COMPLIANT recorded after verification started → verified', async () => {
    mock.on(GetComplianceDetailsByResourceCommand).resolves({
      EvaluationResults: [
        result('restricted-common-ports', 'NON_COMPLIANT', '2026-11-23T10:11:00Z'),
        result('restricted-ssh', 'COMPLIANT', '2026-11-23T10:11:30Z'),
      ],
    });
    const out = await checkCompliance(input(), { config });
    expect(out).toMatchObject({ status: 'verified', compliance: 'COMPLIANT', polls: 1 });
    expect(out.reason).toBe(
      'Config rule restricted-ssh reports COMPLIANT (recorded 2026-11-23T10:11:30.000Z)',
    );
    expect(mock).toHaveReceivedCommandWith(GetComplianceDetailsByResourceCommand, {
      ResourceType: 'AWS::EC2::SecurityGroup',
      ResourceId: 'sg-0123456789abcdef0',
    });
  });

  it('a COMPLIANT result older than the verification does not verify', async () => {
    mock
      .on(GetComplianceDetailsByResourceCommand)
      .resolves({ EvaluationResults: [result('restricted-ssh', 'COMPLIANT', '2026-11-23T10:09:59Z')] });
    const out = await checkCompliance(input(), { config });
    expect(out).toMatchObject({ status: 'pending', compliance: 'COMPLIANT', polls: 1, waitSeconds: 10 });
    expect(out.reason).toMatch(/before verification started/);
  });

  it('still NON_COMPLIANT → pending with polls + 1 and a wait no longer than the interval', async () => {
    mock
      .on(GetComplianceDetailsByResourceCommand)
      .resolves({ EvaluationResults: [result('restricted-ssh', 'NON_COMPLIANT', '2026-11-23T10:12:00Z')] });
    const out = await checkCompliance(input({ polls: 3 }), { config });
    expect(out).toMatchObject({ status: 'pending', compliance: 'NON_COMPLIANT', polls: 4, waitSeconds: 30 });
  });

  it('uses the latest result of the rule across pages', async () => {
    mock
      .on(GetComplianceDetailsByResourceCommand)
      .resolvesOnce({
        EvaluationResults: [result('restricted-ssh', 'COMPLIANT', '2026-11-23T10:12:00Z')],
        NextToken: 'p2',
      })
      .resolvesOnce({
        EvaluationResults: [result('restricted-ssh', 'NON_COMPLIANT', '2026-11-23T10:13:00Z')],
      });
    const out = await checkCompliance(input(), { config });
    expect(out).toMatchObject({ status: 'pending', compliance: 'NON_COMPLIANT' });
    expect(mock).toHaveReceivedNthCommandWith(GetComplianceDetailsByResourceCommand, 2, { NextToken: 'p2' });
  });

  it('fails after the last check with a reason that names what was seen', async () => {
    mock
      .on(GetComplianceDetailsByResourceCommand)
      .resolves({ EvaluationResults: [result('restricted-ssh', 'NON_COMPLIANT', '2026-11-23T10:14:00Z')] });
    const out = await checkCompliance(input({ polls: 4 }), { config });
    expect(out.status).toBe('failed');
    expect(out.reason).toBe(
      'not verified after 5 checks: restricted-ssh reports NON_COMPLIANT (recorded 2026-11-23T10:14:00.000Z)',
    );
  });

  it('no evaluation of the resource by the rule is named as such', async () => {
    mock
      .on(GetComplianceDetailsByResourceCommand)
      .resolves({ EvaluationResults: [result('another-rule', 'COMPLIANT', '2026-11-23T10:14:00Z')] });
    const out = await checkCompliance(input({ polls: 4 }), { config });
    expect(out).toMatchObject({ status: 'failed', compliance: 'NO_EVALUATION' });
    expect(out.reason).toMatch(
      /no evaluation by restricted-ssh of AWS::EC2::SecurityGroup sg-0123456789abcdef0/,
    );
  });

  it('maps throttling to TransientServiceError', async () => {
    mock.on(GetComplianceDetailsByResourceCommand).rejects(awsError('ThrottlingException'));
    await expect(checkCompliance(input(), { config })).rejects.toBeInstanceOf(TransientServiceError);
  });

  it('without a rule: InvalidInputError and no call', async () => {
    const cfn = {
      ...input(),
      event: event({ configRuleName: undefined, source: 'cloudformation', complianceType: 'DRIFTED' }),
    };
    await expect(checkCompliance(cfn, { config })).rejects.toBeInstanceOf(InvalidInputError);
    expect(mock).not.toHaveReceivedAnyCommand();
  });
});

describe('check-compliance handler', () => {
  it('refuses a verification without startedAt (a stale COMPLIANT could otherwise pass) before any call', async () => {
    const { startedAt: _omit, ...noStart } = verification();
    await expect(handler({ event: event(), plan: plan(), verification: noStart })).rejects.toThrow(
      /verification\.startedAt/,
    );
    await expect(
      handler({ event: event(), plan: plan(), verification: verification({ startedAt: 'yesterday' }) }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(mock).not.toHaveReceivedAnyCommand();
  });
});
