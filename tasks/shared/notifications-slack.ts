/**
 * The Slack message of one notification: Block Kit (header, the facts as fields, the reason, the
 * expected-vs-actual diff in a code block, buttons), POSTed to the channel's incoming-webhook URL. An outcome
 * gets a *Review execution* button (the console); an approval request gets what approving will do, the risk
 * cue, the deadline and a *Review* button opening the read-only review page (never a decision link).
 * Every text is cut to Slack's limits (header 150, section text 3000, field 2000, button text 75, URL 3000,
 * at most 10 fields and 50 blocks), so a large diff can never make Slack refuse the message. The message
 * holds what the notification holds, nothing more: no task token, no signed link, no secret.
 */
import {
  type ApprovalRequestedNotification,
  executionLink,
  type NotificationMessage,
  type NotifiedDifference,
  type OutcomeNotification,
} from './notifications';

export const SLACK_LIMITS = {
  headerText: 150,
  sectionText: 3000,
  fieldText: 2000,
  fields: 10,
  buttonText: 75,
  buttonUrl: 3000,
  blocks: 50,
  fallbackText: 3000,
} as const;

interface Text {
  type: 'plain_text' | 'mrkdwn';
  text: string;
  emoji?: boolean;
}
export type SlackBlock =
  | { type: 'header'; text: Text }
  | { type: 'section'; text?: Text; fields?: Text[] }
  | { type: 'context'; elements: Text[] }
  | { type: 'divider' }
  | {
      type: 'actions';
      elements: {
        type: 'button';
        text: Text;
        url: string;
        action_id: string;
        style?: 'primary' | 'danger';
      }[];
    };
export interface SlackMessage {
  /** The notification's plain text (push notifications, screen readers). */
  text: string;
  blocks: SlackBlock[];
}

const EMOJI: Record<string, string> = {
  VERIFIED: ':white_check_mark:',
  PLANNED: ':memo:',
  SKIPPED: ':fast_forward:',
  ESCALATED: ':rotating_light:',
  REJECTED: ':no_entry:',
  EXPIRED: ':hourglass:',
  FAILED: ':x:',
  NOT_VERIFIED: ':warning:',
  ABORTED: ':octagonal_sign:',
};

/** Cut to `max` characters (code points), marking the cut. */
export function cut(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/** mrkdwn control characters as Slack asks them escaped. */
function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function field(label: string, value: string | undefined): Text | undefined {
  return value
    ? { type: 'mrkdwn', text: cut(`*${label}*\n${esc(value)}`, SLACK_LIMITS.fieldText) }
    : undefined;
}

/** The diff as a code block that fits one section (the rest is counted, not shown). */
function diffBlock(m: { diff: NotifiedDifference[]; diffTruncated: boolean }): SlackBlock | undefined {
  if (!m.diff.length) return undefined;
  const budget = SLACK_LIMITS.sectionText - 40;
  const lines: string[] = [];
  let used = 0;
  let shown = 0;
  for (const d of m.diff) {
    const line = `${d.path} (${d.type})\n  expected: ${d.expected}\n  actual:   ${d.actual}`;
    if (used + line.length + 1 > budget) break;
    lines.push(line);
    used += line.length + 1;
    shown++;
  }
  const more = m.diff.length - shown + (m.diffTruncated ? 1 : 0);
  const tail = more > 0 ? `\n… ${m.diffTruncated ? 'more' : more} differences not shown` : '';
  const body = lines.length ? esc(lines.join('\n')).replace(/```/g, "'''") : '(too large to show)';
  return {
    type: 'section',
    text: {
      type: 'mrkdwn',
      text: cut(`*Expected vs actual*\n\`\`\`${body}\`\`\`${tail}`, SLACK_LIMITS.sectionText),
    },
  };
}

/** The Block Kit message for `m`; `consoleUrl` as in the policy's notifications section. */
export function slackMessage(m: NotificationMessage, consoleUrl: string | undefined): SlackMessage {
  return m.kind === 'outcome' ? outcomeMessage(m, consoleUrl) : approvalRequestMessage(m);
}

/** A time Slack shows in each reader's time zone (`<!date^…>`), the ISO text as the fallback. */
function slackDate(iso: string): string {
  const s = Math.floor(Date.parse(iso) / 1000);
  return Number.isFinite(s) ? `<!date^${s}^{date_short_pretty} at {time}|${iso}>` : esc(iso);
}

/** An approval request: what approving will do, the risk, the facts with the deadline, the diff, Review. */
function approvalRequestMessage(m: ApprovalRequestedNotification): SlackMessage {
  const what = `${m.resource.type} ${m.resource.id}`;
  const kinds = [...new Set(m.risks.map((r) => r.kind))].join(' and ');
  const fields = [
    field('Resource', what),
    field('Rule', m.rule ?? 'CloudFormation drift'),
    field('Account / region', `${m.resource.account} / ${m.resource.region}`),
    field('Runbook', m.runbook?.documentName),
    field('Requested by', m.requestedBy ?? 'automatic'),
  ].filter((f): f is Text => f !== undefined);
  fields.push({
    type: 'mrkdwn',
    text: `*Decide by*
${slackDate(m.expiresAt)}`,
  });
  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: {
        type: 'plain_text',
        text: cut(`Approval requested: ${what}`, SLACK_LIMITS.headerText),
        emoji: true,
      },
    },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: cut(`*Approving will:* ${esc(m.summary)}.`, SLACK_LIMITS.sectionText) },
    },
  ];
  if (m.risks.length)
    blocks.push({
      type: 'section',
      text: {
        type: 'mrkdwn',
        text: cut(
          `:warning: *Risk: this drift ${esc(kinds)}*\n${m.risks.map((r) => `• ${esc(r.text)}`).join('\n')}`,
          SLACK_LIMITS.sectionText,
        ),
      },
    });
  blocks.push({ type: 'section', fields: fields.slice(0, SLACK_LIMITS.fields) });
  const diff = diffBlock(m);
  if (diff) blocks.push(diff);
  blocks.push(
    {
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: 'Review' },
          url: m.reviewUrl,
          action_id: 'open-review',
          style: 'primary',
        },
      ],
    },
    {
      type: 'context',
      elements: [
        {
          type: 'mrkdwn',
          text: cut(
            `Review opens a read-only page. Approvers decide from the personal link each was sent by mail. · execution ${esc(m.execution.name)} · approval ${m.approvalId}`,
            300,
          ),
        },
      ],
    },
  );
  const text = cut(
    `:raised_hand: drift-remediation approval requested: ${what} — approving will: ${m.summary}`,
    SLACK_LIMITS.fallbackText,
  );
  return { text, blocks: blocks.slice(0, SLACK_LIMITS.blocks) };
}

/** An outcome: header, facts, why, the diff and the console's execution view. */
function outcomeMessage(m: OutcomeNotification, consoleUrl: string | undefined): SlackMessage {
  const what = m.resource.type && m.resource.id ? `${m.resource.type} ${m.resource.id}` : m.resource.key;
  const place = [m.resource.account, m.resource.region].filter(Boolean).join(' / ');
  const fields = [
    field('Outcome', m.outcome),
    field('Resource', what),
    field('Rule', m.rule ?? 'CloudFormation drift'),
    field('Account / region', place || undefined),
    field('Runbook', m.runbook ? `${m.runbook.documentName} (attempts: ${m.runbook.attempts})` : undefined),
    field('Remediated', m.remediated ? 'yes' : 'no'),
    field(
      'Approval',
      m.approval
        ? `${m.approval.decision}${m.approval.approver ? ` by ${m.approval.approver}` : ''}`
        : undefined,
    ),
    field('Recorded', m.recordedAt),
  ].filter((f): f is Text => f !== undefined);
  const link = executionLink(consoleUrl, m.execution);
  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: cut(`${m.outcome}: ${what}`, SLACK_LIMITS.headerText), emoji: true },
    },
    { type: 'section', fields: fields.slice(0, SLACK_LIMITS.fields) },
    {
      type: 'section',
      text: { type: 'mrkdwn', text: cut(`*Why*\n${esc(m.reason)}`, SLACK_LIMITS.sectionText) },
    },
  ];
  const diff = diffBlock(m);
  if (diff) blocks.push(diff);
  if (link.length <= SLACK_LIMITS.buttonUrl) {
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: 'Review execution' },
          url: link,
          action_id: 'open-execution',
          ...(m.outcome === 'VERIFIED' ? {} : { style: 'primary' as const }),
        },
      ],
    });
  }
  blocks.push({
    type: 'context',
    elements: [
      { type: 'mrkdwn', text: cut(`execution ${esc(m.execution.name)} · delivery ${m.deliveryId}`, 300) },
    ],
  });
  const text = cut(
    `${EMOJI[m.outcome] ?? ''} drift-remediation ${m.outcome}: ${what} — ${m.reason}`.trim(),
    SLACK_LIMITS.fallbackText,
  );
  return { text, blocks: blocks.slice(0, SLACK_LIMITS.blocks) };
}
