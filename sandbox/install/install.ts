/**
 * Installs the remediation stack into a sandbox from the synthesized CDK template — the same template
 * `cdk deploy` ships. Resources are created in dependency order through the sandbox's own services
 * (DynamoDB tables, queues, topics, secrets, SSM documents, Config rules, EventBridge rules, the state
 * machine); Lambda functions become in-process handlers (`tasks/<name>/handler.ts`, found through the
 * function's `drift-remediation:task` metadata) running with the environment the template gives them.
 * Types with nothing to emulate locally (IAM, KMS, logs, alarms, dashboards, schedules) are recorded
 * with placeholder ids so references to them still resolve.
 */
import { randomBytes } from 'node:crypto';
import { resolve as resolvePath } from 'node:path';
import { bundledPolicyFor } from '../../infra/bundled-policy';
import type { Sandbox } from '../core/sandbox';
import type { RawHttpRequest, RawHttpResponse } from '../core/types';
import {
  type CfnTemplate,
  deploymentOrder,
  evaluateConditions,
  type InstalledResource,
  included,
  type ResolveContext,
  resolveProperties,
} from '../services/cloudformation/template';
import { sqsOf } from '../services/sqs';
import { lambdaContext } from './lambda-context';
import { synthesizeRemediationTemplate } from './synth';

export interface InstallOptions {
  policyFile?: string;
  /** Powertools log level for the in-process handlers (default WARN; SILENT keeps the demo quiet). */
  logLevel?: 'DEBUG' | 'INFO' | 'WARN' | 'ERROR' | 'SILENT';
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
type Handler = (event: unknown, context: unknown) => Promise<unknown>;

const TASK_METADATA = 'drift-remediation:task';
const NOT_EMULATED = new Set([
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::KMS::Key',
  'AWS::KMS::Alias',
  'AWS::Logs::LogGroup',
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::Dashboard',
  'AWS::Lambda::Permission',
  'AWS::SQS::QueuePolicy',
  'AWS::SNS::TopicPolicy',
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

export async function installRemediationStack(
  sb: Sandbox,
  opts: InstallOptions = {},
): Promise<InstalledStack> {
  const policyFile = resolvePath(opts.policyFile ?? 'runbooks/policy.yaml');
  const { template, stackName } = opts.template
    ? { template: opts.template, stackName: 'DriftRemediation' }
    : await synthesizeRemediationTemplate({ policyFile });
  const { region, accountId } = sb;
  const call = (service: string, op: string, input: Props) => sb.context.call(service, op, input);
  const resources = new Map<string, InstalledResource>();
  const notEmulated: Record<string, number> = {};
  const functions: Record<string, string> = {};
  const fnEnv: Record<string, string> = {};
  const approvalBaseUrl = sb.endpoint;
  /** Resources whose wiring needs the functions registered first (resolved once, in the main pass). */
  const deferred: Array<{ logicalId: string; type: string; props: Props }> = [];
  const pendingFunctions: Array<{
    logicalId: string;
    name: string;
    arn: string;
    task: string;
    props: Props;
  }> = [];
  const base = {
    region,
    accountId,
    stackName,
    resources,
    ...(template.Parameters ? { parameters: template.Parameters } : {}),
  };
  const conditions = evaluateConditions(template, base);
  const ctx: ResolveContext = {
    ...base,
    conditions,
    ...(template.Mappings ? { mappings: template.Mappings } : {}),
  };

  const arn = (service: string, resource: string, withRegion = true) =>
    `arn:aws:${service}:${withRegion ? region : ''}:${accountId}:${resource}`;

  for (const logicalId of deploymentOrder(template, conditions)) {
    const def = template.Resources[logicalId];
    if (!def || !included(def.Condition, conditions)) continue;
    const type = def.Type;
    const props: Props = resolveProperties(def, ctx);
    const put = (physicalId: string, attributes: Record<string, string> = {}) => {
      resources.set(logicalId, { logicalId, type, physicalId, attributes });
    };

    switch (type) {
      case 'AWS::DynamoDB::Table': {
        const name = str(props.TableName) ?? physicalName(stackName, logicalId, 255);
        await call('dynamodb', 'CreateTable', {
          TableName: name,
          KeySchema: props.KeySchema,
          AttributeDefinitions: props.AttributeDefinitions,
          BillingMode: props.BillingMode ?? 'PAY_PER_REQUEST',
          ...(props.GlobalSecondaryIndexes ? { GlobalSecondaryIndexes: props.GlobalSecondaryIndexes } : {}),
          ...(props.LocalSecondaryIndexes ? { LocalSecondaryIndexes: props.LocalSecondaryIndexes } : {}),
          ...(props.ProvisionedThroughput ? { ProvisionedThroughput: props.ProvisionedThroughput } : {}),
        });
        put(name, {
          Arn: arn('dynamodb', `table/${name}`),
          StreamArn: arn('dynamodb', `table/${name}/stream/local`),
        });
        break;
      }
      case 'AWS::SQS::Queue': {
        const name = str(props.QueueName) ?? physicalName(stackName, logicalId, 80);
        const attributes: Record<string, string> = {};
        for (const key of [
          'VisibilityTimeout',
          'MessageRetentionPeriod',
          'DelaySeconds',
          'ReceiveMessageWaitTimeSeconds',
        ]) {
          if (props[key] !== undefined) attributes[key] = String(props[key]);
        }
        if (props.RedrivePolicy) attributes.RedrivePolicy = JSON.stringify(props.RedrivePolicy);
        const r = await call('sqs', 'CreateQueue', { QueueName: name, Attributes: attributes });
        put(String(r.QueueUrl), { Arn: arn('sqs', name), QueueName: name, QueueUrl: String(r.QueueUrl) });
        break;
      }
      case 'AWS::SNS::Topic': {
        const name = str(props.TopicName) ?? physicalName(stackName, logicalId, 256);
        const r = await call('sns', 'CreateTopic', { Name: name });
        const topicArn = String(r.TopicArn);
        put(topicArn, { TopicName: name, TopicArn: topicArn });
        for (const s of (props.Subscription as Array<{ Endpoint: string; Protocol: string }> | undefined) ??
          []) {
          await call('sns', 'Subscribe', { TopicArn: topicArn, Protocol: s.Protocol, Endpoint: s.Endpoint });
        }
        break;
      }
      case 'AWS::SNS::Subscription': {
        const r = await call('sns', 'Subscribe', {
          TopicArn: props.TopicArn,
          Protocol: props.Protocol,
          Endpoint: props.Endpoint,
        });
        put(String(r.SubscriptionArn ?? `${props.TopicArn}:${shortId()}`));
        break;
      }
      case 'AWS::SecretsManager::Secret': {
        const name = str(props.Name) ?? physicalName(stackName, logicalId, 256);
        const secret =
          typeof props.SecretString === 'string' ? props.SecretString : randomBytes(48).toString('base64url');
        const r = await call('secretsmanager', 'CreateSecret', { Name: name, SecretString: secret });
        put(String(r.ARN), { Id: String(r.ARN) });
        break;
      }
      case 'AWS::SSM::Document': {
        const name = str(props.Name) ?? physicalName(stackName, logicalId, 128);
        const format = str(props.DocumentFormat) ?? 'JSON';
        const content = typeof props.Content === 'string' ? props.Content : JSON.stringify(props.Content);
        await call('ssm', 'CreateDocument', {
          Name: name,
          Content: content,
          DocumentType: props.DocumentType ?? 'Command',
          // Object content from the template is JSON whatever the declared format.
          DocumentFormat: typeof props.Content === 'string' ? format : 'JSON',
        });
        put(name);
        break;
      }
      case 'AWS::Config::ConfigRule': {
        const name = str(props.ConfigRuleName) ?? physicalName(stackName, logicalId, 128);
        await call('config', 'PutConfigRule', {
          ConfigRule: {
            ConfigRuleName: name,
            Source: props.Source,
            ...(props.Scope ? { Scope: props.Scope } : {}),
            ...(props.InputParameters
              ? {
                  InputParameters:
                    typeof props.InputParameters === 'string'
                      ? props.InputParameters
                      : JSON.stringify(props.InputParameters),
                }
              : {}),
            ...(props.MaximumExecutionFrequency
              ? { MaximumExecutionFrequency: props.MaximumExecutionFrequency }
              : {}),
          },
        });
        put(name, {
          Arn: arn('config', `config-rule/${name}`),
          ConfigRuleId: name,
          'Compliance.Type': 'INSUFFICIENT_DATA',
        });
        break;
      }
      case 'AWS::Lambda::Function': {
        const task = (def.Metadata?.[TASK_METADATA] as string | undefined) ?? undefined;
        const name = str(props.FunctionName) ?? physicalName(stackName, logicalId, 64);
        const fnArn = arn('lambda', `function:${name}`);
        put(name, { Arn: fnArn });
        if (!task) {
          notEmulated[`${type} (no ${TASK_METADATA} metadata)`] =
            (notEmulated[`${type} (no ${TASK_METADATA} metadata)`] ?? 0) + 1;
          break;
        }
        pendingFunctions.push({ logicalId, name, arn: fnArn, task, props });
        functions[task] = name;
        const vars = ((props.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
          {}) as Record<string, unknown>;
        for (const [k, v] of Object.entries(vars)) {
          const value = String(v);
          if (fnEnv[k] !== undefined && fnEnv[k] !== value) {
            throw new Error(
              `functions disagree on ${k} (${fnEnv[k]} vs ${value}); the sandbox runs all handlers in one process`,
            );
          }
          fnEnv[k] = value;
        }
        break;
      }
      case 'AWS::Lambda::Url': {
        const url = `${approvalBaseUrl}/`;
        put(url, { FunctionUrl: url, FunctionArn: String(props.TargetFunctionArn) });
        deferred.push({ logicalId, type, props });
        break;
      }
      case 'AWS::Lambda::EventSourceMapping': {
        put(`esm-${shortId()}`);
        deferred.push({ logicalId, type, props });
        break;
      }
      case 'AWS::Events::Rule': {
        const name = str(props.Name) ?? physicalName(stackName, logicalId, 64);
        await call('events', 'PutRule', {
          Name: name,
          ...(props.EventPattern
            ? {
                EventPattern:
                  typeof props.EventPattern === 'string'
                    ? props.EventPattern
                    : JSON.stringify(props.EventPattern),
              }
            : {}),
          ...(props.ScheduleExpression ? { ScheduleExpression: props.ScheduleExpression } : {}),
          State: props.State ?? 'ENABLED',
        });
        const targets = (props.Targets as Array<Record<string, unknown>> | undefined) ?? [];
        if (targets.length) {
          await call('events', 'PutTargets', {
            Rule: name,
            Targets: targets.map((t) => ({
              Id: t.Id,
              Arn: t.Arn,
              ...(t.Input ? { Input: t.Input } : {}),
              ...(t.InputPath ? { InputPath: t.InputPath } : {}),
            })),
          });
        }
        put(name, { Arn: arn('events', `rule/${name}`) });
        break;
      }
      case 'AWS::Scheduler::Schedule': {
        const name = str(props.Name) ?? physicalName(stackName, logicalId, 64);
        const target = (props.Target ?? {}) as Props;
        const r = await call('scheduler', 'CreateSchedule', {
          Name: name,
          ...(props.GroupName ? { GroupName: props.GroupName } : {}),
          ScheduleExpression: props.ScheduleExpression,
          ...(props.ScheduleExpressionTimezone
            ? { ScheduleExpressionTimezone: props.ScheduleExpressionTimezone }
            : {}),
          State: props.State ?? 'ENABLED',
          Target: {
            Arn: target.Arn,
            RoleArn: target.RoleArn,
            ...(target.Input ? { Input: target.Input } : {}),
          },
        });
        put(name, { Arn: String(r.ScheduleArn) });
        break;
      }
      case 'AWS::StepFunctions::StateMachine': {
        const name = str(props.StateMachineName) ?? physicalName(stackName, logicalId, 80);
        const definition =
          typeof props.DefinitionString === 'string'
            ? props.DefinitionString
            : JSON.stringify(props.Definition);
        const r = await call('stepfunctions', 'CreateStateMachine', {
          name,
          definition,
          roleArn: props.RoleArn,
          type: props.StateMachineType ?? 'STANDARD',
          ...(props.LoggingConfiguration ? { loggingConfiguration: props.LoggingConfiguration } : {}),
          ...(props.TracingConfiguration ? { tracingConfiguration: props.TracingConfiguration } : {}),
        });
        put(String(r.stateMachineArn), { Arn: String(r.stateMachineArn), Name: name });
        break;
      }
      default: {
        notEmulated[type] = (notEmulated[type] ?? 0) + 1;
        const name =
          str(props.RoleName ?? props.LogGroupName ?? props.AlarmName ?? props.DashboardName) ??
          physicalName(stackName, logicalId, 64);
        put(name, placeholderAttributes(type, name, region, accountId));
        if (!NOT_EMULATED.has(type) && !type.startsWith('Custom::'))
          sb.context.log(`install: ${type} ${logicalId} is not emulated`);
      }
    }
  }

  // The handlers' environment: the template's values, pointed at the sandbox.
  Object.assign(process.env, fnEnv, {
    AWS_ENDPOINT_URL: sb.endpoint,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: 'sandbox',
    AWS_SECRET_ACCESS_KEY: 'sandbox',
    POWERTOOLS_TRACE_ENABLED: 'false',
    POWERTOOLS_METRICS_DISABLED: 'true',
    POWERTOOLS_LOG_LEVEL: opts.logLevel ?? process.env.POWERTOOLS_LOG_LEVEL ?? 'WARN',
    // In AWS the policy JSON is bundled next to the handler; here it is the same JSON, in a temp dir.
    POLICY_FILE: bundledPolicyFor(policyFile),
  });
  // Handlers cache clients and the signing key per process (per cold start in Lambda); a new sandbox is a new cold start.
  // Their SDK clients reach this sandbox through the in-process transport unless it runs in 'http' mode.
  const { setClientDefaults } = await import('../../tasks/shared/clients');
  const { clearSigningKeyCache } = await import('../../tasks/shared/approvals/signing');
  setClientDefaults(sb.requestHandler ? { requestHandler: sb.requestHandler } : {});
  clearSigningKeyCache();

  for (const f of pendingFunctions) {
    const mod = (await import(`../../tasks/${f.task}/handler.ts`)) as { handler?: Handler };
    const handler = mod.handler;
    if (typeof handler !== 'function') throw new Error(`tasks/${f.task}/handler.ts exports no handler`);
    const timeout = typeof f.props.Timeout === 'number' ? f.props.Timeout : 3;
    const memory = typeof f.props.MemorySize === 'number' ? f.props.MemorySize : 128;
    sb.registerFunction({
      name: f.name,
      arn: f.arn,
      env: fnEnv,
      invoke: (payload) => handler(payload, lambdaContext(f.name, f.arn, timeout, memory)),
    });
  }

  // Wiring that needs the functions registered: event source mappings and the approval URL.
  for (const { logicalId, type, props } of deferred) {
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
      sb.registerHttpRoute('/approvals', (req) => invokeFunctionUrl(sb, target, req));
    }
  }

  const sm = [...resources.values()].find((r) => r.type === 'AWS::StepFunctions::StateMachine');
  if (!sm) throw new Error('install: the template has no state machine');
  return {
    stackName,
    stateMachineArn: sm.physicalId,
    functions,
    resources,
    notEmulated,
    approvalBaseUrl,
    template,
    find: (type, hint) =>
      [...resources.values()].find(
        (r) => r.type === type && (!hint || r.logicalId.toLowerCase().includes(hint.toLowerCase())),
      ),
  };
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
