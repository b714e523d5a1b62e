/**
 * DriftRemediation: the whole loop as one construct — events → SQS → intake → the remediation state
 * machine → SSM Automation runbooks — with its tables, topics, approval endpoint, schedules, alarms
 * and dashboard. Everything is derived from the remediation policy and the runbooks directory.
 */

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Aws, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as config from 'aws-cdk-lib/aws-config';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import * as secrets from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { ENV } from '../tasks/shared/env';
import { loadPolicyFile, parsePolicyText } from '../tasks/shared/policy/load';
import type { NormalizedPolicy } from '../tasks/shared/policy/schema';
import { APPROVALS, LEASES, ORDERING, OUTCOMES } from '../tasks/shared/tables';
import {
  FUNCTION_TIMEOUT_SECONDS,
  remediationDefinition,
  WORKFLOW_TASKS,
  type WorkflowTask,
} from '../workflows/remediation';
import {
  type ArnContext,
  loadRunbooks,
  READ_PERMISSIONS,
  type RunbookDocument,
  resourcesFor,
  runbookPermissions,
} from './runbook-permissions';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Every Lambda: the workflow's tasks plus the ones outside the state machine. */
export const ALL_TASKS = [...WORKFLOW_TASKS, 'intake', 'sweep', 'reap-leases', 'approval-endpoint'] as const;
export type TaskName = (typeof ALL_TASKS)[number];

/** CloudFormation Metadata key naming a function's task (the sandbox installer maps functions to handlers by it). */
export const TASK_METADATA_KEY = 'drift-remediation:task';
/** Where the policy JSON lands inside the plan/intake bundles, and what POLICY_FILE says. */
export const BUNDLED_POLICY_FILE = '/var/task/policy.json';
export const METRICS_NAMESPACE = 'DriftRemediation';
export const SERVICE_NAME = 'drift-remediation';

export interface DriftRemediationProps {
  /**
   * The remediation policy (YAML or JSON). Validated at synth time; an invalid policy fails synth
   * with a message naming the field.
   * @default 'runbooks/policy.yaml' in this repository
   */
  readonly policyFile?: string;
  /**
   * Directory of first-party SSM Automation runbooks (`*.yaml`, schemaVersion 0.3); each becomes an
   * `AWS::SSM::Document` named after its file, and the AutomationAssumeRole gets exactly what they call.
   * @default 'runbooks' in this repository
   */
  readonly runbooksDir?: string;
  /**
   * Public base URL of the approval endpoint, when it sits behind your own domain/CDN.
   * @default the approval function's Lambda Function URL
   */
  readonly approvalBaseUrl?: string;
  /**
   * Email address subscribed to the alarm topic.
   * @default no subscription (subscribe to the AlarmTopic yourself)
   */
  readonly alarmEmail?: string;
  /**
   * How often the sweep re-reads NON_COMPLIANT results of the policy's Config rules.
   * @default Duration.hours(1)
   */
  readonly sweepInterval?: Duration;
  /**
   * How often the reaper frees leases held by executions that are no longer running.
   * @default Duration.minutes(5)
   */
  readonly reapInterval?: Duration;
  /**
   * Removal policy of the tables (outcomes are the audit trail).
   * @default RemovalPolicy.RETAIN
   */
  readonly tableRemovalPolicy?: RemovalPolicy;
}

/** Which env keys each function gets; values come from one map, so a key means the same on every function. */
export const TASK_ENV: Readonly<Record<TaskName, readonly string[]>> = {
  plan: [ENV.ORDERING_TABLE, ENV.OUTCOMES_TABLE, ENV.POLICY_FILE],
  'confirm-compliance': [],
  'detect-drift': [],
  'check-drift': [],
  'describe-drift': [],
  'request-approval': [
    ENV.APPROVALS_TABLE,
    ENV.APPROVAL_TOPIC_ARN,
    ENV.APPROVAL_BASE_URL,
    ENV.SIGNING_SECRET_ARN,
    ENV.AUTOMATION_ASSUME_ROLE_ARN,
  ],
  'acquire-slot': [ENV.LEASES_TABLE],
  'start-runbook': [ENV.AUTOMATION_ASSUME_ROLE_ARN],
  'check-runbook': [],
  'release-slot': [ENV.LEASES_TABLE],
  'recheck-drift': [],
  'request-reevaluation': [ENV.ORDERING_TABLE],
  'check-compliance': [],
  'record-outcome': [ENV.OUTCOMES_TABLE, ENV.APPROVALS_TABLE, ENV.OUTCOME_TOPIC_ARN, ENV.APPROVAL_TOPIC_ARN],
  intake: [ENV.STATE_MACHINE_ARN, ENV.ORDERING_TABLE, ENV.OUTCOMES_TABLE, ENV.POLICY_FILE],
  sweep: [ENV.INTAKE_QUEUE_URL, ENV.CONFIG_RULES],
  'reap-leases': [ENV.LEASES_TABLE, ENV.STATE_MACHINE_ARN],
  'approval-endpoint': [ENV.APPROVALS_TABLE, ENV.SIGNING_SECRET_ARN],
};

const POLICY_BUNDLED: readonly TaskName[] = ['plan', 'intake'];

/** ESM output still needs `require` for the few CommonJS dependencies esbuild leaves as requires. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __drCreateRequire } from 'node:module'; const require = __drCreateRequire(import.meta.url);";

function ack(scope: Construct, id: string, reason: string): void {
  Validations.of(scope).acknowledge({ id, reason });
}

/** Acknowledges one AwsSolutions-IAM5 finding (`Resource::…` or `Action::…`) with its reason. */
function ackIam5(scope: Construct, finding: string, reason: string): void {
  ack(scope, `AwsSolutions-IAM5[${finding}]`, reason);
}

export class DriftRemediation extends Construct {
  readonly policy: NormalizedPolicy;
  readonly runbooks: readonly RunbookDocument[];
  readonly key: kms.Key;
  readonly tables: {
    readonly leases: dynamodb.Table;
    readonly approvals: dynamodb.Table;
    readonly outcomes: dynamodb.Table;
    readonly ordering: dynamodb.Table;
  };
  readonly intakeQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  readonly approvalTopic: sns.Topic;
  readonly outcomeTopic: sns.Topic;
  readonly alarmTopic: sns.Topic;
  readonly signingSecret: secrets.Secret;
  readonly automationAssumeRole: iam.Role;
  readonly functions: Readonly<Record<TaskName, nodejs.NodejsFunction>>;
  readonly stateMachine: sfn.StateMachine;
  readonly approvalUrl: lambda.FunctionUrl;
  readonly documents: readonly ssm.CfnDocument[];
  /** The environment every function draws from (key → value). */
  readonly environment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: DriftRemediationProps = {}) {
    super(scope, id);
    const stack = Stack.of(this);
    const policyFile = resolve(props.policyFile ?? join(REPO_ROOT, 'runbooks/policy.yaml'));
    const runbooksDir = resolve(props.runbooksDir ?? join(REPO_ROOT, 'runbooks'));
    this.runbooks = loadRunbooks(runbooksDir, basename(policyFile));
    this.policy = loadPolicyFile(policyFile, { knownRunbooks: this.runbooks.map((r) => r.name) });
    const rawPolicyJson = JSON.stringify(parsePolicyText(readFileSync(policyFile, 'utf8'), policyFile));
    const configRules = [...new Set(this.policy.entries.flatMap((e) => e.configRules))].sort();

    // ── Encryption ─────────────────────────────────────────────────────────────────────────
    this.key = new kms.Key(this, 'Key', {
      description: 'drift-remediation: tables, queues, topics, secret',
      enableKeyRotation: true,
    });
    for (const service of ['events.amazonaws.com', 'cloudwatch.amazonaws.com', 'sns.amazonaws.com']) {
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal(service)],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
        }),
      );
    }

    // ── Tables ─────────────────────────────────────────────────────────────────────────────
    const table = (name: string, partitionKey: string, sortKey?: string) =>
      new dynamodb.Table(this, name, {
        partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
        ...(sortKey ? { sortKey: { name: sortKey, type: dynamodb.AttributeType.STRING } } : {}),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: this.key,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        timeToLiveAttribute: 'expiresAt',
        removalPolicy: props.tableRemovalPolicy ?? RemovalPolicy.RETAIN,
      });
    this.tables = {
      leases: table('LeasesTable', LEASES.partitionKey),
      approvals: table('ApprovalsTable', APPROVALS.partitionKey),
      outcomes: table('OutcomesTable', OUTCOMES.partitionKey, OUTCOMES.sortKey),
      ordering: table('OrderingTable', ORDERING.partitionKey),
    };

    // ── Queues ─────────────────────────────────────────────────────────────────────────────
    this.deadLetterQueue = new sqs.Queue(this, 'IntakeDeadLetterQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.intakeQueue = new sqs.Queue(this, 'IntakeQueue', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: this.key,
      enforceSSL: true,
      visibilityTimeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });
    // The SqsQueue event target grants events.amazonaws.com SendMessage on a KMS queue without a source
    // condition; only this account's rules may deliver.
    for (const q of [this.intakeQueue, this.deadLetterQueue]) {
      q.addToResourcePolicy(
        new iam.PolicyStatement({
          effect: iam.Effect.DENY,
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['sqs:SendMessage'],
          resources: [q.queueArn],
          conditions: { StringNotEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
        }),
      );
    }

    // ── Topics, secret ─────────────────────────────────────────────────────────────────────
    const topic = (name: string, displayName: string) =>
      new sns.Topic(this, name, { displayName, masterKey: this.key, enforceSSL: true });
    this.approvalTopic = topic('ApprovalTopic', 'Drift remediation approvals');
    this.outcomeTopic = topic('OutcomeTopic', 'Drift remediation outcomes');
    this.alarmTopic = topic('AlarmTopic', 'Drift remediation alarms');
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subs.EmailSubscription(props.alarmEmail));

    this.signingSecret = new secrets.Secret(this, 'ApprovalSigningSecret', {
      description: 'HMAC key that signs approval links (drift-remediation)',
      encryptionKey: this.key,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    ack(
      this.signingSecret,
      'AwsSolutions-SMG4',
      'The HMAC key signs short-lived approval links (TTL <= 7 days); rotating it is a manual, announced operation because it invalidates every pending link.',
    );

    // ── Runbooks: documents + the role they run as ───────────────────────────────────────
    this.documents = this.runbooks.map(
      (r) =>
        new ssm.CfnDocument(this, `Runbook${r.name.replace(/[^A-Za-z0-9]/g, '')}`, {
          name: r.name,
          documentType: 'Automation',
          documentFormat: 'YAML',
          updateMethod: 'NewVersion',
          content: r.content,
        }),
    );
    const typesByRunbook: Record<string, string[]> = {};
    for (const e of this.policy.entries) {
      typesByRunbook[e.runbook] = [...new Set([...(typesByRunbook[e.runbook] ?? []), ...e.resourceTypes])];
    }
    this.automationAssumeRole = new iam.Role(this, 'AutomationAssumeRole', {
      description: 'Role the drift-remediation runbooks run as; permissions derived from runbooks/*.yaml',
      assumedBy: new iam.ServicePrincipal('ssm.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    });
    const arnCtx = { partition: Aws.PARTITION, region: Aws.REGION, account: Aws.ACCOUNT_ID };
    for (const st of runbookPermissions(this.runbooks, arnCtx, typesByRunbook)) {
      this.automationAssumeRole.addToPolicy(
        new iam.PolicyStatement({ actions: st.actions, resources: st.resources }),
      );
    }

    // ── Functions ──────────────────────────────────────────────────────────────────────────
    const policyDir = join(
      tmpdir(),
      `drift-remediation-policy-${createHash('sha256').update(rawPolicyJson).digest('hex').slice(0, 16)}`,
    );
    mkdirSync(policyDir, { recursive: true });
    const policyJsonPath = join(policyDir, 'policy.json');
    writeFileSync(policyJsonPath, rawPolicyJson);

    const functionRole = (task: TaskName) => {
      const role = new iam.Role(this, `${pascal(task)}Role`, {
        assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
        description: `drift-remediation ${task}`,
      });
      return role;
    };
    const logGroup = (task: TaskName) =>
      new logs.LogGroup(this, `${pascal(task)}Logs`, {
        retention: logs.RetentionDays.THREE_MONTHS,
        removalPolicy: RemovalPolicy.DESTROY,
      });

    const fns = {} as Record<TaskName, nodejs.NodejsFunction>;
    const logGroups = {} as Record<TaskName, logs.LogGroup>;
    for (const task of ALL_TASKS) {
      const withPolicy = POLICY_BUNDLED.includes(task);
      const role = functionRole(task);
      const lg = logGroup(task);
      logGroups[task] = lg;
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
          resources: [`${lg.logGroupArn}:*`],
        }),
      );
      const fn = new nodejs.NodejsFunction(this, `${pascal(task)}Function`, {
        entry: join(REPO_ROOT, 'tasks', task, 'handler.ts'),
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        memorySize: task === 'approval-endpoint' || task === 'intake' ? 512 : 256,
        timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
        tracing: lambda.Tracing.ACTIVE,
        role,
        logGroup: lg,
        description: `drift-remediation: ${task}`,
        projectRoot: REPO_ROOT,
        depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
        bundling: {
          format: nodejs.OutputFormat.ESM,
          target: 'node22',
          sourceMap: true,
          sourceMapMode: nodejs.SourceMapMode.DEFAULT,
          minify: true,
          mainFields: ['module', 'main'],
          banner: ESM_REQUIRE_BANNER,
          externalModules: [],
          forceDockerBundling: false,
          logLevel: nodejs.LogLevel.ERROR,
          ...(withPolicy
            ? {
                commandHooks: {
                  beforeBundling: () => [],
                  beforeInstall: () => [],
                  afterBundling: (_input: string, outputDir: string) => [
                    `node -e "require('fs').copyFileSync(process.argv[1], process.argv[2])" "${policyJsonPath}" "${outputDir}/policy.json"`,
                  ],
                },
              }
            : {}),
        },
      });
      (fn.node.defaultChild as lambda.CfnFunction).cfnOptions.metadata = {
        ...(fn.node.defaultChild as lambda.CfnFunction).cfnOptions.metadata,
        [TASK_METADATA_KEY]: task,
      };
      fns[task] = fn;
    }
    this.functions = fns;

    // ── Approval endpoint (Function URL; links are HMAC-signed) ──────────────────────────
    this.approvalUrl = fns['approval-endpoint'].addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    // ── State machine ─────────────────────────────────────────────────────────────────────
    const workflowFns: Record<WorkflowTask, lambda.IFunction> = fns;
    // A fixed name lets policies name the state machine without referencing it (the approval endpoint's
    // SendTask* grant would otherwise close a cycle: state machine → request-approval → URL → endpoint).
    const stateMachineName = `${stack.stackName}-Remediation`;
    const stateMachineArn = `arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:stateMachine:${stateMachineName}`;
    const smLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: logs.RetentionDays.SIX_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: remediationDefinition(this, workflowFns),
      tracingEnabled: true,
      logs: { destination: smLogs, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    });
    ack(
      this.stateMachine,
      'AwsSolutions-SF1',
      'Logs at ERROR without execution data on purpose: inputs carry approval task tokens and resource details that must not reach logs; the execution history has the rest.',
    );

    // ── Environment (one value per key, shared by every function) ──────────────────────────
    const approvalBaseUrl = props.approvalBaseUrl ?? this.approvalUrl.url;
    const environment: Record<string, string> = {
      [ENV.LEASES_TABLE]: this.tables.leases.tableName,
      [ENV.APPROVALS_TABLE]: this.tables.approvals.tableName,
      [ENV.OUTCOMES_TABLE]: this.tables.outcomes.tableName,
      [ENV.ORDERING_TABLE]: this.tables.ordering.tableName,
      [ENV.STATE_MACHINE_ARN]: this.stateMachine.stateMachineArn,
      [ENV.APPROVAL_TOPIC_ARN]: this.approvalTopic.topicArn,
      [ENV.OUTCOME_TOPIC_ARN]: this.outcomeTopic.topicArn,
      [ENV.APPROVAL_BASE_URL]: approvalBaseUrl,
      [ENV.SIGNING_SECRET_ARN]: this.signingSecret.secretArn,
      [ENV.AUTOMATION_ASSUME_ROLE_ARN]: this.automationAssumeRole.roleArn,
      [ENV.POLICY_FILE]: BUNDLED_POLICY_FILE,
      [ENV.CONFIG_RULES]: configRules.join(','),
      [ENV.INTAKE_QUEUE_URL]: this.intakeQueue.queueUrl,
    };
    const common: Record<string, string> = {
      POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: 'INFO',
      NODE_OPTIONS: '--enable-source-maps',
    };
    this.environment = { ...common, ...environment };
    for (const task of ALL_TASKS) {
      for (const [k, v] of Object.entries(common)) fns[task].addEnvironment(k, v);
      for (const k of TASK_ENV[task]) {
        const v = environment[k];
        if (v === undefined) throw new Error(`no value for env ${k}`);
        fns[task].addEnvironment(k, v);
      }
    }

    // ── Grants (least privilege per task) ─────────────────────────────────────────────────
    const stmt = (fn: lambda.IFunction, actions: string[], resources: string[]) =>
      fn.addToRolePolicy(new iam.PolicyStatement({ actions, resources }));
    const stacks = `arn:${Aws.PARTITION}:cloudformation:${Aws.REGION}:${Aws.ACCOUNT_ID}:stack/*/*`;
    const policyTypes = [...new Set(this.policy.entries.flatMap((e) => e.resourceTypes))].sort();
    const readActions = [...new Set(policyTypes.flatMap((t) => READ_PERMISSIONS[t] ?? []))].sort();
    const grantResourceRead = (fn: lambda.IFunction) => {
      // Cloud Control GetResource acts with the caller's permissions on the underlying service.
      stmt(fn, ['cloudformation:GetResource'], ['*']);
      const scoped = scopedStatements(readActions, arnCtx);
      for (const s of scoped) stmt(fn, s.actions, s.resources);
    };
    const t = this.tables;

    // plan: exceptions (break-glass, tags), loop breaker (outcomes), blast radius (ordering)
    t.ordering.grantReadWriteData(fns.plan);
    t.outcomes.grantReadData(fns.plan);
    grantResourceRead(fns.plan);
    // confirm-compliance
    stmt(fns['confirm-compliance'], ['config:GetComplianceDetailsByResource'], ['*']);
    grantResourceRead(fns['confirm-compliance']);
    // drift detection
    for (const task of ['detect-drift', 'recheck-drift'] as const) {
      stmt(
        fns[task],
        [
          'cloudformation:DescribeStackResources',
          'cloudformation:DetectStackResourceDrift',
          'cloudformation:DetectStackDrift',
        ],
        [stacks],
      );
      stmt(fns[task], ['cloudformation:DescribeStackDriftDetectionStatus'], ['*']);
      grantResourceRead(fns[task]);
    }
    stmt(fns['check-drift'], ['cloudformation:DescribeStackDriftDetectionStatus'], ['*']);
    stmt(fns['describe-drift'], ['cloudformation:DescribeStackResourceDrifts'], [stacks]);
    // approvals
    t.approvals.grantReadWriteData(fns['request-approval']);
    this.approvalTopic.grantPublish(fns['request-approval']);
    this.signingSecret.grantRead(fns['request-approval']);
    t.approvals.grantReadWriteData(fns['approval-endpoint']);
    this.signingSecret.grantRead(fns['approval-endpoint']);
    stmt(
      fns['approval-endpoint'],
      ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'],
      [stateMachineArn],
    );
    // slots
    t.leases.grantReadWriteData(fns['acquire-slot']);
    t.leases.grantReadWriteData(fns['release-slot']);
    t.leases.grantReadWriteData(fns['reap-leases']);
    stmt(
      fns['reap-leases'],
      ['states:DescribeExecution'],
      [`arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:${stateMachineName}:*`],
    );
    // runbooks: StartAutomationExecution on the policy's documents only; PassRole on the automation role only
    const documentNames = [...new Set(this.policy.entries.map((e) => e.runbook))].sort();
    const ssmArn = (kind: string, name: string, owned: boolean) =>
      `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${owned ? Aws.ACCOUNT_ID : ''}:${kind}/${name}`;
    const startResources = documentNames.flatMap((n) => {
      const owned = this.runbooks.some((r) => r.name === n);
      return [ssmArn('document', n, owned), ssmArn('automation-definition', `${n}:*`, owned)];
    });
    stmt(fns['start-runbook'], ['ssm:StartAutomationExecution'], startResources);
    fns['start-runbook'].addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.automationAssumeRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ssm.amazonaws.com' } },
      }),
    );
    for (const d of this.documents) fns['start-runbook'].node.addDependency(d);
    stmt(
      fns['check-runbook'],
      ['ssm:GetAutomationExecution', 'ssm:StopAutomationExecution'],
      [`arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:automation-execution/*`],
    );
    // verification
    stmt(fns['request-reevaluation'], ['config:StartConfigRulesEvaluation'], ['*']);
    t.ordering.grantReadWriteData(fns['request-reevaluation']);
    stmt(fns['check-compliance'], ['config:GetComplianceDetailsByResource'], ['*']);
    // outcomes
    t.outcomes.grantReadWriteData(fns['record-outcome']);
    t.approvals.grantReadWriteData(fns['record-outcome']);
    this.outcomeTopic.grantPublish(fns['record-outcome']);
    this.approvalTopic.grantPublish(fns['record-outcome']);
    // intake
    this.stateMachine.grantStartExecution(fns.intake);
    t.ordering.grantReadWriteData(fns.intake);
    // Events intake drops (invalid, older, no entry, already running) are recorded as SKIPPED outcomes.
    t.outcomes.grantWriteData(fns.intake);
    // At most one running execution per resource and rule: intake looks at the previous one.
    stmt(
      fns.intake,
      ['states:DescribeExecution'],
      [`arn:${Aws.PARTITION}:states:${Aws.REGION}:${Aws.ACCOUNT_ID}:execution:${stateMachineName}:*`],
    );
    stmt(
      fns.intake,
      ['cloudformation:DescribeStackResourceDrifts', 'cloudformation:DescribeStackResources'],
      [stacks],
    );
    fns.intake.addEventSource(
      new SqsEventSource(this.intakeQueue, { batchSize: 10, reportBatchItemFailures: true }),
    );
    // sweep
    stmt(fns.sweep, ['config:GetComplianceDetailsByConfigRule'], ['*']);
    this.intakeQueue.grantSendMessages(fns.sweep);

    for (const task of ALL_TASKS) {
      ack(fns[task], 'AwsSolutions-L1', 'Pinned to the Node.js 22 runtime the project tests against.');
      const logsId = stack.getLogicalId(logGroups[task].node.defaultChild as logs.CfnLogGroup);
      ackIam5(
        fns[task].role ?? this,
        `Resource::<${logsId}.Arn>:*`,
        "Log streams of the function's own log group.",
      );
      const fnId = stack.getLogicalId(fns[task].node.defaultChild as lambda.CfnFunction);
      ackIam5(
        this,
        `Resource::<${fnId}.Arn>:*`,
        `Versions and aliases of the ${task} function (lambda:InvokeFunction by the state machine or the scheduler).`,
      );
    }

    // ── Events → queue ─────────────────────────────────────────────────────────────────────
    const toQueue = new targets.SqsQueue(this.intakeQueue, { deadLetterQueue: this.deadLetterQueue });
    if (configRules.length) {
      new events.Rule(this, 'ConfigComplianceRule', {
        description: "NON_COMPLIANT results of the remediation policy's Config rules",
        eventPattern: {
          source: ['aws.config'],
          detailType: ['Config Rules Compliance Change'],
          detail: {
            messageType: ['ComplianceChangeNotification'],
            configRuleName: configRules,
            newEvaluationResult: { complianceType: ['NON_COMPLIANT'] },
          },
        },
        targets: [toQueue],
      });
    }
    new events.Rule(this, 'StackDriftRule', {
      description: 'CloudFormation stacks whose drift detection found DRIFTED',
      eventPattern: {
        source: ['aws.cloudformation'],
        detailType: ['CloudFormation Drift Detection Status Change'],
        detail: { 'status-details': { 'stack-drift-status': ['DRIFTED'] } },
      },
      targets: [toQueue],
    });

    // ── Schedules ──────────────────────────────────────────────────────────────────────────
    const schedulerRole = new iam.Role(this, 'SchedulerRole', {
      description: 'drift-remediation: EventBridge Scheduler invokes sweep and reap-leases',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    });
    new scheduler.Schedule(this, 'SweepSchedule', {
      description: 'drift-remediation: re-read NON_COMPLIANT results of the policy rules',
      schedule: scheduler.ScheduleExpression.rate(props.sweepInterval ?? Duration.hours(1)),
      target: new schedulerTargets.LambdaInvoke(fns.sweep, {
        role: schedulerRole,
        input: scheduler.ScheduleTargetInput.fromObject({ configRules }),
        retryAttempts: 2,
      }),
    });
    new scheduler.Schedule(this, 'ReapLeasesSchedule', {
      description: 'drift-remediation: free leases of executions that are no longer running',
      schedule: scheduler.ScheduleExpression.rate(props.reapInterval ?? Duration.minutes(5)),
      target: new schedulerTargets.LambdaInvoke(fns['reap-leases'], {
        role: schedulerRole,
        input: scheduler.ScheduleTargetInput.fromObject({}),
        retryAttempts: 2,
      }),
    });

    // ── Config rules declared with deploy: true ────────────────────────────────────────────
    let driftCheckRole: iam.Role | undefined;
    for (const rule of this.policy.configRules.filter((r) => r.deploy)) {
      const inputParameters: Record<string, string> = { ...rule.inputParameters };
      if (
        rule.sourceIdentifier === 'CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK' &&
        !inputParameters.cloudformationRoleArn
      ) {
        driftCheckRole ??= this.driftCheckRole(stacks, readActions, arnCtx);
        inputParameters.cloudformationRoleArn = driftCheckRole.roleArn;
      }
      new config.ManagedRule(this, `ConfigRule${pascal(rule.name)}`, {
        configRuleName: rule.name,
        identifier: rule.sourceIdentifier,
        ...(Object.keys(inputParameters).length ? { inputParameters } : {}),
        ruleScope: config.RuleScope.fromResources(rule.resourceTypes.map((r) => config.ResourceType.of(r))),
      });
    }

    // ── Alarms, dashboard ─────────────────────────────────────────────────────────────────
    const alarmAction = new cwActions.SnsAction(this.alarmTopic);
    const failedExecutions = new cloudwatch.Alarm(this, 'FailedExecutionsAlarm', {
      alarmDescription: 'A remediation execution failed (outcome not recorded, or a non-success outcome)',
      metric: this.stateMachine.metricFailed({ period: Duration.minutes(5), statistic: 'Sum' }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const dlqDepth = new cloudwatch.Alarm(this, 'DeadLetterQueueAlarm', {
      alarmDescription: 'Events that intake could not process are waiting in the dead-letter queue',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const outcomeMetric = (outcome: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: 'RemediationOutcome',
        dimensionsMap: { service: SERVICE_NAME, outcome },
        statistic: 'Sum',
        period: Duration.minutes(5),
      });
    const failedRemediations = new cloudwatch.Alarm(this, 'FailedRemediationsAlarm', {
      alarmDescription: 'Remediations ended FAILED or NOT_VERIFIED',
      metric: new cloudwatch.MathExpression({
        expression: 'FILL(failed, 0) + FILL(notVerified, 0)',
        usingMetrics: { failed: outcomeMetric('FAILED'), notVerified: outcomeMetric('NOT_VERIFIED') },
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    for (const a of [failedExecutions, dlqDepth, failedRemediations]) a.addAlarmAction(alarmAction);

    const outcomes = ['VERIFIED', 'SKIPPED', 'ESCALATED', 'REJECTED', 'EXPIRED', 'FAILED', 'NOT_VERIFIED'];
    new cloudwatch.Dashboard(this, 'Dashboard', {
      widgets: [
        [
          new cloudwatch.GraphWidget({
            title: 'Executions',
            left: [
              this.stateMachine.metricStarted(),
              this.stateMachine.metricSucceeded(),
              this.stateMachine.metricFailed(),
              this.stateMachine.metricTimedOut(),
            ],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Remediation outcomes',
            left: outcomes.map((o) => outcomeMetric(o).with({ label: o })),
            width: 12,
          }),
        ],
        [
          new cloudwatch.GraphWidget({
            title: 'Intake queue',
            left: [
              this.intakeQueue.metricApproximateNumberOfMessagesVisible(),
              this.intakeQueue.metricApproximateAgeOfOldestMessage(),
            ],
            right: [this.deadLetterQueue.metricApproximateNumberOfMessagesVisible()],
            width: 12,
          }),
          new cloudwatch.GraphWidget({
            title: 'Task errors',
            left: ALL_TASKS.map((task) => fns[task].metricErrors({ label: task })),
            width: 12,
          }),
        ],
        [
          new cloudwatch.AlarmStatusWidget({
            title: 'Alarms',
            alarms: [failedExecutions, dlqDepth, failedRemediations],
            width: 24,
          }),
        ],
      ],
    });

    // ── cdk-nag: wildcard findings, each acknowledged with its reason ───────────────────────
    const P = '<AWS::Partition>';
    const R = '<AWS::Region>';
    const A = '<AWS::AccountId>';
    const eventResource =
      "The resource comes from each event, so it is unknown at deploy time; scoped to its type's ARN pattern in this account.";
    ackIam5(
      this,
      'Resource::*',
      'Only for actions IAM does not scope to a resource: Config compliance reads and StartConfigRulesEvaluation, Cloud Control (cloudformation:GetResource/UpdateResource/GetResourceRequestStatus), DescribeStackDriftDetectionStatus, ec2:Describe*, X-Ray PutTraceSegments/PutTelemetryRecords.',
    );
    ackIam5(
      this,
      'Action::kms:GenerateDataKey*',
      "CDK grant on the stack's one KMS key (encrypt table items, queue messages, topic messages).",
    );
    ackIam5(
      this,
      'Action::kms:ReEncrypt*',
      "CDK grant on the stack's one KMS key (read/write of encrypted table items).",
    );
    ackIam5(
      this,
      `Resource::arn:${P}:cloudformation:${R}:${A}:stack/*/*`,
      'Drift detection and drift reads on the stack named by each event (any stack in this account and region).',
    );
    ackIam5(this, `Resource::arn:${P}:s3:::*`, eventResource);
    ackIam5(this, `Resource::arn:${P}:lambda:${R}:${A}:function:*`, eventResource);
    ackIam5(this, `Resource::arn:${P}:iam::${A}:role/*`, eventResource);
    ackIam5(this, `Resource::arn:${P}:iam::${A}:policy/*`, eventResource);
    ackIam5(this, `Resource::arn:${P}:ec2:${R}:${A}:security-group/*`, eventResource);
    ackIam5(this, `Resource::arn:${P}:iam::${A}:user/*`, eventResource);
    ackIam5(this, `Resource::arn:${P}:iam::${A}:group/*`, eventResource);
    ackIam5(
      fns['check-runbook'].role ?? this,
      `Resource::arn:${P}:ssm:${R}:${A}:automation-execution/*`,
      'Automation executions are created per remediation; their ids are only known at run time.',
    );
    ackIam5(
      fns['reap-leases'].role ?? this,
      `Resource::arn:${P}:states:${R}:${A}:execution:${stateMachineName}:*`,
      "DescribeExecution of this state machine's executions only (lease holders).",
    );
    ackIam5(
      fns.intake.role ?? this,
      `Resource::arn:${P}:states:${R}:${A}:execution:${stateMachineName}:*`,
      "DescribeExecution of this state machine's executions only (is the resource's previous execution still running).",
    );
    for (const n of documentNames) {
      const owned = this.runbooks.some((r) => r.name === n);
      ackIam5(
        fns['start-runbook'].role ?? this,
        `Resource::arn:${P}:ssm:${R}:${owned ? A : ''}:automation-definition/${n}:*`,
        `Any version of the ${n} runbook the policy names.`,
      );
    }
  }

  private driftCheckRole(stacks: string, readActions: string[], ctx: ArnContext) {
    const role = new iam.Role(this, 'StackDriftCheckRole', {
      description: 'Lets the CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK Config rule run drift detection',
      assumedBy: new iam.ServicePrincipal('config.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: [
          'cloudformation:DetectStackDrift',
          'cloudformation:DescribeStacks',
          'cloudformation:DescribeStackResources',
        ],
        resources: [stacks],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['cloudformation:DescribeStackDriftDetectionStatus'],
        resources: ['*'],
      }),
    );
    for (const s of scopedStatements(readActions, ctx)) role.addToPolicy(new iam.PolicyStatement(s));
    ack(
      role,
      'AwsSolutions-IAM5',
      'Drift detection reads every stack in the account (stack/*/*) and the resources of the remediated types; DescribeStackDriftDetectionStatus and describe calls accept no resource ARN.',
    );
    return role;
  }
}

/** Groups actions by the resource ARNs IAM allows for them. */
function scopedStatements(
  actions: readonly string[],
  ctx: ArnContext,
): { actions: string[]; resources: string[] }[] {
  const byKey = new Map<string, { actions: string[]; resources: string[] }>();
  for (const a of actions) {
    const resources = resourcesFor(a, ctx);
    const key = resources.join('\n');
    const entry = byKey.get(key) ?? { actions: [], resources };
    entry.actions.push(a);
    byKey.set(key, entry);
  }
  return [...byKey.values()];
}

function pascal(s: string): string {
  return s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
}
