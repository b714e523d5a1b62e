/**
 * An SQS queue of our own subscribed to EventBridge events (a rule with an SQS target and the queue policy
 * that lets the rule deliver), as any subscriber would. Its own module, free of the harness's imports, so
 * sandbox-level tests can use it too.
 */
import { type EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';

export interface EventsQueueTarget {
  sqs: SQSClient;
  events: EventBridgeClient;
  region: string;
  accountId: string;
}

/** Subscribes a new queue `name` to the events matching `pattern`; returns the queue's URL. */
export async function subscribeQueueToEvents(
  t: EventsQueueTarget,
  name: string,
  pattern: Record<string, unknown>,
): Promise<string> {
  const rule = await t.events.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify(pattern) }));
  const queueArn = `arn:aws:sqs:${t.region}:${t.accountId}:${name}`;
  const Policy = JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: 'sqs:SendMessage',
        Resource: queueArn,
        Condition: { ArnEquals: { 'aws:SourceArn': rule.RuleArn } },
      },
    ],
  });
  const queueUrl =
    (await t.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { Policy } }))).QueueUrl ?? '';
  await t.events.send(new PutTargetsCommand({ Rule: name, Targets: [{ Id: 'capture', Arn: queueArn }] }));
  return queueUrl;
}
