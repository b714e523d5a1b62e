/**
 * The member installer applies a member template's AWS::Lambda::Permission statements in the member
 * account-region, as the central installer does: EventBridge in the member account then invokes the
 * function only where its policy admits the rule; without the statement the delivery is refused and the
 * function does not run. The member template holds no function, event source mapping or function URL
 * (its work runs in the central task functions), and a template holding one is refused, creating nothing.
 * Real SDK v3 clients for the events and the policy.
 */

import { resolve } from 'node:path';
import { EventBridgeClient, ListRulesCommand, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { GetPolicyCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { installMemberStack } from '../../../sandbox/install/member';
import { synthesizeRemediationTemplate } from '../../../sandbox/install/synth';
import { type EventsService, eventsService } from '../../../sandbox/services/events';
import { iamService } from '../../../sandbox/services/iam';
import { lambdaService } from '../../../sandbox/services/lambda';
import { recordingFunction, withSandbox } from '../helpers';

const CENTRAL = '111111111111';
const MEMBER = '222222222222';
const REGION = 'us-west-2';
const events: EventsService = eventsService();
const sb = withSandbox(() => ({
  services: [iamService(), lambdaService(), events],
  accountId: CENTRAL,
  region: 'us-east-1',
}));
const fnArn = (name: string) => `arn:aws:lambda:${REGION}:${MEMBER}:function:${name}`;
const memberConfig = () => ({
  endpoint: sb.endpoint,
  region: REGION,
  credentials: { accessKeyId: MEMBER, secretAccessKey: 'x' },
  maxAttempts: 1,
});

/** An in-process function in the member account-region that records its invocations. */
const memberFunction = (name: string): unknown[] => recordingFunction(sb.sandbox, name, fnArn(name));

/** A member template: a rule sending `source` events to the function, with or without its permission. */
function template(rule: string, fn: string, source: string, permitted: boolean) {
  return {
    Parameters: { CentralAccountId: { Type: 'String' }, CentralRegion: { Type: 'String' } },
    Resources: {
      Rule: {
        Type: 'AWS::Events::Rule',
        Properties: {
          Name: rule,
          EventPattern: { source: [source] },
          Targets: [{ Id: 'fn', Arn: fnArn(fn) }],
        },
      },
      ...(permitted
        ? {
            InvokeFromRule: {
              Type: 'AWS::Lambda::Permission',
              Properties: {
                FunctionName: fnArn(fn),
                Action: 'lambda:InvokeFunction',
                Principal: 'events.amazonaws.com',
                SourceArn: { 'Fn::GetAtt': ['Rule', 'Arn'] },
              },
            },
          }
        : {}),
    },
  };
}

async function send(source: string, rule: string): Promise<boolean[]> {
  await new EventBridgeClient(memberConfig()).send(
    new PutEventsCommand({ Entries: [{ Source: source, DetailType: 't', Detail: '{}' }] }),
  );
  await events.idle();
  return events.deliveries.filter((d) => d.rule === rule).map((d) => d.ok);
}

describe('the member installer', () => {
  it("applies the template's Lambda permissions in the member account; EventBridge needs them", async () => {
    const admitted = memberFunction('member-admitted');
    await installMemberStack(sb.sandbox, {
      accountId: MEMBER,
      region: REGION,
      template: template('member-permitted-rule', 'member-admitted', 'test.member.permitted', true),
    });
    const policy = JSON.parse(
      String(
        (
          await new LambdaClient(memberConfig()).send(
            new GetPolicyCommand({ FunctionName: 'member-admitted' }),
          )
        ).Policy,
      ),
    );
    expect(policy.Statement).toEqual([
      expect.objectContaining({
        Sid: 'InvokeFromRule',
        Principal: { Service: 'events.amazonaws.com' },
        Resource: fnArn('member-admitted'),
        Condition: {
          ArnLike: { 'AWS:SourceArn': `arn:aws:events:${REGION}:${MEMBER}:rule/member-permitted-rule` },
        },
      }),
    ]);
    expect(await send('test.member.permitted', 'member-permitted-rule')).toEqual([true]);
    await events.idle();
    expect(admitted).toHaveLength(1);

    const refused = memberFunction('member-refused');
    await installMemberStack(sb.sandbox, {
      accountId: MEMBER,
      region: REGION,
      template: template('member-unpermitted-rule', 'member-refused', 'test.member.unpermitted', false),
    });
    expect(await send('test.member.unpermitted', 'member-unpermitted-rule')).toEqual([false]);
    expect(refused).toEqual([]);
    expect(sb.sandbox.logs).toContain(
      `iam: AccessDenied: events.amazonaws.com is not allowed lambda:InvokeFunction on ${fnArn('member-refused')} (no resource-based policy allows it)`,
    );
  });

  it('the synthesized member template holds no Lambda function, event source mapping or URL; a template with one is refused, creating nothing', async () => {
    const { member } = await synthesizeRemediationTemplate({
      policyFile: resolve('runbooks/policy.yaml'),
    });
    const types = Object.values(member.template.Resources).map((r) => r.Type);
    expect(types).toContain('AWS::Events::Rule');
    expect(types.filter((t) => t.startsWith('AWS::Lambda::'))).toEqual([]);
    const withMapping = template('member-mapped-rule', 'member-mapped', 'test.member.mapped', false);
    const refused = installMemberStack(sb.sandbox, {
      accountId: MEMBER,
      region: REGION,
      template: {
        ...withMapping,
        Resources: {
          ...withMapping.Resources,
          Mapping: {
            Type: 'AWS::Lambda::EventSourceMapping',
            Properties: { FunctionName: fnArn('member-mapped'), EventSourceArn: 'arn:aws:sqs:x' },
          },
        },
      },
    });
    await expect(refused).rejects.toThrow(
      /a member stack holds no task functions, event source mappings or function URLs \(Mapping: AWS::Lambda::EventSourceMapping\)/,
    );
    const rules = await new EventBridgeClient(memberConfig()).send(new ListRulesCommand({}));
    expect(rules.Rules?.map((r) => r.Name)).not.toContain('member-mapped-rule');
  });
});
