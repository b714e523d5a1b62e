/**
 * Bundled by test/infra/bundle-errors.test.ts (with and without the SDK plugins) and run in a fresh Node
 * process against the sandbox (AWS_ENDPOINT_URL): sends calls that fail with modeled errors — some that
 * the task code names (kept modeled), some it never names (pruned), awsQuery codes that differ from the
 * error's name — and prints what a caller sees of each error as one JSON line.
 */
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  DynamoDBServiceException,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DescribeStateMachineCommand, SFNClient, SFNServiceException } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient, SNSServiceException } from '@aws-sdk/client-sns';
import { GetQueueUrlCommand, SQSClient, SQSServiceException } from '@aws-sdk/client-sqs';
import { GetDocumentCommand, SSMClient, SSMServiceException } from '@aws-sdk/client-ssm';

interface Seen {
  name: string;
  message: string;
  fault: unknown;
  status: unknown;
  code: unknown;
  /** `instanceof` the service's base exception, and of the modeled class where the probe imports it. */
  base: boolean;
  modeled?: boolean;
}

async function seen(call: () => Promise<unknown>, base: new (...a: never[]) => Error): Promise<Seen> {
  try {
    await call();
  } catch (e) {
    const err = e as Error & { $fault?: unknown; $metadata?: { httpStatusCode?: unknown }; Code?: unknown };
    return {
      name: err.name,
      message: err.message,
      fault: err.$fault,
      status: err.$metadata?.httpStatusCode,
      code: err.Code,
      base: err instanceof base,
    };
  }
  throw new Error('the call did not fail');
}

const ddb = new DynamoDBClient({});
const table = `probe-${process.pid}`;
await ddb.send(
  new CreateTableCommand({
    TableName: table,
    AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
  }),
);
const put = () =>
  ddb.send(
    new PutItemCommand({
      TableName: table,
      Item: { id: { S: 'a' } },
      ConditionExpression: 'attribute_not_exists(id)',
    }),
  );
await put();
let conditional: Seen | undefined;
try {
  await put();
} catch (e) {
  conditional = { ...(await seen(() => Promise.reject(e), DynamoDBServiceException)) };
  conditional.modeled = e instanceof ConditionalCheckFailedException;
}
const results = {
  conditional,
  ssmInvalidDocument: await seen(
    () => new SSMClient({}).send(new GetDocumentCommand({ Name: 'no-such-document' })),
    SSMServiceException,
  ),
  sfnNoStateMachine: await seen(
    () =>
      new SFNClient({}).send(
        new DescribeStateMachineCommand({
          stateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:no-such-machine',
        }),
      ),
    SFNServiceException,
  ),
  snsNotFound: await seen(
    () =>
      new SNSClient({}).send(
        new PublishCommand({ TopicArn: 'arn:aws:sns:us-east-1:000000000000:no-such-topic', Message: 'x' }),
      ),
    SNSServiceException,
  ),
  sqsNoQueue: await seen(
    () => new SQSClient({}).send(new GetQueueUrlCommand({ QueueName: 'no-such-queue' })),
    SQSServiceException,
  ),
};
console.log(JSON.stringify(results));
