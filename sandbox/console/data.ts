/**
 * The console's read side: everything the page shows, read with read-only calls (CONSOLE_COMMANDS, which
 * `readOnlyClient` enforces on every client, and CONSOLE_POLICY, the IAM policy a console user needs).
 * The same code serves the sandbox (`/console` on its endpoint) and a real deployment (`drift-remediation
 * console`, the user's credentials): only the clients and `functionInfo` differ.
 */
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  DescribeStateMachineCommand,
  type ExecutionStatus,
  GetExecutionHistoryCommand,
  type HistoryEvent,
  ListExecutionsCommand,
  ListStateMachinesCommand,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { GetAutomationExecutionCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { InitializeMiddleware, MetadataBearer, MiddlewareStack } from '@smithy/types';
import type { StoredCost } from '../../tasks/record-outcome/cost';
import { type ExecutionCost, executionCost } from '../../tasks/shared/cost';
import { ENV } from '../../tasks/shared/env';
import { type GraphDefinition, graphOf } from './graph';
import { redactJsonText, redactValue } from './redact';
import { type StateStep, timelineOf } from './timeline';

/**
 * The SDK commands the console may send; anything else is refused before it leaves the process. No Scan:
 * every table read is a GetItem or a Query (the fleet view reads the outcome table's time index).
 */
export const CONSOLE_COMMANDS = [
  'ListStateMachinesCommand',
  'DescribeStateMachineCommand',
  'ListExecutionsCommand',
  'DescribeExecutionCommand',
  'GetExecutionHistoryCommand',
  'GetCommand',
  'GetItemCommand',
  'QueryCommand',
  'GetAutomationExecutionCommand',
  'GetFunctionConfigurationCommand',
] as const;

/**
 * The IAM policy of a console user (docs/operations.md "Ops console"). kms:Decrypt is needed to read the
 * tables (encrypted with the stack's key) and is limited to DynamoDB's use of the key.
 */
export const CONSOLE_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Sid: 'Executions',
      Effect: 'Allow',
      Action: [
        'states:ListStateMachines',
        'states:DescribeStateMachine',
        'states:ListExecutions',
        'states:DescribeExecution',
        'states:GetExecutionHistory',
      ],
      Resource: '*',
    },
    {
      Sid: 'Tables',
      Effect: 'Allow',
      Action: ['dynamodb:GetItem', 'dynamodb:Query'],
      Resource: '*',
    },
    { Sid: 'Runbooks', Effect: 'Allow', Action: ['ssm:GetAutomationExecution'], Resource: '*' },
    { Sid: 'Functions', Effect: 'Allow', Action: ['lambda:GetFunctionConfiguration'], Resource: '*' },
    {
      Sid: 'TableKey',
      Effect: 'Allow',
      Action: ['kms:Decrypt'],
      Resource: '*',
      Condition: { StringLike: { 'kms:ViaService': 'dynamodb.*.amazonaws.com' } },
    },
  ],
} as const;

export class NotReadOnlyError extends Error {
  override readonly name = 'NotReadOnlyError';
}

/** Refuses (NotReadOnlyError) every command not in CONSOLE_COMMANDS; `seen` records the ones sent. */
export function readOnlyClient<
  I extends object,
  O extends MetadataBearer,
  C extends { middlewareStack: MiddlewareStack<I, O> },
>(client: C, seen?: Set<string>): C {
  const allowed: ReadonlySet<string> = new Set(CONSOLE_COMMANDS);
  const guard: InitializeMiddleware<I, O> = (next, ctx) => async (args) => {
    const name = ctx.commandName ?? '?';
    if (!allowed.has(name)) throw new NotReadOnlyError(`the console sends read-only calls only, not ${name}`);
    seen?.add(name);
    return next(args);
  };
  client.middlewareStack.add(guard, { step: 'initialize', name: 'consoleReadOnly' });
  return client;
}

export interface FunctionInfo {
  memoryMb?: number | undefined;
  env: Record<string, string>;
}

export interface ConsoleDeps {
  sfn: SFNClient;
  ddb: DynamoDBDocumentClient;
  ssm: SSMClient;
  /** A task function's memory and environment (Lambda GetFunctionConfiguration; the sandbox's registry). */
  functionInfo(name: string): Promise<FunctionInfo | undefined>;
  /** The remediation state machine (default: the one ListStateMachines names *remediation*). */
  stateMachineArn?: string | undefined;
  now?: () => Date;
  /** Real ms per history ms (the sandbox's time scale; 1 in AWS): cost.ts `durationScale`. */
  durationScale?: number;
}

export interface ExecutionRow {
  name: string;
  arn: string;
  status: string;
  startDate: string;
  stopDate?: string | undefined;
  outcome?: string | undefined;
  rule?: string | undefined;
  resourceType?: string | undefined;
  resourceId?: string | undefined;
  account?: string | undefined;
  region?: string | undefined;
  source?: string | undefined;
}

export interface ExecutionFilter {
  status?: string | undefined;
  outcome?: string | undefined;
  rule?: string | undefined;
  /** Substring of the resource id or type. */
  resource?: string | undefined;
  account?: string | undefined;
  /** ISO times: started at or after / before. */
  since?: string | undefined;
  until?: string | undefined;
}

export interface ApprovalRecord {
  decision?: string;
  approver?: string;
  decidedAt?: string;
  comment?: string;
  sourceIp?: string;
  userAgent?: string;
}

export interface AutomationView {
  id: string;
  document?: string | undefined;
  status?: string | undefined;
  failureMessage?: string | undefined;
  steps: Array<{
    name: string;
    action?: string | undefined;
    status?: string | undefined;
    startedAt?: string | undefined;
    endedAt?: string | undefined;
    outputs?: string | undefined;
    failureMessage?: string | undefined;
  }>;
}

export interface ExecutionDetail {
  execution: ExecutionRow;
  graph: GraphDefinition;
  /** States entered, in order (repeats included). */
  path: string[];
  steps: StateStep[];
  approval?: ApprovalRecord | undefined;
  automation?: AutomationView | undefined;
  /** Priced from the whole history now. */
  cost: ExecutionCost;
  /** What Record outcome stored on the outcome item (tasks/record-outcome/cost.ts), when there is one. */
  recordedCost?: StoredCost | undefined;
  error?: string | undefined;
}

export interface Tables {
  outcomes?: string | undefined;
  leases?: string | undefined;
  slotQueue?: string | undefined;
}

const iso = (d: Date | undefined) => d?.toISOString();

function parseJson(text: string | undefined): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown) =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;

/** The row of one described execution: its event (input) and recorded outcome (output or error). */
export function rowOf(d: DescribeExecutionCommandOutput): ExecutionRow {
  const event = obj(parseJson(d.input)?.event);
  const outcome = str(obj(parseJson(d.output)?.outcome)?.outcome);
  return {
    name: d.name ?? '',
    arn: d.executionArn ?? '',
    status: d.status ?? 'UNKNOWN',
    startDate: iso(d.startDate) ?? '',
    stopDate: iso(d.stopDate),
    outcome: outcome ?? (d.status === 'RUNNING' ? undefined : (d.error ?? d.status)),
    rule: str(event?.configRuleName),
    resourceType: str(event?.resourceType),
    resourceId: str(event?.resourceId),
    account: str(event?.awsAccountId),
    region: str(event?.awsRegion),
    source: str(event?.source),
  };
}

/** Whether a row passes the filter (all given fields must match). */
export function matches(row: ExecutionRow, f: ExecutionFilter): boolean {
  if (f.status && row.status !== f.status) return false;
  if (f.outcome && row.outcome !== f.outcome) return false;
  if (f.rule && row.rule !== f.rule) return false;
  if (f.account && row.account !== f.account) return false;
  if (f.resource) {
    const needle = f.resource.toLowerCase();
    const hay = `${row.resourceType ?? ''} ${row.resourceId ?? ''}`.toLowerCase();
    if (!hay.includes(needle)) return false;
  }
  if (f.since && row.startDate < f.since) return false;
  if (f.until && row.startDate >= f.until) return false;
  return true;
}

/** How many recent executions the list reads (newest first). */
export const LIST_LIMIT = 200;

export class ConsoleData {
  private readonly described = new Map<string, DescribeExecutionCommandOutput>();
  private readonly costs = new Map<string, ExecutionCost>();
  private readonly functions = new Map<string, Promise<FunctionInfo | undefined>>();
  private machineArn: string | undefined;
  private definition: GraphDefinition | undefined;
  private tables: Tables | undefined;

  constructor(private readonly deps: ConsoleDeps) {
    this.machineArn = deps.stateMachineArn;
  }

  private now(): Date {
    return this.deps.now?.() ?? new Date();
  }

  async stateMachineArn(): Promise<string> {
    if (this.machineArn) return this.machineArn;
    const r = await this.deps.sfn.send(new ListStateMachinesCommand({}));
    const sm = r.stateMachines?.find((m) => /remediation/i.test(m.name ?? '')) ?? r.stateMachines?.[0];
    if (!sm?.stateMachineArn) throw new Error('no remediation state machine found (is the stack deployed?)');
    this.machineArn = sm.stateMachineArn;
    return sm.stateMachineArn;
  }

  /** The deployed definition as a graph (states, transitions, the task functions they invoke). */
  async graph(): Promise<GraphDefinition> {
    if (this.definition) return this.definition;
    const d = await this.deps.sfn.send(
      new DescribeStateMachineCommand({ stateMachineArn: await this.stateMachineArn() }),
    );
    this.definition = graphOf(d.definition ?? '{}');
    return this.definition;
  }

  private functionInfo(name: string): Promise<FunctionInfo | undefined> {
    let p = this.functions.get(name);
    if (!p) {
      p = this.deps.functionInfo(name).catch(() => undefined);
      this.functions.set(name, p);
    }
    return p;
  }

  /** Table names from the environment of the task functions the definition invokes. */
  async tableNames(): Promise<Tables> {
    if (this.tables) return this.tables;
    const found: Tables = {};
    for (const fn of (await this.graph()).functions) {
      const env = (await this.functionInfo(fn))?.env ?? {};
      found.outcomes ??= env[ENV.OUTCOMES_TABLE];
      found.leases ??= env[ENV.LEASES_TABLE];
      found.slotQueue ??= env[ENV.SLOT_QUEUE_TABLE];
    }
    this.tables = found;
    return found;
  }

  private async describe(arn: string): Promise<DescribeExecutionCommandOutput> {
    const cached = this.described.get(arn);
    if (cached) return cached;
    const d = await this.deps.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
    // A closed execution never changes: keep it.
    if (d.status !== 'RUNNING') this.described.set(arn, d);
    return d;
  }

  /** The newest LIST_LIMIT executions that pass the filter. */
  async executions(filter: ExecutionFilter = {}): Promise<ExecutionRow[]> {
    const stateMachineArn = await this.stateMachineArn();
    const listed: Array<{ executionArn?: string | undefined }> = [];
    let nextToken: string | undefined;
    do {
      const r = await this.deps.sfn.send(
        new ListExecutionsCommand({
          stateMachineArn,
          maxResults: 100,
          nextToken,
          ...(filter.status ? { statusFilter: filter.status as ExecutionStatus } : {}),
        }),
      );
      listed.push(...(r.executions ?? []));
      nextToken = r.nextToken;
    } while (nextToken && listed.length < LIST_LIMIT);
    const rows: ExecutionRow[] = [];
    for (const e of listed.slice(0, LIST_LIMIT)) {
      if (!e.executionArn) continue;
      const row = rowOf(await this.describe(e.executionArn));
      if (matches(row, filter)) rows.push(row);
    }
    return rows.sort((a, b) => b.startDate.localeCompare(a.startDate));
  }

  async history(arn: string): Promise<HistoryEvent[]> {
    const events: HistoryEvent[] = [];
    let nextToken: string | undefined;
    do {
      const h = await this.deps.sfn.send(
        new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 1000, nextToken }),
      );
      events.push(...(h.events ?? []));
      nextToken = h.nextToken;
    } while (nextToken);
    return events;
  }

  /** The cost of an execution (kept once it has closed). */
  async cost(arn: string, events?: HistoryEvent[]): Promise<ExecutionCost> {
    const cached = this.costs.get(arn);
    if (cached) return cached;
    const history = events ?? (await this.history(arn));
    const graph = await this.graph();
    const memory = new Map<string, number | undefined>();
    for (const fn of graph.functions) memory.set(fn, (await this.functionInfo(fn))?.memoryMb);
    const byState = new Map(graph.nodes.map((n) => [n.name, n.function]));
    const cost = executionCost(history, (fn) => memory.get(fn), {
      durationScale: this.deps.durationScale ?? 1,
      functionOfState: (state) => byState.get(state),
    });
    if ((await this.describe(arn)).status !== 'RUNNING') this.costs.set(arn, cost);
    return cost;
  }

  async executionArnOf(nameOrArn: string): Promise<string> {
    if (nameOrArn.startsWith('arn:')) return nameOrArn;
    return (await this.stateMachineArn()).replace(':stateMachine:', ':execution:').concat(`:${nameOrArn}`);
  }

  /** One execution: the graph and path, each state's duration and (redacted) input/output, approval, automation, cost. */
  async execution(nameOrArn: string): Promise<ExecutionDetail> {
    const arn = await this.executionArnOf(nameOrArn);
    const d = await this.describe(arn);
    const events = await this.history(arn);
    const steps = timelineOf(events, this.now());
    const row = rowOf(d);
    const state = lastState(steps);
    const item = await this.outcomeItem(row);
    const recordedCost = obj(item?.cost) as StoredCost | undefined;
    return {
      execution: row,
      graph: await this.graph(),
      path: steps.map((s) => s.name),
      steps,
      approval: approvalOf(item, state),
      automation: await this.automationOf(state),
      cost: await this.cost(arn, events),
      ...(recordedCost ? { recordedCost } : {}),
      ...(d.error ? { error: redactJsonText(`${d.error}${d.cause ? `: ${d.cause}` : ''}`) } : {}),
    };
  }

  private async outcomeItem(row: ExecutionRow): Promise<Record<string, unknown> | undefined> {
    const table = (await this.tableNames()).outcomes;
    if (
      !table ||
      !row.account ||
      !row.region ||
      !row.resourceType ||
      !row.resourceId ||
      row.status === 'RUNNING'
    )
      return undefined;
    const r = await this.deps.ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'resourceKey = :k',
        FilterExpression: 'executionName = :n',
        ExpressionAttributeValues: {
          ':k': `${row.account}/${row.region}/${row.resourceType}/${row.resourceId}`,
          ':n': row.name,
        },
      }),
    );
    return r.Items?.[0];
  }

  private async automationOf(
    state: Record<string, unknown> | undefined,
  ): Promise<AutomationView | undefined> {
    const id = str(obj(state?.runbook)?.automationExecutionId);
    if (!id) return undefined;
    const r = await this.deps.ssm.send(new GetAutomationExecutionCommand({ AutomationExecutionId: id }));
    const a = r.AutomationExecution;
    return {
      id,
      document: a?.DocumentName,
      status: a?.AutomationExecutionStatus,
      failureMessage: a?.FailureMessage,
      steps: (a?.StepExecutions ?? []).map((s) => ({
        name: s.StepName ?? '',
        action: s.Action,
        status: s.StepStatus,
        startedAt: iso(s.ExecutionStartTime),
        endedAt: iso(s.ExecutionEndTime),
        ...(s.Outputs ? { outputs: JSON.stringify(redactValue(s.Outputs), null, 2) } : {}),
        failureMessage: s.FailureMessage,
      })),
    };
  }
}

/** From the outcome record (who, when, from where, comment), else the execution state's `approval`. */
function approvalOf(
  item: Record<string, unknown> | undefined,
  state: Record<string, unknown> | undefined,
): ApprovalRecord | undefined {
  const recorded = obj(item?.approval) ?? obj(state?.approval);
  if (!recorded) return undefined;
  const out: ApprovalRecord = {};
  for (const k of ['decision', 'approver', 'decidedAt', 'comment', 'sourceIp', 'userAgent'] as const) {
    const v = str(recorded[k]);
    if (v !== undefined) out[k] = v;
  }
  return redactValue(out) as ApprovalRecord;
}

/** The execution state as the last state that exited (or was entered) left it. */
function lastState(steps: StateStep[]): Record<string, unknown> | undefined {
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i];
    const v = parseJson(s?.output) ?? parseJson(s?.input);
    if (v) return v;
  }
  return undefined;
}
