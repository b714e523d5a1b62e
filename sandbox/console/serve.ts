/**
 * Where the console runs: on the sandbox's endpoint (`mountConsole`, from sandbox/main.ts) or alone on
 * 127.0.0.1 against a real deployment with the caller's credentials (`serveConsole`, the `console` CLI
 * command). Every client is wrapped by readOnlyClient: a call outside CONSOLE_COMMANDS never leaves.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SSMClient } from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Sandbox } from '../core/sandbox';
import { rawRequest } from '../core/server';
import type { RawHttpResponse } from '../core/types';
import { ConsoleData, type ConsoleDeps, readOnlyClient } from './data';
import { CONSOLE_PREFIX, consoleRoute } from './http';

interface ClientConfig {
  region: string;
  endpoint?: string;
  profile?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  requestHandler?: Sandbox['requestHandler'];
}

function clients(cfg: ClientConfig, seen?: Set<string>) {
  const c = Object.fromEntries(Object.entries(cfg).filter(([, v]) => v !== undefined)) as ClientConfig;
  // The document client shares the DynamoDB client's middleware stack: one guard covers both.
  const dynamo = new DynamoDBClient(c);
  return {
    sfn: readOnlyClient(new SFNClient(c), seen),
    ssm: readOnlyClient(new SSMClient(c), seen),
    ddb: readOnlyClient(DynamoDBDocumentClient.from(dynamo), seen),
    lambda: readOnlyClient(new LambdaClient(c), seen),
  };
}

/** `/console` on the sandbox's endpoint; `seen` (tests) collects the SDK commands the console sent. */
export function mountConsole(sb: Sandbox, stateMachineArn: string | undefined, seen?: Set<string>): void {
  const c = clients(
    {
      region: sb.region,
      endpoint: sb.endpoint,
      credentials: { accessKeyId: 'AKIACONSOLE000000000', secretAccessKey: 'console' },
      requestHandler: sb.requestHandler,
    },
    seen,
  );
  const deps: ConsoleDeps = {
    ...c,
    stateMachineArn,
    now: () => sb.clock.now(),
    durationScale: sb.clock.timeScale,
    functionInfo: async (name) => {
      const fn = sb.functions.get(name);
      return fn ? { memoryMb: fn.memoryMb, env: fn.env } : undefined;
    },
  };
  sb.registerHttpRoute(CONSOLE_PREFIX, consoleRoute(new ConsoleData(deps), deps));
}

export interface ServeConsoleOptions {
  port: number;
  region?: string;
  profile?: string;
  /** Another endpoint than AWS's (e.g. a sandbox). */
  endpoint?: string;
  stateMachineArn?: string;
}

/** The console alone, on 127.0.0.1:port, reading a deployment with the SDK's credential chain. */
export async function serveConsole(o: ServeConsoleOptions): Promise<{ url: string; server: Server }> {
  const region = o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const c = clients({
    region,
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
  });
  const deps: ConsoleDeps = {
    ...c,
    stateMachineArn: o.stateMachineArn,
    functionInfo: async (name) => {
      const f = await c.lambda.send(new GetFunctionConfigurationCommand({ FunctionName: name }));
      return { memoryMb: f.MemorySize, env: f.Environment?.Variables ?? {} };
    },
  };
  const route = consoleRoute(new ConsoleData(deps), deps);
  const server = createServer((req: IncomingMessage, res) => {
    const raw = rawRequest(req.method ?? 'GET', req.url ?? '/', {}, Buffer.alloc(0));
    const home: RawHttpResponse = { status: 302, headers: { location: CONSOLE_PREFIX } };
    const out = raw.path === '/' ? Promise.resolve(home) : route(raw);
    void out.then((r) => {
      res.writeHead(r.status, r.headers);
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}${CONSOLE_PREFIX}`, server };
}
