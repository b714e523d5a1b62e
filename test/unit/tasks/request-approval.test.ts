import 'aws-sdk-client-mock-vitest/extend';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { SSMClient, StartAutomationExecutionCommand } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type RequestApprovalDeps,
  RequestApprovalInput,
  requestApproval,
  subjectLine,
} from '../../../tasks/request-approval/core';
import { handler } from '../../../tasks/request-approval/handler';
import { approvalIdFor } from '../../../tasks/shared/approval-id';
import { ApprovalItem } from '../../../tasks/shared/approvals/record';
import { requesterProof } from '../../../tasks/shared/approvals/requester';
import { clearSigningKeyCache, verifyLink } from '../../../tasks/shared/approvals/signing';
import { resetClients } from '../../../tasks/shared/clients';
import { InvalidInputError, TransientServiceError } from '../../../tasks/shared/errors';
import { startAutomation } from '../../../tasks/start-runbook/core';
import {
  APPROVER,
  execution,
  KEYS,
  NOW,
  pendingItem,
  REGION,
  ROLE_ARN,
  requestInput,
  roleEvent,
  rolePlan,
  SECOND_APPROVER,
  SECRET,
  SECRET_ARN,
  TASK_TOKEN,
  TOPIC_ARN,
} from '../../approvals/support/fixtures';

const ddbDoc = DynamoDBDocumentClient.from(new DynamoDBClient({ region: REGION }));
const ddb = mockClient(DynamoDBDocumentClient);
const sns = mockClient(SNSClient);
const BASE = 'https://abc.lambda-url.eu-west-1.on.aws';

function deps(overrides: Partial<RequestApprovalDeps> = {}): RequestApprovalDeps {
  return {
    ddb: ddbDoc,
    sns: new SNSClient({ region: REGION }),
    approvalsTable: 'approvals',
    topicArn: TOPIC_ARN,
    baseUrl: BASE,
    signingKeys: async () => KEYS,
    automationAssumeRoleArn: ROLE_ARN,
    now: () => NOW,
    ...overrides,
  };
}

function conditionalFailure(): Error {
  return Object.assign(new Error('The conditional request failed'), {
    name: 'ConditionalCheckFailedException',
    $metadata: { httpStatusCode: 400 },
  });
}

function publishedMessages(): Array<{ message: string; subject: string; approver?: string }> {
  return sns.commandCalls(PublishCommand).map((c) => ({
    message: c.args[0].input.Message ?? '',
    subject: c.args[0].input.Subject ?? '',
    approver: c.args[0].input.MessageAttributes?.approver?.StringValue,
  }));
}

function expectNoWrites() {
  expect(ddb).not.toHaveReceivedCommand(PutCommand);
  expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  expect(sns).not.toHaveReceivedCommand(PublishCommand);
}

beforeEach(() => {
  ddb.reset();
  sns.reset();
  ddb.on(PutCommand).resolves({});
  ddb.on(UpdateCommand).resolves({});
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

describe('request-approval', () => {
  it('stores the PENDING record with the token (conditional put) and sends each approver their own signed link', async () => {
    const out = await requestApproval(requestInput(), deps());
    const approvalId = approvalIdFor(execution().id);
    expect(out).toEqual({ approvalId, mode: 'required', notified: 2 });

    expect(ddb).toHaveReceivedCommandTimes(PutCommand, 1);
    const put = ddb.commandCalls(PutCommand)[0]?.args[0].input;
    expect(put?.ConditionExpression).toBe('attribute_not_exists(approvalId)');
    const item = v.parse(ApprovalItem, put?.Item);
    expect(item).toMatchObject({
      approvalId,
      status: 'PENDING',
      taskToken: TASK_TOKEN,
      approvers: [APPROVER, SECOND_APPROVER],
      expiresAt: Math.floor(NOW.getTime() / 1000) + 3600,
      executionArn: execution().id,
    });
    expect(item.summary.drift.differences[0]).toMatchObject({ path: '/ManagedPolicyArns/1', type: 'ADD' });

    const msgs = publishedMessages();
    expect(msgs.map((m) => m.approver)).toEqual([APPROVER, SECOND_APPROVER]);
    for (const m of msgs) {
      expect(m.message).not.toContain(TASK_TOKEN);
      expect(m.subject).toBe('Approval needed: AWS::IAM::Role: app-role');
      const link = /https:\/\/\S+/.exec(m.message)?.[0];
      expect(link).toBeDefined();
      const url = new URL(link ?? '');
      expect(url.pathname).toBe(`/approvals/${approvalId}`);
      expect(url.searchParams.get('approver')).toBe(m.approver);
      expect(
        verifyLink(
          KEYS,
          { approvalId, approver: m.approver ?? '', exp: item.expiresAt },
          url.searchParams.get('sig') ?? '',
        ),
      ).toBe(true);
      expect(m.message).toContain('Time left: 1 hour');
      expect(m.message).toContain('arn:aws:iam::aws:policy/AdministratorAccess');
      expect(m.message).toContain('DriftRemediation-RestoreIamRolePolicies');
    }
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, { UpdateExpression: 'SET notifiedAt = :n' });
  });

  it('shows exactly the parameters Start runbook will pass', async () => {
    await requestApproval(requestInput(), deps());
    const item = v.parse(ApprovalItem, ddb.commandCalls(PutCommand)[0]?.args[0].input.Item);

    const ssm = mockClient(SSMClient);
    ssm.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: 'auto-1' });
    const input = requestInput();
    await startAutomation(
      { event: input.event, plan: input.plan, drift: input.drift, execution: input.execution },
      { ssm: new SSMClient({ region: REGION }), automationAssumeRoleArn: ROLE_ARN },
    );
    const started = ssm.commandCalls(StartAutomationExecutionCommand)[0]?.args[0].input.Parameters;
    ssm.restore();
    expect(item.summary.runbook?.parameters).toEqual(started);
    expect(item.summary.runbook?.parameters.DetachPolicyArns).toEqual([
      '["arn:aws:iam::aws:policy/AdministratorAccess"]',
    ]);
    expect(item.summary.runbook?.parameters.AutomationAssumeRole).toEqual([ROLE_ARN]);
  });

  it('a Lambda retry with the same token finds its record already notified: no second message', async () => {
    ddb.on(PutCommand).rejects(conditionalFailure());
    ddb.on(GetCommand).resolves({ Item: pendingItem() });
    const out = await requestApproval(requestInput(), deps());
    expect(out.notified).toBe(0);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
    expect(ddb).not.toHaveReceivedCommand(UpdateCommand);
  });

  it('a retry with a new token (state retried) refreshes the stored token and sends the messages not sent yet', async () => {
    ddb.on(PutCommand).rejects(conditionalFailure());
    const { notifiedAt: _n, ...notNotified } = pendingItem({ taskToken: 'old-token-value' });
    ddb.on(GetCommand).resolves({ Item: notNotified });
    const out = await requestApproval(requestInput(), deps());
    expect(out.notified).toBe(2);
    expect(ddb).toHaveReceivedCommandWith(UpdateCommand, {
      UpdateExpression: 'SET taskToken = :t',
      ConditionExpression: '#s = :pending',
      ExpressionAttributeValues: { ':t': TASK_TOKEN, ':pending': 'PENDING' },
    });
  });

  it('a retry after the request was decided sends nothing', async () => {
    ddb.on(PutCommand).rejects(conditionalFailure());
    ddb.on(GetCommand).resolves({ Item: pendingItem({ status: 'APPROVED' }) });
    expect((await requestApproval(requestInput(), deps())).notified).toBe(0);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });

  it('notify-only: one informational message, no record, no links', async () => {
    const { taskToken: _t, ...rest } = requestInput();
    const out = await requestApproval(
      {
        ...rest,
        notifyOnly: true,
        plan: rolePlan({
          approval: { mode: 'notify-only', required: false, approvers: [], ttlSeconds: 3600 },
        }),
      },
      deps(),
    );
    expect(out).toMatchObject({ mode: 'notify-only', notified: 1 });
    expect(ddb).not.toHaveReceivedCommand(PutCommand);
    const [m] = publishedMessages();
    expect(m?.message).toContain('notify-only');
    expect(m?.message).not.toContain('/approvals/');
  });

  it('transient DynamoDB failure → TransientServiceError and no message', async () => {
    ddb
      .on(PutCommand)
      .rejects(Object.assign(new Error('slow down'), { name: 'ProvisionedThroughputExceededException' }));
    await expect(requestApproval(requestInput(), deps())).rejects.toBeInstanceOf(TransientServiceError);
    expect(sns).not.toHaveReceivedCommand(PublishCommand);
  });

  describe('bad input → InvalidInputError, nothing written or sent', () => {
    it.each([
      ['no task token', () => ({ ...requestInput(), taskToken: undefined })],
      ['a token in notify-only mode', () => ({ ...requestInput(), notifyOnly: true })],
      ['a bad account id', () => ({ ...requestInput(), event: roleEvent({ awsAccountId: '12' }) })],
      ['no execution', () => ({ ...requestInput(), execution: undefined })],
    ])('%s (schema)', async (_what, make) => {
      await expect(handler(make())).rejects.toBeInstanceOf(InvalidInputError);
      expectNoWrites();
    });

    it.each([
      [
        'no approvers',
        () =>
          requestInput({
            plan: rolePlan({ approval: { mode: 'required', required: true, approvers: [], ttlSeconds: 60 } }),
          }),
      ],
      [
        'approval not required',
        () =>
          requestInput({
            plan: rolePlan({
              approval: { mode: 'auto', required: false, approvers: [APPROVER], ttlSeconds: 60 },
            }),
          }),
      ],
      ['a skip plan', () => requestInput({ plan: rolePlan({ decision: 'skip' }) })],
      [
        'the requester is the only approver',
        () =>
          requestInput({
            event: roleEvent({ requestedBy: APPROVER }),
            plan: rolePlan({
              approval: { mode: 'required', required: true, approvers: [APPROVER], ttlSeconds: 60 },
            }),
          }),
      ],
      [
        'unresolvable runbook parameters',
        () =>
          requestInput({
            plan: rolePlan({
              runbook: {
                documentName: 'DriftRemediation-X',
                firstParty: true,
                parameters: { P: { from: 'drift.nothing', as: 'string' } },
              },
            }),
          }),
      ],
    ])('%s (core)', async (_what, make) => {
      await expect(requestApproval(make(), deps())).rejects.toBeInstanceOf(InvalidInputError);
      expectNoWrites();
    });
  });

  describe('who asked (manual starts)', () => {
    const CALLER =
      'arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Platform_0a1b2c3d/alice@example.com';
    const manual = (over: Partial<ReturnType<typeof roleEvent>> = {}) => {
      const base = roleEvent({ source: 'manual', eventId: 'manual-1', requestedBy: CALLER, ...over });
      return { ...base, requesterProof: requesterProof(KEYS, { ...base, requestedBy: CALLER }) };
    };
    const storedItem = () => v.parse(ApprovalItem, ddb.commandCalls(PutCommand)[0]?.args[0].input.Item);

    it("records the entry's requester as authenticated, with the ids the four-eyes rule compares", async () => {
      await requestApproval(requestInput({ event: manual() }), deps());
      const item = storedItem();
      expect(item).toMatchObject({ requestedBy: CALLER, requesterAuthenticated: true });
      expect(item.requesterIdentities).toEqual([
        CALLER.toLowerCase(),
        'arn:aws:iam::123456789012:role/awsreservedsso_platform_0a1b2c3d',
        'alice@example.com',
      ]);
      expect(item.summary.requesterAuthenticated).toBe(true);
      expect(publishedMessages()[0]?.message).toContain(
        `Requested by: ${CALLER} (manual request, authenticated)`,
      );
    });

    it.each([
      ['another name than the one signed', () => ({ ...manual(), requestedBy: 'bob@example.com' })],
      ['another resource than the one signed', () => ({ ...manual(), resourceId: 'other-role' })],
      ['no proof', () => roleEvent({ source: 'manual', requestedBy: 'bob@example.com' })],
      ['a manual start naming nobody', () => roleEvent({ source: 'manual' })],
    ])('marks %s as not authenticated: no ids, the page and message say so', async (_what, event) => {
      await requestApproval(requestInput({ event: event() }), deps());
      const item = storedItem();
      expect(item.requesterAuthenticated).toBe(false);
      expect(item.requesterIdentities).toBeUndefined();
      expect(publishedMessages()[0]?.message).toContain('requester NOT authenticated');
    });

    it('refuses an authenticated requester who is the only approver under their Identity Center name', async () => {
      const input = requestInput({
        event: manual(),
        plan: rolePlan({
          approval: { mode: 'required', required: true, approvers: ['Alice@example.com'], ttlSeconds: 60 },
        }),
      });
      await expect(requestApproval(input, deps())).rejects.toBeInstanceOf(InvalidInputError);
      expectNoWrites();
    });

    it('leaves automatic events without requester fields', async () => {
      await requestApproval(requestInput(), deps());
      const item = storedItem();
      expect(item.requesterAuthenticated).toBeUndefined();
      expect(item.summary.requesterAuthenticated).toBeUndefined();
    });
  });

  it('schema accepts notify-only without a token', () => {
    const { taskToken: _t, ...rest } = requestInput();
    expect(v.safeParse(RequestApprovalInput, { ...rest, notifyOnly: true }).success).toBe(true);
  });

  it('subject lines are ASCII and at most 100 characters', () => {
    const s = subjectLine(`Approval needed: ${'é'.repeat(50)}\n${'x'.repeat(200)}`);
    expect(s.length).toBeLessThanOrEqual(100);
    expect(s).toMatch(/^[\x20-\x7e]+$/);
  });
});

describe('request-approval handler (environment, cached secret)', () => {
  const secrets = mockClient(SecretsManagerClient);
  const docAll = ddb;
  const snsAll = sns;
  const saved = { ...process.env };

  beforeEach(() => {
    clearSigningKeyCache();
    resetClients();
    secrets.reset();
    docAll.reset();
    snsAll.reset();
    secrets.on(GetSecretValueCommand).resolves({ SecretString: SECRET });
    docAll.on(PutCommand).resolves({});
    docAll.on(UpdateCommand).resolves({});
    snsAll.on(PublishCommand).resolves({ MessageId: 'm' });
    Object.assign(process.env, {
      AWS_REGION: REGION,
      APPROVALS_TABLE: 'approvals',
      APPROVAL_TOPIC_ARN: TOPIC_ARN,
      APPROVAL_BASE_URL: `${BASE}/`,
      SIGNING_SECRET_ARN: SECRET_ARN,
      AUTOMATION_ASSUME_ROLE_ARN: ROLE_ARN,
    });
  });
  afterEach(() => {
    process.env = { ...saved };
    resetClients();
  });

  it('reads the signing secret once per cold start and publishes links under APPROVAL_BASE_URL', async () => {
    await handler(requestInput());
    await handler(requestInput({ execution: execution('exec-approval-2') }));
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(secrets).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: SECRET_ARN });
    const first = snsAll.commandCalls(PublishCommand)[0]?.args[0].input.Message ?? '';
    expect(first).toContain(`${BASE}/approvals/${approvalIdFor(execution().id)}?approver=`);
  });
});
