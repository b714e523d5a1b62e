/**
 * DriftRemediation: the whole loop — events → SQS → intake → the remediation state machine → SSM
 * Automation runbooks — composed from one construct per concern (infra/constructs/). Everything is
 * derived from the remediation policy and the runbooks directory. This file only loads those, wires
 * the constructs together, gives each function its environment and applies the grants of TASKS.
 */
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ENV } from '../tasks/shared/env';
import { AWS_MANAGED_TABLE_FILE, loadAwsManagedTable } from '../tasks/shared/policy/aws-managed';
import { loadPolicyFile } from '../tasks/shared/policy/load';
import { withNamePrefix } from '../tasks/shared/policy/prefix';
import type { NormalizedPolicy } from '../tasks/shared/policy/schema';
import { Approvals } from './constructs/approvals';
import { Callbacks } from './constructs/callbacks';
import { ConfigRules } from './constructs/config-rules';
import { FastPath } from './constructs/fast-path';
import { Intake } from './constructs/intake';
import { keepStableLogicalIds } from './constructs/logical-ids';
import { ManualStart } from './constructs/manual-start';
import { grantMemberAccess } from './constructs/member-access';
import { OrganizationBus } from './constructs/member-bus';
import { Monitoring } from './constructs/monitoring';
import { Notifications } from './constructs/notifications';
import { Runbooks } from './constructs/runbooks';
import { Schedules } from './constructs/schedules';
import { Storage } from './constructs/storage';
import {
  BUNDLED_POLICY_FILE,
  bundledPolicyFor,
  COMMON_ENV,
  REPO_ROOT,
  type TaskFunction,
  taskFunctionsUnder,
} from './constructs/task-function';
import { ALL_TASKS, type EnvKey, TASK_ENV, TASKS, type TaskName } from './constructs/tasks';
import { Workflow } from './constructs/workflow';
import { loadRunbooks } from './runbook-permissions';

// What tests, the sandbox installer and the bench import from here.
export {
  BUNDLED_POLICY_FILE,
  bundledPolicyFor,
  ESM_REQUIRE_BANNER,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  TASK_METADATA_KEY,
} from './constructs/task-function';
export { ALL_TASKS, TASK_ENV, TASKS, type TaskName } from './constructs/tasks';

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
   * How often the reconciler completes waits whose SSM or Config event was lost (the most a lost event costs).
   * @default Duration.minutes(2)
   */
  readonly reconcileInterval?: Duration;
  /**
   * Removal policy of the tables (outcomes are the audit trail).
   * @default RemovalPolicy.RETAIN
   */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /**
   * Prefix of the account-level names this stack creates: the Config rules it deploys are named
   * `${namePrefix}${name}` (rules the policy adopts with `deploy: false` keep theirs), the first-party SSM
   * documents `${namePrefix}DriftRemediation-…` (AWS-managed documents keep theirs), the state machine
   * `${namePrefix}${stackName}-Remediation`; so a second deployment or an existing rule or document of the
   * same name does not collide. Up to 32 of `A-Za-z0-9_.-`, not beginning with aws, amazon or amzn.
   * Also `cdk synth -c namePrefix=…`.
   * @default '' (the policy's names)
   */
  readonly namePrefix?: string;
}

export class DriftRemediation extends Construct {
  readonly policy: NormalizedPolicy;
  readonly storage: Storage;
  readonly approvals: Approvals;
  readonly runbooks: Runbooks;
  readonly workflow: Workflow;
  readonly intake: Intake;
  readonly notifications: Notifications;
  readonly fastPath: FastPath;
  /** The authenticated entry for manual starts (Function URL, AWS_IAM). */
  readonly manualStart: ManualStart;
  readonly schedules: Schedules;
  readonly callbacks: Callbacks;
  readonly configRules: ConfigRules;
  readonly monitoring: Monitoring;
  /** The central bus of the member stacks (only with an organization section in the policy). */
  readonly organizationBus?: OrganizationBus;
  /** Every task's function, by task. */
  readonly functions: Readonly<Record<TaskName, TaskFunction>>;
  /** The environment every function draws from (key → value). */
  readonly environment: Readonly<Record<string, string>>;

  constructor(scope: Construct, id: string, props: DriftRemediationProps = {}) {
    super(scope, id);
    const policyFile = resolve(props.policyFile ?? join(REPO_ROOT, 'runbooks/policy.yaml'));
    const runbooksDir = resolve(props.runbooksDir ?? join(REPO_ROOT, 'runbooks'));
    const runbooks = loadRunbooks(runbooksDir, basename(policyFile));
    // The reviewed AWS-managed runbook table: the runbooks directory's own, else this repository's.
    const tableFile = [runbooksDir, join(REPO_ROOT, 'runbooks')]
      .map((d) => join(d, AWS_MANAGED_TABLE_FILE))
      .find((f) => existsSync(f));
    const awsManaged = tableFile ? loadAwsManagedTable(tableFile) : undefined;
    const namePrefix = props.namePrefix ?? '';
    this.policy = withNamePrefix(
      loadPolicyFile(policyFile, {
        knownRunbooks: runbooks.map((r) => r.name),
        ...(awsManaged ? { awsManaged } : {}),
      }),
      namePrefix,
    );
    const policyJsonPath = bundledPolicyFor(policyFile);
    const configRules = [...new Set(this.policy.entries.flatMap((e) => e.configRules))].sort();

    // One construct per concern; each is a `Concern`, so its resources keep their pre-split logical IDs.
    this.storage = new Storage(this, 'Storage', { tableRemovalPolicy: props.tableRemovalPolicy });
    const key = this.storage.key;
    this.approvals = new Approvals(this, 'Approvals', { key, approvalBaseUrl: props.approvalBaseUrl });
    this.runbooks = new Runbooks(this, 'Runbooks', {
      runbooks,
      policy: this.policy,
      namePrefix,
      ...(awsManaged ? { awsManaged } : {}),
    });
    this.workflow = new Workflow(this, 'Workflow', { key, policyJsonPath, namePrefix });
    this.intake = new Intake(this, 'Intake', { key, configRules, policyJsonPath });
    this.notifications = new Notifications(this, 'Notifications', {
      key,
      policy: this.policy,
      policyJsonPath,
    });
    this.fastPath = new FastPath(this, 'FastPath', {
      policy: this.policy,
      policyJsonPath,
      deadLetterQueue: this.intake.deadLetterQueue,
    });
    this.manualStart = new ManualStart(this, 'ManualStart');
    this.schedules = new Schedules(this, 'Schedules', {
      configRules,
      sweepInterval: props.sweepInterval,
      reapInterval: props.reapInterval,
    });
    this.callbacks = new Callbacks(this, 'Callbacks', {
      configRules,
      reconcileInterval: props.reconcileInterval,
      stateMachineArn: this.workflow.stateMachine.stateMachineArn,
    });
    this.configRules = new ConfigRules(this, 'ConfigRules', { policy: this.policy, runbooks: this.runbooks });
    this.functions = taskFunctionsUnder(this);
    this.monitoring = new Monitoring(this, 'Monitoring', {
      key,
      stateMachine: this.workflow.stateMachine,
      intakeQueue: this.intake.queue,
      deadLetterQueue: this.intake.deadLetterQueue,
      functions: ALL_TASKS.map((t) => this.functions[t]),
      alarmEmail: props.alarmEmail,
    });
    this.notifications.monitorWith(this.monitoring);
    keepStableLogicalIds(this);

    this.environment = { ...COMMON_ENV, ...this.wireEnvironment(configRules, namePrefix) };
    for (const task of ALL_TASKS) TASKS[task].grant(this.functions[task], this);
    grantMemberAccess(this.functions, this.policy);
    // Organization scale: the bus the member stacks forward to (admits only the organization).
    const org = this.policy.organization;
    if (org)
      this.organizationBus = new OrganizationBus(this, 'OrganizationBus', {
        organizationId: org.id,
        namePrefix,
      });
    // Last, when every resource exists: the runbooks may never touch this stack's own resources.
    this.runbooks.protectOwnResources();
  }

  /** One value per env key, shared by every function; each function gets the keys TASK_ENV lists. */
  private wireEnvironment(configRules: readonly string[], namePrefix: string): Record<string, string> {
    const t = this.storage.tables;
    const environment: Partial<Record<EnvKey, string>> = {
      [ENV.LEASES_TABLE]: t.leases.tableName,
      [ENV.SLOT_QUEUE_TABLE]: t.slotQueue.tableName,
      [ENV.APPROVALS_TABLE]: t.approvals.tableName,
      [ENV.OUTCOMES_TABLE]: t.outcomes.tableName,
      [ENV.ORDERING_TABLE]: t.ordering.tableName,
      [ENV.WAITS_TABLE]: t.waits.tableName,
      [ENV.STATE_MACHINE_ARN]: this.workflow.stateMachine.stateMachineArn,
      [ENV.APPROVAL_TOPIC_ARN]: this.approvals.topic.topicArn,
      [ENV.OUTCOME_TOPIC_ARN]: this.workflow.outcomeTopic.topicArn,
      [ENV.APPROVAL_BASE_URL]: this.approvals.baseUrl,
      [ENV.SIGNING_SECRET_ARN]: this.approvals.signingSecret.secretArn,
      [ENV.AUTOMATION_ASSUME_ROLE_ARN]: this.runbooks.automationAssumeRole.roleArn,
      [ENV.POLICY_FILE]: BUNDLED_POLICY_FILE,
      [ENV.CONFIG_RULES]: configRules.join(','),
      [ENV.NAME_PREFIX]: namePrefix,
      [ENV.INTAKE_QUEUE_URL]: this.intake.queue.queueUrl,
      [ENV.NOTIFY_QUEUE_URL]: this.notifications.queue.queueUrl,
      [ENV.NOTIFY_OUTCOMES]: this.notifications.outcomes.join(','),
      // The roles whose calls the CloudTrail fast path never fights: the automation role and every task role.
      [ENV.FAST_PATH_OWN_ROLES]: [
        this.runbooks.automationAssumeRole.roleName,
        ...ALL_TASKS.map((t) => this.functions[t].taskRole.roleName),
      ].join(','),
    };
    for (const task of ALL_TASKS) {
      for (const k of TASK_ENV[task]) {
        const v = environment[k];
        if (v === undefined) throw new Error(`no value for env ${k} (task ${task})`);
        this.functions[task].addEnvironment(k, v);
      }
    }
    return environment as Record<string, string>;
  }
}
