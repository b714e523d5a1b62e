/**
 * Workflow: the remediation state machine (workflows/remediation.ts), one TaskFunction per state machine
 * step, and the topic the outcome step publishes to.
 */
import { RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { remediationDefinition, WORKFLOW_TASKS, type WorkflowTask } from '../../workflows/remediation';
import type { ArnContext } from '../runbook-permissions';
import { ARN_CONTEXT, ackIam5, allow, NAG_ARN_CONTEXT } from './iam';
import { Concern, stableLogicalId } from './logical-ids';
import { encryptedTopic } from './storage';
import { TaskFunction } from './task-function';

export interface WorkflowProps {
  /** Encrypts the outcome topic. */
  readonly key: kms.IKey;
  /** The normalized policy JSON for the tasks that bundle it (`writeBundledPolicy`). */
  readonly policyJsonPath: string;
  /** Prefix of the state machine's name (DriftRemediationProps.namePrefix). @default '' */
  readonly namePrefix?: string;
}

export class Workflow extends Concern {
  readonly functions: Readonly<Record<WorkflowTask, TaskFunction>>;
  readonly stateMachine: sfn.StateMachine;
  /**
   * Fixed, so policies can name the state machine without referencing it (the approval endpoint's
   * SendTask* grant would otherwise close a cycle: state machine → request-approval → URL → endpoint).
   */
  readonly stateMachineName: string;
  /** Outcomes that need a human. */
  readonly outcomeTopic: sns.Topic;

  constructor(scope: Construct, id: string, props: WorkflowProps) {
    super(scope, id);
    this.outcomeTopic = encryptedTopic(this, 'OutcomeTopic', 'Drift remediation outcomes', props.key);
    this.functions = Object.fromEntries(
      WORKFLOW_TASKS.map((task) => [
        task,
        new TaskFunction(this, task, { policyJsonPath: props.policyJsonPath }),
      ]),
    ) as Record<WorkflowTask, TaskFunction>;
    this.stateMachineName = `${props.namePrefix ?? ''}${Stack.of(this).stackName}-Remediation`;
    const smLogs = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: logs.RetentionDays.SIX_MONTHS,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: this.stateMachineName,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: remediationDefinition(this, this.functions),
      tracingEnabled: true,
      logs: { destination: smLogs, level: sfn.LogLevel.ERROR, includeExecutionData: false },
    });
    this.acknowledgeFindings();
  }

  private acknowledgeFindings(): void {
    Validations.of(this.stateMachine).acknowledge({
      id: 'AwsSolutions-SF1',
      reason:
        'Logs at ERROR without execution data on purpose: inputs carry approval task tokens and resource details that must not reach logs; the execution history has the rest.',
    });
    ackIam5(
      this.stateMachine,
      'Resource::*',
      'X-Ray and CloudWatch Logs delivery actions accept no resource ARN.',
    );
    for (const [task, fn] of Object.entries(this.functions)) {
      ackIam5(
        this.stateMachine,
        `Resource::<${stableLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*`,
        `Versions and aliases of the ${task} function (lambda:InvokeFunction by the state machine).`,
      );
    }
  }

  private executionsArn(ctx: ArnContext): string {
    return `arn:${ctx.partition}:states:${ctx.region}:${ctx.account}:execution:${this.stateMachineName}:*`;
  }

  /** states:DescribeExecution on this state machine's executions only; `why` goes into the acknowledgement. */
  grantDescribeExecutions(role: iam.Role, why: string): void {
    this.grantOnExecutions(role, 'states:DescribeExecution', why);
  }

  /** states:ListExecutions on this state machine only (its ARN by name: no reference, no cycle). */
  grantListExecutions(role: iam.Role): void {
    const { partition, region, account } = ARN_CONTEXT;
    allow(
      role,
      ['states:ListExecutions'],
      [`arn:${partition}:states:${region}:${account}:stateMachine:${this.stateMachineName}`],
    );
  }

  /** states:GetExecutionHistory on this state machine's executions only (by name: no reference, no cycle). */
  grantExecutionHistory(role: iam.Role, why: string): void {
    this.grantOnExecutions(role, 'states:GetExecutionHistory', why);
  }

  private grantOnExecutions(role: iam.Role, action: string, why: string): void {
    allow(role, [action], [this.executionsArn(ARN_CONTEXT)]);
    ackIam5(
      role,
      `Resource::${this.executionsArn(NAG_ARN_CONTEXT)}`,
      `${action.replace('states:', '')} of this state machine's executions only (${why}).`,
    );
  }

  /**
   * SendTaskSuccess/Failure/Heartbeat. IAM documents no resource type for them (the task token is the
   * credential), so only `Resource: *` grants them: a state machine ARN here is refused in AWS (as CDK's
   * own grantTaskResponse is, aws-cdk discussion 26401) and by the sandbox's IAM enforcement.
   */
  grantTaskResponses(role: iam.Role): void {
    allow(role, ['states:SendTaskSuccess', 'states:SendTaskFailure', 'states:SendTaskHeartbeat'], ['*']);
    ackIam5(
      role,
      'Resource::*',
      'states:SendTask* support no resource-level permissions; a task token only answers the task it was issued for.',
    );
  }
}
