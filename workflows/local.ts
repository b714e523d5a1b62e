/**
 * Running the synthesized state machine locally (aws-local-stepfunctions) with the real task handlers
 * in-process. Shared by test/workflow and the sandbox:
 *
 *   definitionFromTemplate(template)      the ASL from the template's DefinitionString, with Fn::Join /
 *                                         Fn::GetAtt / Ref resolved to fake (or given) ARNs
 *   stateTasks(definition, template)      Task state name → task name (via the functions' CFN Metadata
 *                                         `drift-remediation:task`)
 *   adaptForLocalEngine(definition)       the one engine difference we correct (TimeoutSecondsPath)
 *   localTaskHandlers(...)                taskResourceLocalHandlers: each Task state calls its handler;
 *                                         a waitForTaskToken state calls it, then waits for your callback
 *   importTaskHandlers()                  the real `tasks/<name>/handler.ts` handlers
 *   localContext(...)                     the Context Object ($$) the run needs (Execution, State, Task.Token)
 */
import type { StateMachineDefinition } from 'aws-local-stepfunctions';
import { WORKFLOW_TASKS, type WorkflowTask } from './remediation';

export const TASK_METADATA_KEY = 'drift-remediation:task';

export interface CfnResource {
  Type: string;
  Properties?: Record<string, unknown>;
  Metadata?: Record<string, unknown>;
}
export interface CfnTemplate {
  Resources: Record<string, CfnResource>;
}

export interface ArnContext {
  partition?: string;
  region?: string;
  account?: string;
  /** Overrides: logicalId → value for Ref / GetAtt (e.g. the sandbox's real ARNs). */
  physical?: (logicalId: string, attribute: string | undefined, resource: CfnResource) => string | undefined;
}

const DEFAULTS = { partition: 'aws', region: 'us-east-1', account: '123456789012' };

/** The fake physical ARN/name for a resource: `arn:aws:lambda:us-east-1:123456789012:function:<LogicalId>` etc. */
export function fakeArn(logicalId: string, resource: CfnResource, ctx: ArnContext = {}): string {
  const { partition: p, region: r, account: a } = { ...DEFAULTS, ...ctx };
  switch (resource.Type) {
    case 'AWS::Lambda::Function':
      return `arn:${p}:lambda:${r}:${a}:function:${logicalId}`;
    case 'AWS::IAM::Role':
      return `arn:${p}:iam::${a}:role/${logicalId}`;
    case 'AWS::SNS::Topic':
      return `arn:${p}:sns:${r}:${a}:${logicalId}`;
    case 'AWS::SQS::Queue':
      return `arn:${p}:sqs:${r}:${a}:${logicalId}`;
    case 'AWS::DynamoDB::Table':
      return `arn:${p}:dynamodb:${r}:${a}:table/${logicalId}`;
    case 'AWS::StepFunctions::StateMachine':
      return `arn:${p}:states:${r}:${a}:stateMachine:${logicalId}`;
    default:
      return `arn:${p}:cloudformation:${r}:${a}:resource/${logicalId}`;
  }
}

/** Resolves Ref, Fn::GetAtt, Fn::Join and simple Fn::Sub in `value`. */
export function resolveIntrinsics(value: unknown, template: CfnTemplate, ctx: ArnContext = {}): unknown {
  const { partition, region, account } = { ...DEFAULTS, ...ctx };
  const pseudo: Record<string, string> = {
    'AWS::Partition': partition,
    'AWS::Region': region,
    'AWS::AccountId': account,
    'AWS::URLSuffix': 'amazonaws.com',
    'AWS::StackName': 'DriftRemediation',
  };
  const physical = (id: string, attr?: string): string => {
    const res = template.Resources[id];
    if (!res) throw new Error(`template has no resource ${id}`);
    return ctx.physical?.(id, attr, res) ?? fakeArn(id, res, ctx);
  };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (!v || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1) {
      const [k] = keys;
      const arg = o[k as string];
      if (k === 'Ref' && typeof arg === 'string') return pseudo[arg] ?? physical(arg);
      if (k === 'Fn::GetAtt') {
        const [id, attr] = Array.isArray(arg) ? (arg as string[]) : String(arg).split('.');
        return physical(String(id), attr);
      }
      if (k === 'Fn::Join' && Array.isArray(arg)) {
        const [sep, parts] = arg as [string, unknown[]];
        return parts.map((x) => String(walk(x))).join(sep);
      }
      if (k === 'Fn::Sub' && typeof arg === 'string') {
        return arg.replace(/\$\{([^}]+)\}/g, (_m, name: string) =>
          name.includes('.')
            ? physical(name.split('.')[0] ?? name, name.split('.')[1])
            : (pseudo[name] ?? physical(name)),
        );
      }
    }
    return Object.fromEntries(Object.entries(o).map(([kk, vv]) => [kk, walk(vv)]));
  };
  return walk(value);
}

/** The logical id of the template's (only) state machine. */
export function stateMachineLogicalId(template: CfnTemplate): string {
  const ids = Object.entries(template.Resources)
    .filter(([, r]) => r.Type === 'AWS::StepFunctions::StateMachine')
    .map(([id]) => id);
  if (ids.length !== 1) throw new Error(`expected one state machine in the template, found ${ids.length}`);
  return ids[0] as string;
}

/** The state machine definition, with every intrinsic in DefinitionString resolved. */
export function definitionFromTemplate(template: CfnTemplate, ctx: ArnContext = {}): StateMachineDefinition {
  const sm = template.Resources[stateMachineLogicalId(template)];
  const raw = sm?.Properties?.DefinitionString;
  const text = resolveIntrinsics(raw, template, ctx);
  if (typeof text !== 'string') throw new Error('DefinitionString did not resolve to a string');
  return JSON.parse(text) as StateMachineDefinition;
}

/** Function ARN (as resolved with `ctx`) → task name, from each function's `drift-remediation:task` metadata. */
export function functionTasks(template: CfnTemplate, ctx: ArnContext = {}): Map<string, string> {
  const out = new Map<string, string>();
  for (const [id, r] of Object.entries(template.Resources)) {
    const task = r.Metadata?.[TASK_METADATA_KEY];
    if (r.Type === 'AWS::Lambda::Function' && typeof task === 'string') {
      out.set(String(resolveIntrinsics({ 'Fn::GetAtt': [id, 'Arn'] }, template, ctx)), task);
    }
  }
  return out;
}

type AslState = Record<string, unknown> & { Type: string };
function statesOf(definition: StateMachineDefinition): Record<string, AslState> {
  return (definition as unknown as { States: Record<string, AslState> }).States;
}

/** The function a Task state invokes: its Resource, or Parameters.FunctionName for `arn:aws:states:::lambda:invoke*`. */
export function invokedFunction(state: AslState): string | undefined {
  const resource = String(state.Resource ?? '');
  if (resource.startsWith('arn:') && resource.includes(':lambda:') && !resource.includes(':states:'))
    return resource;
  const params = state.Parameters as Record<string, unknown> | undefined;
  const fn = params?.FunctionName;
  return typeof fn === 'string' ? fn : undefined;
}

/** Task state name → task name. Throws for a Task whose function has no task metadata. */
export function stateTasks(
  definition: StateMachineDefinition,
  template: CfnTemplate,
  ctx: ArnContext = {},
): Record<string, string> {
  const byArn = functionTasks(template, ctx);
  const out: Record<string, string> = {};
  for (const [name, st] of Object.entries(statesOf(definition))) {
    if (st.Type !== 'Task') continue;
    const arn = invokedFunction(st);
    const task = arn ? byArn.get(arn) : undefined;
    if (!task) throw new Error(`Task state ${name}: no function with ${TASK_METADATA_KEY} metadata (${arn})`);
    out[name] = task;
  }
  return out;
}

export function isWaitForTaskToken(state: AslState): boolean {
  return String(state.Resource ?? '').endsWith('.waitForTaskToken');
}

/**
 * aws-local-stepfunctions reads TimeoutSecondsPath from the effective input (after Parameters), AWS
 * from the state input. For `$.a.b` we point the local copy at the Parameters field that carries `$.a`
 * (e.g. `$.Payload.plan.approval.ttlSeconds` for `"plan.$": "$.plan"` under Payload). Nothing else changes.
 */
export function adaptForLocalEngine(definition: StateMachineDefinition): StateMachineDefinition {
  const copy = JSON.parse(JSON.stringify(definition)) as StateMachineDefinition;
  const find = (obj: unknown, target: string, at: string[]): string[] | undefined => {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      if (k.endsWith('.$') && typeof v === 'string' && (target === v || target.startsWith(`${v}.`))) {
        return [...at, k.slice(0, -2), ...target.slice(v.length).split('.').filter(Boolean)];
      }
      const inner = find(v, target, [...at, k]);
      if (inner) return inner;
    }
    return undefined;
  };
  for (const st of Object.values(statesOf(copy))) {
    const path = st.TimeoutSecondsPath;
    if (st.Type === 'Task' && typeof path === 'string' && st.Parameters) {
      const mapped = find(st.Parameters, path, []);
      if (mapped) st.TimeoutSecondsPath = `$.${mapped.join('.')}`;
    }
  }
  return copy;
}

export type TaskHandler = (event: unknown, context?: unknown) => Promise<unknown>;
export type JsonValue = string | number | boolean | null | JsonValue[] | { [k: string]: JsonValue };

export interface LocalHandlerOptions {
  /**
   * Called after a waitForTaskToken state's handler returned, with the state name and the payload
   * (which holds the task token). Resolve with the SendTaskSuccess output, or reject with an Error whose
   * `name` is the SendTaskFailure error (e.g. ApprovalRejected). Never settling lets TimeoutSeconds fire.
   */
  waitForTaskToken?: (stateName: string, payload: unknown) => Promise<unknown>;
  /** Observes each invocation (state name, task, payload) before the handler runs. */
  onInvoke?: (stateName: string, task: string, payload: unknown) => void;
}

/** JSON round trip, as Lambda's wire would do. */
function json(v: unknown): JsonValue {
  return v === undefined ? null : (JSON.parse(JSON.stringify(v)) as JsonValue);
}

/** taskResourceLocalHandlers for every Task state. */
export function localTaskHandlers(
  definition: StateMachineDefinition,
  tasksByState: Readonly<Record<string, string>>,
  handlers: Readonly<Record<string, TaskHandler>>,
  opts: LocalHandlerOptions = {},
): Record<string, (input: JsonValue) => Promise<JsonValue>> {
  const out: Record<string, (input: JsonValue) => Promise<JsonValue>> = {};
  for (const [name, st] of Object.entries(statesOf(definition))) {
    if (st.Type !== 'Task') continue;
    const task = tasksByState[name];
    const handler = task ? handlers[task] : undefined;
    if (!task || !handler)
      throw new Error(`no local handler for Task state ${name} (${task ?? 'unknown task'})`);
    const waits = isWaitForTaskToken(st);
    const optimized = String(st.Resource ?? '').startsWith('arn:aws:states:::lambda:invoke');
    out[name] = async (input) => {
      const payload = optimized ? (input as { Payload?: JsonValue }).Payload : input;
      opts.onInvoke?.(name, task, payload);
      const result = json(await handler(json(payload)));
      if (!waits) return optimized ? { Payload: result, StatusCode: 200 } : result;
      if (!opts.waitForTaskToken)
        throw new Error(`Task state ${name} waits for a task token: pass waitForTaskToken`);
      return json(await opts.waitForTaskToken(name, payload));
    };
  }
  return out;
}

/** Imports the real handlers (`tasks/<name>/handler.ts`), by task name. */
export async function importTaskHandlers(
  tasks: readonly string[] = WORKFLOW_TASKS,
): Promise<Record<string, TaskHandler>> {
  const out: Record<string, TaskHandler> = {};
  for (const t of tasks) {
    const mod = (await import(`../tasks/${t}/handler.ts`)) as { handler?: TaskHandler };
    if (typeof mod.handler !== 'function') throw new Error(`tasks/${t}/handler.ts exports no handler`);
    out[t] = mod.handler;
  }
  return out;
}

/** Names of the definition's Wait states (for waitTimeOverrides). */
export function waitStateNames(definition: StateMachineDefinition): string[] {
  return Object.entries(statesOf(definition))
    .filter(([, s]) => s.Type === 'Wait')
    .map(([n]) => n);
}

/** Names of the definition's states that have a Retry (for retryIntervalOverrides). */
export function retryingStateNames(definition: StateMachineDefinition): string[] {
  return Object.entries(statesOf(definition))
    .filter(([, s]) => Array.isArray(s.Retry))
    .map(([n]) => n);
}

export interface LocalContextOptions {
  executionName: string;
  stateMachineName?: string;
  startTime?: Date;
  taskToken?: string;
  ctx?: ArnContext;
}

/** The Context Object for a local run: Execution (Id, Name, StartTime), State.EnteredTime, Task.Token. */
export function localContext(o: LocalContextOptions): Record<string, unknown> {
  const { partition: p, region: r, account: a } = { ...DEFAULTS, ...o.ctx };
  const sm = o.stateMachineName ?? 'DriftRemediation-Remediation';
  const start = (o.startTime ?? new Date()).toISOString();
  return {
    Execution: {
      Id: `arn:${p}:states:${r}:${a}:execution:${sm}:${o.executionName}`,
      Name: o.executionName,
      StartTime: start,
      RoleArn: `arn:${p}:iam::${a}:role/StateMachineRole`,
    },
    StateMachine: { Id: `arn:${p}:states:${r}:${a}:stateMachine:${sm}`, Name: sm },
    State: { EnteredTime: start, Name: '', RetryCount: 0 },
    Task: { Token: o.taskToken ?? `local-task-token-${o.executionName}` },
  };
}

/** The workflow tasks as typed names (re-exported for callers that build handler maps). */
export const LOCAL_WORKFLOW_TASKS: readonly WorkflowTask[] = WORKFLOW_TASKS;
