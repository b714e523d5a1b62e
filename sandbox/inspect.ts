/** `executions list|show` and `outbox`: read a running sandbox through the real SDK (its console and outbox routes). */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import Table from 'cli-table3';
import { formatUsd } from '../tasks/shared/cost';
import type { ExecutionDetail } from './console/data';
import { formatDuration } from './console/timeline';

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

const clip = (text: string, max = 240) => {
  const one = text.replace(/\s+/g, ' ');
  return one.length > max ? `${one.slice(0, max)}… (${one.length} chars)` : one;
};

/**
 * Status, outcome, cost, and one line per state entered (its duration and attempts) with its input and
 * output, redacted and cut at 240 characters unless `full`: the sandbox console's view of the execution
 * (`/console/api/executions/<name>`, sandbox/console/), so both show the same figures.
 */
export async function showExecution(endpoint: string, nameOrArn: string, full = false): Promise<void> {
  const r = await fetch(`${endpoint}/console/api/executions/${encodeURIComponent(nameOrArn)}`);
  const body = (await r.json()) as ExecutionDetail & { error?: string };
  if (!r.ok) throw new Error(body.error ?? `HTTP ${r.status}`);
  const { execution: x, cost } = body;
  console.log(`${x.name}  ${x.status}  outcome ${x.outcome ?? '…'}`);
  console.log(`started ${x.startDate}${x.stopDate ? `, stopped ${x.stopDate}` : ''}`);
  console.log(
    `cost ${formatUsd(cost.usd.total)}: ${cost.transitions} transitions, ${cost.lambdaInvocations} Lambda requests, ${cost.lambdaGbSeconds} GB-s (prices ${cost.prices.region} ${cost.prices.asOf})`,
  );
  for (const step of body.steps) {
    const attempts = step.attempts > 1 ? `  ${step.attempts} attempts` : '';
    const open = step.exitedAt ? '' : ' (running)';
    console.log(
      `  ${step.enteredAt.slice(11, 23)}  ${step.name}  ${formatDuration(step.durationMs)}${open}${attempts}`,
    );
    const show = (label: string, text: string | undefined) => {
      if (text !== undefined) console.log(`      ${label} ${full ? text : clip(text)}`);
    };
    show('in ', step.input);
    show('out', step.output);
    show('✗  ', step.error);
  }
  if (body.error) console.log(`error: ${full ? body.error : clip(body.error, 400)}`);
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
