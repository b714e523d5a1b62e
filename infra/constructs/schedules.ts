/**
 * Schedules: EventBridge Scheduler runs the sweep (re-reads NON_COMPLIANT results of the policy's
 * Config rules, for events that never arrived) and the lease reaper (frees slots of executions that
 * are no longer running).
 */
import { Aws, Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as schedulerTargets from 'aws-cdk-lib/aws-scheduler-targets';
import type { Construct } from 'constructs';
import { ackIam5 } from './iam';
import { Concern, stableLogicalId } from './logical-ids';
import { TaskFunction } from './task-function';

export interface SchedulesProps {
  /** The policy's Config rules, passed to every sweep. */
  readonly configRules: readonly string[];
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
}

export class Schedules extends Concern {
  readonly sweep: TaskFunction;
  readonly reapLeases: TaskFunction;

  constructor(scope: Construct, id: string, props: SchedulesProps) {
    super(scope, id);
    this.sweep = new TaskFunction(this, 'sweep');
    this.reapLeases = new TaskFunction(this, 'reap-leases');
    const role = new iam.Role(this, 'SchedulerRole', {
      description: 'drift-remediation: EventBridge Scheduler invokes sweep and reap-leases',
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    });
    new scheduler.Schedule(this, 'SweepSchedule', {
      description: 'drift-remediation: re-read NON_COMPLIANT results of the policy rules',
      schedule: scheduler.ScheduleExpression.rate(props.sweepInterval ?? Duration.hours(1)),
      target: new schedulerTargets.LambdaInvoke(this.sweep, {
        role,
        input: scheduler.ScheduleTargetInput.fromObject({ configRules: props.configRules }),
        retryAttempts: 2,
      }),
    });
    new scheduler.Schedule(this, 'ReapLeasesSchedule', {
      description: 'drift-remediation: free leases of executions that are no longer running',
      schedule: scheduler.ScheduleExpression.rate(props.reapInterval ?? Duration.minutes(5)),
      target: new schedulerTargets.LambdaInvoke(this.reapLeases, {
        role,
        input: scheduler.ScheduleTargetInput.fromObject({}),
        retryAttempts: 2,
      }),
    });
    for (const fn of [this.sweep, this.reapLeases]) {
      ackIam5(
        role,
        `Resource::<${stableLogicalId(fn.node.defaultChild as lambda.CfnFunction)}.Arn>:*`,
        `Versions and aliases of the ${fn.task} function (lambda:InvokeFunction by the scheduler).`,
      );
    }
  }
}
