/**
 * `drift-remediation plan` refuses bad options before anything is sent (an unknown --rule, a malformed
 * --account, an --account other than the credentials' own), and plans from what Config reports: an entry
 * with its runbook and parameters, or none. The end-to-end run against a sandbox (diff, zero mutating calls)
 * is test/e2e/plan-mode.test.ts.
 */
import 'aws-sdk-client-mock-vitest/extend';
import {
  CloudFormationClient,
  DescribeStackResourceDriftsCommand,
  DescribeStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient, GetComplianceDetailsByConfigRuleCommand } from '@aws-sdk/client-config-service';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { planResources, rulesInScope } from '../../sandbox/plan';
import { loadPolicyFile } from '../../tasks/shared/policy/load';

const region = 'us-east-1';
const clients = () => ({
  config: new ConfigServiceClient({ region }),
  cloudFormation: new CloudFormationClient({ region }),
  sts: new STSClient({ region }),
});
const config = mockClient(ConfigServiceClient);
const cfn = mockClient(CloudFormationClient);
const sts = mockClient(STSClient);
const opts = { policy: 'runbooks/policy.yaml', endpoint: 'http://127.0.0.1:9' };

beforeEach(() => {
  config.reset();
  cfn.reset();
  sts.reset();
  sts.on(GetCallerIdentityCommand).resolves({ Account: '111111111111' });
});

describe('drift-remediation plan', () => {
  it('--rule must be a rule the policy names; without it, every rule the policy names', () => {
    const policy = loadPolicyFile('runbooks/policy.yaml');
    expect(rulesInScope(policy, 'restricted-ssh')).toEqual(['restricted-ssh']);
    expect(rulesInScope(policy, undefined)).toContain('restricted-ssh');
    expect(() => rulesInScope(policy, 'no-such-rule')).toThrow(
      /--rule no-such-rule: no policy entry names it/,
    );
  });

  it('a malformed --account, or one that is not the credentials’ account, is refused before Config is read', async () => {
    await expect(planResources({ ...opts, account: '123' }, clients())).rejects.toThrow(
      '--account 123 is not a 12-digit account id',
    );
    await expect(planResources({ ...opts, account: '222222222222' }, clients())).rejects.toThrow(
      /these credentials are of account 111111111111/,
    );
    expect(config).not.toHaveReceivedCommand(GetComplianceDetailsByConfigRuleCommand);
  });

  it('a NON_COMPLIANT group outside any stack: its entry, runbook and parameters it can resolve, no diff', async () => {
    config.on(GetComplianceDetailsByConfigRuleCommand).resolves({
      EvaluationResults: [
        {
          EvaluationResultIdentifier: {
            EvaluationResultQualifier: {
              ConfigRuleName: 'restricted-ssh',
              ResourceType: 'AWS::EC2::SecurityGroup',
              ResourceId: 'sg-0123456789abcdef0',
            },
          },
          ComplianceType: 'NON_COMPLIANT',
        },
      ],
    });
    cfn.on(DescribeStackResourcesCommand).rejects(
      Object.assign(new Error('Stack for sg-0123456789abcdef0 does not exist'), {
        name: 'ValidationError',
      }),
    );
    const [p] = await planResources({ ...opts, rule: 'restricted-ssh' }, clients());
    expect(p).toMatchObject({
      rule: 'restricted-ssh',
      resourceId: 'sg-0123456789abcdef0',
      account: '111111111111',
      region,
      policyEntryId: 'sg-ingress',
      mode: 'remediate',
      planned: {
        documentName: 'DriftRemediation-RevertSecurityGroupIngress',
        parametersError: expect.stringMatching(/StackName \(from drift.stackName\)/),
        diff: { propertyDifferences: [] },
      },
    });
    expect(p?.stack).toBeUndefined();
    expect(config).toHaveReceivedCommandWith(GetComplianceDetailsByConfigRuleCommand, {
      ConfigRuleName: 'restricted-ssh',
      ComplianceTypes: ['NON_COMPLIANT'],
    });
    expect(cfn).not.toHaveReceivedCommand(DescribeStackResourceDriftsCommand);
  });
});
