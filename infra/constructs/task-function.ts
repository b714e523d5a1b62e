/**
 * TaskFunction: the one way this project builds a Lambda for a task — `tasks/<task>/handler.ts` bundled
 * as minified ESM with source maps (infra/bundling/task-bundle.ts, run from the asset's local bundling),
 * Node 22 on arm64, X-Ray active tracing, its own role and log group, the shared Powertools environment,
 * and the `drift-remediation:task` metadata the sandbox installer maps to a handler.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AssetHashType, DockerImage, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, IConstruct } from 'constructs';
import { FUNCTION_TIMEOUT_SECONDS } from '../../workflows/remediation';
import { REPO_ROOT } from '../bundling/task-bundle';
import { stableLogicalId } from './logical-ids';
import { ALL_TASKS, TASKS, type TaskName } from './tasks';

export { bundledPolicyFor, writeBundledPolicy } from '../bundled-policy';
export { ESM_REQUIRE_BANNER, REPO_ROOT, SDK_UNREACHED_IN_LAMBDA } from '../bundling/task-bundle';

/** CloudFormation Metadata key naming a function's task (the sandbox installer maps functions to handlers by it). */
export const TASK_METADATA_KEY = 'drift-remediation:task';
/** Where the policy JSON lands inside the bundles of tasks with `bundlesPolicy`, and what POLICY_FILE says. */
export const BUNDLED_POLICY_FILE = '/var/task/policy.json';
export const METRICS_NAMESPACE = 'DriftRemediation';
export const SERVICE_NAME = 'drift-remediation';
/** Environment every task function gets (task-specific keys come from TASKS[task].env). */
export const COMMON_ENV: Readonly<Record<string, string>> = {
  POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
  POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
  POWERTOOLS_LOG_LEVEL: 'INFO',
};

export interface TaskFunctionProps {
  /**
   * The normalized policy JSON (see `writeBundledPolicy`), copied to BUNDLED_POLICY_FILE in the bundle.
   * Required for tasks whose TASKS entry says `bundlesPolicy`.
   * @default no policy in the bundle
   */
  readonly policyJsonPath?: string;
}

/** PascalCase of a task name: the prefix of its construct ids (`PlanFunction`, `PlanRole`, `PlanLogs`). */
export function pascal(s: string): string {
  return s
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((p) => p.charAt(0).toUpperCase() + p.slice(1))
    .join('');
}

export class TaskFunction extends lambda.Function {
  readonly task: TaskName;
  readonly taskLogGroup: logs.LogGroup;
  readonly taskRole: iam.Role;

  /** Creates `<Task>Role`, `<Task>Logs` and `<Task>Function` in `scope` (the ids the stack always had). */
  constructor(scope: Construct, task: TaskName, props: TaskFunctionProps = {}) {
    const spec = TASKS[task];
    const role = new iam.Role(scope, `${pascal(task)}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `drift-remediation ${task}`,
    });
    const logGroup = new logs.LogGroup(scope, `${pascal(task)}Logs`, {
      retention: logs.RetentionDays.THREE_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [`${logGroup.logGroupArn}:*`],
      }),
    );
    if (spec.bundlesPolicy && !props.policyJsonPath) {
      throw new Error(`task ${task} bundles the policy: TaskFunctionProps.policyJsonPath is required`);
    }
    super(scope, `${pascal(task)}Function`, {
      code: taskCode(task, spec.bundlesPolicy ? props.policyJsonPath : undefined),
      handler: 'index.handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: spec.memorySize ?? 256,
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup,
      environment: { ...COMMON_ENV },
      description: `drift-remediation: ${task}`,
    });
    this.task = task;
    this.taskLogGroup = logGroup;
    this.taskRole = role;
    const cfn = this.node.defaultChild as lambda.CfnFunction;
    cfn.cfnOptions.metadata = { ...cfn.cfnOptions.metadata, [TASK_METADATA_KEY]: task };
    this.acknowledgeFindings();
  }

  private acknowledgeFindings(): void {
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to the Node.js 22 runtime the project tests against.',
    });
    const role = Validations.of(this.taskRole);
    const logsId = stableLogicalId(this.taskLogGroup.node.defaultChild as logs.CfnLogGroup);
    role.acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${logsId}.Arn>:*]`,
      reason: "Log streams of the function's own log group.",
    });
    role.acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'X-Ray PutTraceSegments/PutTelemetryRecords (tracing), and task actions IAM does not scope to a resource: Config compliance reads and StartConfigRulesEvaluation, Cloud Control GetResource, DescribeStackDriftDetectionStatus, ec2:Describe*.',
    });
    const kms =
      "CDK grant on the stack's one KMS key (table items, queue messages, topic messages, the secret).";
    role.acknowledge({ id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]', reason: kms });
    role.acknowledge({ id: 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]', reason: kms });
  }
}

/**
 * The task's code asset: `infra/bundling/bundle-cli.ts` run by `cdk synth` on this machine (esbuild's JS
 * API, so the SDK plugins run; the CDK's esbuild CLI bundling cannot run plugins). The asset hash is the
 * output's hash, and the build is deterministic, so unchanged code keeps its hash. There is no Docker
 * fallback (the image is never pulled): local bundling always answers. `environment` names the task and
 * the policy's content: the CDK caches staged assets per process by their bundling options, and a
 * function (the local bundler) is not part of that key.
 */
function taskCode(task: TaskName, policyJsonPath: string | undefined): lambda.Code {
  const policyHash = policyJsonPath
    ? createHash('sha256').update(readFileSync(policyJsonPath)).digest('hex').slice(0, 16)
    : 'none';
  return lambda.Code.fromAsset(REPO_ROOT, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('local-bundling-only'),
      environment: { DRIFT_REMEDIATION_TASK: task, POLICY_SHA256: policyHash },
      local: {
        tryBundle(outputDir: string): boolean {
          const cli = join(REPO_ROOT, 'infra', 'bundling', 'bundle-cli.ts');
          const args = [cli, task, outputDir, ...(policyJsonPath ? [policyJsonPath] : [])];
          execFileSync(process.execPath, ['--import', 'tsx', ...args], { cwd: REPO_ROOT, stdio: 'inherit' });
          return true;
        },
      },
    },
  });
}

/** Every TaskFunction under `scope`, by task; throws unless each task of ALL_TASKS has exactly one. */
export function taskFunctionsUnder(scope: IConstruct): Readonly<Record<TaskName, TaskFunction>> {
  const found = scope.node.findAll().filter((c): c is TaskFunction => c instanceof TaskFunction);
  const byTask = new Map(found.map((fn) => [fn.task, fn]));
  const missing = ALL_TASKS.filter((t) => !byTask.has(t));
  if (missing.length || byTask.size !== found.length) {
    throw new Error(`each task needs exactly one TaskFunction (missing: ${missing.join(', ') || 'none'})`);
  }
  return Object.fromEntries(byTask) as Record<TaskName, TaskFunction>;
}
