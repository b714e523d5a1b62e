/**
 * End-to-end harness: a full drift sandbox (every service, the remediation stack installed from the
 * synthesized CDK template) driven only through real SDK v3 clients pointed at its endpoint with dummy
 * credentials, plus plain HTTP for the approval pages and the outbox. No vitest imports: the benchmarks
 * (test/bench/) use it too.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStacksCommand,
  DetectStackDriftCommand,
} from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient, GetComplianceDetailsByResourceCommand } from '@aws-sdk/client-config-service';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  type AutomationExecution,
  DescribeAutomationExecutionsCommand,
  GetAutomationExecutionCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { DynamoDBDocumentClient, paginateScan } from '@aws-sdk/lib-dynamodb';
import { parse, stringify } from 'yaml';
import type { OutboxMessage } from '../../../sandbox/core/sandbox';
import type { DemoClients, DriftCase } from '../../../sandbox/demo/cases';
import { CASES, IN_SCOPE_TAGS, physicalIdOf } from '../../../sandbox/demo/cases';
import { type OrganizationSetup, organizationSandboxOptions } from '../../../sandbox/demo/organization';
import type { InstalledStack } from '../../../sandbox/install/install';
import { type DriftSandbox, type DriftSandboxOptions, startDriftSandbox } from '../../../sandbox/main';
import { ENV } from '../../../tasks/shared/env';
import { subscribeQueueToEvents } from './events-queue';

export const DEMO_TEMPLATES = join(
  dirname(fileURLToPath(import.meta.url)),
  '../../../sandbox/demo/templates',
);

export const E2E_CREDENTIALS = { accessKeyId: 'AKIAE2ETEST000000000', secretAccessKey: 'e2e-dummy-secret' };

export interface E2EClients extends DemoClients {
  sfn: SFNClient;
  config: ConfigServiceClient;
  ssm: SSMClient;
  sqs: SQSClient;
  events: EventBridgeClient;
  dynamodb: DynamoDBClient;
  /** Document client over `dynamodb` (plain JS values). */
  ddb: DynamoDBDocumentClient;
}

export interface E2E {
  sb: DriftSandbox;
  stack: InstalledStack;
  c: E2EClients;
  /** A value of the environment the template gives the task functions (table names, queue URL …). */
  env(name: keyof typeof ENV): string;
  /** The same sandbox through clients of `accountId`'s administrator in `region` (closed by `stop`). */
  in(accountId: string, region: string): E2E;
  stop(): Promise<void>;
}

export interface StartOptions {
  timeScale?: number;
  policyFile?: string;
  /** Fault/latency rules, or a file of them (sandbox --faults format). */
  faults?: DriftSandboxOptions['faults'];
  onLog?: (line: string) => void;
  /** Options of the emulated services (e.g. `{ config: { ruleEvaluationSeconds: 60 } }`). */
  serviceOptions?: DriftSandboxOptions['serviceOptions'];
  /** A synthesized remediation template to install (e.g. one with a permission removed). */
  template?: DriftSandboxOptions['template'];
  /** Collects the SDK commands the sandbox's /console sends. */
  consoleCommands?: Set<string>;
  /**
   * Central 111111111111/us-east-1 with member 222222222222/us-west-2 (sandbox/demo/organization.ts): the
   * organization model, the policy's organization section (added to `policyFile`), the member stack.
   */
  organization?: OrganizationSetup;
  /** Member stacks to install instead of the organization's default one (e.g. an edited template). */
  members?: DriftSandboxOptions['members'];
}

export async function startE2E(opts: StartOptions = {}): Promise<E2E> {
  const org = opts.organization ? organizationSandboxOptions(opts.policyFile, opts.organization) : {};
  const policyFile = 'policyFile' in org ? org.policyFile : opts.policyFile;
  const sb = await startDriftSandbox({
    port: 0,
    timeScale: opts.timeScale ?? 0.01,
    install: true,
    ...org,
    ...(policyFile ? { policyFile } : {}),
    ...(opts.members ? { members: opts.members } : {}),
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.onLog ? { onLog: opts.onLog } : {}),
    ...(opts.serviceOptions ? { serviceOptions: opts.serviceOptions } : {}),
    ...(opts.template ? { template: opts.template } : {}),
    ...(opts.consoleCommands ? { consoleCommands: opts.consoleCommands } : {}),
  });
  const stack = sb.stack;
  if (!stack) {
    await sb.stop();
    throw new Error('startDriftSandbox({ install: true }) returned no remediation stack');
  }
  const c = clientsAt(sb.endpoint, sb.region, E2E_CREDENTIALS);
  const env = (name: keyof typeof ENV): string => {
    for (const fn of Object.values(stack.functions)) {
      const v = sb.functions.get(fn)?.env[ENV[name]];
      if (v) return v;
    }
    throw new Error(`no installed task function has ${ENV[name]} in its environment`);
  };
  const opened: E2EClients[] = [c];
  return {
    sb,
    stack,
    c,
    env,
    in: (accountId, region) => {
      // A 12-digit access key id is that account's administrator in the sandbox.
      const credentials = { accessKeyId: accountId, secretAccessKey: 'e2e-dummy-secret' };
      const clients = clientsAt(sb.endpoint, region, credentials);
      opened.push(clients);
      return { ...e2eView(sb, stack, env), c: clients };
    },
    stop: async () => {
      for (const set of opened) for (const client of Object.values(set)) client.destroy();
      await sb.stop();
    },
  };
}

/** What helpers taking an `E2E` need, for clients of another account-region (`E2E.in`). */
function e2eView(sb: DriftSandbox, stack: InstalledStack, env: E2E['env']): Omit<E2E, 'c'> {
  return {
    sb,
    stack,
    env,
    in: () => {
      throw new Error('E2E.in of a view: call it on the E2E startE2E returned');
    },
    stop: () => sb.stop(),
  };
}

function clientsAt(
  endpoint: string,
  region: string,
  credentials: { accessKeyId: string; secretAccessKey: string },
): E2EClients {
  const cfg = { endpoint, region, credentials };
  const dynamodb = new DynamoDBClient(cfg);
  return {
    cloudFormation: new CloudFormationClient(cfg),
    ec2: new EC2Client(cfg),
    s3: new S3Client({ ...cfg, forcePathStyle: true }),
    iam: new IAMClient(cfg),
    lambda: new LambdaClient(cfg),
    sfn: new SFNClient(cfg),
    config: new ConfigServiceClient(cfg),
    ssm: new SSMClient(cfg),
    sqs: new SQSClient(cfg),
    events: new EventBridgeClient(cfg),
    dynamodb,
    ddb: DynamoDBDocumentClient.from(dynamodb),
  };
}

/** The shipped policy as a plain document (runbooks/policy.yaml), for tests that change one part of it. */
export interface PolicyDoc {
  defaults: Record<string, Record<string, unknown>>;
  remediations: Array<{ id: string } & Record<string, unknown>>;
  [key: string]: unknown;
}

/** The shipped policy's entry `id`, to change in place (throws when there is none). */
export function entryOf(doc: PolicyDoc, id: string): PolicyDoc['remediations'][number] {
  const entry = doc.remediations.find((r) => r.id === id);
  if (!entry) throw new Error(`the shipped policy has no ${id} entry`);
  return entry;
}

/** The shipped policy changed by `edit`, written to a temporary file; returns the file's path. */
export function shippedPolicyWith(edit: (doc: PolicyDoc) => void): string {
  const doc = parse(readFileSync('runbooks/policy.yaml', 'utf8')) as PolicyDoc;
  edit(doc);
  const file = join(mkdtempSync(join(tmpdir(), 'drift-e2e-policy-')), 'policy.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `probe` until it returns something other than undefined, or throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

export interface DeployOptions {
  /** Deploy under another stack name (default: the case's). */
  stackName?: string;
  /** Rewrites the template text (e.g. a second copy of a role under another RoleName). */
  edit?: (template: string) => string;
  /** false: create the stack without the scope tag, so no Config rule evaluates it (default true). */
  inScope?: boolean;
  /** Stack tags instead of the default scope tag (e.g. another rule's scope value). */
  tags?: Array<{ Key: string; Value: string }>;
}

/** The demo case `id` (e.g. `ssh-open`); throws when there is none. */
export function demoCase(id: string): DriftCase {
  const dc = CASES.find((c) => c.id === id);
  if (!dc) throw new Error(`no ${id} demo case`);
  return dc;
}

/** Creates the case's stack from its demo template, waits for CREATE_COMPLETE and returns the resource's physical id. */
export async function deployCase(e: E2E, dc: DriftCase, opts: DeployOptions = {}): Promise<string> {
  const stackName = opts.stackName ?? dc.stackName;
  const text = readFileSync(join(DEMO_TEMPLATES, dc.template), 'utf8');
  await e.c.cloudFormation.send(
    new CreateStackCommand({
      StackName: stackName,
      TemplateBody: opts.edit ? opts.edit(text) : text,
      Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'],
      ...(opts.inScope === false ? {} : { Tags: opts.tags ?? IN_SCOPE_TAGS }),
    }),
  );
  await until(`${stackName} CREATE_COMPLETE`, 20_000, async () => {
    const s = (await e.c.cloudFormation.send(new DescribeStacksCommand({ StackName: stackName })))
      .Stacks?.[0];
    if (s?.StackStatus?.endsWith('FAILED') || s?.StackStatus?.includes('ROLLBACK')) {
      throw new Error(`${stackName}: ${s.StackStatus} ${s.StackStatusReason ?? ''}`);
    }
    return s?.StackStatus === 'CREATE_COMPLETE' ? true : undefined;
  });
  return physicalIdOf(e.c, { ...dc, stackName });
}

/** Config's current compliance of the resource under `rule` (undefined until evaluated). */
export async function compliance(e: E2E, rule: string, resourceType: string, resourceId: string) {
  const d = await e.c.config.send(
    new GetComplianceDetailsByResourceCommand({ ResourceType: resourceType, ResourceId: resourceId }),
  );
  return d.EvaluationResults?.find(
    (r) => r.EvaluationResultIdentifier?.EvaluationResultQualifier?.ConfigRuleName === rule,
  );
}

/** The Config rule (CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK) that evaluates whole stacks. */
export const STACK_DRIFT_RULE = 'cloudformation-stack-drift-detection-check';

/**
 * Waits until Config reports the case COMPLIANT: the resource under the case's rule, or — for a case
 * found by CloudFormation drift detection (no rule) — its stack under the stack-drift rule, so the
 * evaluation of the fresh deployment is over before the drift is injected.
 */
export async function waitCompliant(
  e: E2E,
  dc: DriftCase,
  resourceId: string,
  timeoutMs = 20_000,
  stackName = dc.stackName,
): Promise<void> {
  let rule = dc.rule;
  let type = dc.resourceType;
  let id = resourceId;
  if (!rule) {
    rule = STACK_DRIFT_RULE;
    type = 'AWS::CloudFormation::Stack';
    id =
      (await e.c.cloudFormation.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0]
        ?.StackId ?? stackName;
  }
  const what = rule;
  await until(`${what} to report ${id} COMPLIANT`, timeoutMs, async () => {
    const r = await compliance(e, what, type, id);
    return r?.ComplianceType === 'COMPLIANT' ? true : undefined;
  });
}

export interface ExecutionInfo {
  arn: string;
  name: string;
  status: string;
  resourceId: string;
  resourceType: string;
}

/** Every execution of the remediation state machine, with the resource its input names. */
export async function executions(e: E2E): Promise<ExecutionInfo[]> {
  const out: ExecutionInfo[] = [];
  let nextToken: string | undefined;
  do {
    const page = await e.c.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: e.stack.stateMachineArn, maxResults: 100, nextToken }),
    );
    for (const x of page.executions ?? []) {
      if (!x.executionArn) continue;
      const d = await e.c.sfn.send(new DescribeExecutionCommand({ executionArn: x.executionArn }));
      const input = JSON.parse(d.input ?? '{}') as { event?: { resourceId?: string; resourceType?: string } };
      out.push({
        arn: x.executionArn,
        name: x.name ?? '',
        status: d.status ?? 'UNKNOWN',
        resourceId: input.event?.resourceId ?? '',
        resourceType: input.event?.resourceType ?? '',
      });
    }
    nextToken = page.nextToken;
  } while (nextToken);
  return out;
}

/**
 * Executions for one resource. `resourceType` tells a resource from a stack of the same name (a stack's
 * drift can start a stack-level execution whose resource id is the stack name).
 */
export async function executionsFor(
  e: E2E,
  resourceId: string,
  resourceType?: string,
): Promise<ExecutionInfo[]> {
  return (await executions(e)).filter(
    (x) => x.resourceId === resourceId && (!resourceType || x.resourceType === resourceType),
  );
}

/** Runs CloudFormation drift detection on a stack and returns its drift status once complete. */
export async function stackDriftStatus(e: E2E, stackName: string, timeoutMs = 20_000): Promise<string> {
  const id = (await e.c.cloudFormation.send(new DetectStackDriftCommand({ StackName: stackName })))
    .StackDriftDetectionId;
  return until(`drift detection on ${stackName}`, timeoutMs, async () => {
    const s = await e.c.cloudFormation.send(
      new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId: id }),
    );
    if (s.DetectionStatus === 'DETECTION_FAILED')
      throw new Error(`drift detection failed: ${s.DetectionStatusReason ?? ''}`);
    return s.DetectionStatus === 'DETECTION_IN_PROGRESS' ? undefined : (s.StackDriftStatus ?? 'UNKNOWN');
  });
}

/**
 * Waits for the (first) execution started for `resourceId` (of `resourceType`, when given). With
 * `stackName`, a fallback for a drift Config's event should have brought: if nothing has started after
 * `nudgeAfterMs` (default 10 s), the stack's drift detection runs once, as an operator would. Drift that
 * only CloudFormation drift detection finds is surfaced by the test itself right after the injection
 * (`surfaceDrift`): Config's stack drift rule runs on the stack's own changes and periodically, not on a
 * change to a resource in it. Keep the delay long: a second detection close to the first produces a
 * second drift event for the same resource.
 */
export async function awaitExecutionFor(
  e: E2E,
  resourceId: string,
  opts: { resourceType?: string; stackName?: string; nudgeAfterMs?: number; timeoutMs?: number } = {},
): Promise<ExecutionInfo> {
  const started = Date.now();
  let nudged = false;
  return until(
    `an execution for ${resourceId}`,
    opts.timeoutMs ?? 30_000,
    async () => {
      const found = (await executionsFor(e, resourceId, opts.resourceType))[0];
      if (found) return found;
      if (opts.stackName && !nudged && Date.now() - started > (opts.nudgeAfterMs ?? 10_000)) {
        nudged = true;
        await stackDriftStatus(e, opts.stackName);
      }
      return undefined;
    },
    100,
  );
}

export interface ExecutionResult {
  status: string;
  /** `$.outcome.outcome` of the execution output (the recorded outcome). */
  outcome: string | undefined;
  output: Record<string, unknown>;
  describe: DescribeExecutionCommandOutput;
}

/** Waits until the execution closes and returns its status and recorded outcome. */
export async function finished(e: E2E, arn: string, timeoutMs = 45_000): Promise<ExecutionResult> {
  const d = await until(
    `execution ${arn.split(':').pop()} to close`,
    timeoutMs,
    async () => {
      const x = await e.c.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
      return x.status === 'RUNNING' || x.status === 'PENDING_REDRIVE' ? undefined : x;
    },
    100,
  );
  const output = JSON.parse(d.output ?? '{}') as Record<string, unknown>;
  const outcome = (output.outcome as { outcome?: string } | undefined)?.outcome;
  return { status: d.status ?? 'UNKNOWN', outcome, output, describe: d };
}

/** The state the execution is in now (the last state entered), from its history. */
export async function currentState(e: E2E, arn: string): Promise<string | undefined> {
  const h = await e.c.sfn.send(
    new GetExecutionHistoryCommand({ executionArn: arn, reverseOrder: true, maxResults: 50 }),
  );
  return h.events?.find((x) => x.stateEnteredEventDetails?.name)?.stateEnteredEventDetails?.name;
}

/** SNS messages the sandbox kept, read over HTTP (GET /_sandbox/outbox). */
export async function outbox(e: E2E): Promise<OutboxMessage[]> {
  const res = await fetch(`${e.sb.endpoint}/_sandbox/outbox`);
  if (!res.ok) throw new Error(`GET /_sandbox/outbox: HTTP ${res.status}`);
  return (await res.json()) as OutboxMessage[];
}

/** Every item of a table (Scan, paginated). */
export async function scanAll(e: E2E, table: string): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  for await (const page of paginateScan({ client: e.c.ddb }, { TableName: table, ConsistentRead: true })) {
    items.push(...(page.Items ?? []));
  }
  return items;
}

/** SSM Automation executions whose parameters name `resourceId`. */
export async function automationsFor(e: E2E, resourceId: string): Promise<AutomationExecution[]> {
  const out: AutomationExecution[] = [];
  let nextToken: string | undefined;
  do {
    const page = await e.c.ssm.send(
      new DescribeAutomationExecutionsCommand({ MaxResults: 50, NextToken: nextToken }),
    );
    for (const m of page.AutomationExecutionMetadataList ?? []) {
      if (!m.AutomationExecutionId) continue;
      const x = (
        await e.c.ssm.send(
          new GetAutomationExecutionCommand({ AutomationExecutionId: m.AutomationExecutionId }),
        )
      ).AutomationExecution;
      if (x && Object.values(x.Parameters ?? {}).some((vs) => vs.includes(resourceId))) out.push(x);
    }
    nextToken = page.NextToken;
  } while (nextToken);
  return out;
}

/** Messages waiting or in flight on a queue (0 once every message was consumed). */
export async function queueBacklog(e: E2E, queueUrl: string): Promise<number> {
  const r = await e.c.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        'ApproximateNumberOfMessages',
        'ApproximateNumberOfMessagesNotVisible',
        'ApproximateNumberOfMessagesDelayed',
      ],
    }),
  );
  const a = r.Attributes ?? {};
  return (
    Number(a.ApproximateNumberOfMessages ?? 0) +
    Number(a.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(a.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

export interface ComplianceEventInput {
  rule: string;
  resourceType: string;
  resourceId: string;
  complianceType: 'NON_COMPLIANT' | 'COMPLIANT';
  /** Config's orderingTimestamp / resultRecordedTime (ISO). */
  at: string;
  account: string;
  region: string;
  id?: string;
}

/** A "Config Rules Compliance Change" event exactly as EventBridge delivers it (the full envelope). */
export function complianceChangeEvent(i: ComplianceEventInput): Record<string, unknown> {
  const qualifier = {
    configRuleName: i.rule,
    resourceType: i.resourceType,
    resourceId: i.resourceId,
    evaluationMode: 'DETECTIVE',
  };
  return {
    version: '0',
    id: i.id ?? randomUUID(),
    'detail-type': 'Config Rules Compliance Change',
    source: 'aws.config',
    account: i.account,
    time: i.at.replace(/\.\d{3}Z$/, 'Z'),
    region: i.region,
    resources: [],
    detail: {
      resourceId: i.resourceId,
      awsRegion: i.region,
      awsAccountId: i.account,
      configRuleName: i.rule,
      recordVersion: '1.0',
      configRuleARN: `arn:aws:config:${i.region}:${i.account}:config-rule/config-rule-e2e`,
      messageType: 'ComplianceChangeNotification',
      newEvaluationResult: {
        evaluationResultIdentifier: { evaluationResultQualifier: qualifier, orderingTimestamp: i.at },
        complianceType: i.complianceType,
        resultRecordedTime: i.at,
        configRuleInvokedTime: i.at,
      },
      notificationCreationTime: i.at,
      resourceType: i.resourceType,
    },
  };
}

/** Sends an EventBridge envelope to the intake queue, as the stack's EventBridge rule target does. */
export async function sendToIntake(e: E2E, body: string): Promise<void> {
  await e.c.sqs.send(new SendMessageCommand({ QueueUrl: e.env('INTAKE_QUEUE_URL'), MessageBody: body }));
}

/**
 * Subscribes an SQS queue of our own to the events matching `pattern` (an EventBridge rule with an SQS
 * target, as any subscriber would, with the queue policy that lets the rule deliver) and returns the
 * queue's URL.
 */
export async function subscribeToEvents(
  e: E2E,
  name: string,
  pattern: Record<string, unknown>,
): Promise<string> {
  const { sqs, events } = e.c;
  return subscribeQueueToEvents(
    { sqs, events, region: e.sb.region, accountId: e.sb.accountId },
    name,
    pattern,
  );
}

/**
 * Subscribes to the NON_COMPLIANT "Config Rules Compliance Change" events for one resource and rule and
 * returns a function that waits for the next one and gives its body exactly as EventBridge delivered it.
 */
export async function captureNonCompliance(
  e: E2E,
  rule: string,
  resourceId: string,
  name = `e2e-capture-${randomUUID().slice(0, 8)}`,
): Promise<(timeoutMs?: number) => Promise<string>> {
  const queueUrl = await subscribeToEvents(e, name, {
    source: ['aws.config'],
    'detail-type': ['Config Rules Compliance Change'],
    detail: {
      resourceId: [resourceId],
      configRuleName: [rule],
      newEvaluationResult: { complianceType: ['NON_COMPLIANT'] },
    },
  });
  return (timeoutMs = 15_000) =>
    until(`a NON_COMPLIANT event for ${resourceId}`, timeoutMs, async () => {
      const r = await e.c.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
      );
      return r.Messages?.[0]?.Body;
    });
}

/** Waits until the intake queue has no message waiting or in flight. */
export async function intakeDrained(e: E2E, timeoutMs = 20_000): Promise<void> {
  const url = e.env('INTAKE_QUEUE_URL');
  await until('the intake queue to drain', timeoutMs, async () =>
    (await queueBacklog(e, url)) === 0 ? true : undefined,
  );
}
