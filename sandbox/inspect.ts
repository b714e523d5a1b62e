/** `executions list|show` and `outbox`: read a running sandbox through the real SDK (and its outbox route). */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import Table from 'cli-table3';

const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };

function sfnFor(endpoint: string) {
  return new SFNClient({ endpoint, region: process.env.AWS_REGION ?? 'us-east-1', credentials });
}

async function stateMachineArn(sfn: SFNClient): Promise<string> {
  const r = await sfn.send(new ListStateMachinesCommand({}));
  const sm = r.stateMachines?.find((m) => /remediation/i.test(m.name ?? '')) ?? r.stateMachines?.[0];
  if (!sm?.stateMachineArn) throw new Error('no state machine in this sandbox (is the stack installed?)');
  return sm.stateMachineArn;
}

/** The remediation outcome an execution recorded (from its output or, when it failed, its error). */
export function outcomeOf(d: Pick<DescribeExecutionCommandOutput, 'status' | 'output' | 'error'>): string {
  if (d.output) {
    try {
      const o = JSON.parse(d.output) as { outcome?: { outcome?: string } };
      if (o.outcome?.outcome) return o.outcome.outcome;
    } catch {
      // not JSON
    }
  }
  return d.status === 'RUNNING' ? '…' : (d.error ?? d.status ?? '?');
}

export async function listExecutions(endpoint: string, status?: string, json = false): Promise<void> {
  const sfn = sfnFor(endpoint);
  const arn = await stateMachineArn(sfn);
  const r = await sfn.send(
    new ListExecutionsCommand({
      stateMachineArn: arn,
      maxResults: 100,
      ...(status ? { statusFilter: status as 'RUNNING' } : {}),
    }),
  );
  const rows = [];
  for (const e of r.executions ?? []) {
    const d = await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
    rows.push({
      name: e.name ?? '',
      executionArn: e.executionArn ?? '',
      status: e.status ?? '',
      outcome: outcomeOf(d),
      startDate: e.startDate?.toISOString() ?? '',
      ...(e.stopDate ? { stopDate: e.stopDate.toISOString() } : {}),
    });
  }
  if (json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  const table = new Table({ head: ['execution', 'status', 'outcome', 'started'] });
  for (const row of rows) table.push([row.name, row.status, row.outcome, row.startDate]);
  console.log(table.toString());
}

function describeEvent(e: HistoryEvent): string {
  const entered = e.stateEnteredEventDetails?.name;
  if (entered) return `→ ${entered}`;
  const failed =
    e.lambdaFunctionFailedEventDetails ?? e.taskFailedEventDetails ?? e.executionFailedEventDetails;
  if (failed) return `✗ ${failed.error ?? ''} ${failed.cause ? failed.cause.slice(0, 160) : ''}`;
  return '';
}

export async function showExecution(endpoint: string, nameOrArn: string): Promise<void> {
  const sfn = sfnFor(endpoint);
  const arn = nameOrArn.startsWith('arn:')
    ? nameOrArn
    : (await stateMachineArn(sfn)).replace(':stateMachine:', ':execution:').concat(`:${nameOrArn}`);
  const d = await sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
  console.log(`${d.name}  ${d.status}  outcome ${outcomeOf(d)}`);
  console.log(
    `started ${d.startDate?.toISOString()}${d.stopDate ? `, stopped ${d.stopDate.toISOString()}` : ''}`,
  );
  const events: HistoryEvent[] = [];
  let nextToken: string | undefined;
  do {
    const h = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 1000, nextToken }),
    );
    events.push(...(h.events ?? []));
    nextToken = h.nextToken;
  } while (nextToken);
  for (const e of events) {
    const text = describeEvent(e);
    if (text) console.log(`  ${e.timestamp?.toISOString().slice(11, 23)}  ${text}`);
  }
  if (d.error) console.log(`error: ${d.error}${d.cause ? ` — ${d.cause}` : ''}`);
}

export async function printOutbox(endpoint: string, json = false): Promise<void> {
  const r = await fetch(`${endpoint}/_sandbox/outbox`);
  if (!r.ok) throw new Error(`outbox: HTTP ${r.status}`);
  const messages = (await r.json()) as Array<{
    topicArn: string;
    subject?: string;
    message: string;
    timestamp: string;
  }>;
  if (json) {
    console.log(JSON.stringify(messages, null, 2));
    return;
  }
  if (messages.length === 0) console.log('(no messages)');
  for (const m of messages) {
    console.log(`— ${m.timestamp}  ${m.topicArn.split(':').pop()}  ${m.subject ?? ''}`);
    console.log(m.message);
    console.log();
  }
}
