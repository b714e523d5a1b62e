/**
 * Config invokes a custom rule's Lambda function as `config.amazonaws.com`: the function's resource policy
 * must admit Config, else PutConfigRule is refused with InsufficientPermissionsException (as AWS reports a
 * function it cannot invoke) and no rule is stored; once AddPermission admits Config the same rule is put.
 * Real SDK v3 clients against the sandbox.
 */
import {
  ConfigServiceClient,
  DescribeConfigRulesCommand,
  PutConfigRuleCommand,
} from '@aws-sdk/client-config-service';
import { AddPermissionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { configService } from '../../../sandbox/services/config';
import { iamService } from '../../../sandbox/services/iam';
import { lambdaService } from '../../../sandbox/services/lambda';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({ services: [iamService(), lambdaService(), configService()] }));
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const FN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:custom-rule`;

const customRule = (name: string) =>
  new PutConfigRuleCommand({
    ConfigRule: {
      ConfigRuleName: name,
      Source: {
        Owner: 'CUSTOM_LAMBDA',
        SourceIdentifier: FN,
        SourceDetails: [{ EventSource: 'aws.config', MessageType: 'ConfigurationItemChangeNotification' }],
      },
      Scope: { ComplianceResourceTypes: ['AWS::EC2::SecurityGroup'] },
    },
  });

async function ruleNames(config: ConfigServiceClient): Promise<string[]> {
  const out = await config.send(new DescribeConfigRulesCommand({}));
  return (out.ConfigRules ?? []).map((r) => String(r.ConfigRuleName));
}

describe('a Config custom rule whose function policy does not admit config.amazonaws.com', () => {
  it('is refused with InsufficientPermissionsException and stored only once Config is admitted', async () => {
    sb.sandbox.registerFunction({
      name: 'custom-rule',
      arn: FN,
      env: {},
      memoryMb: 128,
      invoke: async () => ({}),
    });
    const config = new ConfigServiceClient(sb.clientConfig);
    const refused = config.send(customRule('custom-denied'));
    await expect(refused).rejects.toMatchObject({ name: 'InsufficientPermissionsException' });
    await expect(refused).rejects.toThrow(`The AWS Lambda function ${FN} cannot be invoked`);
    expect(await ruleNames(config)).not.toContain('custom-denied');

    await new LambdaClient(sb.clientConfig).send(
      new AddPermissionCommand({
        FunctionName: 'custom-rule',
        StatementId: 'config',
        Action: 'lambda:InvokeFunction',
        Principal: 'config.amazonaws.com',
        SourceAccount: ACCOUNT,
      }),
    );
    await config.send(customRule('custom-admitted'));
    expect(await ruleNames(config)).toContain('custom-admitted');
  });
});
