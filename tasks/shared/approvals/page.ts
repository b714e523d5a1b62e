/**
 * HTML of the approval pages: the review page (GET) and the result pages (decision recorded, link
 * invalid, expired, already decided, …). Server-rendered, no JavaScript, no external assets, one
 * inline stylesheet allowed by its CSP hash. Every dynamic value goes through `escapeHtml`.
 */
import { createHash } from 'node:crypto';
import { approvalSentence, isBlankValue, riskCues } from './describe';
import { type ApprovalStatus, type ApprovalSummary, requesterLabel, ruleLabel, timeLeft } from './record';

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

const CSS = `
:root{color-scheme:light dark;--fg:#1b1f24;--muted:#57606a;--bg:#fff;--card:#f6f8fa;--line:#d0d7de;--ok:#1a7f37;--bad:#cf222e;--focus:#0969da}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9da7b3;--bg:#0d1117;--card:#161b22;--line:#30363d;--ok:#3fb950;--bad:#f85149;--focus:#58a6ff}}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:var(--bg);color:var(--fg);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:60rem;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;line-height:1.25;margin:.25rem 0 .5rem;overflow-wrap:anywhere}
h2{font-size:1.15rem;margin:1.75rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}
h3{font-size:1rem;margin:0 0 .5rem;overflow-wrap:anywhere}
h4{font-size:.85rem;margin:0 0 .25rem;color:var(--muted);font-weight:600}
.eyebrow{margin:0;color:var(--muted);font-size:.875rem;text-transform:uppercase;letter-spacing:.04em}
.summary{margin:.5rem 0;font-size:1.1rem;padding:.5rem .75rem;border-left:4px solid var(--ok);background:var(--card)}
.risk{margin:.75rem 0;padding:.5rem .75rem;border:2px solid var(--bad);border-left-width:8px;border-radius:6px}
.risk h2{margin:0 0 .25rem;border:0;padding:0;color:var(--bad);font-size:1.05rem}
.risk ul{margin:.25rem 0;padding-left:1.25rem}
.risk p{margin:.25rem 0 0}
.expiry{margin:.25rem 0 0;padding:.5rem .75rem;border-left:4px solid var(--focus);background:var(--card)}
dl.facts{display:grid;grid-template-columns:minmax(8rem,max-content) 1fr;gap:.25rem 1rem;margin:0}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0;overflow-wrap:anywhere}
code,pre{font:0.875rem/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{margin:0;padding:.5rem;background:var(--bg);border:1px solid var(--line);border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere;max-height:24rem;overflow:auto}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:.75rem;margin:.75rem 0}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:.75rem}
.badge{display:inline-block;font-size:.75rem;font-weight:600;padding:0 .4rem;border-radius:1rem;border:1px solid var(--line);color:var(--muted);vertical-align:middle}
.expected pre{border-left:4px solid var(--ok)}
.actual pre{border-left:4px solid var(--bad)}
ul.values{margin:0;padding-left:1.25rem}
ul.values li{margin:.25rem 0}
form{margin:0}
label{display:block;font-weight:600;margin:.5rem 0 .25rem}
.hint{color:var(--muted);font-size:.875rem;margin:.25rem 0 .5rem}
textarea{width:100%;min-height:5rem;font:inherit;padding:.5rem;border:1px solid var(--line);border-radius:4px;background:var(--bg);color:var(--fg)}
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1rem}
button{font:inherit;font-weight:600;min-height:2.75rem;padding:.5rem 1.25rem;border-radius:6px;border:2px solid transparent;cursor:pointer}
button.approve{background:var(--ok);color:#fff}
button.reject{background:var(--bg);color:var(--bad);border-color:var(--bad)}
:focus-visible{outline:3px solid var(--focus);outline-offset:2px}
.result{margin-top:1rem;padding:1rem;border-radius:6px;border:1px solid var(--line);background:var(--card)}
.result.ok{border-left:6px solid var(--ok)}
.result.bad{border-left:6px solid var(--bad)}
.result.info{border-left:6px solid var(--focus)}
h1 code{font-size:.95em}
a{color:var(--focus)}
.skip{margin:.5rem 0 0;font-size:.9rem}
.note{margin:.5rem 0 0;padding:.5rem .75rem;border:1px solid var(--line);border-radius:6px}
.none{margin:0;padding:.5rem;color:var(--muted);font-style:italic;border:1px dashed var(--line);border-radius:4px}
.result p:first-child{margin-top:0}
footer{margin-top:2rem;color:var(--muted);font-size:.8rem;overflow-wrap:anywhere}
@media (max-width:40rem){main{padding:.75rem}h1{font-size:1.3rem}dl.facts{grid-template-columns:1fr}dl.facts dt{margin-top:.5rem}.cols{grid-template-columns:1fr}.actions button{flex:1 1 100%}}
`.trim();

const STYLE_HASH = createHash('sha256').update(CSS).digest('base64');

/** The Content-Security-Policy of every page: nothing but the one inline stylesheet and same-origin form posts. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src 'sha256-${STYLE_HASH}'`,
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

/** Headers sent with every approval page (and every response of the endpoint). */
export function securityHeaders(): Record<string, string> {
  return {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    pragma: 'no-cache',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'x-robots-tag': 'noindex, nofollow',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'cross-origin-opener-policy': 'same-origin',
    'strict-transport-security': 'max-age=31536000',
  };
}

function document(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="robots" content="noindex, nofollow">
<title>${escapeHtml(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
${body}
</main>
</body>
</html>
`;
}

/** Pretty-prints JSON-looking values (PropertyDifferences carry JSON strings); anything else as is. */
function pretty(value: string): string {
  const t = value.trim();
  if ((t.startsWith('{') && t.endsWith('}')) || (t.startsWith('[') && t.endsWith(']'))) {
    try {
      return JSON.stringify(JSON.parse(t), null, 2);
    } catch {
      return value;
    }
  }
  return value;
}

function facts(rows: Array<[string, string | undefined]>): string {
  const items = rows
    .filter((r): r is [string, string] => r[1] !== undefined && r[1] !== '')
    .map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`)
    .join('');
  return `<dl class="facts">${items}</dl>`;
}

function utc(epochS: number): string {
  return new Date(epochS * 1000)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC');
}

/** A value block; an empty (or `null`) value says so instead of showing an empty box or a raw null. */
function value(v: string, whenEmpty: string): string {
  const t = v.trim();
  return t && t !== 'null'
    ? `<pre>${escapeHtml(pretty(v))}</pre>`
    : `<p class="none">(${escapeHtml(whenEmpty)})</p>`;
}

function diffSection(s: ApprovalSummary): string {
  const parts: string[] = [];
  for (const d of s.drift.differences) {
    parts.push(`<article class="card diff">
<h3><code>${escapeHtml(d.path)}</code> <span class="badge">${escapeHtml(d.type)}</span></h3>
<div class="cols">
<div class="expected"><h4>Expected (template)</h4>${value(d.expected, 'not in the template')}</div>
<div class="actual"><h4>Actual (live)</h4>${value(d.actual, 'not present')}</div>
</div>
</article>`);
  }
  const list = (title: string, changes: ApprovalSummary['drift']['added']) =>
    changes
      .filter((c) => c.values.length > 0)
      .map(
        (c) => `<article class="card">
<h3>${escapeHtml(title)} <code>${escapeHtml(c.property)}</code></h3>
<ul class="values">${c.values.map((v) => `<li><pre>${escapeHtml(pretty(v))}</pre></li>`).join('')}</ul>
</article>`,
      )
      .join('');
  parts.push(list('Present but not in the template:', s.drift.added));
  parts.push(list('In the template but missing:', s.drift.removed));
  const body = parts.join('');
  if (!body.trim()) {
    return '<p>No property-level differences were reported for this resource; the Config rule evaluation is what triggered the request.</p>';
  }
  const status = s.drift.status ? `<p>Drift status: <strong>${escapeHtml(s.drift.status)}</strong></p>` : '';
  const cut = s.drift.truncated ? '<p class="hint">Only the first differences are shown.</p>' : '';
  return status + body + cut;
}

/**
 * The runbook and the parameters it will run with. Parameters with no value (empty, `null`, `[]`) get no
 * row of their own: one line names them, so nothing reads as a raw `null` or an empty box.
 */
function runbookSection(s: ApprovalSummary): string {
  if (!s.runbook) return '<p>No runbook is attached to this request.</p>';
  const all = Object.entries(s.runbook.parameters).map(
    ([k, vs]) => [k, vs.filter((v) => !isBlankValue(v))] as const,
  );
  const params = all.filter(([, vs]) => vs.length > 0);
  const unset = all.filter(([, vs]) => vs.length === 0).map(([k]) => `<code>${escapeHtml(k)}</code>`);
  const rows = params
    .map(
      ([k, vs]) =>
        `<dt><code>${escapeHtml(k)}</code></dt><dd>${vs.map((v) => `<pre>${escapeHtml(pretty(v))}</pre>`).join('')}</dd>`,
    )
    .join('');
  const none = unset.length
    ? `<p class="hint">Passed empty (nothing to do for them): ${unset.join(', ')}.</p>`
    : '';
  return `<p>SSM Automation runbook <code>${escapeHtml(s.runbook.documentName)}</code> (${
    s.runbook.firstParty ? 'first-party' : 'AWS-managed'
  })${params.length ? ' with these parameters:' : ' with no parameters.'}</p>${params.length ? `<dl class="facts">${rows}</dl>` : ''}${none}`;
}

/** The one sentence of what approving does, and the risk cue when the drift grants privilege or opens access. */
function outlook(s: ApprovalSummary, lead = 'Approving will:'): string {
  const cues = riskCues(s);
  const kinds = [...new Set(cues.map((c) => c.kind))];
  const risk = cues.length
    ? `<section class="risk" aria-labelledby="h-risk">
<h2 id="h-risk">Risk: this drift ${escapeHtml(joinKinds(kinds))}</h2>
<ul>${cues.map((c) => `<li>${escapeHtml(c.text)}</li>`).join('')}</ul>
<p>Approving removes it; rejecting leaves it in place.</p>
</section>`
    : '';
  return `<p class="summary" id="summary"><strong>${escapeHtml(lead)}</strong> ${escapeHtml(approvalSentence(s))}.</p>${risk}`;
}

const joinKinds = (kinds: string[]) => kinds.join(' and ');

export interface ReviewPageInput {
  summary: ApprovalSummary;
  approvalId: string;
  approver: string;
  expiresAt: number;
  now: Date;
  csrf: string;
  /** Form action: the signed link's query string, e.g. `?approver=…&exp=…&sig=…`. */
  action: string;
}

function requester(s: ApprovalSummary): string {
  return (
    requesterLabel(s) ??
    `Automatic: ${s.source === 'config' ? 'AWS Config compliance change' : s.source === 'cloudformation' ? 'CloudFormation drift detection' : s.source}`
  );
}

/** The deadline line: time left and the expiry, on the task clock. */
function expiryLine(label: string, expiresAt: number, now: Date): string {
  return `<p class="expiry">${escapeHtml(label)}: <strong>${escapeHtml(timeLeft(expiresAt, now))}</strong> (until <time datetime="${escapeHtml(
    new Date(expiresAt * 1000).toISOString(),
  )}">${escapeHtml(utc(expiresAt))}</time>)</p>`;
}

/** What the request is about: the facts, the diff, the runbook and who asked (review and view-only pages). */
function requestSections(s: ApprovalSummary, runHeading: string): string {
  return `<section aria-labelledby="h-what">
<h2 id="h-what">What is out of policy</h2>
${facts([
  ['Trigger', ruleLabel(s)],
  ['Resource type', s.resourceType],
  ['Resource id', s.resourceId],
  ['Stack', s.stackName],
  ['Logical id', s.logicalResourceId],
  ['Account', s.accountId],
  ['Region', s.region],
  ['Status', s.complianceType],
  ['Detected at', s.detectedAt],
])}
</section>
<section aria-labelledby="h-diff">
<h2 id="h-diff">Drift: expected vs actual</h2>
${diffSection(s)}
</section>
<section aria-labelledby="h-run">
<h2 id="h-run">${escapeHtml(runHeading)}</h2>
${runbookSection(s)}
</section>
<section aria-labelledby="h-who">
<h2 id="h-who">Who asked</h2>
${facts([
  ['Requested by', requester(s)],
  ['Policy entry', s.policyEntryId],
  ['Plan', s.planReason],
  ['Execution', s.executionName],
  ['Requested at', s.requestedAt],
])}
</section>`;
}

/** A manual request whose requester is not authenticated: the four-eyes rule cannot hold, so no approval. */
const UNAUTHENTICATED_NOTICE = `<p class="notice" role="note"><strong>This request cannot be approved.</strong> It is a manual request whose requester is not authenticated, so nobody can tell whether you asked for it yourself. Reject it, and have the requester start it again with <code>drift-remediation remediate</code>, which proves who they are.</p>`;

export function renderReviewPage(p: ReviewPageInput): string {
  const s = p.summary;
  const approvable = s.requesterAuthenticated !== false;
  const title = `Approve remediation of ${s.resourceId}?`;
  const body = `<header>
<p class="eyebrow">Drift remediation · approval request</p>
<h1>Approve remediation of ${escapeHtml(s.resourceType)} <code>${escapeHtml(s.resourceId)}</code>?</h1>
${outlook(s)}
${expiryLine('Time left to decide', p.expiresAt, p.now)}
<p class="skip"><a href="#h-decide">Skip to your decision</a></p>
</header>
${requestSections(s, 'What will run if you approve')}
<section aria-labelledby="h-decide">
<h2 id="h-decide">Your decision</h2>
<p>You are deciding as <strong>${escapeHtml(p.approver)}</strong>. The first decision is final.</p>
${approvable ? '' : UNAUTHENTICATED_NOTICE}
<form method="post" action="${escapeHtml(p.action)}">
<input type="hidden" name="csrf" value="${escapeHtml(p.csrf)}">
<label for="comment">Comment (optional)</label>
<p class="hint" id="comment-hint">Recorded with your decision in the audit trail.</p>
<textarea id="comment" name="comment" maxlength="1000" rows="3" aria-describedby="comment-hint"></textarea>
<div class="actions">
${approvable ? '<button type="submit" class="approve" name="decision" value="approve">Approve remediation</button>\n' : ''}<button type="submit" class="reject" name="decision" value="reject">Reject</button>
</div>
</form>
</section>
<footer>Approval ${escapeHtml(p.approvalId)}</footer>`;
  return document(title, body);
}

export interface ViewOnlyPageInput {
  summary: ApprovalSummary;
  approvalId: string;
  status: ApprovalStatus;
  decision?: { decision: string; approver: string; decidedAt: string } | undefined;
  expiresAt: number;
  now: Date;
}

/** Where the request stands: waiting (with the deadline), decided (by whom, when) or closed. */
function standing(p: ViewOnlyPageInput): string {
  const d = p.decision;
  if (p.status === 'PENDING') return expiryLine('Waiting for a decision; time left', p.expiresAt, p.now);
  if (d && p.status !== 'EXPIRED')
    return `<p class="expiry">${escapeHtml(p.status === 'APPROVED' ? 'Approved' : 'Rejected')} by <strong>${escapeHtml(d.approver)}</strong> at ${escapeHtml(d.decidedAt)}.</p>`;
  return '<p class="expiry">This request closed without a decision; the remediation did not run on it.</p>';
}

/**
 * The read-only review page a shared channel's "Review" button opens (review link, not an approver's link):
 * the same summary, risk, diff and runbook as the approval page, where the request stands, and no decision
 * form: decisions are made from each approver's personal link.
 */
export function renderViewOnlyPage(p: ViewOnlyPageInput): string {
  const s = p.summary;
  const title = `Review: remediation of ${s.resourceId}`;
  const body = `<header>
<p class="eyebrow">Drift remediation · approval request · view only</p>
<h1>Remediation of ${escapeHtml(s.resourceType)} <code>${escapeHtml(s.resourceId)}</code> awaits approval</h1>
${outlook(s, 'Approving would:')}
${standing(p)}
<p class="note" id="how-to-decide">This page is for reviewing only. Decisions are made from the personal link sent to each approver (by mail, through the approval topic); this page cannot approve or reject.</p>
<p class="skip"><a href="#h-diff">Skip to the drift</a></p>
</header>
${requestSections(s, 'What would run if approved')}
<footer>Approval ${escapeHtml(p.approvalId)}</footer>`;
  return document(title, body);
}

export type ResultKind = 'ok' | 'bad' | 'info';

export interface ResultPageInput {
  title: string;
  message: string;
  kind: ResultKind;
  details?: Array<[string, string | undefined]>;
  approvalId?: string;
}

/** A page saying what happened (decision recorded, link invalid, expired, already decided, …). */
export function renderResultPage(p: ResultPageInput): string {
  const body = `<header>
<p class="eyebrow">Drift remediation · approval</p>
<h1>${escapeHtml(p.title)}</h1>
</header>
<div class="result ${p.kind}" role="${p.kind === 'bad' ? 'alert' : 'status'}">
<p>${escapeHtml(p.message)}</p>
${p.details?.length ? facts(p.details) : ''}
</div>
${p.approvalId ? `<footer>Approval ${escapeHtml(p.approvalId)}</footer>` : ''}`;
  return document(p.title, body);
}
