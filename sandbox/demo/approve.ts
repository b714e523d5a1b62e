/**
 * Decides an approval the way a browser does: GET the signed link (the review page), then POST its form
 * (CSRF token included) with the chosen button. Used by the demo's auto-approver and by tests.
 */
const LINK = /https?:\/\/[^\s"'<>]+\/approvals\/[^\s"'<>]+/g;

/** The approval links in a notification message. */
export function approvalLinks(message: string): string[] {
  return [...new Set(message.match(LINK) ?? [])];
}

function attr(html: string, pattern: RegExp): string | undefined {
  const m = pattern.exec(html);
  return m?.[1]
    ?.replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');
}

export interface DecisionResult {
  status: number;
  /** The page the decision returned (what the approver sees). */
  page: string;
}

export async function decideViaForm(
  link: string,
  decision: 'approve' | 'reject',
  comment = '',
): Promise<DecisionResult> {
  const page = await fetch(link, { headers: { 'user-agent': 'drift-remediation-demo/1.0' } });
  const html = await page.text();
  if (!page.ok) return { status: page.status, page: html };
  const action = attr(html, /<form[^>]*method="post"[^>]*action="([^"]+)"/i);
  const csrf = attr(html, /<input[^>]*name="csrf"[^>]*value="([^"]*)"/i);
  if (!action || !csrf)
    throw new Error(`the approval page at ${new URL(link).pathname} has no decision form`);
  const body = new URLSearchParams({ csrf, decision, comment });
  const res = await fetch(new URL(action, link), {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'drift-remediation-demo/1.0',
    },
    body,
  });
  return { status: res.status, page: await res.text() };
}
