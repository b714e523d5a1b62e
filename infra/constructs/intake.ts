/**
 * Intake: the EventBridge rules (NON_COMPLIANT and COMPLIANT results of the policy's Config rules, DRIFTED stacks,
 * manual start requests),
 * the KMS-encrypted intake queue with its dead-letter queue, and the intake function reading the queue.
 */
import { Aws } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { MANUAL_DETAIL_TYPE, MANUAL_SOURCE } from '../../tasks/shared/manual-start';
import { Concern } from './logical-ids';
import { TaskFunction } from './task-function';
import { workQueue } from './work-queue';

export interface IntakeProps {
  /** Encrypts both queues. */
  readonly key: kms.IKey;
  /** Config rules whose NON_COMPLIANT results start remediations (none: no Config rule). */
  readonly configRules: readonly string[];
  /** The normalized policy JSON intake bundles (`writeBundledPolicy`). */
  readonly policyJsonPath: string;
}

export class Intake extends Concern {
  readonly queue: sqs.Queue;
  /** Events intake could not process (alarmed). */
  readonly deadLetterQueue: sqs.Queue;
  readonly function: TaskFunction;

  constructor(scope: Construct, id: string, props: IntakeProps) {
    super(scope, id);
    ({ queue: this.queue, deadLetterQueue: this.deadLetterQueue } = workQueue(this, 'Intake', props.key, 5));
    for (const q of [this.queue, this.deadLetterQueue]) denyOtherAccountsRules(q);
    this.function = new TaskFunction(this, 'intake', { policyJsonPath: props.policyJsonPath });
    this.function.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 10, reportBatchItemFailures: true }),
    );
    this.addRules(props.configRules);
  }

  private addRules(configRules: readonly string[]): void {
    const toQueue = new targets.SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue });
    if (configRules.length) {
      new events.Rule(this, 'ConfigComplianceRule', {
        // COMPLIANT too: intake's ordering guard records them (an older NON_COMPLIANT delivered late then
        // starts nothing); they never start a remediation.
        description: "Compliance changes of the remediation policy's Config rules",
        eventPattern: {
          source: ['aws.config'],
          detailType: ['Config Rules Compliance Change'],
          detail: {
            messageType: ['ComplianceChangeNotification'],
            configRuleName: [...configRules],
            newEvaluationResult: { complianceType: ['NON_COMPLIANT', 'COMPLIANT'] },
          },
        },
        targets: [toQueue],
      });
    }
    // Manual starts (`drift-remediation remediate`, docs/operations.md): PutEvents on the default bus.
    new events.Rule(this, 'ManualStartRule', {
      description: 'Manual remediation requests (drift-remediation remediate)',
      eventPattern: { source: [MANUAL_SOURCE], detailType: [MANUAL_DETAIL_TYPE] },
      targets: [toQueue],
    });
    new events.Rule(this, 'StackDriftRule', {
      description: 'CloudFormation stacks whose drift detection found DRIFTED',
      eventPattern: {
        source: ['aws.cloudformation'],
        detailType: ['CloudFormation Drift Detection Status Change'],
        detail: { 'status-details': { 'stack-drift-status': ['DRIFTED'] } },
      },
      targets: [toQueue],
    });
  }
}

/**
 * The SqsQueue event target grants events.amazonaws.com SendMessage on a KMS queue without a source
 * condition; only this account's rules may deliver.
 */
function denyOtherAccountsRules(q: sqs.Queue): void {
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
