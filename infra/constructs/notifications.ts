/**
 * Notifications: the KMS-encrypted notifications queue (Record outcome and Abort cleanup put one message per
 * outcome a channel hears, Request approval one per approval request), its dead-letter queue with a depth alarm, the notify function that delivers
 * to Slack and signed webhooks (docs/operations.md "Notifications"), and per channel an alarm on its
 * NotificationDeliveryFailed metric; `monitorWith` adds a dashboard row. Delivery is off the remediation's
 * path: nothing here is called by the state machine.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { NOTIFY_MAX_RECEIVE_COUNT } from '../../tasks/shared/notifications';
import { heardTopics } from '../../tasks/shared/notifications-policy';
import type { NormalizedPolicy } from '../../tasks/shared/policy/schema';
import type { ArnContext } from '../runbook-permissions';
import { ARN_CONTEXT, ackIam5, allow, NAG_ARN_CONTEXT } from './iam';
import { Concern } from './logical-ids';
import type { Monitoring } from './monitoring';
import { METRICS_NAMESPACE, SERVICE_NAME, TaskFunction } from './task-function';
import { workQueue } from './work-queue';

export interface NotificationsProps {
  /** Encrypts both queues. */
  readonly key: kms.IKey;
  /** Its `notifications` section names the channels' secrets and outcome filters. */
  readonly policy: NormalizedPolicy;
  /** The normalized policy JSON the notify function bundles. */
  readonly policyJsonPath: string;
}

/** A secret the policy names → the ARN(s) IAM must name: an ARN with its 6-character suffix as it is, else `<name>-??????`. */
export function secretArnFor(ref: string, ctx: ArnContext = ARN_CONTEXT): string {
  if (ref.startsWith('arn:')) return /-[A-Za-z0-9]{6}$/.test(ref) ? ref : `${ref}-??????`;
  return `arn:${ctx.partition}:secretsmanager:${ctx.region}:${ctx.account}:secret:${ref}-??????`;
}

/** A notify metric of one channel (Powertools: the `service` and `channel` dimensions), summed per 5 minutes. */
function deliveryMetric(metricName: string, channel: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: { service: SERVICE_NAME, channel },
    statistic: 'Sum',
    period: Duration.minutes(5),
  });
}

export class Notifications extends Concern {
  readonly queue: sqs.Queue;
  /** Notifications that could not be delivered after NOTIFY_MAX_RECEIVE_COUNT receives (alarmed). */
  readonly deadLetterQueue: sqs.Queue;
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Per channel: its deliveries failed in 2 of the last 3 five-minute periods. */
  readonly deliveryAlarms: readonly cloudwatch.Alarm[];
  readonly function: TaskFunction;
  private readonly channelNames: readonly string[];
  /** The outcomes (and `approval.requested`) any channel hears (NOTIFY_OUTCOMES); empty: nothing is enqueued. */
  readonly outcomes: readonly string[];
  private readonly secrets: readonly string[];

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    const channels = props.policy.notifications?.channels ?? [];
    this.outcomes = heardTopics(props.policy.notifications);
    this.secrets = [...new Set(channels.map((c) => c.secret))];
    this.channelNames = channels.map((c) => c.name);
    // SQS redelivery (after the visibility timeout) is also the pause between delivery rounds.
    ({ queue: this.queue, deadLetterQueue: this.deadLetterQueue } = workQueue(
      this,
      'Notifications',
      props.key,
      NOTIFY_MAX_RECEIVE_COUNT,
    ));
    this.function = new TaskFunction(this, 'notify', { policyJsonPath: props.policyJsonPath });
    this.function.addEventSource(
      new SqsEventSource(this.queue, { batchSize: 5, reportBatchItemFailures: true }),
    );
    this.deadLetterAlarm = new cloudwatch.Alarm(this, 'NotificationsDeadLetterAlarm', {
      alarmDescription:
        'Notifications (Slack / webhook) that could not be delivered are in the dead-letter queue',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(5),
        statistic: 'Maximum',
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.deliveryAlarms = this.channelNames.map(
      (name) =>
        new cloudwatch.Alarm(this, `NotificationDeliveryFailedAlarm-${name}`, {
          alarmDescription: `Notifications to channel ${name} keep failing (NotificationDeliveryFailed in 2 of the last 3 five-minute periods)`,
          metric: deliveryMetric('NotificationDeliveryFailed', name),
          threshold: 1,
          evaluationPeriods: 3,
          datapointsToAlarm: 2,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
    );
  }

  /** The alarms notify the alarm topic; the dashboard gets a row: deliveries per channel and the DLQ depth. */
  monitorWith(monitoring: Monitoring): void {
    const action = new SnsAction(monitoring.alarmTopic);
    for (const a of [this.deadLetterAlarm, ...this.deliveryAlarms]) a.addAlarmAction(action);
    monitoring.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Notification deliveries',
        left: this.channelNames.flatMap((name) => [
          deliveryMetric('NotificationDelivered', name).with({ label: `${name} delivered` }),
          deliveryMetric('NotificationDeliveryFailed', name).with({ label: `${name} failed` }),
        ]),
        right: [this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'in the DLQ' })],
        width: 24,
      }),
    );
  }

  /** The notify role: GetSecretValue on exactly the channels' secrets (none: no statement). */
  grantChannelSecrets(role: iam.Role): void {
    if (!this.secrets.length) return;
    allow(
      role,
      ['secretsmanager:GetSecretValue'],
      this.secrets.map((s) => secretArnFor(s)),
    );
    for (const s of this.secrets) {
      const arn = secretArnFor(s, NAG_ARN_CONTEXT);
      if (arn.endsWith('-??????'))
        ackIam5(
          role,
          `Resource::${arn}`,
          'A secret named in the policy: Secrets Manager appends a random 6-character suffix to its ARN; ?????? matches only that suffix',
        );
    }
  }
}
