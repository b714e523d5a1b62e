/**
 * The notifications infrastructure, with a policy that names two channels: the queue and its DLQ (KMS, TLS,
 * maxReceiveCount), the notify function's event source (partial batch responses), the DLQ alarm, and, by
 * IAM policy simulation, least privilege: notify reads exactly the channels' secrets and the outcomes table,
 * Record outcome, Abort cleanup (ABORTED) and Request approval (approval.requested) may send to the
 * notifications queue, with the queue key's data keys, and nothing else may.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { secretArnFor } from '../../infra/constructs/notifications';
import { NOTIFY_MAX_RECEIVE_COUNT } from '../../tasks/shared/notifications';
import type { CfnTemplate } from '../../workflows/local';
import { ACCOUNT, decide, REGION, resolveIntrinsics, rolePolicies } from './simulation-support';
import { type Synthesized, synth } from './synth';

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;
const SLACK_SECRET = 'drift/slack-ops';
const HOOK_SECRET_ARN = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:drift/jira-bridge-AbCdEf`;

let s: Synthesized;
let resources: Resources;
const idOf = (json: CfnTemplate, type: string, like: string) => {
  const id = Object.entries(json.Resources as Resources).find(
    ([k, r]) => r.Type === type && new RegExp(`^DriftRemediation${like}[0-9A-F]{8}$`).test(k),
  )?.[0];
  if (!id) throw new Error(`no ${type} ${like}`);
  return id;
};
const arnOf = (id: string) => String(resolveIntrinsics({ 'Fn::GetAtt': [id, 'Arn'] }, resources));

beforeAll(() => {
  const doc = parse(readFileSync('runbooks/policy.yaml', 'utf8')) as Record<string, unknown>;
  doc.notifications = {
    channels: [
      { name: 'ops-slack', type: 'slack', secret: SLACK_SECRET },
      {
        name: 'jira',
        type: 'webhook',
        url: 'https://bridge.example.com/drift',
        secret: HOOK_SECRET_ARN,
        outcomes: ['VERIFIED', 'FAILED'],
        approvalRequests: false,
      },
    ],
  };
  const file = join(mkdtempSync(join(tmpdir(), 'notify-policy-')), 'policy.yaml');
  writeFileSync(file, stringify(doc));
  s = synth({ remediation: { policyFile: file } }); // cdk-nag on: an unacknowledged finding fails synth
  resources = s.json.Resources as Resources;
});

describe('notifications infrastructure', () => {
  it('a KMS queue with a DLQ after NOTIFY_MAX_RECEIVE_COUNT receives, consumed by notify with partial batch responses', () => {
    const dlq = idOf(s.json, 'AWS::SQS::Queue', 'NotificationsDeadLetterQueue');
    s.template.hasResourceProperties('AWS::SQS::Queue', {
      KmsMasterKeyId: Match.anyValue(),
      VisibilityTimeout: 180,
      RedrivePolicy: {
        deadLetterTargetArn: { 'Fn::GetAtt': [dlq, 'Arn'] },
        maxReceiveCount: NOTIFY_MAX_RECEIVE_COUNT,
      },
    });
    const queue = idOf(s.json, 'AWS::SQS::Queue', 'NotificationsQueue');
    s.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [queue, 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      FunctionName: { Ref: idOf(s.json, 'AWS::Lambda::Function', 'NotifyFunction') },
    });
    s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
      AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
    });
  });

  it('alarms per channel on NotificationDeliveryFailed (to the alarm topic) and graphs deliveries on the dashboard', () => {
    for (const channel of ['ops-slack', 'jira'])
      s.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'DriftRemediation',
        MetricName: 'NotificationDeliveryFailed',
        Dimensions: Match.arrayWith([{ Name: 'channel', Value: channel }]),
        Statistic: 'Sum',
        Period: 300,
        EvaluationPeriods: 3,
        DatapointsToAlarm: 2,
        AlarmActions: [{ Ref: Match.stringLikeRegexp('AlarmTopic') }],
      });
    const failedAlarms = Object.values(resources).filter(
      (r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties?.MetricName === 'NotificationDeliveryFailed',
    );
    expect(failedAlarms).toHaveLength(2);
    // The emitted dimensions (Powertools adds `service`): the alarm must name exactly those.
    expect(failedAlarms[0]?.Properties?.Dimensions).toEqual(
      expect.arrayContaining([{ Name: 'service', Value: 'drift-remediation' }]),
    );
    const dashboard = Object.values(resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(dashboard?.Properties?.DashboardBody);
    expect(body).toContain('Notification deliveries');
    for (const m of ['NotificationDelivered', 'NotificationDeliveryFailed']) expect(body).toContain(m);
    expect(body).toContain('jira failed');
  });

  it.each(['RecordOutcome', 'AbortCleanup', 'RequestApproval'])(
    '%s learns which outcomes (and whether approval requests) any channel hears',
    (like) => {
      const fn = resources[idOf(s.json, 'AWS::Lambda::Function', `${like}Function`)];
      const env = fn?.Properties?.Environment as { Variables: Record<string, unknown> } | undefined;
      const vars = env?.Variables ?? {};
      // ops-slack hears approval requests by default; jira opted out.
      expect(vars.NOTIFY_OUTCOMES).toBe(
        'ABORTED,ESCALATED,EXPIRED,FAILED,NOT_VERIFIED,REJECTED,VERIFIED,approval.requested',
      );
      expect(vars.NOTIFY_QUEUE_URL).toEqual({ Ref: idOf(s.json, 'AWS::SQS::Queue', 'NotificationsQueue') });
    },
  );

  it('notify reads exactly the channels’ secrets and the outcomes table (policy simulation)', async () => {
    const notify = rolePolicies(s.json, idOf(s.json, 'AWS::IAM::Role', 'NotifyRole'));
    const slackArn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${SLACK_SECRET}-Xy12Zq`;
    const ask = (action: string, resource: string) => decide(notify, { action, resource });
    expect(await ask('secretsmanager:GetSecretValue', slackArn)).toBe('Allowed');
    expect(await ask('secretsmanager:GetSecretValue', HOOK_SECRET_ARN)).toBe('Allowed');
    expect(
      await ask(
        'secretsmanager:GetSecretValue',
        `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:${SLACK_SECRET}-extra-Xy12Zq`,
      ),
    ).toBe('ImplicitlyDenied');
    expect(
      await ask(
        'secretsmanager:GetSecretValue',
        `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:other-Xy12Zq`,
      ),
    ).toBe('ImplicitlyDenied');
    const signing = idOf(s.json, 'AWS::SecretsManager::Secret', 'ApprovalSigningSecret');
    expect(
      await ask('secretsmanager:GetSecretValue', String(resolveIntrinsics({ Ref: signing }, resources))),
    ).toBe('ImplicitlyDenied');
    const outcomes = arnOf(idOf(s.json, 'AWS::DynamoDB::Table', 'OutcomesTable'));
    expect(await ask('dynamodb:PutItem', outcomes)).toBe('Allowed');
    expect(await ask('dynamodb:GetItem', outcomes)).toBe('Allowed');
    expect(await ask('dynamodb:DeleteItem', outcomes)).toBe('ImplicitlyDenied');
    expect(await ask('dynamodb:Scan', outcomes)).toBe('ImplicitlyDenied');
    const approvals = arnOf(idOf(s.json, 'AWS::DynamoDB::Table', 'ApprovalsTable'));
    expect(await ask('dynamodb:GetItem', approvals)).toBe('ImplicitlyDenied');
    expect(await ask('sqs:SendMessage', arnOf(idOf(s.json, 'AWS::SQS::Queue', 'IntakeQueue')))).toBe(
      'ImplicitlyDenied',
    );
  });

  it('only record-outcome, abort-cleanup and request-approval may send to the notifications queue (and make its data keys)', async () => {
    const queueId = idOf(s.json, 'AWS::SQS::Queue', 'NotificationsQueue');
    const queue = arnOf(queueId);
    const keyRef = resources[queueId]?.Properties?.KmsMasterKeyId as { 'Fn::GetAtt': [string, string] };
    const key = String(resolveIntrinsics(keyRef, resources));
    const keyPolicy = resolveIntrinsics(resources[keyRef['Fn::GetAtt'][0]]?.Properties?.KeyPolicy, resources);
    expect(key).toMatch(/^arn:aws:kms:/);
    const roles = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::IAM::Role');
    const senders: string[] = [];
    for (const [id] of roles) {
      const p = rolePolicies(s.json, id);
      if ((await decide(p, { action: 'sqs:SendMessage', resource: queue })) !== 'Allowed') continue;
      senders.push(id);
      const dataKey = { action: 'kms:GenerateDataKey', resource: key, resourcePolicy: keyPolicy };
      expect(await decide(p, dataKey), id).toBe('Allowed');
    }
    expect(senders.map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'DriftRemediationAbortCleanupRole',
      'DriftRemediationRecordOutcomeRole',
      'DriftRemediationRequestApprovalRole',
    ]);
  });

  it('a secret named by name is granted with the 6-character suffix wildcard only', () => {
    expect(secretArnFor('drift/x', { partition: 'aws', region: 'eu-west-1', account: '123456789012' })).toBe(
      'arn:aws:secretsmanager:eu-west-1:123456789012:secret:drift/x-??????',
    );
    expect(secretArnFor(HOOK_SECRET_ARN)).toBe(HOOK_SECRET_ARN);
  });
});
