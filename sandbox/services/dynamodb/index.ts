/**
 * DynamoDB (awsJson1.0): dynalite, in memory, on an internal loopback port; requests (after the sandbox's
 * latency/fault rules) are proxied to it. dynalite lacks the Time To Live APIs, which are emulated here
 * (the setting is stored and described; items are not expired), and the transaction APIs, which answer
 * UnknownOperationException like any unsupported operation.
 */

import type { Server } from 'node:http';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import type { RequestContext, ServiceModule } from '../../core/types';
import { AwsError } from '../../core/types';

type DynaliteFactory = (options: {
  createTableMs?: number;
  deleteTableMs?: number;
  updateTableMs?: number;
  maxItemSizeKb?: number;
}) => Server;

const PROXIED = [
  'BatchGetItem',
  'BatchWriteItem',
  'CreateTable',
  'DeleteItem',
  'DeleteTable',
  'DescribeTable',
  'GetItem',
  'ListTables',
  'PutItem',
  'Query',
  'Scan',
  'UpdateItem',
  'UpdateTable',
  'TagResource',
  'UntagResource',
  'ListTagsOfResource',
] as const;

function post(
  agent: Agent,
  port: number,
  target: string,
  body: string,
  region: string,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amz-target': `DynamoDB_20120810.${target}`,
          'x-amz-date': new Date()
            .toISOString()
            .replace(/[-:]/g, '')
            .replace(/\.\d{3}/, ''),
          authorization: `AWS4-HMAC-SHA256 Credential=AKIASANDBOX/20200101/${region}/dynamodb/aws4_request, SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0000`,
          'content-length': Buffer.byteLength(body),
        },
        agent,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 500, text: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

export function dynamoDbService(options: { createTableMs?: number } = {}): ServiceModule {
  let server: Server | undefined;
  let port = 0;
  let agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const ttl = new Map<string, { AttributeName: string; Enabled: boolean }>();

  const forward = async (
    operation: string,
    input: Record<string, unknown>,
    ctx: RequestContext,
  ): Promise<unknown> => {
    if (!server) throw new AwsError('ServiceUnavailable', 'DynamoDB engine is not running', 503);
    const res = await post(agent, port, operation, JSON.stringify(input), ctx.region);
    let body: Record<string, unknown> = {};
    if (res.text) {
      try {
        body = JSON.parse(res.text) as Record<string, unknown>;
      } catch {
        throw new AwsError(
          'InternalServerError',
          `DynamoDB engine answered ${res.status} with a non-JSON body`,
          500,
        );
      }
    }
    if (res.status >= 400) {
      const type = String(body.__type ?? 'InternalServerError');
      const code = type.slice(type.lastIndexOf('#') + 1);
      const message = String(body.message ?? body.Message ?? code);
      const err = new AwsError(code, message, res.status);
      throw err;
    }
    return body;
  };

  const operations: ServiceModule['operations'] = {};
  for (const op of PROXIED) operations[op] = (input, ctx) => forward(op, input, ctx);

  const requireTable = async (input: Record<string, unknown>, ctx: RequestContext): Promise<string> => {
    const name = input.TableName;
    if (typeof name !== 'string' || !name) {
      throw new AwsError(
        'ValidationException',
        "1 validation error detected: Value null at 'tableName' failed to satisfy constraint: Member must not be null",
      );
    }
    await forward('DescribeTable', { TableName: name }, ctx); // ResourceNotFoundException when missing
    return name;
  };

  operations.UpdateTimeToLive = async (input, ctx) => {
    const name = await requireTable(input, ctx);
    const spec = input.TimeToLiveSpecification as { AttributeName?: unknown; Enabled?: unknown } | undefined;
    if (
      !spec ||
      typeof spec.AttributeName !== 'string' ||
      !spec.AttributeName ||
      typeof spec.Enabled !== 'boolean'
    ) {
      throw new AwsError(
        'ValidationException',
        'TimeToLiveSpecification must have AttributeName and Enabled.',
      );
    }
    const current = ttl.get(name);
    if (current && current.Enabled === spec.Enabled) {
      throw new AwsError(
        'ValidationException',
        `TimeToLive is already ${spec.Enabled ? 'enabled' : 'disabled'}`,
      );
    }
    ttl.set(name, { AttributeName: spec.AttributeName, Enabled: spec.Enabled });
    return { TimeToLiveSpecification: { AttributeName: spec.AttributeName, Enabled: spec.Enabled } };
  };
  operations.DescribeTimeToLive = async (input, ctx) => {
    const name = await requireTable(input, ctx);
    const t = ttl.get(name);
    return {
      TimeToLiveDescription: t?.Enabled
        ? { TimeToLiveStatus: 'ENABLED', AttributeName: t.AttributeName }
        : { TimeToLiveStatus: 'DISABLED' },
    };
  };

  return {
    serviceName: 'dynamodb',
    signingName: 'dynamodb',
    protocol: 'awsJson1_0',
    targetPrefix: 'DynamoDB_20120810',
    operations,
    async start() {
      const dynalite = createRequire(import.meta.url)('dynalite') as DynaliteFactory;
      const s = dynalite({
        createTableMs: options.createTableMs ?? 0,
        deleteTableMs: 0,
        updateTableMs: 0,
      });
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
          s.off('error', reject);
          resolve();
        });
      });
      port = (s.address() as AddressInfo).port;
      server = s;
    },
    async stop() {
      const s = server;
      server = undefined;
      agent.destroy();
      agent = new Agent({ keepAlive: true, maxSockets: 64 });
      if (!s) return;
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections?.();
      });
    },
  };
}
