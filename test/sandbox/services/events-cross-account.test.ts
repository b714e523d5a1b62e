/**
 * Cross-account EventBridge over real SDK clients: each account-region has its own default bus and rules;
 * a member account's rule targeting the central bus delivers only once the central bus's policy admits the
 * member (here `*` on the organization id, which needs the member's target to have a role, as AWS requires);
 * refused deliveries are failed invocations and nothing arrives.
 */
import {
  DescribeEventBusCommand,
  EventBridgeClient,
  ListRulesCommand,
  PutEventsCommand,
  PutPermissionCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { type EventsService, eventsService } from '../../../sandbox/services/events';
import { sqsService } from '../../../sandbox/services/sqs';
import { TEST_CREDENTIALS, withSandbox } from '../helpers';

const CENTRAL = '111111111111';
const MEMBER = '222222222222';
const OUTSIDER = '333333333333';
const ORG = 'o-sandbox0001';
const events = eventsService();
const sb = withSandbox({
  services: [events as EventsService, sqsService()],
  accountId: CENTRAL,
  organization: { id: ORG, accounts: [{ id: CENTRAL }, { id: MEMBER }] },
});

const client = (region: string, accessKeyId = TEST_CREDENTIALS.accessKeyId) => ({
  endpoint: sb.endpoint,
  region,
  credentials: { accessKeyId, secretAccessKey: 'x' },
  maxAttempts: 1,
});
const CENTRAL_BUS = `arn:aws:events:us-east-1:${CENTRAL}:event-bus/default`;
const PATTERN = JSON.stringify({ source: ['drift.member'] });

/** A rule forwarding to the central bus, through a role of the account (or, `withRole` false, without one). */
async function forwarder(account: string, withRole = true): Promise<EventBridgeClient> {
  const eb = new EventBridgeClient(client('us-west-2', account));
  await eb.send(new PutRuleCommand({ Name: 'to-central', EventPattern: PATTERN }));
  const RoleArn = withRole ? `arn:aws:iam::${account}:role/forward-to-central` : undefined;
  await eb.send(
    new PutTargetsCommand({ Rule: 'to-central', Targets: [{ Id: 'central', Arn: CENTRAL_BUS, RoleArn }] }),
  );
  return eb;
}

async function emit(eb: EventBridgeClient, n: number): Promise<void> {
  const out = await eb.send(
    new PutEventsCommand({
      Entries: [{ Source: 'drift.member', DetailType: 'Drift', Detail: JSON.stringify({ n }) }],
    }),
  );
  expect(out.FailedEntryCount).toBe(0);
  await events.idle();
}

describe('cross-account event bus delivery', () => {
  it('delivers a member rule to the central bus only when the bus policy admits the organization', async () => {
    const sqs = new SQSClient(client('us-east-1'));
    const queue = await sqs.send(new CreateQueueCommand({ QueueName: 'central-intake' }));
    const central = new EventBridgeClient(client('us-east-1'));
    await central.send(new PutRuleCommand({ Name: 'from-members', EventPattern: PATTERN }));
    await central.send(
      new PutTargetsCommand({
        Rule: 'from-members',
        Targets: [{ Id: 'q', Arn: `arn:aws:sqs:us-east-1:${CENTRAL}:central-intake` }],
      }),
    );
    const member = await forwarder(MEMBER);
    const outsider = await forwarder(OUTSIDER);
    const received = async () =>
      (
        (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queue.QueueUrl, MaxNumberOfMessages: 10 })))
          .Messages ?? []
      ).map((m) => JSON.parse(m.Body ?? '{}') as { account: string; region: string; detail: { n: number } });

    await emit(member, 1);
    expect(await received()).toEqual([]);
    const refused = events.deliveries.filter((d) => d.arn === CENTRAL_BUS);
    expect(refused).toHaveLength(1);
    expect(refused[0]?.ok).toBe(false);
    expect(refused[0]?.error).toMatch(`does not allow account ${MEMBER}`);

    await central.send(
      new PutPermissionCommand({
        StatementId: 'organization',
        Action: 'events:PutEvents',
        Principal: '*',
        Condition: { Type: 'StringEquals', Key: 'aws:PrincipalOrgID', Value: ORG },
      }),
    );
    const described = await central.send(new DescribeEventBusCommand({}));
    expect(JSON.parse(described.Policy ?? '{}').Statement[0].Condition).toEqual({
      StringEquals: { 'aws:PrincipalOrgID': ORG },
    });

    await emit(member, 2);
    await emit(outsider, 3);
    const got = await received();
    expect(got.map((e) => [e.account, e.region, e.detail.n])).toEqual([[MEMBER, 'us-west-2', 2]]);
    const outsiderDelivery = events.deliveries.filter((d) => d.arn === CENTRAL_BUS).at(-1);
    expect(outsiderDelivery?.error).toMatch(`does not allow account ${OUTSIDER}`);

    // An organization grant needs the member's target to have a role: without one, nothing arrives.
    const roleless = await forwarder(MEMBER, false);
    await emit(roleless, 4);
    expect((await received()).map((e) => e.detail.n)).not.toContain(4);
    expect(events.deliveries.filter((d) => d.arn === CENTRAL_BUS).at(-1)?.error).toMatch(
      `does not allow account ${MEMBER}`,
    );
  });

  it('keeps rules per account-region', async () => {
    const names = async (region: string, key?: string) =>
      ((await new EventBridgeClient(client(region, key)).send(new ListRulesCommand({}))).Rules ?? []).map(
        (r) => r.Name,
      );
    expect(await names('us-west-2', MEMBER)).toEqual(['to-central']);
    expect(await names('us-east-1', MEMBER)).toEqual([]);
    expect(await names('us-east-1')).toEqual(['from-members']);
  });
});
