/**
 * TaskFunction: the one way this project builds a Lambda for a task — `tasks/<task>/handler.ts` bundled
 * as minified ESM with source maps (TASK_BUNDLING), Node 22 on arm64, X-Ray active tracing, its own role and log group, the shared
 * Powertools environment, and the `drift-remediation:task` metadata the sandbox installer maps to a handler.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, IConstruct } from 'constructs';
import { FUNCTION_TIMEOUT_SECONDS } from '../../workflows/remediation';
import { stableLogicalId } from './logical-ids';
import { ALL_TASKS, TASKS, type TaskName } from './tasks';

export { bundledPolicyFor, writeBundledPolicy } from '../bundled-policy';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** CloudFormation Metadata key naming a function's task (the sandbox installer maps functions to handlers by it). */
export const TASK_METADATA_KEY = 'drift-remediation:task';
/** Where the policy JSON lands inside the bundles of tasks with `bundlesPolicy`, and what POLICY_FILE says. */
export const BUNDLED_POLICY_FILE = '/var/task/policy.json';
export const METRICS_NAMESPACE = 'DriftRemediation';
export const SERVICE_NAME = 'drift-remediation';
/** ESM output still needs `require` for the few CommonJS dependencies esbuild leaves as requires. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __drCreateRequire } from 'node:module'; const require = __drCreateRequire(import.meta.url);";
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

export class TaskFunction extends nodejs.NodejsFunction {
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
      entry: join(REPO_ROOT, 'tasks', task, 'handler.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: spec.memorySize ?? 256,
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
      tracing: lambda.Tracing.ACTIVE,
      role,
      logGroup,
      environment: { ...COMMON_ENV },
      description: `drift-remediation: ${task}`,
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      bundling: taskBundling(spec.bundlesPolicy ? props.policyJsonPath : undefined),
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
 * SDK modules imported only by a dynamic `import()` on a path a Lambda function never takes, so they are
 * left out of the bundles (about 80 KB and 30 ms of init each; the SDK's own code stays bundled):
 * - the credential providers after `fromEnv` in the default chain (SSO, ini profiles, credential_process,
 *   web identity token file, container/instance metadata, `aws login`) and the STS/SSO/sign-in clients
 *   they build: Lambda always sets AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN, which the
 *   chain's first link (`fromEnv`) returns;
 * - event-stream serde, loaded only for operations with an event-stream member (no task calls one).
 * test/infra/bundle-budget.test.ts checks that no bundle imports any of them statically, and the bench
 * imports every bundle from a directory without node_modules.
 */
export const SDK_UNREACHED_IN_LAMBDA = [
  '@aws-sdk/credential-provider-sso',
  '@aws-sdk/credential-provider-ini',
  '@aws-sdk/credential-provider-process',
  '@aws-sdk/credential-provider-web-identity',
  '@aws-sdk/credential-provider-http',
  '@aws-sdk/credential-provider-login',
  '@aws-sdk/nested-clients',
  '@aws-sdk/token-providers',
  '@smithy/credential-provider-imds',
  '@smithy/core/event-streams',
] as const;

/**
 * The esbuild options of every task bundle (test/bench/bundles.ts bundles with exactly these to measure
 * size and init time; keep them here, one source of truth).
 *
 * - The AWS SDK is bundled (`externalModules: []`), not taken from the nodejs22.x runtime: what is
 *   tested (package-lock) is what runs, and a bundled, tree-shaken client initialises about 4x faster
 *   (CPU) than the runtime's unbundled one (docs/operations.md "Bundles").
 * - Source maps stay in the asset, without the sources' text (`sourcesContent: false`: about 60 %
 *   smaller), but Node does not load them at init (no `--enable-source-maps`, ~25 ms of CPU per cold
 *   start): a failing task's logged stacks are mapped when it fails (tasks/shared/stack-trace.ts).
 * - Left out (`externalModules`): only SDK_UNREACHED_IN_LAMBDA, the modules the SDK loads lazily, with a
 *   dynamic `import()`, on paths a Lambda function never takes (see there).
 */
export const TASK_BUNDLING = {
  format: nodejs.OutputFormat.ESM,
  target: 'node22',
  sourceMap: true,
  sourceMapMode: nodejs.SourceMapMode.DEFAULT,
  sourcesContent: false,
  minify: true,
  mainFields: ['module', 'main'],
  banner: ESM_REQUIRE_BANNER,
  externalModules: [...SDK_UNREACHED_IN_LAMBDA],
  forceDockerBundling: false,
  logLevel: nodejs.LogLevel.ERROR,
} as const satisfies nodejs.BundlingOptions;

function taskBundling(policyJsonPath: string | undefined): nodejs.BundlingOptions {
  return {
    ...TASK_BUNDLING,
    mainFields: [...TASK_BUNDLING.mainFields],
    externalModules: [...TASK_BUNDLING.externalModules],
    ...(policyJsonPath
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
  };
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
