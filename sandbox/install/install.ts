/**
 * Installs the remediation stack into a sandbox from the synthesized CDK template — the same template
 * `cdk deploy` ships. Resources are created in dependency order through the sandbox's own services
 * (DynamoDB tables, queues, topics, secrets, SSM documents, Config rules, EventBridge rules, the state
 * machine); Lambda functions become in-process handlers (`tasks/<name>/handler.ts`, found through the
 * function's `drift-remediation:task` metadata) running with the environment the template gives them and
 * as their execution role (IAM roles and policies are created in the sandbox's IAM, see ./iam.ts).
 * Types with nothing to emulate locally (logs, alarms, dashboards) are recorded with placeholder
 * ids so references to them still resolve.
 */

import { randomBytes } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { bundledPolicyFor } from '../../infra/bundled-policy';
import { type Sandbox, serviceModule } from '../core/sandbox';
import type { RawHttpRequest, RawHttpResponse, SandboxContext } from '../core/types';
import { type HandlerLogLevel, powertoolsEnv } from '../handler-env';
import {
  type CfnTemplate,
  deploymentOrder,
  evaluateConditions,
  type InstalledResource,
  included,
  type ResolveContext,
  resolveProperties,
} from '../services/cloudformation/template';
import { executionRoleRefusal } from '../services/lambda/execution-role';
import { sqsOf } from '../services/sqs';
import { invokeIamFunctionUrl } from './function-url-iam';
import {
  clockSpec,
  type Handler,
  type HandlerInvocation,
  type HandlerRuntimeData,
  loadHandler,
} from './handler-runtime';
import { currentInvocationCredentials, installIamResource, runAsFunction } from './iam';
import { lambdaContext } from './lambda-context';
import { RESERVED_RUNNERS, runnerPriority } from './runner-priority';
import { synthesizeRemediationTemplate } from './synth';
import { installTaskClock, runOnClock } from './task-clock';

export interface InstallOptions {
  policyFile?: string;
  /** Powertools log level for the in-process handlers (default WARN; SILENT keeps the demo quiet). */
  logLevel?: HandlerLogLevel;
  /** An already synthesized template (tests that synthesize once). */
  template?: CfnTemplate;
}

export type { CfnTemplate, InstalledResource };

export interface InstalledStack {
  stackName: string;
  stateMachineArn: string;
  /** task name → function name */
  functions: Record<string, string>;
  /** logicalId → installed resource */
  resources: Map<string, InstalledResource>;
  /** Resource types recorded without being emulated, with counts. */
  notEmulated: Record<string, number>;
  approvalBaseUrl: string;
  template: CfnTemplate;
  /** Physical id of the first resource of `type` whose logical id contains `hint`. */
  find(type: string, hint?: string): InstalledResource | undefined;
}

type Props = Record<string, unknown>;

const TASK_METADATA = 'drift-remediation:task';
const NOT_EMULATED = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::Logs::LogGroup',
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::Dashboard',
  'AWS::Scheduler::ScheduleGroup',
  'AWS::CDK::Metadata',
  'AWS::Events::Archive',
]);

function shortId(): string {
  return randomBytes(6).toString('hex').toUpperCase();
}

function physicalName(stackName: string, logicalId: string, max = 64): string {
  const suffix = shortId();
  const room = max - stackName.length - suffix.length - 2;
  return `${stackName}-${logicalId.slice(0, Math.max(1, room))}-${suffix}`;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : v === undefined || v === null ? undefined : JSON.stringify(v);
}

/** One resource of the template, its properties resolved. */
interface Res {
  logicalId: string;
  type: string;
  props: Props;
  metadata?: Record<string, unknown>;
}

interface PendingFunction {
  logicalId: string;
  name: string;
  arn: string;
  task: string;
  props: Props;
}

/** What the install builds up while it creates the template's resources in order. */
export interface Install {
  sb: Sandbox;
  /** The account-region the resources go into (the home scope for the central stack, a member's for a member stack). */
  ctx: SandboxContext;
  stackName: string;
  resources: Map<string, InstalledResource>;
  notEmulated: Record<string, number>;
  /** task name → function name */
  functions: Record<string, string>;
  /** The handlers' environment (one process: every function must agree on each key). */
  fnEnv: Record<string, string>;
  /** Resources whose wiring needs the functions registered first (resolved after the main pass). */
  deferred: Res[];
  pendingFunctions: PendingFunction[];
  approvalBaseUrl: string;
}

const call = (i: Install, service: string, op: string, input: Props) => i.ctx.call(service, op, input);
const put = (i: Install, r: Res, physicalId: string, attributes: Record<string, string> = {}) => {
  i.resources.set(r.logicalId, { logicalId: r.logicalId, type: r.type, physicalId, attributes });
};
const arnOf = (i: Install, service: string, resource: string) =>
  `arn:aws:${service}:${i.ctx.region}:${i.ctx.accountId}:${resource}`;
const nameOf = (i: Install, r: Res, key: string, max: number) =>
  str(r.props[key]) ?? physicalName(i.stackName, r.logicalId, max);
const jsonText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** CloudFormation's SSESpecification (SSEEnabled) as the DynamoDB API takes it (Enabled). */
function sseSpecification(spec: unknown): Props {
  if (!spec || typeof spec !== 'object') return {};
  const { SSEEnabled, SSEType, KMSMasterKeyId } = spec as Props;
  return {
    SSESpecification: {
      Enabled: SSEEnabled === true || SSEEnabled === 'true',
      ...(SSEType ? { SSEType } : {}),
      ...(KMSMasterKeyId ? { KMSMasterKeyId } : {}),
    },
  };
}

async function createTable(i: Install, r: Res): Promise<void> {
  const { props } = r;
  const name = nameOf(i, r, 'TableName', 255);
  await call(i, 'dynamodb', 'CreateTable', {
    TableName: name,
    KeySchema: props.KeySchema,
    AttributeDefinitions: props.AttributeDefinitions,
    BillingMode: props.BillingMode ?? 'PAY_PER_REQUEST',
    ...(props.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: props.GlobalSecondaryIndexes } : {}),
    ...(props.LocalSecondaryIndexes ? { LocalSecondaryIndexes: props.LocalSecondaryIndexes } : {}),
    ...(props.ProvisionedThroughput ? { ProvisionedThroughput: props.ProvisionedThroughput } : {}),
    ...sseSpecification(props.SSESpecification),
  });
  put(i, r, name, {
    Arn: arnOf(i, 'dynamodb', `table/${name}`),
    StreamArn: arnOf(i, 'dynamodb', `table/${name}/stream/local`),
  });
}

async function createQueue(i: Install, r: Res): Promise<void> {
  const name = nameOf(i, r, 'QueueName', 80);
  const attributes: Record<string, string> = {};
  for (const key of [
    'VisibilityTimeout',
    'MessageRetentionPeriod',
    'DelaySeconds',
    'ReceiveMessageWaitTimeSeconds',
  ]) {
    if (r.props[key] !== undefined) attributes[key] = String(r.props[key]);
  }
  if (r.props.RedrivePolicy) attributes.RedrivePolicy = JSON.stringify(r.props.RedrivePolicy);
  if (str(r.props.KmsMasterKeyId)) attributes.KmsMasterKeyId = String(r.props.KmsMasterKeyId);
  const out = await call(i, 'sqs', 'CreateQueue', { QueueName: name, Attributes: attributes });
  put(i, r, String(out.QueueUrl), {
    Arn: arnOf(i, 'sqs', name),
    QueueName: name,
    QueueUrl: String(out.QueueUrl),
  });
}

async function createTopic(i: Install, r: Res): Promise<void> {
  const name = nameOf(i, r, 'TopicName', 256);
  const key = str(r.props.KmsMasterKeyId);
  const Attributes = key ? { KmsMasterKeyId: key } : {};
  const topicArn = String((await call(i, 'sns', 'CreateTopic', { Name: name, Attributes })).TopicArn);
  put(i, r, topicArn, { TopicName: name, TopicArn: topicArn });
  for (const s of (r.props.Subscription as Array<{ Endpoint: string; Protocol: string }> | undefined) ?? []) {
    await call(i, 'sns', 'Subscribe', { TopicArn: topicArn, Protocol: s.Protocol, Endpoint: s.Endpoint });
  }
}

async function createSubscription(i: Install, r: Res): Promise<void> {
  const { TopicArn, Protocol, Endpoint } = r.props;
  const out = await call(i, 'sns', 'Subscribe', { TopicArn, Protocol, Endpoint });
  put(i, r, String(out.SubscriptionArn ?? `${TopicArn}:${shortId()}`));
}

/** A customer managed key with the template's key policy (KMS evaluates it: ../services/kms). */
async function createKey(i: Install, r: Res): Promise<void> {
  if (!serviceModule(i.ctx, 'kms')) return recordPlaceholder(i, r);
  const tags = Array.isArray(r.props.Tags) ? (r.props.Tags as { Key: string; Value: string }[]) : [];
  const out = await call(i, 'kms', 'CreateKey', {
    Description: str(r.props.Description) ?? '',
    ...(r.props.KeyPolicy ? { Policy: jsonText(r.props.KeyPolicy) } : {}),
    Tags: tags.map((t) => ({ TagKey: t.Key, TagValue: t.Value })),
  });
  const meta = (out.KeyMetadata ?? {}) as Record<string, unknown>;
  put(i, r, String(meta.KeyId), { Arn: String(meta.Arn), KeyId: String(meta.KeyId) });
}

async function createAlias(i: Install, r: Res): Promise<void> {
  if (!serviceModule(i.ctx, 'kms')) return recordPlaceholder(i, r);
  await call(i, 'kms', 'CreateAlias', { AliasName: r.props.AliasName, TargetKeyId: r.props.TargetKeyId });
  put(i, r, String(r.props.AliasName));
}

async function createSecret(i: Install, r: Res): Promise<void> {
  const name = nameOf(i, r, 'Name', 256);
  const secret =
    typeof r.props.SecretString === 'string' ? r.props.SecretString : randomBytes(48).toString('base64url');
  const key = str(r.props.KmsKeyId);
  const out = await call(i, 'secretsmanager', 'CreateSecret', {
    Name: name,
    SecretString: secret,
    ...(key ? { KmsKeyId: key } : {}),
  });
  put(i, r, String(out.ARN), { Id: String(out.ARN) });
}

async function createDocument(i: Install, r: Res): Promise<void> {
  const name = nameOf(i, r, 'Name', 128);
  const format = str(r.props.DocumentFormat) ?? 'JSON';
  await call(i, 'ssm', 'CreateDocument', {
    Name: name,
    Content: jsonText(r.props.Content),
    DocumentType: r.props.DocumentType ?? 'Command',
    // Object content from the template is JSON whatever the declared format.
    DocumentFormat: typeof r.props.Content === 'string' ? format : 'JSON',
  }).catch((err: unknown) => {
    // The sandbox's SSM keeps one document store for every account (architecture.md): a member stack's
    // runbook is the central one, already there.
    if (!(i.ctx !== i.sb.context && err instanceof Error && err.name === 'DocumentAlreadyExists')) throw err;
  });
  put(i, r, name);
}

async function createConfigRule(i: Install, r: Res): Promise<void> {
  const { props } = r;
  const name = nameOf(i, r, 'ConfigRuleName', 128);
  await call(i, 'config', 'PutConfigRule', {
    ConfigRule: {
      ConfigRuleName: name,
      Source: props.Source,
      ...(props.Scope ? { Scope: props.Scope } : {}),
      ...(props.InputParameters ? { InputParameters: jsonText(props.InputParameters) } : {}),
      ...(props.MaximumExecutionFrequency
        ? { MaximumExecutionFrequency: props.MaximumExecutionFrequency }
        : {}),
    },
  });
  put(i, r, name, {
    Arn: arnOf(i, 'config', `config-rule/${name}`),
    ConfigRuleId: name,
    'Compliance.Type': 'INSUFFICIENT_DATA',
  });
}

/** Records a task function (registered once every resource exists) and merges its environment. */
async function recordFunction(i: Install, r: Res): Promise<void> {
  const task = r.metadata?.[TASK_METADATA] as string | undefined;
  const name = nameOf(i, r, 'FunctionName', 64);
  const fnArn = arnOf(i, 'lambda', `function:${name}`);
  put(i, r, name, { Arn: fnArn });
  if (!task) {
    const key = `${r.type} (no ${TASK_METADATA} metadata)`;
    i.notEmulated[key] = (i.notEmulated[key] ?? 0) + 1;
    return;
  }
  i.pendingFunctions.push({ logicalId: r.logicalId, name, arn: fnArn, task, props: r.props });
  i.functions[task] = name;
  const vars = (r.props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  for (const [k, v] of Object.entries(vars)) {
    const value = String(v);
    if (i.fnEnv[k] !== undefined && i.fnEnv[k] !== value) {
      throw new Error(
        `functions disagree on ${k} (${i.fnEnv[k]} vs ${value}); the sandbox runs all handlers in one process`,
      );
    }
    i.fnEnv[k] = value;
  }
}

/** The sandbox path of the manual-start entry's Function URL (AuthType AWS_IAM): `<endpoint>/manual-start/`. */
export const MANUAL_START_PATH = '/manual-start/';

async function recordFunctionUrl(i: Install, r: Res): Promise<void> {
  const url =
    r.props.AuthType === 'AWS_IAM' ? `${i.sb.endpoint}${MANUAL_START_PATH}` : `${i.approvalBaseUrl}/`;
  put(i, r, url, { FunctionUrl: url, FunctionArn: String(r.props.TargetFunctionArn) });
  i.deferred.push(r);
}

/** A function's resource policy statement: added once the functions are registered (addPermissions). */
async function recordPermission(i: Install, r: Res): Promise<void> {
  put(i, r, `${String(r.props.FunctionName).split(':').pop() ?? ''}-${r.logicalId}`);
  i.deferred.push(r);
}

async function recordEventSourceMapping(i: Install, r: Res): Promise<void> {
  put(i, r, `esm-${shortId()}`);
  i.deferred.push(r);
}

/**
 * The sandbox's EventBridge has only the default bus: a named bus (the central organization bus) stands for
 * the default bus of its account-region — its policy goes on the default bus, a target naming it delivers
 * there, and a rule on it (which only moves its events onto the default bus) is not installed.
 */
const ON_DEFAULT_BUS = /^(arn:aws[a-z-]*:events:[a-z0-9-]+:\d{12}:event-bus\/)(?!default$).+$/;

async function createEventRule(i: Install, r: Res): Promise<void> {
  const { props } = r;
  const name = nameOf(i, r, 'Name', 64);
  put(i, r, name, { Arn: arnOf(i, 'events', `rule/${name}`) });
  const bus = str(props.EventBusName);
  if (bus && bus !== 'default') {
    i.ctx.log(`install: rule ${r.logicalId} is on bus ${bus}, which the sandbox folds into the default bus`);
    return;
  }
  await call(i, 'events', 'PutRule', {
    Name: name,
    ...(props.EventPattern ? { EventPattern: jsonText(props.EventPattern) } : {}),
    ...(props.ScheduleExpression ? { ScheduleExpression: props.ScheduleExpression } : {}),
    State: props.State ?? 'ENABLED',
  });
  const targets = (props.Targets as Array<Record<string, unknown>> | undefined) ?? [];
  if (targets.length) {
    await call(i, 'events', 'PutTargets', {
      Rule: name,
      Targets: targets.map((t) => ({
        Id: t.Id,
        Arn: String(t.Arn).replace(ON_DEFAULT_BUS, '$1default'),
        ...(t.RoleArn ? { RoleArn: t.RoleArn } : {}),
        ...(t.Input ? { Input: t.Input } : {}),
        ...(t.InputPath ? { InputPath: t.InputPath } : {}),
      })),
    });
  }
}

/** A named event bus: recorded (its ARN resolves); the sandbox delivers what targets it to the default bus. */
async function recordEventBus(i: Install, r: Res): Promise<void> {
  const name = nameOf(i, r, 'Name', 256);
  put(i, r, name, { Arn: arnOf(i, 'events', `event-bus/${name}`), Name: name });
}

/** A bus policy statement: added to the default bus's policy (see ON_DEFAULT_BUS), its Resource that bus. */
async function attachBusPolicy(i: Install, r: Res): Promise<void> {
  const statement = { ...(r.props.Statement as Record<string, unknown>) };
  statement.Sid ??= str(r.props.StatementId);
  statement.Resource = arnOf(i, 'events', 'event-bus/default');
  const current = await call(i, 'events', 'DescribeEventBus', { Name: 'default' });
  const policy = current.Policy
    ? (JSON.parse(String(current.Policy)) as { Statement: unknown[] })
    : { Statement: [] };
  const Policy = JSON.stringify({ Version: '2012-10-17', Statement: [...policy.Statement, statement] });
  await call(i, 'events', 'PutPermission', { EventBusName: 'default', Policy });
  put(i, r, str(r.props.StatementId) ?? physicalName(i.stackName, r.logicalId, 64));
}

async function createSchedule(i: Install, r: Res): Promise<void> {
  const { props } = r;
  const name = nameOf(i, r, 'Name', 64);
  const target = (props.Target ?? {}) as Props;
  const out = await call(i, 'scheduler', 'CreateSchedule', {
    Name: name,
    ...(props.GroupName ? { GroupName: props.GroupName } : {}),
    ScheduleExpression: props.ScheduleExpression,
    ...(props.ScheduleExpressionTimezone
      ? { ScheduleExpressionTimezone: props.ScheduleExpressionTimezone }
      : {}),
    State: props.State ?? 'ENABLED',
    Target: { Arn: target.Arn, RoleArn: target.RoleArn, ...(target.Input ? { Input: target.Input } : {}) },
  });
  put(i, r, name, { Arn: String(out.ScheduleArn) });
}

async function createStateMachine(i: Install, r: Res): Promise<void> {
  const { props } = r;
  const name = nameOf(i, r, 'StateMachineName', 80);
  const definition =
    typeof props.DefinitionString === 'string' ? props.DefinitionString : JSON.stringify(props.Definition);
  const out = await call(i, 'stepfunctions', 'CreateStateMachine', {
    name,
    definition,
    roleArn: props.RoleArn,
    type: props.StateMachineType ?? 'STANDARD',
    ...(props.LoggingConfiguration ? { loggingConfiguration: props.LoggingConfiguration } : {}),
    ...(props.TracingConfiguration ? { tracingConfiguration: props.TracingConfiguration } : {}),
  });
  put(i, r, String(out.stateMachineArn), { Arn: String(out.stateMachineArn), Name: name });
}

/** Queue and topic policies go on their resources: IAM evaluates them (EventBridge delivery, callers). */
async function attachResourcePolicy(i: Install, r: Res): Promise<void> {
  const policy = jsonText(r.props.PolicyDocument);
  if (r.type === 'AWS::SQS::QueuePolicy') {
    for (const url of (r.props.Queues as unknown[] | undefined) ?? [])
      await call(i, 'sqs', 'SetQueueAttributes', { QueueUrl: url, Attributes: { Policy: policy } });
  } else {
    for (const arn of (r.props.Topics as unknown[] | undefined) ?? [])
      await call(i, 'sns', 'SetTopicAttributes', {
        TopicArn: arn,
        AttributeName: 'Policy',
        AttributeValue: policy,
      });
  }
  put(i, r, physicalName(i.stackName, r.logicalId, 64));
}

/** A type with nothing to emulate: a placeholder id and attributes, so references to it still resolve. */
async function recordPlaceholder(i: Install, r: Res): Promise<void> {
  const { props, type } = r;
  i.notEmulated[type] = (i.notEmulated[type] ?? 0) + 1;
  const name =
    str(props.RoleName ?? props.LogGroupName ?? props.AlarmName ?? props.DashboardName) ??
    physicalName(i.stackName, r.logicalId, 64);
  put(i, r, name, placeholderAttributes(type, name, i.ctx.region, i.ctx.accountId));
  if (!NOT_EMULATED.has(type) && !type.startsWith('Custom::'))
    i.ctx.log(`install: ${type} ${r.logicalId} is not emulated`);
}

/** IAM roles and policies go into the sandbox's IAM (./iam.ts); without an IAM module, a placeholder. */
async function createIamResource(i: Install, r: Res): Promise<void> {
  const created = await installIamResource(i.sb, i.ctx, i.stackName, r.logicalId, r.type, r.props);
  if (created) put(i, r, created.physicalId, created.attributes);
  else await recordPlaceholder(i, r);
}

/** How each emulated resource type is installed (any other type: recordPlaceholder). */
const INSTALLERS: Record<string, (i: Install, r: Res) => Promise<void>> = {
  'AWS::IAM::Role': createIamResource,
  'AWS::IAM::Policy': createIamResource,
  'AWS::IAM::ManagedPolicy': createIamResource,
  'AWS::DynamoDB::Table': createTable,
  'AWS::SQS::Queue': createQueue,
  'AWS::SNS::Topic': createTopic,
  'AWS::SNS::Subscription': createSubscription,
  'AWS::SQS::QueuePolicy': attachResourcePolicy,
  'AWS::SNS::TopicPolicy': attachResourcePolicy,
  'AWS::SecretsManager::Secret': createSecret,
  'AWS::KMS::Key': createKey,
  'AWS::KMS::Alias': createAlias,
  'AWS::SSM::Document': createDocument,
  'AWS::Config::ConfigRule': createConfigRule,
  'AWS::Lambda::Function': recordFunction,
  'AWS::Lambda::Url': recordFunctionUrl,
  'AWS::Lambda::EventSourceMapping': recordEventSourceMapping,
  'AWS::Lambda::Permission': recordPermission,
  'AWS::Events::Rule': createEventRule,
  'AWS::Events::EventBus': recordEventBus,
  'AWS::Events::EventBusPolicy': attachBusPolicy,
  'AWS::Scheduler::Schedule': createSchedule,
  'AWS::StepFunctions::StateMachine': createStateMachine,
};

/** Creates every included resource of the template in dependency order (parameters: their Defaults unless given). */
export async function createResources(
  i: Install,
  template: CfnTemplate,
  parameters: Readonly<Record<string, unknown>> | undefined = template.Parameters,
): Promise<void> {
  const base = {
    region: i.ctx.region,
    accountId: i.ctx.accountId,
    stackName: i.stackName,
    resources: i.resources,
    ...(parameters ? { parameters } : {}),
  };
  const conditions = evaluateConditions(template, base);
  const ctx: ResolveContext = {
    ...base,
    conditions,
    ...(template.Mappings ? { mappings: template.Mappings } : {}),
  };
  for (const logicalId of deploymentOrder(template, conditions)) {
    const def = template.Resources[logicalId];
    if (!def || !included(def.Condition, conditions)) continue;
    const r: Res = {
      logicalId,
      type: def.Type,
      props: resolveProperties(def, ctx),
      ...(def.Metadata ? { metadata: def.Metadata } : {}),
    };
    await (INSTALLERS[def.Type] ?? recordPlaceholder)(i, r);
  }
}

/** Sets the handlers' environment (the template's, pointed at the sandbox) and registers each handler. */
async function registerHandlers(
  i: Install,
  policyFile: string,
  logLevel: InstallOptions['logLevel'],
): Promise<void> {
  const { sb } = i;
  Object.assign(process.env, i.fnEnv, {
    AWS_ENDPOINT_URL: sb.endpoint,
    AWS_REGION: sb.region,
    AWS_DEFAULT_REGION: sb.region,
    AWS_ACCESS_KEY_ID: 'sandbox',
    AWS_SECRET_ACCESS_KEY: 'sandbox',
    ...powertoolsEnv(logLevel),
    // In AWS the policy JSON is bundled next to the handler; here it is the same JSON, in a temp dir.
    POLICY_FILE: bundledPolicyFor(policyFile),
  });
  // Handlers cache clients and the signing key per process (per cold start in Lambda); a new sandbox is a new cold start.
  // Their SDK clients reach this sandbox through the in-process transport unless it runs in 'http' mode.
  const { setClientDefaults, setCredentialHook } = await import('../../tasks/shared/clients');
  const { clearSigningKeyCache } = await import('../../tasks/shared/approvals/signing');
  // The process's one Logger may have been built before (a test or tool that imported task code first).
  const { logger } = await import('../../tasks/shared/powertools');
  const level = powertoolsEnv(logLevel).POWERTOOLS_LOG_LEVEL as HandlerLogLevel;
  logger.setLogLevel(level);
  setClientDefaults(sb.requestHandler ? { requestHandler: sb.requestHandler } : {});
  clearSigningKeyCache();
  // Each handler's clients sign as its execution role (see ./iam.ts); its clock is the sandbox's (./task-clock.ts).
  setCredentialHook(currentInvocationCredentials);
  installTaskClock();
  await requireExecutionRoles(i);
  const run = await handlerRunner(sb, i.pendingFunctions, level);
  for (const f of i.pendingFunctions) {
    const timeoutSeconds = typeof f.props.Timeout === 'number' ? f.props.Timeout : 3;
    const memoryMb = typeof f.props.MemorySize === 'number' ? f.props.MemorySize : 128;
    const role = typeof f.props.Role === 'string' ? f.props.Role : undefined;
    const spec = { task: f.task, name: f.name, arn: f.arn, timeoutSeconds, memoryMb };
    sb.registerFunction({
      name: f.name,
      arn: f.arn,
      env: i.fnEnv,
      memoryMb,
      priority: runnerPriority(f.task),
      ...(run.init ? { init: run.init } : {}),
      invoke: (payload) =>
        runOnClock(sb.clock, () => runAsFunction(sb, role, f.name, () => run.invoke(spec, payload))),
    });
  }
  sb.functions.reserveRunners(RESERVED_RUNNERS);
}

/** Each task function's role must be one Lambda can assume, as CloudFormation's create would find it. */
async function requireExecutionRoles(i: Install): Promise<void> {
  for (const f of i.pendingFunctions) {
    const role = typeof f.props.Role === 'string' ? f.props.Role : undefined;
    const refusal = role ? await executionRoleRefusal(i.sb.context, role, f.arn) : undefined;
    if (refusal) throw new Error(`install: ${f.logicalId} (AWS::Lambda::Function) CREATE_FAILED: ${refusal}`);
  }
}

type HandlerSpec = Omit<HandlerInvocation, 'credentials' | 'clock'>;

/**
 * How the handlers run: in the sandbox's worker threads (sb.workers, ./handler-runtime.ts there: each
 * worker loads every handler at its cold start, now, and `init` starts a replacement for a crashed one), or, with no workers, imported now and run on the
 * sandbox's own event loop. Either way an invocation carries its role session's credentials and the clock.
 */
async function handlerRunner(
  sb: Sandbox,
  fns: readonly PendingFunction[],
  logLevel: HandlerLogLevel,
): Promise<{
  init?: () => Promise<void>;
  invoke: (spec: HandlerSpec, payload: unknown) => Promise<unknown>;
}> {
  const workers = sb.workers;
  if (workers.size > 0) {
    const data: HandlerRuntimeData = { tasks: [...new Set(fns.map((f) => f.task))], logLevel };
    workers.configure(new URL('./handler-runtime.ts', import.meta.url).href, data);
    // Cold starts now, as the in-process mode imports the handlers now: a first invocation that waited
    // seconds of real time for its worker would overrun the scaled clock's short waits (an SQS message's
    // visibility timeout ends and the message is delivered again). A replaced worker starts on demand.
    await workers.prepare();
    return {
      init: () => workers.prepare(),
      invoke: (spec, payload) => {
        const invocation: HandlerInvocation = {
          ...spec,
          credentials: currentInvocationCredentials(),
          clock: clockSpec(sb.clock),
        };
        return workers.invoke(invocation, payload);
      },
    };
  }
  const handlers = new Map<string, Handler>();
  for (const f of fns) handlers.set(f.task, await loadHandler(f.task));
  return {
    invoke: (spec, payload) => {
      const handler = handlers.get(spec.task);
      if (!handler) throw new Error(`no handler loaded for ${spec.task}`);
      return handler(payload, lambdaContext(spec.name, spec.arn, spec.timeoutSeconds, spec.memoryMb));
    },
  };
}

/**
 * The template's AWS::Lambda::Permission statements, on the registered functions (Lambda's AddPermission,
 * in the install's account-region); the member installer applies its stack's too.
 */
export async function addPermissions(i: Install): Promise<void> {
  if (!serviceModule(i.ctx, 'lambda')) return;
  for (const { logicalId, type, props } of i.deferred) {
    if (type !== 'AWS::Lambda::Permission') continue;
    const { FunctionName, Action, Principal, SourceArn, SourceAccount } = props;
    await call(i, 'lambda', 'AddPermission', {
      FunctionName,
      StatementId: logicalId.slice(0, 100), // Lambda's limit; CloudFormation derives the id likewise
      Action,
      Principal,
      ...(SourceArn ? { SourceArn } : {}),
      ...(SourceAccount ? { SourceAccount } : {}),
    });
  }
}

/** Wiring that needs the functions registered: event source mappings and the approval URL. */
function wireDeferred(i: Install): void {
  const { sb } = i;
  for (const { logicalId, type, props } of i.deferred) {
    if (type === 'AWS::Lambda::EventSourceMapping') {
      const sqs = sqsOf(sb.context);
      if (!sqs) throw new Error('install: the sandbox has no SQS module for event source mapping');
      const fn = sb.functions.get(String(props.FunctionName));
      if (!fn)
        throw new Error(
          `install: event source mapping ${logicalId} targets an unknown function ${String(props.FunctionName)}`,
        );
      const types = (props.FunctionResponseTypes as string[] | undefined) ?? [];
      sqs.addEventSourceMapping(
        String(props.EventSourceArn),
        fn.arn,
        typeof props.BatchSize === 'number' ? props.BatchSize : 10,
        {
          reportBatchItemFailures: types.includes('ReportBatchItemFailures'),
        },
      );
    }
    if (type === 'AWS::Lambda::Url') {
      const target = String(props.TargetFunctionArn);
      if (props.AuthType === 'AWS_IAM')
        sb.registerHttpRoute(MANUAL_START_PATH, (req) => invokeIamFunctionUrl(sb, target, req), {
          signed: true,
        });
      else sb.registerHttpRoute('/approvals', (req) => invokeFunctionUrl(sb, target, req));
    }
  }
}

export async function installRemediationStack(
  sb: Sandbox,
  opts: InstallOptions = {},
): Promise<InstalledStack> {
  const policyFile = resolvePath(opts.policyFile ?? 'runbooks/policy.yaml');
  // Before the synth, which loads the task modules: Powertools reads these when it builds its Logger and Metrics.
  Object.assign(process.env, powertoolsEnv(opts.logLevel));
  const { template, stackName } = opts.template
    ? { template: opts.template, stackName: 'DriftRemediation' }
    : await synthesizeRemediationTemplate({ policyFile });
  const i = newInstall(sb, sb.context, stackName);
  await createResources(i, template);
  await registerHandlers(i, policyFile, opts.logLevel);
  wireDeferred(i);
  await addPermissions(i);
  const { resources } = i;
  const sm = [...resources.values()].find((r) => r.type === 'AWS::StepFunctions::StateMachine');
  if (!sm) throw new Error('install: the template has no state machine');
  return {
    stackName,
    stateMachineArn: sm.physicalId,
    functions: i.functions,
    resources,
    notEmulated: i.notEmulated,
    approvalBaseUrl: i.approvalBaseUrl,
    template,
    find: finder(resources),
  };
}

/** An empty install of `stackName` into the account-region `ctx`. */
export function newInstall(sb: Sandbox, ctx: SandboxContext, stackName: string): Install {
  return {
    sb,
    ctx,
    stackName,
    resources: new Map(),
    notEmulated: {},
    functions: {},
    fnEnv: {},
    deferred: [],
    pendingFunctions: [],
    approvalBaseUrl: sb.endpoint,
  };
}

/** `InstalledStack.find` over `resources`. */
export function finder(
  resources: ReadonlyMap<string, InstalledResource>,
): (type: string, hint?: string) => InstalledResource | undefined {
  return (type, hint) =>
    [...resources.values()].find(
      (r) => r.type === type && (!hint || r.logicalId.toLowerCase().includes(hint.toLowerCase())),
    );
}

function placeholderAttributes(
  type: string,
  name: string,
  region: string,
  accountId: string,
): Record<string, string> {
  const [, service = 'unknown', kind = 'resource'] = type.split('::');
  const svc = service.toLowerCase();
  const a = (resource: string, global = false) =>
    `arn:aws:${svc}:${global ? '' : region}:${accountId}:${resource}`;
  switch (type) {
    case 'AWS::IAM::Role':
      return { Arn: a(`role/${name}`, true), RoleId: `AROA${shortId()}` };
    case 'AWS::IAM::ManagedPolicy':
      return { Arn: a(`policy/${name}`, true), PolicyArn: a(`policy/${name}`, true) };
    case 'AWS::KMS::Key':
      return { Arn: a(`key/${name}`), KeyId: name };
    case 'AWS::Logs::LogGroup':
      return { Arn: a(`log-group:${name}:*`) };
    default:
      return { Arn: a(`${kind.toLowerCase()}/${name}`) };
  }
}

/** Serves a Function URL request by invoking the function in-process with the Function URL event. */
async function invokeFunctionUrl(
  sb: Sandbox,
  functionArn: string,
  req: RawHttpRequest,
): Promise<RawHttpResponse> {
  const { toFunctionUrlEvent } = await import('../../tasks/approval-endpoint/http-adapter');
  const url = `${req.path}${req.query.size ? `?${req.query.toString()}` : ''}`;
  // The adapter reads a node request; give it the parts it uses.
  const incoming = {
    url,
    method: req.method,
    headers: req.headers,
    httpVersion: '1.1',
    socket: { remoteAddress: req.remoteAddress ?? '127.0.0.1' },
  } as unknown as Parameters<typeof toFunctionUrlEvent>[0];
  const result = (await sb.functions.invoke(functionArn, toFunctionUrlEvent(incoming, req.body))) as
    | string
    | {
        statusCode?: number;
        headers?: Record<string, string | number | boolean>;
        body?: string;
        isBase64Encoded?: boolean;
      };
  if (typeof result === 'string')
    return { status: 200, headers: { 'content-type': 'application/json' }, body: result };
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
  const body = result.body ? Buffer.from(result.body, result.isBase64Encoded ? 'base64' : 'utf8') : '';
  return { status: result.statusCode ?? 200, headers, body: req.method === 'HEAD' ? '' : body };
}
