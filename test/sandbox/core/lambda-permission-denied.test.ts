/**
 * Lambda resource policies: AddPermission / GetPolicy / RemovePermission (restJson1) store a function's
 * statements as Lambda writes them; IAM evaluates the policy with a caller's identity policies, and
 * EventBridge invokes a function target only where the function's policy admits events.amazonaws.com for
 * the rule (aws:SourceArn) — else the delivery fails and the function does not run. Real SDK v3 clients.
 */
import {
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  AddPermissionCommand,
  GetPolicyCommand,
  LambdaClient,
  RemovePermissionCommand,
} from '@aws-sdk/client-lambda';
import { describe, expect, it } from 'vitest';
import { type EventsService, eventsService } from '../../../sandbox/services/events';
import { iamService } from '../../../sandbox/services/iam';
import { lambdaService } from '../../../sandbox/services/lambda';
import { recordingFunction, withSandbox } from '../helpers';

const events: EventsService = eventsService();
const sb = withSandbox(() => ({ services: [iamService(), lambdaService(), events] }));
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const fnArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;

/** An in-process function that records what it was invoked with. */
const fn = (name: string): unknown[] => recordingFunction(sb.sandbox, name, fnArn(name));

async function deliver(rule: string, target: string): Promise<boolean[]> {
  const eb = new EventBridgeClient(sb.clientConfig);
  await eb.send(new PutTargetsCommand({ Rule: rule, Targets: [{ Id: 'fn', Arn: fnArn(target) }] }));
  await eb.send(
    new PutEventsCommand({ Entries: [{ Source: `test.${rule}`, DetailType: 't', Detail: '{}' }] }),
  );
  await events.idle();
  return events.deliveries.filter((d) => d.rule === rule).map((d) => d.ok);
}

async function rule(name: string): Promise<string> {
  const out = await new EventBridgeClient(sb.clientConfig).send(
    new PutRuleCommand({ Name: name, EventPattern: JSON.stringify({ source: [`test.${name}`] }) }),
  );
  return String(out.RuleArn);
}

describe('Lambda resource policies', () => {
  it('stores statements as Lambda writes them; a duplicate id is ResourceConflictException', async () => {
    fn('policy-store');
    const lambda = new LambdaClient(sb.clientConfig);
    const ruleArn = `arn:aws:events:${REGION}:${ACCOUNT}:rule/r`;
    const added = await lambda.send(
      new AddPermissionCommand({
        FunctionName: 'policy-store',
        StatementId: 'events',
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        SourceArn: ruleArn,
      }),
    );
    const statement = {
      Sid: 'events',
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Action: 'lambda:InvokeFunction',
      Resource: fnArn('policy-store'),
      Condition: { ArnLike: { 'AWS:SourceArn': ruleArn } },
    };
    expect(JSON.parse(String(added.Statement))).toEqual(statement);
    const policy = JSON.parse(
      String((await lambda.send(new GetPolicyCommand({ FunctionName: 'policy-store' }))).Policy),
    );
    expect(policy.Statement).toEqual([statement]);
    await expect(
      lambda.send(
        new AddPermissionCommand({
          FunctionName: 'policy-store',
          StatementId: 'events',
          Action: 'lambda:InvokeFunction',
          Principal: 's3.amazonaws.com',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceConflictException', $metadata: { httpStatusCode: 409 } });
    await lambda.send(new RemovePermissionCommand({ FunctionName: 'policy-store', StatementId: 'events' }));
    await expect(lambda.send(new GetPolicyCommand({ FunctionName: 'policy-store' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
    });
    await expect(
      lambda.send(
        new AddPermissionCommand({
          FunctionName: 'no-such-function',
          StatementId: 'x',
          Action: 'lambda:InvokeFunction',
          Principal: 'events.amazonaws.com',
        }),
      ),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('EventBridge invokes a function only where its policy admits the rule; otherwise it does not run', async () => {
    const without = fn('no-permission-target');
    await rule('no-permission-rule');
    expect(await deliver('no-permission-rule', 'no-permission-target')).toEqual([false]);
    expect(without).toEqual([]);
    expect(sb.sandbox.logs).toContain(
      `iam: AccessDenied: events.amazonaws.com is not allowed lambda:InvokeFunction on ${fnArn('no-permission-target')} (no resource-based policy allows it)`,
    );

    const admitted = fn('permitted-target');
    const ruleArn = await rule('permitted-rule');
    await new LambdaClient(sb.clientConfig).send(
      new AddPermissionCommand({
        FunctionName: 'permitted-target',
        StatementId: 'from-rule',
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        SourceArn: ruleArn,
      }),
    );
    expect(await deliver('permitted-rule', 'permitted-target')).toEqual([true]);
    await events.idle();
    expect(admitted).toHaveLength(1);

    // The same function reached from a rule its policy does not name: refused.
    await rule('other-rule');
    expect(await deliver('other-rule', 'permitted-target')).toEqual([false]);
    expect(admitted).toHaveLength(1);
  });
});
