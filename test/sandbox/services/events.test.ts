import {
  DeleteRuleCommand,
  DescribeRuleCommand,
  EventBridgeClient,
  InvalidEventPatternException,
  LimitExceededException,
  ListRulesCommand,
  ListTargetsByRuleCommand,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
  ResourceNotFoundException,
  TestEventPatternCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import type { EventsService } from '../../../sandbox/services/events';
import { eventsService } from '../../../sandbox/services/events';
import { sqsService } from '../../../sandbox/services/sqs';
import { withSandbox } from '../helpers';

const events: EventsService = eventsService();
const sb = withSandbox({ services: [events, sqsService()] });
const eb = (): EventBridgeClient => new EventBridgeClient(sb.clientConfig);
const sqs = (): SQSClient => new SQSClient(sb.clientConfig);

const ACCOUNT = '000000000000';
const compliancePattern = JSON.stringify({
  source: ['aws.config'],
  'detail-type': ['Config Rules Compliance Change'],
  detail: { newEvaluationResult: { complianceType: ['NON_COMPLIANT'] } },
});
/** The same shape from a caller's own source (callers may not publish aws.* sources). */
const customPattern = JSON.stringify({
  source: ['custom.config'],
  'detail-type': ['Config Rules Compliance Change'],
  detail: { newEvaluationResult: { complianceType: ['NON_COMPLIANT'] } },
});

describe('EventBridge: rules', () => {
  it('puts, describes and lists a rule', async () => {
    const put = await eb().send(
      new PutRuleCommand({ Name: 'drift', EventPattern: compliancePattern, Description: 'd' }),
    );
    expect(put.RuleArn).toBe(`arn:aws:events:us-east-1:${ACCOUNT}:rule/drift`);
    const rule = await eb().send(new DescribeRuleCommand({ Name: 'drift' }));
    expect(rule).toMatchObject({
      Name: 'drift',
      State: 'ENABLED',
      EventPattern: compliancePattern,
      EventBusName: 'default',
    });
    const listed = await eb().send(new ListRulesCommand({ NamePrefix: 'dri' }));
    expect(listed.Rules?.map((r) => r.Name)).toEqual(['drift']);
  });

  it('tests a pattern against an event (TestEventPattern)', async () => {
    const event = JSON.stringify({
      id: '1',
      account: ACCOUNT,
      source: 'aws.config',
      time: '2026-01-01T00:00:00Z',
      region: 'us-east-1',
      'detail-type': 'Config Rules Compliance Change',
      resources: [],
      detail: { newEvaluationResult: { complianceType: 'NON_COMPLIANT' } },
    });
    expect(
      (await eb().send(new TestEventPatternCommand({ EventPattern: compliancePattern, Event: event })))
        .Result,
    ).toBe(true);
    const other = event.replace('NON_COMPLIANT', 'COMPLIANT');
    expect(
      (await eb().send(new TestEventPatternCommand({ EventPattern: compliancePattern, Event: other })))
        .Result,
    ).toBe(false);
    await expect(
      eb().send(new TestEventPatternCommand({ EventPattern: compliancePattern, Event: '{}' })),
    ).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });

  it('rejects an invalid pattern with InvalidEventPatternException', async () => {
    const err = await eb()
      .send(new PutRuleCommand({ Name: 'bad', EventPattern: '{"source": "aws.config"}' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidEventPatternException);
  });

  it('requires a pattern or a schedule, and a valid name', async () => {
    await expect(eb().send(new PutRuleCommand({ Name: 'empty' }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await expect(
      eb().send(new PutRuleCommand({ Name: 'bad name!', EventPattern: compliancePattern })),
    ).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });

  it('answers ResourceNotFoundException for unknown rules and buses', async () => {
    await expect(eb().send(new DescribeRuleCommand({ Name: 'nope' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    await expect(eb().send(new ListTargetsByRuleCommand({ Rule: 'nope' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
    await expect(
      eb().send(new PutRuleCommand({ Name: 'x', EventPattern: compliancePattern, EventBusName: 'custom' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('refuses to delete a rule with targets; limits targets per rule', async () => {
    await eb().send(new PutRuleCommand({ Name: 'targets', EventPattern: compliancePattern }));
    const arn = (i: number): string => `arn:aws:sqs:us-east-1:${ACCOUNT}:q${i}`;
    await eb().send(
      new PutTargetsCommand({
        Rule: 'targets',
        Targets: [1, 2, 3, 4, 5].map((i) => ({ Id: `t${i}`, Arn: arn(i) })),
      }),
    );
    await expect(
      eb().send(new PutTargetsCommand({ Rule: 'targets', Targets: [{ Id: 't6', Arn: arn(6) }] })),
    ).rejects.toBeInstanceOf(LimitExceededException);
    await expect(eb().send(new DeleteRuleCommand({ Name: 'targets' }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
    await eb().send(new RemoveTargetsCommand({ Rule: 'targets', Ids: ['t1', 't2', 't3', 't4', 't5'] }));
    await eb().send(new DeleteRuleCommand({ Name: 'targets' }));
    await expect(eb().send(new DescribeRuleCommand({ Name: 'targets' }))).rejects.toBeInstanceOf(
      ResourceNotFoundException,
    );
  });
});

describe('EventBridge: delivery', () => {
  it('routes matching events to an SQS target, and not the others', async () => {
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: 'intake' }));
    await eb().send(new PutRuleCommand({ Name: 'to-intake', EventPattern: customPattern }));
    await eb().send(
      new PutTargetsCommand({
        Rule: 'to-intake',
        Targets: [{ Id: 'q', Arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:intake` }],
      }),
    );
    const detail = (complianceType: string): string =>
      JSON.stringify({ configRuleName: 'r', newEvaluationResult: { complianceType } });
    const out = await eb().send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'custom.config',
            DetailType: 'Config Rules Compliance Change',
            Detail: detail('NON_COMPLIANT'),
          },
          {
            Source: 'custom.config',
            DetailType: 'Config Rules Compliance Change',
            Detail: detail('COMPLIANT'),
          },
          { Source: 'custom.config', DetailType: 'Config Rules Compliance Change', Detail: '{not json' },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(1);
    expect(out.Entries?.[0]?.EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.Entries?.[2]).toMatchObject({ ErrorCode: 'MalformedDetail' });
    await events.idle();
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect(got.Messages).toHaveLength(1);
    const event = JSON.parse(got.Messages?.[0]?.Body ?? '{}') as Record<string, unknown>;
    expect(event).toMatchObject({
      version: '0',
      source: 'custom.config',
      'detail-type': 'Config Rules Compliance Change',
      account: ACCOUNT,
      region: 'us-east-1',
      detail: { newEvaluationResult: { complianceType: 'NON_COMPLIANT' } },
    });
    expect(event.id).toBe(out.Entries?.[0]?.EventId);
  });

  it('refuses aws.* sources from callers per entry (NotAuthorizedForSourceException) and delivers nothing for it', async () => {
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: 'spoofed' }));
    await eb().send(new PutRuleCommand({ Name: 'spoof-watch', EventPattern: compliancePattern }));
    await eb().send(
      new PutTargetsCommand({
        Rule: 'spoof-watch',
        Targets: [{ Id: 'q', Arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:spoofed` }],
      }),
    );
    const detail = JSON.stringify({ newEvaluationResult: { complianceType: 'NON_COMPLIANT' } });
    const out = await eb().send(
      new PutEventsCommand({
        Entries: [
          { Source: 'aws.config', DetailType: 'Config Rules Compliance Change', Detail: detail },
          { Source: 'custom.other', DetailType: 't', Detail: '{}' },
          {
            Source: 'aws.ssm',
            DetailType: 'EC2 Automation Execution Status-change Notification',
            Detail: '{}',
          },
        ],
      }),
    );
    expect(out.FailedEntryCount).toBe(2);
    expect(out.Entries?.[0]).toEqual({
      ErrorCode: 'NotAuthorizedForSourceException',
      ErrorMessage: 'Not authorized for the source.',
    });
    expect(out.Entries?.[1]?.EventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.Entries?.[2]).toMatchObject({ ErrorCode: 'NotAuthorizedForSourceException' });
    await events.idle();
    expect((await sqs().send(new ReceiveMessageCommand({ QueueUrl }))).Messages ?? []).toHaveLength(0);
    // the sandbox's own Config emitter publishes aws.config internally and is delivered
    await sb.sandbox.context.putEvent({
      source: 'aws.config',
      'detail-type': 'Config Rules Compliance Change',
      resources: [],
      detail: { newEvaluationResult: { complianceType: 'NON_COMPLIANT' } },
    });
    await events.idle();
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl }));
    expect(got.Messages).toHaveLength(1);
  });

  it('delivers SandboxContext.putEvent to Lambda and Step Functions targets, with InputTransformer', async () => {
    const lambdaPayloads: unknown[] = [];
    sb.sandbox.registerFunction({
      name: 'fn',
      arn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:fn`,
      env: {},
      async invoke(payload) {
        lambdaPayloads.push(payload);
        return null;
      },
    });
    const started: { arn: string; input: string }[] = [];
    sb.sandbox.registerTargetHandler('states', async (arn, message) => {
      started.push({ arn, input: message });
    });
    await eb().send(
      new PutRuleCommand({
        Name: 'drift-status',
        EventPattern: JSON.stringify({ source: ['aws.cloudformation'] }),
      }),
    );
    await eb().send(
      new PutTargetsCommand({
        Rule: 'drift-status',
        Targets: [
          { Id: 'fn', Arn: `arn:aws:lambda:us-east-1:${ACCOUNT}:function:fn` },
          {
            Id: 'sm',
            Arn: `arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:remediate`,
            // A state machine target needs a role (no IAM module here: the role is not evaluated).
            RoleArn: `arn:aws:iam::${ACCOUNT}:role/events-start-remediate`,
            InputTransformer: {
              InputPathsMap: {
                stack: '$.detail.stack-id',
                status: '$.detail.status-details.stack-drift-status',
              },
              InputTemplate: '{"stackId": <stack>, "drift": <status>, "text": "stack <status>"}',
            },
          },
        ],
      }),
    );
    await sb.sandbox.context.putEvent({
      source: 'aws.cloudformation',
      'detail-type': 'CloudFormation Drift Detection Status Change',
      resources: [],
      detail: { 'stack-id': 'arn:stack/demo', 'status-details': { 'stack-drift-status': 'DRIFTED' } },
    });
    await events.idle();
    expect(lambdaPayloads).toEqual([
      expect.objectContaining({
        source: 'aws.cloudformation',
        detail: expect.objectContaining({ 'stack-id': 'arn:stack/demo' }),
      }),
    ]);
    expect(started).toHaveLength(1);
    expect(started[0]?.arn).toBe(`arn:aws:states:us-east-1:${ACCOUNT}:stateMachine:remediate`);
    expect(JSON.parse(started[0]?.input ?? '')).toEqual({
      stackId: 'arn:stack/demo',
      drift: 'DRIFTED',
      text: 'stack DRIFTED',
    });
  });

  it('does not deliver to disabled rules, and logs failed deliveries', async () => {
    await eb().send(
      new PutRuleCommand({
        Name: 'disabled',
        State: 'DISABLED',
        EventPattern: JSON.stringify({ source: ['custom.disabled'] }),
      }),
    );
    await eb().send(
      new PutTargetsCommand({
        Rule: 'disabled',
        Targets: [{ Id: 'q', Arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:missing` }],
      }),
    );
    await eb().send(
      new PutRuleCommand({ Name: 'broken', EventPattern: JSON.stringify({ source: ['custom.broken'] }) }),
    );
    await eb().send(
      new PutTargetsCommand({
        Rule: 'broken',
        Targets: [{ Id: 'q', Arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:missing` }],
      }),
    );
    const before = events.deliveries.length;
    await eb().send(
      new PutEventsCommand({
        Entries: [
          { Source: 'custom.disabled', DetailType: 't', Detail: '{}' },
          { Source: 'custom.broken', DetailType: 't', Detail: '{}' },
        ],
      }),
    );
    await events.idle();
    const newDeliveries = events.deliveries.slice(before);
    expect(newDeliveries).toEqual([expect.objectContaining({ rule: 'broken', ok: false })]);
    expect(sb.sandbox.logs.some((l) => l.includes('custom.broken') || l.includes('rule broken'))).toBe(true);
  });

  it('validates PutEvents batch size', async () => {
    const entries = Array.from({ length: 11 }, () => ({ Source: 's', DetailType: 't', Detail: '{}' }));
    await expect(eb().send(new PutEventsCommand({ Entries: entries }))).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });
});

describe('EventBridge: schedule rules', () => {
  it('fires a stored schedule rule on demand with the Scheduled Event envelope', async () => {
    const { QueueUrl } = await sqs().send(new CreateQueueCommand({ QueueName: 'sweep' }));
    await eb().send(new PutRuleCommand({ Name: 'sweep', ScheduleExpression: 'rate(15 minutes)' }));
    await eb().send(
      new PutTargetsCommand({
        Rule: 'sweep',
        Targets: [{ Id: 'q', Arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:sweep` }],
      }),
    );
    // not run on its own by default
    await new Promise((r) => setTimeout(r, 30));
    expect((await sqs().send(new ReceiveMessageCommand({ QueueUrl }))).Messages ?? []).toHaveLength(0);
    await events.fireSchedule('sweep');
    const got = await sqs().send(new ReceiveMessageCommand({ QueueUrl }));
    expect(JSON.parse(got.Messages?.[0]?.Body ?? '{}')).toMatchObject({
      source: 'aws.events',
      'detail-type': 'Scheduled Event',
      resources: [`arn:aws:events:us-east-1:${ACCOUNT}:rule/sweep`],
      detail: {},
    });
    await expect(
      eb().send(new PutRuleCommand({ Name: 'badrate', ScheduleExpression: 'every 5 minutes' })),
    ).rejects.toMatchObject({
      name: 'ValidationException',
    });
  });
});

describe('EventBridge: running schedules', () => {
  const scheduled = eventsService({ runSchedules: true });
  const sb2 = withSandbox({ services: [scheduled, sqsService()], timeScale: 0.001 });

  it('runs rate() rules on the scaled clock while enabled', async () => {
    const client = new EventBridgeClient(sb2.clientConfig);
    const queueClient = new SQSClient(sb2.clientConfig);
    const { QueueUrl } = await queueClient.send(new CreateQueueCommand({ QueueName: 'ticks' }));
    await client.send(new PutRuleCommand({ Name: 'tick', ScheduleExpression: 'rate(1 minute)' }));
    await client.send(
      new PutTargetsCommand({
        Rule: 'tick',
        Targets: [{ Id: 'q', Arn: `arn:aws:sqs:us-east-1:${ACCOUNT}:ticks` }],
      }),
    );
    await new Promise((r) => setTimeout(r, 400)); // 1 emulated minute = 60 ms
    await client.send(
      new PutRuleCommand({ Name: 'tick', ScheduleExpression: 'rate(1 minute)', State: 'DISABLED' }),
    );
    await scheduled.idle();
    const got = await queueClient.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }));
    expect((got.Messages ?? []).length).toBeGreaterThanOrEqual(2);
    expect(JSON.parse(got.Messages?.[0]?.Body ?? '{}')['detail-type']).toBe('Scheduled Event');
  });
});
