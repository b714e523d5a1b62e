/**
 * The policy's `notifications` section (docs/policy.md, docs/operations.md "Notifications"): the channels
 * and which outcomes each hears. Its own small module: the policy schema (and so every bundle that loads the
 * policy) needs only this, not the message contract (tasks/shared/notifications.ts).
 */

import * as v from 'valibot';
import { OUTCOME_NAMES } from './outcome-names';

/** Every outcome a notification can be about: the workflow's outcomes and abort-cleanup's ABORTED. */
export const NOTIFIABLE_OUTCOMES = [...OUTCOME_NAMES, 'ABORTED'] as const;
export type NotifiableOutcome = (typeof NOTIFIABLE_OUTCOMES)[number];
/** A channel without an `outcomes` list hears these (the outcomes the SNS topic also tells). */
export const DEFAULT_CHANNEL_OUTCOMES: readonly NotifiableOutcome[] = [
  'ESCALATED',
  'REJECTED',
  'EXPIRED',
  'FAILED',
  'NOT_VERIFIED',
  'ABORTED',
];
/**
 * The kind of an approval request's notification, and its entry in NOTIFY_OUTCOMES (the outcomes — and this —
 * that some channel hears). Channels hear it unless they say `approvalRequests: false`.
 */
export const APPROVAL_REQUESTED = 'approval.requested';
const HttpUrl = v.pipe(
  v.string(),
  v.maxLength(2048),
  v.regex(/^https?:\/\/[^\s/?#]+[^\s]*$/, 'must be an http(s) URL'),
);
/** A Secrets Manager secret: its name or its ARN. */
export const SecretRef = v.pipe(
  v.string(),
  v.regex(
    /^(arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}|[A-Za-z0-9/_+=.@-]{1,512})$/,
    'must be a Secrets Manager secret name or ARN',
  ),
);
const ChannelName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 of A-Za-z0-9_-'));
const Outcomes = v.optional(v.pipe(v.array(v.picklist(NOTIFIABLE_OUTCOMES)), v.minLength(1)), () => [
  ...DEFAULT_CHANNEL_OUTCOMES,
]);

/**
 * A channel. `slack`: the secret's value is the incoming-webhook URL (it is the credential, so it lives only
 * there). `webhook`: JSON POSTed to `url`, signed with the secret's value (at least 32 bytes) as the HMAC key.
 * One object with a check rather than a discriminated union: the same clear errors for ~2 KB less in every
 * bundle that loads the policy.
 */
export const NotificationChannel = v.pipe(
  v.strictObject({
    name: ChannelName,
    type: v.picklist(['slack', 'webhook']),
    url: v.optional(HttpUrl),
    secret: SecretRef,
    outcomes: Outcomes,
    /** Also hear approval requests (summary, risk, diff, deadline, a read-only Review button). */
    approvalRequests: v.optional(v.boolean(), true),
  }),
  v.forward(
    v.check(
      (c) => (c.type === 'webhook') === (c.url !== undefined),
      'required for a webhook channel, not allowed for slack (its URL is the secret)',
    ),
    ['url'],
  ),
);
export type NotificationChannel = v.InferOutput<typeof NotificationChannel>;

/** The policy's `notifications` section (docs/policy.md). */
export const NotificationsPolicy = v.strictObject({
  /**
   * Base URL of the ops console the buttons open (`…/console`, an execution: `#/x/<name>`).
   * Absent: the AWS Step Functions console's execution page.
   */
  consoleUrl: v.optional(HttpUrl),
  channels: v.pipe(
    v.array(NotificationChannel),
    v.minLength(1),
    v.maxLength(20),
    v.check((cs) => new Set(cs.map((c) => c.name)).size === cs.length, 'channel names must be unique'),
  ),
});
export type NotificationsPolicy = v.InferOutput<typeof NotificationsPolicy>;

/** The channels that hear `topic`: an outcome, or APPROVAL_REQUESTED. */
export function channelsFor(policy: NotificationsPolicy | undefined, topic: string): NotificationChannel[] {
  return (policy?.channels ?? []).filter((c) =>
    topic === APPROVAL_REQUESTED ? c.approvalRequests : (c.outcomes as readonly string[]).includes(topic),
  );
}

/** What NOTIFY_OUTCOMES lists: every outcome some channel hears, and APPROVAL_REQUESTED when one hears it. */
export function heardTopics(policy: NotificationsPolicy | undefined): string[] {
  const channels = policy?.channels ?? [];
  const outcomes = [...new Set(channels.flatMap((c) => c.outcomes))].sort();
  return channels.some((c) => c.approvalRequests) ? [...outcomes, APPROVAL_REQUESTED] : outcomes;
}
