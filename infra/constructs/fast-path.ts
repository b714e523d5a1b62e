/**
 * FastPath: the CloudTrail fast path. An EventBridge rule matches the "AWS API Call via CloudTrail" events of
 * the mutating calls that can drift the resource types the policy's entries name — the eventName list is
 * derived from the policy (tasks/fast-path/calls.ts `fastPathCalls`), never written here — and invokes the
 * fast-path function, which checks the suspected drift at once and sends real drifts to the intake queue.
 * Failed deliveries and invocations end in the intake dead-letter queue (alarmed).
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { CLOUDTRAIL_DETAIL_TYPE, fastPathCalls } from '../../tasks/fast-path/calls';
import type { NormalizedPolicy } from '../../tasks/shared/policy/schema';
import { Concern } from './logical-ids';
import { TaskFunction } from './task-function';

export interface FastPathProps {
  readonly policy: NormalizedPolicy;
  /** The normalized policy JSON the function bundles (`writeBundledPolicy`). */
  readonly policyJsonPath: string;
  /** Where undeliverable events and failed invocations go. */
  readonly deadLetterQueue: sqs.IQueue;
}

export class FastPath extends Concern {
  readonly function: TaskFunction;
  /** Undefined when the policy disables the fast path or names no type with drifting calls. */
  readonly rule?: events.Rule;

  constructor(scope: Construct, id: string, props: FastPathProps) {
    super(scope, id);
    this.function = new TaskFunction(this, 'fast-path', { policyJsonPath: props.policyJsonPath });
    this.function.configureAsyncInvoke({
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
      onFailure: new SqsDestination(props.deadLetterQueue),
    });
    const calls = fastPathCalls(props.policy);
    if (props.policy.fastPath?.enabled === false || calls.eventNames.length === 0) return;
    this.rule = new events.Rule(this, 'CloudTrailCallRule', {
      description: "Mutating API calls (CloudTrail) that can drift the remediation policy's resource types",
      eventPattern: {
        source: calls.sources,
        detailType: [CLOUDTRAIL_DETAIL_TYPE],
        detail: { eventSource: calls.eventSources, eventName: calls.eventNames },
      },
      targets: [
        new targets.LambdaFunction(this.function, {
          deadLetterQueue: props.deadLetterQueue,
          retryAttempts: 4,
          maxEventAge: Duration.hours(1),
        }),
      ],
    });
  }
}
