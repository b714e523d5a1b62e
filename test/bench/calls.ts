/**
 * The SDK call path's CPU (issue #9, the task handlers' side): n sequential calls of DynamoDB GetItem (the
 * document client), Step Functions SendTaskSuccess and CloudFormation DescribeStacks, made with the task
 * code's own clients (tasks/shared/clients.ts, dynamo-client.ts) over the sandbox's socketless transport,
 * signed as a Lambda execution role session as the installed handlers' calls are. Per call, in CPU µs:
 *  - client: the SDK and the transport's client half (sandbox/core/wire.ts), answered with the bytes the
 *    sandbox returned for the same call (a canned answer: no emulator at all);
 *  - total: the same call served by the sandbox (sandbox/core/transport.ts, the server's router);
 *  - emulator: total − client (router, codec, authorization, the service, and what the call sets off —
 *    SendTaskSuccess continues its execution — as far as it runs within the timed calls).
 * CPU is the process's (process.cpuUsage: this thread and V8's helpers, GC included), the median of
 * `rounds` rounds of n calls after a warm-up; the handlers' worker threads pay the client figure per call.
 */

import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { CreateTableCommand, DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import {
  CreateStateMachineCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import type { HttpHandler, HttpResponse } from '@smithy/core/protocols';
import Table from 'cli-table3';
import { credentialsFor } from '../../sandbox/core/authz';
import { type Sandbox, startSandbox } from '../../sandbox/core/sandbox';
import { type WireResponse, wireHandler } from '../../sandbox/core/wire';
import { allProviders, allServices } from '../../sandbox/services';
import {
  cloudFormationClient,
  resetClients,
  setClientDefaults,
  setCredentialHook,
  sfnClient,
} from '../../tasks/shared/clients';
import { dynamoClient } from '../../tasks/shared/dynamo-client';
import { say } from './support';
import { profileTo } from './throughput';

export interface CallsOptions {
  /** Calls per round. */
  n: number;
  rounds: number;
  /** Writes a CPU profile (.cpuprofile) of the client-only rounds to this file. */
  cpuProfile?: string | undefined;
}

export interface CallFigure {
  /** Short name (the bench JSON's key). */
  key: string;
  operation: string;
  /** CPU µs per call of the SDK and the transport's client half (canned answer). */
  clientUs: number;
  /** CPU µs per call served by the sandbox. */
  totalUs: number;
  /** total − client. */
  emulatorUs: number;
}

export interface CallsResult {
  n: number;
  rounds: number;
  calls: CallFigure[];
}

const ADMIN = { accessKeyId: 'AKIABENCHCALLS000000', secretAccessKey: 'bench' };
const TABLE = 'bench-calls';
const STACK = 'bench-calls';
const TOKEN_FUNCTION = 'bench-calls-token';

/** A request handler that passes calls to `inner` and keeps the last answer's bytes. */
function recording(inner: HttpHandler): { handler: HttpHandler; last: () => WireResponse } {
  let last: WireResponse | undefined;
  const handler: HttpHandler = {
    ...inner,
    handle: async (request, options) => {
      const out = (await inner.handle(request, options)) as { response: HttpResponse };
      const { statusCode, headers, body } = out.response;
      if (!(body instanceof Uint8Array)) throw new Error('bench calls: a streaming answer cannot be canned');
      last = { status: statusCode, headers, body, streaming: false };
      return out;
    },
  };
  return {
    handler,
    last: () => {
      if (!last) throw new Error('bench calls: no answer recorded');
      return last;
    },
  };
}

/** CPU µs per call of `count` sequential calls, after one untimed call (a new client is built by it). */
async function cpuPerCall(count: number, call: () => Promise<unknown>): Promise<number> {
  await call();
  const c0 = process.cpuUsage();
  for (let k = 0; k < count; k++) await call();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / count;
}

const median = (v: number[]) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)] ?? Number.NaN;

interface Operation {
  key: string;
  name: string;
  /** Calls needed for the sandbox-served rounds; `prepare` makes the state they need (untimed). */
  prepare: (count: number) => Promise<void>;
  call: (i: number) => Promise<unknown>;
}

/** The answer the sandbox gives `op`'s first call (after `prepare` made what the timed calls need). */
async function cannedAnswer(sb: Sandbox, o: CallsOptions, op: Operation): Promise<WireResponse> {
  const served = servedBy(sb);
  // Served calls: this one, each phase's untimed first call, the warm-up and the rounds.
  await op.prepare(1 + 2 + warmupOf(o) + o.n * o.rounds + o.rounds);
  const rec = recording(served);
  setClientDefaults({ requestHandler: rec.handler });
  await op.call(0);
  return rec.last();
}

function servedBy(sb: Sandbox): HttpHandler {
  if (!sb.requestHandler) throw new Error('bench calls: the sandbox runs without its in-process transport');
  return sb.requestHandler;
}

const warmupOf = (o: CallsOptions) => Math.min(200, o.n);

/** Creates role `name`, assumable by `service`, allowed `actions` on every resource; its ARN. */
async function role(sb: Sandbox, name: string, service: string, actions: string[]): Promise<string> {
  const iam = new IAMClient({ endpoint: sb.endpoint, region: sb.region, credentials: ADMIN });
  const doc = (statement: object) => JSON.stringify({ Version: '2012-10-17', Statement: [statement] });
  const trust = doc({ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' });
  const r = await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust }));
  const allow = doc({ Effect: 'Allow', Action: actions, Resource: '*' });
  await iam.send(new PutRolePolicyCommand({ RoleName: name, PolicyName: 'calls', PolicyDocument: allow }));
  return String(r.Role?.Arn);
}

/** Client settings of the sandbox's administrator (the untimed set-up calls). */
interface Admin {
  endpoint: string;
  region: string;
  credentials: typeof ADMIN;
  maxAttempts: number;
}

function getItem(admin: Admin): Operation {
  return {
    key: 'dynamoGetItem',
    name: 'DynamoDB GetItem (document client)',
    prepare: async () => {
      const ddb = new DynamoDBClient(admin);
      await ddb.send(
        new CreateTableCommand({
          TableName: TABLE,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        }),
      );
      await ddb.send(
        new PutItemCommand({
          TableName: TABLE,
          Item: { pk: { S: 'lease#runbook' }, holder: { S: 'arn:aws:states:x' }, n: { N: '3' } },
        }),
      );
    },
    call: () => dynamoClient().send(new GetCommand({ TableName: TABLE, Key: { pk: 'lease#runbook' } })),
  };
}

function sendTaskSuccess(sb: Sandbox, admin: Admin): Operation {
  const tokens: string[] = [];
  return {
    key: 'sfnSendTaskSuccess',
    name: 'Step Functions SendTaskSuccess',
    prepare: async (count) => {
      const arn = `arn:aws:lambda:${sb.region}:${sb.accountId}:function:${TOKEN_FUNCTION}`;
      sb.registerFunction({
        name: TOKEN_FUNCTION,
        arn,
        env: {},
        invoke: async (p) => {
          tokens.push((p as { token: string }).token);
          return {};
        },
      });
      const sfn = new SFNClient(admin);
      const roleArn = await role(sb, 'bench-calls-states', 'states.amazonaws.com', ['lambda:InvokeFunction']);
      const definition = {
        StartAt: 'Wait for the token',
        States: {
          'Wait for the token': {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
            Parameters: { FunctionName: arn, Payload: { 'token.$': '$$.Task.Token' } },
            End: true,
          },
        },
      };
      const { stateMachineArn } = await sfn.send(
        new CreateStateMachineCommand({
          name: 'bench-calls',
          definition: JSON.stringify(definition),
          roleArn,
        }),
      );
      for (let i = 0; i < count; i++)
        await sfn.send(new StartExecutionCommand({ stateMachineArn, name: `c${i}` }));
      for (let w = 0; tokens.length < count && w < 2000; w++) await new Promise((r) => setTimeout(r, 10));
      if (tokens.length < count) throw new Error(`bench calls: ${tokens.length} of ${count} task tokens`);
    },
    call: (i) => {
      const taskToken = tokens[i];
      if (taskToken === undefined) throw new Error(`bench calls: no task token ${i}`);
      return sfnClient().send(new SendTaskSuccessCommand({ taskToken, output: '{"lease":"l-1"}' }));
    },
  };
}

function describeStacks(admin: Admin): Operation {
  return {
    key: 'cfnDescribeStacks',
    name: 'CloudFormation DescribeStacks',
    prepare: async () => {
      const cfn = new CloudFormationClient(admin);
      const template = { Resources: { Handle: { Type: 'AWS::CloudFormation::WaitConditionHandle' } } };
      await cfn.send(new CreateStackCommand({ StackName: STACK, TemplateBody: JSON.stringify(template) }));
      for (let w = 0; w < 500; w++) {
        const d = await cfn.send(new DescribeStacksCommand({ StackName: STACK }));
        if (d.Stacks?.[0]?.StackStatus === 'CREATE_COMPLETE') return;
        await new Promise((r) => setTimeout(r, 10));
      }
      throw new Error('bench calls: the stack was not created');
    },
    call: () => cloudFormationClient().send(new DescribeStacksCommand({ StackName: STACK })),
  };
}

/**
 * Each operation's rounds, canned (client side) and served alternately so both see the same JIT state,
 * after a warm-up of both; then, with `cpuProfile`, one profiled canned round per operation.
 */
async function measureAll(sb: Sandbox, o: CallsOptions, ops: readonly Operation[]): Promise<CallFigure[]> {
  const phases = [];
  for (const op of ops) {
    const answer = await cannedAnswer(sb, o, op);
    let next = 1; // task tokens are single-use: served calls take the ones after the canned call's
    phases.push({
      op,
      canned: wireHandler(
        () => sb.endpoint,
        async () => answer,
      ),
      served: () => op.call(next++),
    });
  }
  say(`calls: ${ops.length} operations, ${o.rounds} rounds × ${o.n} calls, canned and served…`);
  const run = async (handler: HttpHandler, count: number, call: () => Promise<unknown>) => {
    setClientDefaults({ requestHandler: handler });
    return cpuPerCall(count, call);
  };
  for (const p of phases) {
    await run(p.canned, warmupOf(o), () => p.op.call(0));
    await run(servedBy(sb), warmupOf(o), p.served);
  }
  const figures: CallFigure[] = [];
  for (const p of phases) {
    const client: number[] = [];
    const total: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      client.push(await run(p.canned, o.n, () => p.op.call(0)));
      total.push(await run(servedBy(sb), o.n, p.served));
    }
    const [clientUs, totalUs] = [median(client), median(total)];
    figures.push({ key: p.op.key, operation: p.op.name, clientUs, totalUs, emulatorUs: totalUs - clientUs });
  }
  if (o.cpuProfile) {
    const stop = await profileTo(o.cpuProfile);
    for (const p of phases) await run(p.canned, o.n, () => p.op.call(0));
    await stop();
  }
  return figures;
}

/** Runs the three operations in a sandbox of its own; leaves the process's clients reset. */
export async function runCalls(o: CallsOptions): Promise<CallsResult> {
  const sb = await startSandbox({
    port: 0,
    timeScale: 0.001,
    workers: 0,
    services: allServices(),
    providers: allProviders(),
  });
  const saved = { endpoint: process.env.AWS_ENDPOINT_URL, region: process.env.AWS_REGION };
  try {
    process.env.AWS_ENDPOINT_URL = sb.endpoint;
    process.env.AWS_REGION = sb.region;
    // The handlers' calls sign as their execution role's session: the sandbox authorizes each against it.
    const actions = ['dynamodb:GetItem', 'states:SendTaskSuccess', 'cloudformation:DescribeStacks'];
    const session = credentialsFor(
      sb.context,
      await role(sb, 'bench-calls', 'lambda.amazonaws.com', actions),
      'bench',
    );
    setCredentialHook(() => session);
    const admin: Admin = { endpoint: sb.endpoint, region: sb.region, credentials: ADMIN, maxAttempts: 1 };
    const calls = await measureAll(sb, o, [
      getItem(admin),
      sendTaskSuccess(sb, admin),
      describeStacks(admin),
    ]);
    return { n: o.n, rounds: o.rounds, calls };
  } finally {
    setCredentialHook(undefined);
    resetClients();
    for (const [name, value] of [
      ['AWS_ENDPOINT_URL', saved.endpoint],
      ['AWS_REGION', saved.region],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    await sb.stop();
  }
}

/** Prints the figures as a table. */
export function printCalls(r: CallsResult): void {
  const t = new Table({
    head: [
      `SDK calls, socketless transport (median of ${r.rounds} × ${r.n})`,
      'client µs',
      'emulator µs',
      'total µs',
    ],
    style: { head: [], border: [] },
  });
  for (const c of r.calls)
    t.push([c.operation, c.clientUs.toFixed(0), c.emulatorUs.toFixed(0), c.totalUs.toFixed(0)]);
  console.log(t.toString());
}

/** The bench JSON's `callMicros`: per operation, client and total CPU µs per call. */
export function callsJson(r: CallsResult): Record<string, { client: number; total: number }> {
  const out: Record<string, { client: number; total: number }> = {};
  for (const c of r.calls) out[c.key] = { client: Math.round(c.clientUs), total: Math.round(c.totalUs) };
  return out;
}
