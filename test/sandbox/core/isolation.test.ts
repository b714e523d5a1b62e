/**
 * Resources are isolated per account-region in every service: the same name in two accounts or regions
 * is two resources, each with its own account-region in its ARN or URL, and account B's credentials
 * cannot see or change account A's resource (AWS's not-found or access-denied error) unless A's resource
 * policy admits B — and then B's own policies must allow it too (the cross-account rule).
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  CreateStateMachineCommand,
  ListStateMachinesCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { CreateTopicCommand, ListTopicsCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  CreateDocumentCommand,
  DescribeDocumentCommand,
  GetAutomationExecutionCommand,
  SSMClient,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { describe, expect, it } from 'vitest';
import { allServices } from '../../../sandbox/services';
import { withSandbox } from '../helpers';
import { trustingRole } from './iam-support';

const A = '111111111111';
const B = '222222222222';
const sb = withSandbox({ services: allServices(), accountId: A, region: 'us-east-1' });

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}
/** A 12-digit access key is that account's administrator. */
const adminOf = (account: string): Creds => ({ accessKeyId: account, secretAccessKey: 'x' });
const config = (credentials: Creds, region = 'us-east-1') => ({
  endpoint: sb.endpoint,
  region,
  credentials,
  maxAttempts: 1,
});

async function errorOf(p: Promise<unknown>): Promise<{ name: string; message: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!err) throw new Error('expected the call to fail');
  return { name: err.name, message: err.message };
}

/** A session of a role in `account` whose inline policy allows `actions` on everything. */
async function roleSession(account: string, name: string, actions: string[]): Promise<Creds> {
  const { CreateRoleCommand } = await import('@aws-sdk/client-iam');
  const iam = new IAMClient(config(adminOf(account)));
  const trust = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: 'sts:AssumeRole' },
    ],
  };
  await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) }));
  await iam.send(
    new PutRolePolicyCommand({
      RoleName: name,
      PolicyName: 'p',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: actions, Resource: '*' }],
      }),
    }),
  );
  const out = await new STSClient(config(adminOf(account))).send(
    new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/${name}`, RoleSessionName: 's1' }),
  );
  const c = out.Credentials;
  return {
    accessKeyId: c?.AccessKeyId ?? '',
    secretAccessKey: c?.SecretAccessKey ?? '',
    sessionToken: c?.SessionToken ?? '',
  };
}

describe('SQS per account-region', () => {
  it('makes the same queue name in two accounts and two regions three queues, URLs and ARNs their own', async () => {
    const aEast = new SQSClient(config(adminOf(A)));
    const aWest = new SQSClient(config(adminOf(A), 'us-west-2'));
    const bEast = new SQSClient(config(adminOf(B)));
    const urls = await Promise.all(
      [aEast, aWest, bEast].map(
        async (c) => (await c.send(new CreateQueueCommand({ QueueName: 'work' }))).QueueUrl,
      ),
    );
    expect(urls).toEqual([
      `${sb.endpoint}/queue/us-east-1/${A}/work`,
      `${sb.endpoint}/queue/us-west-2/${A}/work`,
      `${sb.endpoint}/queue/us-east-1/${B}/work`,
    ]);
    await aEast.send(new SendMessageCommand({ QueueUrl: urls[0], MessageBody: 'for A east' }));
    const got = await bEast.send(new ReceiveMessageCommand({ QueueUrl: urls[2], WaitTimeSeconds: 0 }));
    expect(got.Messages ?? []).toEqual([]);
    expect((await aWest.send(new ListQueuesCommand({}))).QueueUrls).toEqual([urls[1]]);
    expect((await bEast.send(new GetQueueUrlCommand({ QueueName: 'work' }))).QueueUrl).toBe(urls[2]);
  });

  it("refuses B's administrator A's queue (access denied, nothing sent) until A's queue policy admits B", async () => {
    const a = new SQSClient(config(adminOf(A)));
    const b = new SQSClient(config(adminOf(B)));
    const url = (await a.send(new CreateQueueCommand({ QueueName: 'private' }))).QueueUrl ?? '';
    const denied = await errorOf(b.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'intruder' })));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain(`arn:aws:iam::${B}:user/sandbox-admin`);
    expect(denied.message).toContain(`arn:aws:sqs:us-east-1:${A}:private`);
    const none = await a.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0 }));
    expect(none.Messages ?? []).toEqual([]);

    const policy = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${B}:root` },
          Action: 'sqs:SendMessage',
          Resource: `arn:aws:sqs:us-east-1:${A}:private`,
        },
      ],
    };
    await a.send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Policy: JSON.stringify(policy) } }),
    );
    await b.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'admitted' }));
    const got = await a.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0 }));
    expect(got.Messages?.map((m) => m.Body)).toEqual(['admitted']);
    // The policy grants SendMessage only: B still cannot read A's queue.
    expect((await errorOf(b.send(new ReceiveMessageCommand({ QueueUrl: url })))).name).toBe(
      'AccessDeniedException',
    );
  });

  it("needs both B's identity policy and A's queue policy for B's role; in its own account either suffices", async () => {
    const a = new SQSClient(config(adminOf(A)));
    const url = (await a.send(new CreateQueueCommand({ QueueName: 'shared' }))).QueueUrl ?? '';
    const admitB = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${B}:root` },
          Action: 'sqs:SendMessage',
          Resource: `arn:aws:sqs:us-east-1:${A}:shared`,
        },
      ],
    };
    await a.send(
      new SetQueueAttributesCommand({ QueueUrl: url, Attributes: { Policy: JSON.stringify(admitB) } }),
    );
    // B's role allowed by A's queue policy, but its own policy allows only sqs:ReceiveMessage: denied.
    const narrow = new SQSClient(config(await roleSession(B, 'narrow', ['sqs:ReceiveMessage'])));
    const err = await errorOf(narrow.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'x' })));
    expect(err.name).toBe('AccessDeniedException');
    // Both allow: sent.
    const sender = new SQSClient(config(await roleSession(B, 'sender', ['sqs:SendMessage'])));
    await sender.send(new SendMessageCommand({ QueueUrl: url, MessageBody: 'from B role' }));
    // A role in A with an identity policy alone reaches A's queue (same account: either suffices).
    const local = new SQSClient(config(await roleSession(A, 'local', ['sqs:ReceiveMessage'])));
    const got = await local.send(new ReceiveMessageCommand({ QueueUrl: url, WaitTimeSeconds: 0 }));
    expect(got.Messages?.map((m) => m.Body)).toEqual(['from B role']);
  });
});

describe('SNS, Secrets Manager, Step Functions, SSM and Scheduler per account-region', () => {
  it('SNS: one topic name, two accounts; B lists only its own and may not publish to A’s', async () => {
    const a = new SNSClient(config(adminOf(A)));
    const b = new SNSClient(config(adminOf(B)));
    const aTopic = (await a.send(new CreateTopicCommand({ Name: 'alerts' }))).TopicArn;
    const bTopic = (await b.send(new CreateTopicCommand({ Name: 'alerts' }))).TopicArn;
    expect([aTopic, bTopic]).toEqual([
      `arn:aws:sns:us-east-1:${A}:alerts`,
      `arn:aws:sns:us-east-1:${B}:alerts`,
    ]);
    expect((await b.send(new ListTopicsCommand({}))).Topics?.map((t) => t.TopicArn)).toEqual([bTopic]);
    const before = sb.sandbox.outbox().length;
    const err = await errorOf(b.send(new PublishCommand({ TopicArn: aTopic, Message: 'intruder' })));
    expect(err.name).toBe('AuthorizationErrorException');
    expect(sb.sandbox.outbox().length).toBe(before);
  });

  it('Secrets Manager: one secret name, two regions; B cannot read A’s by ARN', async () => {
    const east = new SecretsManagerClient(config(adminOf(A)));
    const west = new SecretsManagerClient(config(adminOf(A), 'us-west-2'));
    const made = await east.send(new CreateSecretCommand({ Name: 'db', SecretString: 'east' }));
    await west.send(new CreateSecretCommand({ Name: 'db', SecretString: 'west' }));
    expect(made.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:us-east-1:${A}:secret:db-`));
    expect((await west.send(new GetSecretValueCommand({ SecretId: 'db' }))).SecretString).toBe('west');
    expect((await east.send(new GetSecretValueCommand({ SecretId: 'db' }))).SecretString).toBe('east');
    const b = new SecretsManagerClient(config(adminOf(B)));
    expect((await errorOf(b.send(new GetSecretValueCommand({ SecretId: 'db' })))).name).toBe(
      'ResourceNotFoundException',
    );
    expect((await errorOf(b.send(new GetSecretValueCommand({ SecretId: made.ARN })))).name).toBe(
      'AccessDeniedException',
    );
  });

  it('Step Functions: B sees only its machines and cannot start A’s', async () => {
    const definition = JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } });
    const a = new SFNClient(config(adminOf(A)));
    const b = new SFNClient(config(adminOf(B)));
    const roleArn = await trustingRole(sb.sandbox, 'sm', 'states.amazonaws.com');
    const { stateMachineArn } = await a.send(
      new CreateStateMachineCommand({ name: 'flow', definition, roleArn }),
    );
    expect(stateMachineArn).toBe(`arn:aws:states:us-east-1:${A}:stateMachine:flow`);
    expect((await b.send(new ListStateMachinesCommand({}))).stateMachines).toEqual([]);
    expect((await errorOf(b.send(new StartExecutionCommand({ stateMachineArn })))).name).toBe(
      'AccessDeniedException',
    );
    const started = await a.send(new StartExecutionCommand({ stateMachineArn, name: 'one' }));
    expect(started.executionArn).toBe(`arn:aws:states:us-east-1:${A}:execution:flow:one`);
  });

  it('SSM: documents and automation executions are the account-region’s own', async () => {
    const content = JSON.stringify({
      schemaVersion: '0.3',
      mainSteps: [{ name: 'wait', action: 'aws:sleep', inputs: { Duration: 'PT0S' } }],
    });
    const a = new SSMClient(config(adminOf(A)));
    const b = new SSMClient(config(adminOf(B), 'us-west-2'));
    await a.send(
      new CreateDocumentCommand({ Name: 'Team-Fix', Content: content, DocumentType: 'Automation' }),
    );
    expect((await errorOf(b.send(new DescribeDocumentCommand({ Name: 'Team-Fix' })))).name).toBe(
      'InvalidDocument',
    );
    const { AutomationExecutionId } = await a.send(
      new StartAutomationExecutionCommand({ DocumentName: 'Team-Fix' }),
    );
    const err = await errorOf(b.send(new GetAutomationExecutionCommand({ AutomationExecutionId })));
    expect(err.name).toBe('AutomationExecutionNotFoundException');
    // B makes its own document of that name: a second document, A's unchanged.
    await b.send(
      new CreateDocumentCommand({ Name: 'Team-Fix', Content: content, DocumentType: 'Automation' }),
    );
    const seen = await a.send(new DescribeDocumentCommand({ Name: 'Team-Fix' }));
    expect(seen.Document?.Owner).toBe(A);
  });

  it('Scheduler: one schedule name in two accounts is two schedules, each with its own ARN', async () => {
    const target = {
      Arn: `arn:aws:lambda:us-east-1:${A}:function:none`,
      RoleArn: await trustingRole(sb.sandbox, 's', 'scheduler.amazonaws.com'),
    };
    const input = {
      Name: 'nightly',
      ScheduleExpression: 'rate(1 day)',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: target,
      State: 'DISABLED',
    };
    const inA = sb.sandbox.context.scoped(A, 'us-east-1');
    const inB = sb.sandbox.context.scoped(B, 'us-east-1');
    const made = await Promise.all([
      inA.call('scheduler', 'CreateSchedule', input),
      inB.call('scheduler', 'CreateSchedule', input),
    ]);
    expect(made.map((m) => m.ScheduleArn)).toEqual([
      `arn:aws:scheduler:us-east-1:${A}:schedule/default/nightly`,
      `arn:aws:scheduler:us-east-1:${B}:schedule/default/nightly`,
    ]);
    await inB.call('scheduler', 'DeleteSchedule', { Name: 'nightly' });
    expect((await inA.call('scheduler', 'GetSchedule', { Name: 'nightly' })).Arn).toBe(made[0]?.ScheduleArn);
    expect((await errorOf(inB.call('scheduler', 'GetSchedule', { Name: 'nightly' }))).name).toBe(
      'ResourceNotFoundException',
    );
  });
});

describe('DynamoDB per account-region', () => {
  it('one table name in two accounts is two tables (one dynalite each), ARNs their own', async () => {
    const a = new DynamoDBClient(config(adminOf(A)));
    const b = new DynamoDBClient(config(adminOf(B), 'us-west-2'));
    const table = {
      TableName: 'outcomes',
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' as const }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' as const }],
      BillingMode: 'PAY_PER_REQUEST' as const,
    };
    const made = await Promise.all([
      a.send(new CreateTableCommand(table)),
      b.send(new CreateTableCommand(table)),
    ]);
    expect(made.map((m) => m.TableDescription?.TableArn)).toEqual([
      `arn:aws:dynamodb:us-east-1:${A}:table/outcomes`,
      `arn:aws:dynamodb:us-west-2:${B}:table/outcomes`,
    ]);
    await a.send(new PutItemCommand({ TableName: 'outcomes', Item: { pk: { S: 'only-in-A' } } }));
    const inB = await b.send(new GetItemCommand({ TableName: 'outcomes', Key: { pk: { S: 'only-in-A' } } }));
    expect(inB.Item).toBeUndefined();
    const other = new DynamoDBClient(config(adminOf(B)));
    expect((await errorOf(other.send(new DescribeTableCommand({ TableName: 'outcomes' })))).name).toBe(
      'ResourceNotFoundException',
    );
  });
});
