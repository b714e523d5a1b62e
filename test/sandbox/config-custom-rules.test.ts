/**
 * Custom Lambda Config rules as AWS runs them: Config invokes the rule's function as
 * `config.amazonaws.com` with AWS's event on a configuration change in scope (and on rule creation, on
 * StartConfigRulesEvaluation, every MaximumExecutionFrequency for periodic rules), and the function reports
 * with PutEvaluations(ResultToken) through a real SDK client signed as its execution role. Its results
 * drive the compliance APIs and the "Config Rules Compliance Change" events; a bad token, an evaluation
 * out of the rule's scope, a function role without config:PutEvaluations and a function policy that no
 * longer admits Config each fail as in AWS and change nothing.
 */
import {
  ConfigServiceClient,
  DescribeConfigRuleEvaluationStatusCommand,
  DescribeConfigRulesCommand,
  GetComplianceDetailsByConfigRuleCommand,
  GetComplianceDetailsByResourceCommand,
  PutConfigRuleCommand,
  PutEvaluationsCommand,
  StartConfigRulesEvaluationCommand,
} from '@aws-sdk/client-config-service';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { AddPermissionCommand, LambdaClient, RemovePermissionCommand } from '@aws-sdk/client-lambda';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { credentialsFor } from '../../sandbox/core/authz';
import { configService } from '../../sandbox/services/config';
import { ec2Service } from '../../sandbox/services/ec2';
import { eventsService } from '../../sandbox/services/events';
import { iamService } from '../../sandbox/services/iam';
import { lambdaService } from '../../sandbox/services/lambda';
import { sqsService } from '../../sandbox/services/sqs';
import { subscribeQueueToEvents } from '../e2e/support/events-queue';
import { type ConfigRuleEvent, worldOpenPortRule } from './config-rule-function';
import { failure, role } from './core/iam-support';
import { withSandbox } from './helpers';

/** The sandbox log (where a failed rule function shows, as in its CloudWatch log group in AWS). */
const logs: string[] = [];
const sb = withSandbox(() => ({
  onLog: (line: string) => logs.push(line),
  services: [
    iamService(),
    lambdaService(),
    ec2Service(),
    eventsService(),
    sqsService(),
    configService({ evaluationDelaySeconds: 1, evaluationSeconds: 1, startEvaluationIntervalSeconds: 0 }),
  ],
}));

const SG = 'AWS::EC2::SecurityGroup';
const PUT_EVALUATIONS = { Effect: 'Allow', Action: 'config:PutEvaluations', Resource: '*' };

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** Registers the rule function `name` running as a new role with `statements`, admitting Config. */
async function ruleFunction(
  name: string,
  statements: object[],
): Promise<{ arn: string; seen: ConfigRuleEvent[] }> {
  const roleArn = await role(sb, `${name}-role`, statements);
  const arn = `arn:aws:lambda:${sb.sandbox.region}:${sb.sandbox.accountId}:function:${name}`;
  const seen: ConfigRuleEvent[] = [];
  // Lambda gives the function its execution role's credentials; its SDK client signs with them.
  const settings = { ...sb.clientConfig, credentials: credentialsFor(sb.sandbox.context, roleArn, name) };
  const handler = worldOpenPortRule(settings, seen);
  sb.sandbox.registerFunction({
    name,
    arn,
    env: {},
    memoryMb: 128,
    invoke: (e) => handler(e as ConfigRuleEvent),
  });
  await new LambdaClient(sb.clientConfig).send(
    new AddPermissionCommand({
      FunctionName: name,
      StatementId: 'config',
      Action: 'lambda:InvokeFunction',
      Principal: 'config.amazonaws.com',
      SourceAccount: sb.sandbox.accountId,
    }),
  );
  return { arn, seen };
}

async function putCustomRule(name: string, fn: string, periodic?: 'One_Hour'): Promise<void> {
  await new ConfigServiceClient(sb.clientConfig).send(
    new PutConfigRuleCommand({
      ConfigRule: {
        ConfigRuleName: name,
        InputParameters: JSON.stringify({ port: '8080' }),
        Source: {
          Owner: 'CUSTOM_LAMBDA',
          SourceIdentifier: fn,
          SourceDetails: periodic
            ? [
                {
                  EventSource: 'aws.config',
                  MessageType: 'ScheduledNotification',
                  MaximumExecutionFrequency: periodic,
                },
              ]
            : [{ EventSource: 'aws.config', MessageType: 'ConfigurationItemChangeNotification' }],
        },
        ...(periodic ? {} : { Scope: { ComplianceResourceTypes: [SG] } }),
      },
    }),
  );
}

async function complianceOf(rule: string, id: string): Promise<string | undefined> {
  const r = await new ConfigServiceClient(sb.clientConfig).send(
    new GetComplianceDetailsByResourceCommand({ ResourceType: SG, ResourceId: id }),
  );
  return r.EvaluationResults?.find(
    (e) => e.EvaluationResultIdentifier?.EvaluationResultQualifier?.ConfigRuleName === rule,
  )?.ComplianceType;
}

const becomes = (rule: string, id: string, compliance: string) =>
  until(`${rule} ${id} ${compliance}`, async () =>
    (await complianceOf(rule, id)) === compliance ? true : undefined,
  );

const openPort = (GroupId: string) => ({
  GroupId,
  IpPermissions: [{ IpProtocol: 'tcp', FromPort: 8080, ToPort: 8080, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
});

describe('a custom Lambda Config rule', () => {
  it('is invoked with AWS event on each change and its PutEvaluations drive compliance and events', async () => {
    // Prepare: the function, an events subscriber, a group in scope
    const sqs = new SQSClient(sb.clientConfig);
    const queueUrl = await subscribeQueueToEvents(
      {
        sqs,
        events: new EventBridgeClient(sb.clientConfig),
        region: sb.sandbox.region,
        accountId: sb.sandbox.accountId,
      },
      'custom-rule-events',
      { source: ['aws.config'], 'detail-type': ['Config Rules Compliance Change'] },
    );
    const { arn, seen } = await ruleFunction('open-port-rule', [PUT_EVALUATIONS]);
    const ec2 = new EC2Client(sb.clientConfig);
    const { GroupId = '' } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'app', Description: 'app' }),
    );

    // Act: the rule is created (evaluates what is in scope), the port opened, then closed
    await putCustomRule('no-open-8080', arn);
    await becomes('no-open-8080', GroupId, 'COMPLIANT');
    await ec2.send(new AuthorizeSecurityGroupIngressCommand(openPort(GroupId)));
    await becomes('no-open-8080', GroupId, 'NON_COMPLIANT');
    await ec2.send(new RevokeSecurityGroupIngressCommand(openPort(GroupId)));
    await becomes('no-open-8080', GroupId, 'COMPLIANT');

    // Assess: AWS's event shape, with the configuration item of the changed group
    const rule = (
      await new ConfigServiceClient(sb.clientConfig).send(
        new DescribeConfigRulesCommand({ ConfigRuleNames: ['no-open-8080'] }),
      )
    ).ConfigRules?.[0];
    const change = seen.find(
      (e) => e.invokingEvent.includes(GroupId) && e.invokingEvent.includes('"fromPort":8080'),
    );
    expect(change).toMatchObject({
      version: '1.0',
      ruleParameters: '{"port":"8080"}',
      eventLeftScope: false,
      configRuleName: 'no-open-8080',
      configRuleArn: rule?.ConfigRuleArn,
      configRuleId: rule?.ConfigRuleId,
      accountId: sb.sandbox.accountId,
      executionRoleArn: expect.stringMatching(
        /:role\/aws-service-role\/config\.amazonaws\.com\/AWSServiceRoleForConfig$/,
      ),
    });
    expect(change?.resultToken).toEqual(expect.any(String));
    expect(JSON.parse(change?.invokingEvent ?? '{}')).toMatchObject({
      messageType: 'ConfigurationItemChangeNotification',
      configurationItem: {
        resourceType: SG,
        resourceId: GroupId,
        configurationItemStatus: 'OK',
        awsAccountId: sb.sandbox.accountId,
      },
    });
    // The compliance-change events: → COMPLIANT, COMPLIANT → NON_COMPLIANT, NON_COMPLIANT → COMPLIANT
    const transitions: string[] = [];
    await until('three compliance-change events', async () => {
      const out = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
      for (const m of out.Messages ?? []) {
        const d = (
          JSON.parse(m.Body ?? '{}') as { detail: Record<string, { complianceType?: string } | string> }
        ).detail;
        if (d.configRuleName === 'no-open-8080' && d.resourceId === GroupId)
          transitions.push(
            `${(d.oldEvaluationResult as { complianceType?: string } | undefined)?.complianceType ?? '-'}>${(d.newEvaluationResult as { complianceType?: string }).complianceType}`,
          );
      }
      return transitions.length >= 3 ? true : undefined;
    });
    expect(transitions).toEqual(['->COMPLIANT', 'COMPLIANT>NON_COMPLIANT', 'NON_COMPLIANT>COMPLIANT']);
    // Every group in scope was evaluated when the rule was created (the VPC's default group too).
    const details = await new ConfigServiceClient(sb.clientConfig).send(
      new GetComplianceDetailsByConfigRuleCommand({ ConfigRuleName: 'no-open-8080' }),
    );
    const byGroup = new Map(
      details.EvaluationResults?.map((r) => [
        r.EvaluationResultIdentifier?.EvaluationResultQualifier?.ResourceId,
        r.ComplianceType,
      ]),
    );
    expect(byGroup.get(GroupId)).toBe('COMPLIANT');
    expect(byGroup.size).toBe(2);
  });

  it('refuses a ResultToken Config did not issue, an evaluation out of scope and INSUFFICIENT_DATA, changing nothing', async () => {
    const { arn, seen } = await ruleFunction('checked-rule', [PUT_EVALUATIONS]);
    const ec2 = new EC2Client(sb.clientConfig);
    const { GroupId = '' } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'checked', Description: 'c' }),
    );
    await putCustomRule('checked-8080', arn);
    await becomes('checked-8080', GroupId, 'COMPLIANT');
    const token = seen.find((e) => e.invokingEvent.includes(GroupId))?.resultToken ?? '';
    const config = new ConfigServiceClient(sb.clientConfig);
    const evaluation = (type: string, compliance: 'NON_COMPLIANT' | 'INSUFFICIENT_DATA') => ({
      ComplianceResourceType: type,
      ComplianceResourceId: GroupId,
      ComplianceType: compliance,
      OrderingTimestamp: new Date(),
    });

    const forged = await failure(
      config.send(
        new PutEvaluationsCommand({ ResultToken: 'forged', Evaluations: [evaluation(SG, 'NON_COMPLIANT')] }),
      ),
    );
    expect(forged.name).toBe('InvalidResultTokenException');
    const outOfScope = await failure(
      config.send(
        new PutEvaluationsCommand({
          ResultToken: token,
          Evaluations: [evaluation(SG, 'NON_COMPLIANT'), evaluation('AWS::S3::Bucket', 'NON_COMPLIANT')],
        }),
      ),
    );
    expect(outOfScope.name).toBe('InvalidParameterValueException');
    expect(outOfScope.message).toContain('AWS::S3::Bucket');
    const insufficient = await failure(
      config.send(
        new PutEvaluationsCommand({ ResultToken: token, Evaluations: [evaluation(SG, 'INSUFFICIENT_DATA')] }),
      ),
    );
    expect(insufficient.name).toBe('InvalidParameterValueException');
    const notAType = await failure(
      config.send(
        new PutEvaluationsCommand({
          ResultToken: token,
          Evaluations: [evaluation('AWS::Made::Up', 'NON_COMPLIANT')],
        }),
      ),
    );
    expect(notAType.message).toContain('The resource type AWS::Made::Up is invalid');
    // TestMode checks the request and records nothing, whatever the token.
    await config.send(
      new PutEvaluationsCommand({
        ResultToken: 'any',
        TestMode: true,
        Evaluations: [evaluation(SG, 'NON_COMPLIANT')],
      }),
    );

    expect(await complianceOf('checked-8080', GroupId)).toBe('COMPLIANT');
  });

  it('shows a failed evaluation and keeps its results when the function may not PutEvaluations or Config may not invoke it', async () => {
    const { arn } = await ruleFunction('no-put-rule', []);
    const ec2 = new EC2Client(sb.clientConfig);
    const { GroupId = '' } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'unreported', Description: 'u' }),
    );
    const config = new ConfigServiceClient(sb.clientConfig);
    await putCustomRule('no-put-8080', arn);
    // Config invokes the function asynchronously (Lambda's Event invocation): the failure is the function's.
    const status = () =>
      until('an invocation whose function failed', async () => {
        const s = (
          await config.send(
            new DescribeConfigRuleEvaluationStatusCommand({ ConfigRuleNames: ['no-put-8080'] }),
          )
        ).ConfigRulesEvaluationStatus?.[0];
        const failed = logs.some((l) => l.includes('no-put-rule failed'));
        return s?.LastSuccessfulInvocationTime && failed ? s : undefined;
      });
    // The function's role lacks config:PutEvaluations: its call is denied, the function fails, nothing is recorded.
    const denied = await status();
    expect(denied.LastSuccessfulInvocationTime).toBeInstanceOf(Date);
    expect(denied.LastSuccessfulEvaluationTime).toBeUndefined();
    expect(logs.some((l) => l.includes('no-put-rule') && l.includes('config:PutEvaluations'))).toBe(true);
    expect(await complianceOf('no-put-8080', GroupId)).toBeUndefined();

    // A function policy that no longer admits Config: the invocation itself is refused.
    const { arn: admittedArn } = await ruleFunction('revoked-rule', [PUT_EVALUATIONS]);
    await putCustomRule('revoked-8080', admittedArn);
    await becomes('revoked-8080', GroupId, 'COMPLIANT');
    await new LambdaClient(sb.clientConfig).send(
      new RemovePermissionCommand({ FunctionName: 'revoked-rule', StatementId: 'config' }),
    );
    await ec2.send(new AuthorizeSecurityGroupIngressCommand(openPort(GroupId)));
    const refused = await until('the refused invocation', async () => {
      const s = (
        await config.send(
          new DescribeConfigRuleEvaluationStatusCommand({ ConfigRuleNames: ['revoked-8080'] }),
        )
      ).ConfigRulesEvaluationStatus?.[0];
      return s?.LastFailedInvocationTime ? s : undefined;
    });
    expect(refused.LastErrorCode).toBe('AccessDeniedException');
    expect(refused.LastErrorMessage).toContain('lambda:InvokeFunction');
    expect(await complianceOf('revoked-8080', GroupId)).toBe('COMPLIANT');
    await ec2.send(new RevokeSecurityGroupIngressCommand(openPort(GroupId)));
  });

  it('runs a periodic rule every MaximumExecutionFrequency on the sandbox clock and on StartConfigRulesEvaluation', async () => {
    const { arn, seen } = await ruleFunction('periodic-rule', [PUT_EVALUATIONS]);
    const config = new ConfigServiceClient(sb.clientConfig);
    await putCustomRule('account-hourly', arn, 'One_Hour');
    const scheduled = () => seen.filter((e) => e.configRuleName === 'account-hourly');
    await until('the first run', async () => (scheduled().length >= 1 ? true : undefined));
    expect(JSON.parse(scheduled()[0]?.invokingEvent ?? '{}')).toMatchObject({
      messageType: 'ScheduledNotification',
      awsAccountId: sb.sandbox.accountId,
    });
    // One emulated hour later (time scale 0.001: 3.6 s) Config runs it again.
    await until('the hourly run', async () => (scheduled().length >= 2 ? true : undefined), 15_000);
    await config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: ['account-hourly'] }));
    await until('the run asked for', async () => (scheduled().length >= 3 ? true : undefined));
    const results = await config.send(
      new GetComplianceDetailsByConfigRuleCommand({ ConfigRuleName: 'account-hourly' }),
    );
    expect(results.EvaluationResults?.[0]).toMatchObject({
      ComplianceType: 'COMPLIANT',
      EvaluationResultIdentifier: {
        EvaluationResultQualifier: { ResourceType: 'AWS::::Account', ResourceId: sb.sandbox.accountId },
      },
    });
  }, 30_000);
});
