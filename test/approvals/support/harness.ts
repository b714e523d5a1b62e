/**
 * A local approval stack for the HTTP and browser tests: the real approval-endpoint core served over
 * node:http by the real Function URL adapter, the real request-approval core to create requests,
 * DynamoDB = a dynalite server with the real DynamoDB client, Step Functions and Secrets Manager
 * mocked (aws-sdk-client-mock). The browser scenarios only see `ApprovalTarget`, so the sandbox can
 * supply one that drives a real execution instead (see browser.test.ts).
 */

import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SendTaskFailureCommand, SendTaskSuccessCommand, SFNClient } from '@aws-sdk/client-sfn';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { type ApprovalEndpointDeps, handleApprovalRequest } from '../../../tasks/approval-endpoint/core';
import { functionUrlListener } from '../../../tasks/approval-endpoint/http-adapter';
import { type RequestApprovalInput, requestApproval } from '../../../tasks/request-approval/core';
import { ApprovalItem } from '../../../tasks/shared/approvals/record';
import { loadSigningKeys } from '../../../tasks/shared/approvals/signing';
import { ApprovalDecision, ApprovalRejection } from '../../../tasks/shared/contracts';
import { REGION, ROLE_ARN, requestInput, SECRET, SECRET_ARN, TOPIC_ARN } from './fixtures';

export const APPROVALS_TABLE = 'drift-remediation-approvals';

/** What a decision looked like when it reached the workflow. */
export type Delivered =
  | { kind: 'approved'; taskToken: string; decision: ApprovalDecision }
  | { kind: 'rejected'; taskToken: string; decision: ApprovalRejection };

/** A created approval request: its id and each approver's link, as the messages carried them. */
export interface CreatedRequest {
  approvalId: string;
  /** The task token handed to Request approval (known to local targets only). */
  taskToken?: string;
  links: Record<string, string>;
  messages: string[];
}

/**
 * What the browser scenarios need: a base URL serving /approvals/…, a way to create a request, and
 * the decision backend (what reached the workflow for a request). Locally the backend is the mocked
 * Step Functions client; in the sandbox it is the execution's state.
 */
export interface ApprovalTarget {
  readonly baseUrl: string;
  createRequest(input?: Partial<RequestApprovalInput>): Promise<CreatedRequest>;
  /** What the workflow received for this approval so far (undefined: still waiting). */
  delivered(approvalId: string): Promise<'approved' | 'rejected' | undefined>;
  /** The approver recorded with the decision, if any. */
  decidedBy(approvalId: string): Promise<string | undefined>;
}

type DynaliteFactory = (opts: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
}) => Server;

export interface LocalDynamo {
  endpoint: string;
  raw: DynamoDBClient;
  ddb: DynamoDBDocumentClient;
  close(): Promise<void>;
}

export async function startDynalite(): Promise<LocalDynamo> {
  const require = createRequire(import.meta.url);
  const dynalite = require('dynalite') as DynaliteFactory;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const raw = new DynamoDBClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  await raw.send(
    new CreateTableCommand({
      TableName: APPROVALS_TABLE,
      AttributeDefinitions: [{ AttributeName: 'approvalId', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'approvalId', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  return {
    endpoint,
    raw,
    ddb: DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } }),
    close: async () => {
      raw.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Adjustable time for expiry tests: real time plus an offset. */
export class TestClock {
  offsetSeconds = 0;
  now = (): Date => new Date(Date.now() + this.offsetSeconds * 1000);
}

export interface LocalApprovalHarness extends ApprovalTarget {
  readonly dynamo: LocalDynamo;
  readonly sfnMock: AwsClientStub<SFNClient>;
  readonly clock: TestClock;
  item(approvalId: string): Promise<ApprovalItem | undefined>;
  deliveries(): Delivered[];
  /** The SNS messages published so far (subject + body). */
  published(): string[];
  close(): Promise<void>;
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** The mocked AWS services of the local stack: Step Functions, Secrets Manager (the signing secret), SNS. */
interface MockedServices {
  sfn: SFNClient;
  sfnMock: AwsClientStub<SFNClient>;
  secrets: SecretsManagerClient;
  sns: SNSClient;
  snsMock: AwsClientStub<SNSClient>;
  restore(): void;
}

function mockedServices(): MockedServices {
  const sfn = new SFNClient({ region: REGION });
  const sfnMock = mockClient(sfn);
  sfnMock.on(SendTaskSuccessCommand).resolves({});
  sfnMock.on(SendTaskFailureCommand).resolves({});
  const secrets = new SecretsManagerClient({ region: REGION });
  const secretsMock = mockClient(secrets);
  secretsMock.on(GetSecretValueCommand, { SecretId: SECRET_ARN }).resolves({ SecretString: SECRET });
  const sns = new SNSClient({ region: REGION });
  const snsMock = mockClient(sns);
  snsMock.on(PublishCommand).resolves({ MessageId: 'msg' });
  const restore = () => {
    sfnMock.restore();
    secretsMock.restore();
    snsMock.restore();
  };
  return { sfn, sfnMock, secrets, sns, snsMock, restore };
}

/** The decisions the mocked Step Functions client received, in order. */
function deliveriesOf(sfnMock: AwsClientStub<SFNClient>): Delivered[] {
  return sfnMock.calls().flatMap((call): Delivered[] => {
    const input = call.args[0].input as Record<string, string | undefined>;
    if (call.args[0] instanceof SendTaskSuccessCommand) {
      return [
        {
          kind: 'approved',
          taskToken: input.taskToken ?? '',
          decision: v.parse(ApprovalDecision, JSON.parse(input.output ?? '')),
        },
      ];
    }
    if (call.args[0] instanceof SendTaskFailureCommand) {
      return [
        {
          kind: 'rejected',
          taskToken: input.taskToken ?? '',
          decision: v.parse(ApprovalRejection, JSON.parse(input.cause ?? '')),
        },
      ];
    }
    return [];
  });
}

/** `createRequest` of the local stack: the real request-approval core, links read back from the SNS messages. */
function requestCreator(
  services: MockedServices,
  dynamo: LocalDynamo,
  clock: TestClock,
  baseUrl: string,
): ApprovalTarget['createRequest'] {
  const { secrets, sns, snsMock } = services;
  let seq = 0;
  return async (overrides = {}) => {
    seq += 1;
    const base = requestInput();
    const name = `exec-${process.pid}-${Date.now()}-${seq}`;
    const input: RequestApprovalInput = {
      ...base,
      taskToken: `${base.taskToken ?? ''}-${seq}`,
      execution: { ...base.execution, id: base.execution.id.replace(/[^:]+$/, name), name },
      ...overrides,
    };
    const before = snsMock.commandCalls(PublishCommand).length;
    const out = await requestApproval(input, {
      ddb: dynamo.ddb,
      sns,
      approvalsTable: APPROVALS_TABLE,
      topicArn: TOPIC_ARN,
      baseUrl,
      signingKeys: () => loadSigningKeys(secrets, SECRET_ARN),
      automationAssumeRoleArn: ROLE_ARN,
      now: clock.now,
    });
    const links: Record<string, string> = {};
    const messages: string[] = [];
    for (const c of snsMock.commandCalls(PublishCommand).slice(before)) {
      const msg = c.args[0].input.Message ?? '';
      messages.push(`${c.args[0].input.Subject ?? ''}\n${msg}`);
      const approver = c.args[0].input.MessageAttributes?.approver?.StringValue;
      const link = msg.split('\n').find((l) => l.startsWith(`${baseUrl}/approvals/`));
      if (approver && link) links[approver] = link;
    }
    return { approvalId: out.approvalId, taskToken: input.taskToken, links, messages };
  };
}

export async function startLocalApprovals(
  opts: { log?: ApprovalEndpointDeps['log'] } = {},
): Promise<LocalApprovalHarness> {
  const dynamo = await startDynalite();
  const clock = new TestClock();
  const services = mockedServices();
  const { sfn, sfnMock, secrets, snsMock } = services;
  const deps: ApprovalEndpointDeps = {
    ddb: dynamo.ddb,
    sfn,
    approvalsTable: APPROVALS_TABLE,
    signingKeys: () => loadSigningKeys(secrets, SECRET_ARN),
    now: clock.now,
    ...(opts.log ? { log: opts.log } : {}),
  };
  const server = createServer(functionUrlListener((event) => handleApprovalRequest(event, deps)));
  const baseUrl = `http://127.0.0.1:${await listen(server)}`;
  const deliveries = () => deliveriesOf(sfnMock);
  const decisionOf = (approvalId: string) => deliveries().find((d) => d.decision.approvalId === approvalId);
  return {
    baseUrl,
    dynamo,
    sfnMock,
    clock,
    createRequest: requestCreator(services, dynamo, clock, baseUrl),
    async item(approvalId) {
      const res = await dynamo.ddb.send(
        new GetCommand({ TableName: APPROVALS_TABLE, Key: { approvalId }, ConsistentRead: true }),
      );
      return res.Item ? v.parse(ApprovalItem, res.Item) : undefined;
    },
    deliveries,
    published: () =>
      snsMock
        .commandCalls(PublishCommand)
        .map((c) => `${c.args[0].input.Subject ?? ''}\n${c.args[0].input.Message ?? ''}`),
    delivered: async (approvalId) => decisionOf(approvalId)?.kind,
    decidedBy: async (approvalId) => decisionOf(approvalId)?.decision.approver,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      services.restore();
      await dynamo.close();
    },
  };
}

/** The hidden CSRF token of a review page. */
export function csrfFromPage(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html);
  if (!m?.[1]) throw new Error('the review page has no CSRF field');
  return m[1];
}
