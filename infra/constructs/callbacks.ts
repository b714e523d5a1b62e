/**
 * Callbacks: how executions parked by task token (Start runbook, Wait for compliance) get their result.
 *   - wait-callback: EventBridge rules deliver SSM's "EC2 Automation Execution Status-change Notification"
 *     (terminal statuses) and Config's COMPLIANT "Config Rules Compliance Change" of the policy's rules;
 *   - reconcile-waits: an EventBridge schedule every `reconcileInterval`, the fallback for lost events
 *     (AWS delivers them best effort): a lost event costs at most one period;
 *   - abort-cleanup: the state machine's executions that ended ABORTED / TIMED_OUT / FAILED ("Step Functions
 *     Execution Status Change"): stops their automation, frees their slot, records ABORTED.
 * The WAITS table (Storage) holds the tokens; they never leave it and the SendTask* calls.
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type { Construct } from 'constructs';
import { ABORT_STATUSES, EXECUTION_STATUS_CHANGE } from '../../tasks/abort-cleanup/core';
import { RECONCILE_PERIOD_SECONDS } from '../../tasks/reconcile-waits/core';
import { TERMINAL_STATUSES } from '../../tasks/shared/runbook-status';
import { AUTOMATION_STATUS_CHANGE, COMPLIANCE_CHANGE } from '../../tasks/wait-callback/core';
import { Concern } from './logical-ids';
import { TaskFunction } from './task-function';

export interface CallbacksProps {
  /** Config rules whose COMPLIANT results end verification waits (none: no Config rule). */
  readonly configRules: readonly string[];
  /**
   * How often the reconciler compares waiting tokens with SSM and Config (the most a lost event costs).
   * @default Duration.seconds(RECONCILE_PERIOD_SECONDS) (2 minutes)
   */
  readonly reconcileInterval?: Duration;
  /** The state machine whose ended executions abort-cleanup cleans up after. */
  readonly stateMachineArn: string;
}

export class Callbacks extends Concern {
  readonly waitCallback: TaskFunction;
  readonly reconcileWaits: TaskFunction;
  readonly abortCleanup: TaskFunction;

  constructor(scope: Construct, id: string, props: CallbacksProps) {
    super(scope, id);
    this.waitCallback = new TaskFunction(this, 'wait-callback');
    this.reconcileWaits = new TaskFunction(this, 'reconcile-waits');
    const toCallback = new targets.LambdaFunction(this.waitCallback, { retryAttempts: 8 });
    new events.Rule(this, 'RunbookStatusRule', {
      description: 'SSM automations that ended: complete the runbook wait of their execution',
      eventPattern: {
        source: ['aws.ssm'],
        detailType: [AUTOMATION_STATUS_CHANGE],
        detail: { Status: [...TERMINAL_STATUSES] },
      },
      targets: [toCallback],
    });
    if (props.configRules.length) {
      new events.Rule(this, 'CompliantRule', {
        description: "COMPLIANT results of the policy's Config rules: complete verification waits",
        eventPattern: {
          source: ['aws.config'],
          detailType: [COMPLIANCE_CHANGE],
          detail: {
            messageType: ['ComplianceChangeNotification'],
            configRuleName: [...props.configRules],
            newEvaluationResult: { complianceType: ['COMPLIANT'] },
          },
        },
        targets: [toCallback],
      });
    }
    this.abortCleanup = new TaskFunction(this, 'abort-cleanup');
    new events.Rule(this, 'AbortedExecutionRule', {
      description:
        'Executions stopped, timed out or failed: stop their automation, free their slot, record ABORTED',
      eventPattern: {
        source: ['aws.states'],
        detailType: [EXECUTION_STATUS_CHANGE],
        detail: { stateMachineArn: [props.stateMachineArn], status: [...ABORT_STATUSES] },
      },
      targets: [new targets.LambdaFunction(this.abortCleanup, { retryAttempts: 8 })],
    });
    new events.Rule(this, 'ReconcileSchedule', {
      description: 'drift-remediation: complete waits whose event was lost',
      schedule: events.Schedule.rate(props.reconcileInterval ?? Duration.seconds(RECONCILE_PERIOD_SECONDS)),
      targets: [new targets.LambdaFunction(this.reconcileWaits, { retryAttempts: 2 })],
    });
  }
}
