/**
 * Bundled by test/infra/bundle-calls.test.ts (with and without the SDK plugins) and run in a fresh Node
 * process against the sandbox (AWS_ENDPOINT_URL): sends, through every SDK client a task uses, the kind of
 * call the tasks make (the commands they send, with nested members, attributes, dates and lists in both
 * directions) and prints what a caller sees of each as one JSON line — the output, or the error's name,
 * message and fault. Names carry PROBE_RUN, and ids, dates and the request metadata are normalized, so
 * two runs in one sandbox print the same line exactly when the SDK behaves the same.
 */
import { CloudControlClient, GetResourceCommand } from '@aws-sdk/client-cloudcontrol';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  DetectStackResourceDriftCommand,
} from '@aws-sdk/client-cloudformation';
import {
  ConfigServiceClient,
  GetComplianceDetailsByConfigRuleCommand,
  GetComplianceDetailsByResourceCommand,
} from '@aws-sdk/client-config-service';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { DescribeExecutionCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { CreateTopicCommand, PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  GetAutomationExecutionCommand,
  SSMClient,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';

const run = process.env.PROBE_RUN ?? 'probe';
const name = (base: string) => `probe-${base}-${run}`;
const ACCOUNT_ARN = 'arn:aws:states:us-east-1:000000000000';

/** What a caller sees of one call: its output, or its error — comparable across runs. */
async function seen(call: () => Promise<unknown>): Promise<unknown> {
  try {
    return { ok: normalize(await call()) };
  } catch (e) {
    const err = e as Error & { $fault?: unknown };
    return { error: normalize({ name: err.name, message: err.message, fault: err.$fault }) };
  }
}

function normalize(v: unknown): unknown {
  // A function, not an arrow: `this[k]` is the value before Date's toJSON made it a string.
  const text = JSON.stringify(v, function (this: Record<string, unknown>, k, x: unknown) {
    if (k === '$metadata') return undefined;
    const raw = this[k];
    if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? 'Invalid Date' : 'Date';
    return x;
  });
  if (text === undefined) return undefined;
  return JSON.parse(
    text
      .replaceAll(run, 'RUN')
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, 'UUID')
      .replace(/\b\d{4}-\d\d-\d\dT[\d:.]+Z?\b/g, 'TIME')
      .replace(/(secret:[\w-]+RUN)-\w{6}/g, '$1-SUFFIX')
      .replace(/"(MD5Of\w+|ReceiptHandle|VersionId|SequenceNumber|MessageId|TableId)":"[^"]*"/g, '"$1":"…"'),
  ) as unknown;
}

const ddb = DynamoDBDocumentClient.from(new DynamoDBClient({}), {
  marshallOptions: { removeUndefinedValues: true },
});
const sqs = new SQSClient({});
const cfn = new CloudFormationClient({});
const table = name('table');
const stack = name('stack');

async function dynamo(): Promise<Record<string, unknown>> {
  const create = await seen(() =>
    ddb.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'N' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    ),
  );
  const Item = {
    pk: 'a',
    sk: 1,
    list: ['x', 2, true],
    map: { n: 1.5, s: new Set(['p', 'q']) },
    gone: undefined,
  };
  return {
    create,
    put: await seen(() => ddb.send(new PutCommand({ TableName: table, Item }))),
    get: await seen(() => ddb.send(new GetCommand({ TableName: table, Key: { pk: 'a', sk: 1 } }))),
    update: await seen(() =>
      ddb.send(
        new UpdateCommand({
          TableName: table,
          Key: { pk: 'a', sk: 1 },
          UpdateExpression: 'SET #c = if_not_exists(#c, :z) + :one',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#c': 'count' },
          ExpressionAttributeValues: { ':z': 0, ':one': 1 },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    ),
    query: await seen(() =>
      ddb.send(
        new QueryCommand({
          TableName: table,
          KeyConditionExpression: 'pk = :p AND sk > :s',
          ExpressionAttributeValues: { ':p': 'a', ':s': 0 },
        }),
      ),
    ),
    delete: await seen(() =>
      ddb.send(new DeleteCommand({ TableName: table, Key: { pk: 'a', sk: 1 }, ReturnValues: 'ALL_OLD' })),
    ),
  };
}

async function queues(): Promise<Record<string, unknown>> {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: name('queue') }));
  const QueueUrl = created.QueueUrl ?? '';
  const attrs = { kind: { DataType: 'String', StringValue: 'probe' } };
  return {
    queueUrl: normalize(QueueUrl),
    send: await seen(() =>
      sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'one', MessageAttributes: attrs })),
    ),
    batch: await seen(() =>
      sqs.send(
        new SendMessageBatchCommand({
          QueueUrl,
          Entries: [
            { Id: 'a', MessageBody: 'two' },
            { Id: 'b', MessageBody: 'three', DelaySeconds: 0 },
          ],
        }),
      ),
    ),
    receive: await seen(async () => {
      const r = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl,
          MaxNumberOfMessages: 10,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: ['ApproximateReceiveCount'],
        }),
      );
      return (r.Messages ?? []).map((m) => [m.Body, m.MessageAttributes, m.Attributes]).sort();
    }),
    cloudControl: await seen(() =>
      new CloudControlClient({}).send(
        new GetResourceCommand({ TypeName: 'AWS::SQS::Queue', Identifier: QueueUrl }),
      ),
    ),
  };
}

const TEMPLATE = JSON.stringify({
  Resources: { Queue: { Type: 'AWS::SQS::Queue', Properties: { VisibilityTimeout: 30 } } },
});

async function cloudFormation(): Promise<Record<string, unknown>> {
  return {
    create: await seen(() =>
      cfn.send(
        new CreateStackCommand({
          StackName: stack,
          TemplateBody: TEMPLATE,
          Tags: [{ Key: 'probe', Value: run }],
        }),
      ),
    ),
    describe: await seen(async () => {
      for (let i = 0; i < 100; i++) {
        const s = (await cfn.send(new DescribeStacksCommand({ StackName: stack }))).Stacks?.[0];
        if (s && !s.StackStatus?.endsWith('IN_PROGRESS')) return s;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('stack still in progress');
    }),
    resources: await seen(() => cfn.send(new DescribeStackResourcesCommand({ StackName: stack }))),
    drift: await seen(() =>
      cfn.send(new DetectStackResourceDriftCommand({ StackName: stack, LogicalResourceId: 'Queue' })),
    ),
    missing: await seen(() => cfn.send(new DescribeStacksCommand({ StackName: name('missing') }))),
  };
}

async function others(): Promise<Record<string, unknown>> {
  const secrets = new SecretsManagerClient({});
  const config = new ConfigServiceClient({});
  return {
    sts: await seen(() => new STSClient({}).send(new GetCallerIdentityCommand({}))),
    configByRule: await seen(() =>
      config.send(new GetComplianceDetailsByConfigRuleCommand({ ConfigRuleName: name('rule') })),
    ),
    configByResource: await seen(() =>
      config.send(
        new GetComplianceDetailsByResourceCommand({
          ResourceType: 'AWS::SQS::Queue',
          ResourceId: name('none'),
        }),
      ),
    ),
    secret: await seen(async () => {
      await secrets.send(new CreateSecretCommand({ Name: name('secret'), SecretString: 's3cr3t' }));
      return secrets.send(new GetSecretValueCommand({ SecretId: name('secret') }));
    }),
    sns: await seen(async () => {
      const sns = new SNSClient({});
      const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name('topic') }));
      return sns.send(
        new PublishCommand({
          TopicArn,
          Subject: 'probe',
          Message: 'hello',
          MessageAttributes: { kind: { DataType: 'String', StringValue: 'probe' } },
        }),
      );
    }),
    sfn: await seen(() =>
      new SFNClient({}).send(
        new DescribeExecutionCommand({ executionArn: `${ACCOUNT_ARN}:execution:none:x` }),
      ),
    ),
    sfnToken: await seen(() =>
      new SFNClient({}).send(new SendTaskSuccessCommand({ taskToken: 'not-a-token', output: '{}' })),
    ),
    ssmStart: await seen(() =>
      new SSMClient({}).send(
        new StartAutomationExecutionCommand({ DocumentName: name('doc'), Parameters: { a: ['b'] } }),
      ),
    ),
    ssmGet: await seen(() =>
      new SSMClient({}).send(
        new GetAutomationExecutionCommand({ AutomationExecutionId: '00000000-0000-4000-8000-000000000000' }),
      ),
    ),
  };
}

console.log(
  JSON.stringify({
    dynamo: await dynamo(),
    sqs: await queues(),
    cloudFormation: await cloudFormation(),
    others: await others(),
  }),
);
