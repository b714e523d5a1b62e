/**
 * Putting a notification on the notifications queue (Record outcome, Abort cleanup). Never fails the caller:
 * a refused or failed SendMessage is logged and counted (metric NotificationEnqueueFailed) and the
 * remediation's outcome stands. NOTIFY_OUTCOMES (infra: the union of the channels' outcome filters) says
 * which outcomes any channel hears, so the others send nothing.
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { type NotificationMessage, notificationTopic } from './notifications';
import { logger } from './powertools';

export interface NotifyTarget {
  sqs: () => SQSClient;
  /** NOTIFY_QUEUE_URL; empty: notifications are off. */
  queueUrl: string;
  /** NOTIFY_OUTCOMES, comma-separated: the outcomes (and `approval.requested`) some channel hears. */
  outcomes: string;
  /** Counts a failed enqueue (Powertools Metrics); absent: logged only. */
  countFailure?: () => void;
}

/** The target from the environment (unset variables: notifications off). */
export function notifyTargetFromEnv(
  sqs: () => SQSClient,
  env: NodeJS.ProcessEnv = process.env,
): NotifyTarget {
  return { sqs, queueUrl: env.NOTIFY_QUEUE_URL ?? '', outcomes: env.NOTIFY_OUTCOMES ?? '' };
}

/** True when some channel hears `topic` (an outcome, or `approval.requested`). */
export function wantsNotification(target: NotifyTarget | undefined, topic: string): boolean {
  return !!target?.queueUrl && target.outcomes.split(',').includes(topic);
}

/** Sends `message` when a channel hears its outcome (or kind). True when it was enqueued. */
export async function enqueueNotification(
  target: NotifyTarget | undefined,
  message: NotificationMessage,
): Promise<boolean> {
  const topic = notificationTopic(message);
  if (!target || !wantsNotification(target, topic)) return false;
  try {
    await target.sqs().send(
      new SendMessageCommand({
        QueueUrl: target.queueUrl,
        MessageBody: JSON.stringify(message),
        MessageAttributes: { outcome: { DataType: 'String', StringValue: topic } },
      }),
    );
    return true;
  } catch (err) {
    target.countFailure?.();
    logger.warn('notification not enqueued; the outcome stands', {
      deliveryId: message.deliveryId,
      errorName: (err as Error).name,
      errorMessage: (err as Error).message,
    });
    return false;
  }
}
