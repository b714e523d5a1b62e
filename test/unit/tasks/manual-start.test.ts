import 'aws-sdk-client-mock-vitest/extend';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { handleManualStart, type ManualStartEvent } from '../../../tasks/manual-start/core';
import { requesterAuthenticated, requesterIdentities } from '../../../tasks/shared/approvals/requester';
import { deriveKeys } from '../../../tasks/shared/approvals/signing';
import type { RemediationEvent } from '../../../tasks/shared/contracts';
import { MANUAL_DETAIL_TYPE, MANUAL_SOURCE } from '../../../tasks/shared/manual-start';

const KEYS = deriveKeys('manual-start-test-secret-0123456789abcdef0123');
const QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/intake';
const CALLER = 'arn:aws:sts::123456789012:assumed-role/Operators/alice';
const NOW = new Date('2026-12-08T00:30:00.000Z');
const sqs = mockClient(SQSClient);

const deps = () => ({
  sqs: new SQSClient({ region: 'eu-west-1' }),
  intakeQueueUrl: QUEUE,
  signingKeys: async () => KEYS,
  accountId: '123456789012',
  region: 'eu-west-1',
  now: () => NOW,
});

function request(body: unknown, opts: { method?: string; caller?: string | null } = {}): ManualStartEvent {
  const caller = opts.caller === undefined ? CALLER : opts.caller;
  return {
    body: typeof body === 'string' ? body : JSON.stringify(body),
    isBase64Encoded: false,
    requestContext: {
      http: { method: opts.method ?? 'POST' },
      ...(caller ? { authorizer: { iam: { userArn: caller } } } : {}),
    },
  } as unknown as ManualStartEvent;
}

function sent(): { source: string; 'detail-type': string; account: string; detail: RemediationEvent } {
  const body = sqs.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageBody ?? '{}';
  return JSON.parse(body);
}

beforeEach(() => {
  sqs.reset();
  sqs.on(SendMessageCommand).resolves({ MessageId: 'm-1' });
});

describe('manual-start entry', () => {
  it('sends a manual event whose requester is the IAM caller, with a proof only that event verifies', async () => {
    const res = await handleManualStart(
      request({
        resourceType: 'AWS::EC2::SecurityGroup',
        resourceId: 'sg-0123456789abcdef0',
        configRuleName: 'restricted-ssh',
      }),
      deps(),
    );
    expect(res.statusCode).toBe(202);
    expect(sqs).toHaveReceivedCommandWith(SendMessageCommand, { QueueUrl: QUEUE });
    const m = sent();
    expect(m).toMatchObject({
      source: MANUAL_SOURCE,
      'detail-type': MANUAL_DETAIL_TYPE,
      account: '123456789012',
    });
    expect(m.detail).toMatchObject({
      source: 'manual',
      requestedBy: CALLER,
      resourceId: 'sg-0123456789abcdef0',
      configRuleName: 'restricted-ssh',
      awsAccountId: '123456789012',
      awsRegion: 'eu-west-1',
      orderingTimestamp: NOW.toISOString(),
    });
    expect(JSON.parse(res.body ?? '{}')).toEqual({ eventId: m.detail.eventId, requestedBy: CALLER });
    expect(requesterAuthenticated(KEYS, m.detail)).toBe(true);
    expect(requesterAuthenticated(KEYS, { ...m.detail, requestedBy: 'bob@example.com' })).toBe(false);
    expect(requesterAuthenticated(KEYS, { ...m.detail, resourceId: 'sg-0fffffffffffffff0' })).toBe(false);
    expect(requesterAuthenticated(deriveKeys('another-secret-0123456789abcdef0123456'), m.detail)).toBe(
      false,
    );
  });

  it.each([
    [
      'a body naming the requester',
      { resourceType: 'AWS::IAM::Role', resourceId: 'r', requestedBy: 'bob@example.com' },
      /requestedBy/,
    ],
    ['a body that is not JSON', 'resourceType=AWS::IAM::Role', /not JSON/],
    [
      'a malformed resource id',
      { resourceType: 'AWS::EC2::SecurityGroup', resourceId: 'not-a-group' },
      /not a valid/,
    ],
    [
      'a bad rule name',
      { resourceType: 'AWS::IAM::Role', resourceId: 'r', configRuleName: 'bad rule!' },
      /configRuleName/,
    ],
  ])('refuses %s with 400 and sends nothing', async (_what, body, message) => {
    const res = await handleManualStart(request(body), deps());
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body ?? '{}').message).toMatch(message);
    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
  });

  it('refuses a request without an IAM caller (403) and any method but POST (405)', async () => {
    const body = { resourceType: 'AWS::IAM::Role', resourceId: 'r' };
    expect((await handleManualStart(request(body, { caller: null }), deps())).statusCode).toBe(403);
    expect((await handleManualStart(request(body, { method: 'GET' }), deps())).statusCode).toBe(405);
    expect(sqs).not.toHaveReceivedCommand(SendMessageCommand);
  });
});

describe('requester identities', () => {
  it.each([
    [
      'an Identity Center session: its ARN, its role and the user name Identity Center sets',
      'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0a1b/Alice@Example.com',
      [
        'arn:aws:sts::123456789012:assumed-role/awsreservedsso_admin_0a1b/alice@example.com',
        'arn:aws:iam::123456789012:role/awsreservedsso_admin_0a1b',
        'alice@example.com',
      ],
    ],
    [
      'another role session: not its session name, which the assumer chooses',
      CALLER,
      [CALLER.toLowerCase(), 'arn:aws:iam::123456789012:role/operators'],
    ],
    [
      'an IAM user: its ARN and user name',
      'arn:aws:iam::123456789012:user/ops/bob',
      ['arn:aws:iam::123456789012:user/ops/bob', 'bob'],
    ],
  ])('%s', (_what, arn, ids) => {
    expect(requesterIdentities(arn)).toEqual(ids);
  });
});
