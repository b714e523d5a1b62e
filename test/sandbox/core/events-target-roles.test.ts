/**
 * EventBridge targets reached through a role (the target's RoleArn): a state machine target needs one
 * (PutTargets' ValidationException); PutTargets naming a role needs the caller's iam:PassRole
 * (AccessDeniedException, nothing stored); at delivery EventBridge assumes the role as events.amazonaws.com
 * with the rule as aws:SourceArn and starts the execution as that role session, so a role that does not trust
 * EventBridge for this rule, or lacks states:StartExecution, fails the delivery (a failed invocation, logged)
 * and starts nothing. Real SDK v3 clients.
 */
import {
  EventBridgeClient,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { IAMClient, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateStateMachineCommand, ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { type EventsService, eventsService } from '../../../sandbox/services/events';
import { iamService } from '../../../sandbox/services/iam';
import { stepFunctionsService } from '../../../sandbox/services/stepfunctions';
import { withSandbox } from '../helpers';
import { actingAs, failure, policy, role } from './iam-support';

const events: EventsService = eventsService();
const sb = withSandbox(() => ({ services: [iamService(), stepFunctionsService(), events] }));
const ACCOUNT = '000000000000';
const ruleArn = (name: string) => `arn:aws:events:us-east-1:${ACCOUNT}:rule/${name}`;
const definition = JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } });

async function machine(name: string): Promise<string> {
  const roleArn = await role(sb, `${name}-machine-role`, [], 'states.amazonaws.com');
  const out = await new SFNClient(sb.clientConfig).send(
    new CreateStateMachineCommand({ name, definition, roleArn }),
  );
  return String(out.stateMachineArn);
}

/** A role EventBridge may assume for `rule` (trust conditioned on it), with `statements` as its policy. */
async function eventsRole(name: string, rule: string, statements: object[]): Promise<string> {
  const arn = await role(sb, name, statements, 'events.amazonaws.com');
  await new IAMClient(sb.clientConfig).send(
    new UpdateAssumeRolePolicyCommand({
      RoleName: name,
      PolicyDocument: policy({
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sts:AssumeRole',
        Condition: {
          ArnEquals: { 'aws:SourceArn': ruleArn(rule) },
          StringEquals: { 'aws:SourceAccount': ACCOUNT },
        },
      }),
    }),
  );
  return arn;
}

/** Puts rule `name` with one state machine target through `roleArn`, sends it one event, and waits. */
async function fire(name: string, target: string, roleArn: string) {
  const eb = new EventBridgeClient(sb.clientConfig);
  await eb.send(
    new PutRuleCommand({ Name: name, EventPattern: JSON.stringify({ source: [`test.${name}`] }) }),
  );
  await eb.send(
    new PutTargetsCommand({ Rule: name, Targets: [{ Id: 'sm', Arn: target, RoleArn: roleArn }] }),
  );
  await eb.send(
    new PutEventsCommand({ Entries: [{ Source: `test.${name}`, DetailType: 't', Detail: '{}' }] }),
  );
  await events.idle();
  const executions = await new SFNClient(sb.clientConfig).send(
    new ListExecutionsCommand({ stateMachineArn: target }),
  );
  return {
    deliveries: events.deliveries.filter((d) => d.rule === name),
    executions: executions.executions ?? [],
  };
}

const start = (target: string) => ({ Effect: 'Allow', Action: 'states:StartExecution', Resource: target });

describe('EventBridge targets through a role', () => {
  it('refuses a state machine target without a RoleArn, storing nothing', async () => {
    const target = await machine('no-role-machine');
    const eb = new EventBridgeClient(sb.clientConfig);
    await eb.send(new PutRuleCommand({ Name: 'no-role', EventPattern: JSON.stringify({ source: ['x'] }) }));
    const f = await failure(
      eb.send(new PutTargetsCommand({ Rule: 'no-role', Targets: [{ Id: 'sm', Arn: target }] })),
    );
    expect(f).toMatchObject({
      name: 'ValidationException',
      message: `RoleArn is required for target ${target}.`,
      status: 400,
    });
    expect((await eb.send(new ListTargetsByRuleCommand({ Rule: 'no-role' }))).Targets).toEqual([]);
  });

  it("needs the caller's iam:PassRole on the target's role", async () => {
    const target = await machine('passed-machine');
    const targetRole = await eventsRole('passed-target-role', 'passed', [start(target)]);
    const put = { Effect: 'Allow', Action: ['events:PutRule', 'events:PutTargets'], Resource: '*' };
    const noPass = await role(sb, 'rules-no-pass', [put]);
    const withPass = await role(sb, 'rules-pass', [
      put,
      { Effect: 'Allow', Action: 'iam:PassRole', Resource: targetRole },
    ]);
    const request = new PutTargetsCommand({
      Rule: 'passed',
      Targets: [{ Id: 'sm', Arn: target, RoleArn: targetRole }],
    });
    await new EventBridgeClient(sb.clientConfig).send(
      new PutRuleCommand({ Name: 'passed', EventPattern: JSON.stringify({ source: ['x'] }) }),
    );
    const denied = await failure(new EventBridgeClient(actingAs(sb, noPass, 'deploy')).send(request));
    expect(denied).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(denied.message).toContain(`iam:PassRole on resource: ${targetRole}`);
    const eb = new EventBridgeClient(sb.clientConfig);
    expect((await eb.send(new ListTargetsByRuleCommand({ Rule: 'passed' }))).Targets).toEqual([]);
    await new EventBridgeClient(actingAs(sb, withPass, 'deploy')).send(request);
    const stored = (await eb.send(new ListTargetsByRuleCommand({ Rule: 'passed' }))).Targets ?? [];
    expect(stored.map((t) => t.RoleArn)).toEqual([targetRole]);
  });

  it('starts the execution as a role that trusts EventBridge for the rule and may start it', async () => {
    const target = await machine('started-machine');
    const r = await fire('started', target, await eventsRole('started-role', 'started', [start(target)]));
    expect(r.deliveries.map((d) => d.ok)).toEqual([true]);
    expect(r.executions).toHaveLength(1);
  });

  it('fails the delivery for a role without states:StartExecution, or not trusting EventBridge for this rule', async () => {
    const target = await machine('refused-machine');
    const cannotStart = await fire('no-start', target, await eventsRole('no-start-role', 'no-start', []));
    expect(cannotStart.deliveries).toEqual([
      expect.objectContaining({ ok: false, error: expect.stringContaining('states:StartExecution') }),
    ]);
    const otherRule = await eventsRole('other-rule-role', 'someone-else', [start(target)]);
    const untrusted = await fire('untrusted', target, otherRule);
    expect(untrusted.deliveries).toEqual([
      expect.objectContaining({ ok: false, error: expect.stringContaining('sts:AssumeRole') }),
    ]);
    const lambdaRole = await role(sb, 'lambda-trusting-role', [start(target)]);
    const wrongService = await fire('wrong-service', target, lambdaRole);
    expect(wrongService.deliveries.map((d) => d.ok)).toEqual([false]);
    expect(untrusted.executions).toEqual([]);
    expect(sb.sandbox.logs.some((l) => l.includes(`(rule untrusted) failed`))).toBe(true);
  });
});
