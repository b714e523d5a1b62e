/**
 * KMS key policies: a queue or topic encrypted with a customer managed key makes KMS calls with its
 * caller's permissions, so the caller needs kms:GenerateDataKey / kms:Decrypt on the key — allowed by the
 * key policy and, where the key policy trusts the account (its root principal), by the caller's identity
 * policies — or the call is refused as SQS and SNS report it, changing nothing. EventBridge delivering to
 * an encrypted queue needs the key policy to admit events.amazonaws.com. Real SDK v3 SQS/SNS/EventBridge
 * clients signed with role-session credentials the sandbox minted; keys are created through the sandbox's
 * KMS (awsJson1.1 TrentService) in-process.
 */
import {
  EventBridgeClient,
  PutEventsCommand,
  PutRuleCommand,
  PutTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { type EventsService, eventsService } from '../../../sandbox/services/events';
import { iamService } from '../../../sandbox/services/iam';
import { kmsService } from '../../../sandbox/services/kms';
import { snsService } from '../../../sandbox/services/sns';
import { sqsService } from '../../../sandbox/services/sqs';
import { withSandbox } from '../helpers';
import { actingAs, failure, policy, role } from './iam-support';

const events: EventsService = eventsService();
const sb = withSandbox(() => ({
  services: [iamService(), kmsService(), sqsService(), snsService(), events],
}));
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const ROOT = `arn:aws:iam::${ACCOUNT}:root`;
const queueArn = (name: string) => `arn:aws:sqs:${REGION}:${ACCOUNT}:${name}`;
/** CDK's default key policy: the account's IAM policies decide. */
const TRUST_ACCOUNT = { Effect: 'Allow', Principal: { AWS: ROOT }, Action: 'kms:*', Resource: '*' };

const kms = (op: string, input: Record<string, unknown>) => sb.sandbox.context.call('kms', op, input);

async function key(keyPolicy?: string): Promise<string> {
  const out = await kms('CreateKey', { Description: 'test', ...(keyPolicy ? { Policy: keyPolicy } : {}) });
  return String((out.KeyMetadata as { Arn: string }).Arn);
}

async function encryptedQueue(name: string, keyArn: string): Promise<string> {
  const out = await new SQSClient(sb.clientConfig).send(
    new CreateQueueCommand({ QueueName: name, Attributes: { KmsMasterKeyId: keyArn } }),
  );
  return String(out.QueueUrl);
}

async function messages(url: string): Promise<string[]> {
  const out = await new SQSClient(sb.clientConfig).send(
    new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0, MaxNumberOfMessages: 10 }),
  );
  return (out.Messages ?? []).map((m) => String(m.Body));
}

describe('KMS (TrentService)', () => {
  it('encrypts and decrypts under a key found by id, ARN or alias; data keys decrypt to their plaintext', async () => {
    const arn = await key();
    await kms('CreateAlias', { AliasName: 'alias/test-roundtrip', TargetKeyId: arn });
    const enc = await kms('Encrypt', { KeyId: 'alias/test-roundtrip', Plaintext: Buffer.from('hello') });
    expect(enc.KeyId).toBe(arn);
    const dec = await kms('Decrypt', { CiphertextBlob: enc.CiphertextBlob });
    expect(Buffer.from(dec.Plaintext as Uint8Array).toString()).toBe('hello');
    const dk = await kms('GenerateDataKey', { KeyId: arn.split('/')[1], KeySpec: 'AES_256' });
    expect((dk.Plaintext as Uint8Array).length).toBe(32);
    const back = await kms('Decrypt', { CiphertextBlob: dk.CiphertextBlob, KeyId: arn });
    expect(Buffer.from(back.Plaintext as Uint8Array)).toEqual(Buffer.from(dk.Plaintext as Uint8Array));
    const tampered = Buffer.from(enc.CiphertextBlob as Uint8Array);
    tampered[tampered.length - 1] = (tampered.at(-1) ?? 0) ^ 1;
    await expect(kms('Decrypt', { CiphertextBlob: tampered })).rejects.toThrow(
      expect.objectContaining({ code: 'InvalidCiphertextException' }),
    );
    await expect(kms('DescribeKey', { KeyId: 'alias/nothing' })).rejects.toThrow(
      expect.objectContaining({ code: 'NotFoundException' }),
    );
  });
});

describe('a queue encrypted with a customer managed key', () => {
  it('refuses SendMessage to a role lacking kms:GenerateDataKey (KMS.AccessDeniedException), sending nothing', async () => {
    const keyArn = await key(policy(TRUST_ACCOUNT));
    const url = await encryptedQueue('cmk-queue', keyArn);
    const sender = await role(sb, 'cmk-sender', [
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn('cmk-queue') },
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: keyArn },
    ]);
    const denied = await failure(
      new SQSClient(actingAs(sb, sender, 'send')).send(
        new SendMessageCommand({ QueueUrl: url, MessageBody: 'no' }),
      ),
    );
    expect(denied).toMatchObject({ name: 'KmsAccessDenied', code: 'KMS.AccessDeniedException', status: 400 });
    expect(denied.message).toMatch(
      new RegExp(
        `^User: arn:aws:sts::${ACCOUNT}:assumed-role/cmk-sender/send is not authorized to perform: kms:GenerateDataKey on resource: ${keyArn} because no identity-based policy allows the kms:GenerateDataKey action \\(Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: [0-9a-f-]{36}\\)$`,
      ),
    );
    expect(sb.sandbox.logs).toContain(
      `iam: AccessDenied: arn:aws:sts::${ACCOUNT}:assumed-role/cmk-sender/send is not allowed kms:GenerateDataKey on ${keyArn} (KMS key)`,
    );
    expect(await messages(url)).toEqual([]);
  });

  it('admits the role once its policy allows the key actions — only through SQS when kms:ViaService says so', async () => {
    const keyArn = await key(policy(TRUST_ACCOUNT));
    const url = await encryptedQueue('via-queue', keyArn);
    const sender = await role(sb, 'via-sender', [
      { Effect: 'Allow', Action: ['sqs:SendMessage', 'sqs:ReceiveMessage'], Resource: queueArn('via-queue') },
      {
        Effect: 'Allow',
        Action: ['kms:GenerateDataKey', 'kms:Decrypt'],
        Resource: keyArn,
        Condition: {
          StringEquals: { 'kms:ViaService': `sqs.${REGION}.amazonaws.com`, 'kms:CallerAccount': ACCOUNT },
        },
      },
    ]);
    const sqs = new SQSClient(actingAs(sb, sender, 'via'));
    await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'sealed' }));
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0 }));
    expect(got.Messages?.map((m) => m.Body)).toEqual(['sealed']);
    // The same role calling SNS on a topic under the key: kms:ViaService is sns, not sqs — refused.
    const topic = String(
      (
        await new SNSClient(sb.clientConfig).send(
          new CreateTopicCommand({ Name: 'via-topic', Attributes: { KmsMasterKeyId: keyArn } }),
        )
      ).TopicArn,
    );
    const admin = new IAMClient(sb.clientConfig);
    await admin.send(
      new PutRolePolicyCommand({
        RoleName: 'via-sender',
        PolicyName: 'publish',
        PolicyDocument: policy({ Effect: 'Allow', Action: 'sns:Publish', Resource: topic }),
      }),
    );
    const sns = await failure(
      new SNSClient(actingAs(sb, sender, 'via')).send(new PublishCommand({ TopicArn: topic, Message: 'x' })),
    );
    expect(sns.name).toBe('KMSAccessDeniedException');
    expect(sns.message).toMatch(
      /kms:GenerateDataKey on resource: .* because no identity-based policy allows/,
    );
  });

  it('sees a key disabled, enabled again, or an alias moved right after a send that used it (no stale key read)', async () => {
    const keyArn = await key(policy(TRUST_ACCOUNT));
    await kms('CreateAlias', { AliasName: 'alias/moving', TargetKeyId: keyArn });
    const url = await encryptedQueue('fresh-key-queue', 'alias/moving');
    const sender = await role(sb, 'fresh-key-sender', [
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn('fresh-key-queue') },
      { Effect: 'Allow', Action: ['kms:GenerateDataKey', 'kms:Decrypt'], Resource: keyArn },
    ]);
    const sqs = new SQSClient(actingAs(sb, sender, 'send'));
    const send = (body: string) => sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: body }));
    await send('one');
    await send('two');
    await kms('DisableKey', { KeyId: keyArn });
    expect(await failure(send('disabled'))).toMatchObject({ name: 'KmsDisabled' });
    await kms('EnableKey', { KeyId: keyArn });
    await send('three');
    // The alias now names a key the role has no permission on: refused on the new key.
    const other = await key(policy(TRUST_ACCOUNT));
    await kms('DeleteAlias', { AliasName: 'alias/moving' });
    await kms('CreateAlias', { AliasName: 'alias/moving', TargetKeyId: other });
    const denied = await failure(send('other key'));
    expect(denied.name).toBe('KmsAccessDenied');
    expect(denied.message).toContain(`on resource: ${other}`);
    expect(await messages(url)).toEqual(['one', 'two', 'three']);
  });

  it('a key policy that does not trust the account refuses even a role whose identity policy allows kms:*', async () => {
    const keyArn = await key(
      policy({
        Effect: 'Allow',
        Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/someone-else` },
        Action: 'kms:*',
        Resource: '*',
      }),
    );
    const url = await encryptedQueue('untrusting-queue', keyArn);
    const sender = await role(sb, 'untrusted-sender', [
      { Effect: 'Allow', Action: 'sqs:SendMessage', Resource: queueArn('untrusting-queue') },
      { Effect: 'Allow', Action: 'kms:*', Resource: '*' },
    ]);
    const denied = await failure(
      new SQSClient(actingAs(sb, sender, 'send')).send(
        new SendMessageCommand({ QueueUrl: url, MessageBody: 'no' }),
      ),
    );
    expect(denied.name).toBe('KmsAccessDenied');
    expect(denied.message).toMatch(/because no resource-based policy allows the kms:GenerateDataKey action/);
    expect(await messages(url)).toEqual([]);
  });

  it('EventBridge delivers to an encrypted queue only when the key policy admits events.amazonaws.com', async () => {
    const eb = new EventBridgeClient(sb.clientConfig);
    const deliver = async (rule: string, keyPolicy: string) => {
      const keyArn = await key(keyPolicy);
      const { RuleArn = '' } = await eb.send(
        new PutRuleCommand({ Name: rule, EventPattern: JSON.stringify({ source: [`test.${rule}`] }) }),
      );
      const url = String(
        (
          await new SQSClient(sb.clientConfig).send(
            new CreateQueueCommand({
              QueueName: rule,
              Attributes: {
                KmsMasterKeyId: keyArn,
                Policy: policy({
                  Effect: 'Allow',
                  Principal: { Service: 'events.amazonaws.com' },
                  Action: 'sqs:SendMessage',
                  Resource: queueArn(rule),
                  Condition: { ArnEquals: { 'aws:SourceArn': RuleArn } },
                }),
              },
            }),
          )
        ).QueueUrl,
      );
      await eb.send(new PutTargetsCommand({ Rule: rule, Targets: [{ Id: 'q', Arn: queueArn(rule) }] }));
      await eb.send(
        new PutEventsCommand({ Entries: [{ Source: `test.${rule}`, DetailType: 't', Detail: '{}' }] }),
      );
      await events.idle();
      return { url, deliveries: events.deliveries.filter((d) => d.rule === rule).map((d) => d.ok) };
    };
    const refused = await deliver('key-refuses-events', policy(TRUST_ACCOUNT));
    expect(refused.deliveries).toEqual([false]);
    expect(await messages(refused.url)).toEqual([]);
    const admitted = await deliver(
      'key-admits-events',
      policy(TRUST_ACCOUNT, {
        Effect: 'Allow',
        Principal: { Service: 'events.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        Resource: '*',
        Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } },
      }),
    );
    expect(admitted.deliveries).toEqual([true]);
    expect(await messages(admitted.url)).toHaveLength(1);
  });
});
