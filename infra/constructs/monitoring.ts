/** Monitoring: the alarm topic, alarms on failed executions, DLQ depth and failed remediations; a dashboard. */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { Outcome } from '../../tasks/shared/contracts';
import { Concern } from './logical-ids';
import { encryptedTopic } from './storage';
import { METRICS_NAMESPACE, SERVICE_NAME } from './task-function';

export interface MonitoringProps {
  /** Encrypts the alarm topic. */
  readonly key: kms.IKey;
  readonly stateMachine: sfn.StateMachine;
  readonly intakeQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** Functions whose errors the dashboard graphs, labelled by task, in this order. */
  readonly functions: readonly (lambda.IFunction & { readonly task: string })[];
  /**
   * Email address subscribed to the alarm topic.
   * @default no subscription (subscribe to the AlarmTopic yourself)
   */
  readonly alarmEmail?: string;
}

/** Outcomes graphed on the dashboard (the RemediationOutcome metric's `outcome` dimension). */
const OUTCOMES = Outcome.options;
const FIVE_MINUTES = Duration.minutes(5);

function outcomeMetric(outcome: string): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: METRICS_NAMESPACE,
    metricName: 'RemediationOutcome',
    dimensionsMap: { service: SERVICE_NAME, outcome },
    statistic: 'Sum',
    period: FIVE_MINUTES,
  });
}

export class Monitoring extends Concern {
  readonly alarmTopic: sns.Topic;
  readonly alarms: readonly cloudwatch.Alarm[];
  /** Other concerns add their rows (Notifications.monitorWith). */
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: MonitoringProps) {
    super(scope, id);
    this.alarmTopic = encryptedTopic(this, 'AlarmTopic', 'Drift remediation alarms', props.key);
    if (props.alarmEmail) this.alarmTopic.addSubscription(new subs.EmailSubscription(props.alarmEmail));
    const alarm = (name: string, alarmDescription: string, metric: cloudwatch.IMetric) =>
      new cloudwatch.Alarm(this, name, {
        alarmDescription,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    this.alarms = [
      alarm(
        'FailedExecutionsAlarm',
        'A remediation execution failed (outcome not recorded, or a non-success outcome)',
        props.stateMachine.metricFailed({ period: FIVE_MINUTES, statistic: 'Sum' }),
      ),
      alarm(
        'DeadLetterQueueAlarm',
        'Events that intake could not process are waiting in the dead-letter queue',
        props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period: FIVE_MINUTES,
          statistic: 'Maximum',
        }),
      ),
      alarm(
        'FailedRemediationsAlarm',
        'Remediations ended FAILED or NOT_VERIFIED',
        new cloudwatch.MathExpression({
          expression: 'FILL(failed, 0) + FILL(notVerified, 0)',
          usingMetrics: { failed: outcomeMetric('FAILED'), notVerified: outcomeMetric('NOT_VERIFIED') },
          period: FIVE_MINUTES,
        }),
      ),
    ];
    const action = new cwActions.SnsAction(this.alarmTopic);
    for (const a of this.alarms) a.addAlarmAction(action);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { widgets: this.widgets(props) });
  }

  private widgets(props: MonitoringProps): cloudwatch.IWidget[][] {
    const sm = props.stateMachine;
    return [
      [
        new cloudwatch.GraphWidget({
          title: 'Executions',
          left: [sm.metricStarted(), sm.metricSucceeded(), sm.metricFailed(), sm.metricTimedOut()],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: 'Remediation outcomes',
          left: OUTCOMES.map((o) => outcomeMetric(o).with({ label: o })),
          width: 12,
        }),
      ],
      [
        new cloudwatch.GraphWidget({
          title: 'Intake queue',
          left: [
            props.intakeQueue.metricApproximateNumberOfMessagesVisible(),
            props.intakeQueue.metricApproximateAgeOfOldestMessage(),
          ],
          right: [props.deadLetterQueue.metricApproximateNumberOfMessagesVisible()],
          width: 12,
        }),
        new cloudwatch.GraphWidget({
          title: 'Task errors',
          left: props.functions.map((fn) => fn.metricErrors({ label: fn.task })),
          width: 12,
        }),
      ],
      [new cloudwatch.AlarmStatusWidget({ title: 'Alarms', alarms: [...this.alarms], width: 24 })],
    ];
  }
}
