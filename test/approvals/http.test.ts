/**
 * The approval endpoint over real HTTP: the Function URL adapter on node:http, a real DynamoDB
 * protocol (dynalite) with real conditional writes, Step Functions and Secrets Manager mocked.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signLink } from '../../tasks/shared/approvals/signing';
import { APPROVER, KEYS, roleEvent, SCANNER_USER_AGENTS, SECOND_APPROVER } from './support/fixtures';
import { csrfFromPage, type LocalApprovalHarness, startLocalApprovals } from './support/harness';

let h: LocalApprovalHarness;

beforeAll(async () => {
  h = await startLocalApprovals();
});
afterAll(async () => {
  await h?.close();
});

function linkFor(links: Record<string, string>, approver: string): string {
  const l = links[approver];
  if (!l) throw new Error(`no link for ${approver}`);
  return l;
}

async function getPage(
  link: string,
  userAgent = 'Mozilla/5.0 (X11; Linux x86_64) test',
): Promise<{ status: number; html: string; headers: Headers }> {
  const res = await fetch(link, { headers: { 'user-agent': userAgent }, redirect: 'manual' });
  return { status: res.status, html: await res.text(), headers: res.headers };
}

function postForm(link: string, fields: Record<string, string>): Promise<Response> {
  return fetch(link, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) test',
    },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual',
  });
}

function withParam(link: string, name: string, value: string): string {
  const u = new URL(link);
  u.searchParams.set(name, value);
  return u.toString();
}

async function expectUntouched(approvalId: string) {
  const item = await h.item(approvalId);
  expect(item?.status).toBe('PENDING');
  expect(item?.decision).toBeUndefined();
  expect(h.deliveries().filter((d) => d.decision.approvalId === approvalId)).toEqual([]);
}

describe('approval endpoint over HTTP', () => {
  it('GET and HEAD ×10 with scanner user agents leave the request waiting', async () => {
    const { approvalId, links } = await h.createRequest();
    const link = linkFor(links, APPROVER);
    expect(SCANNER_USER_AGENTS).toHaveLength(10);
    for (const ua of SCANNER_USER_AGENTS) {
      const get = await getPage(link, ua);
      expect(get.status).toBe(200);
      expect(get.html).toContain('Drift: expected vs actual');
      expect(get.headers.get('cache-control')).toBe('no-store');
      expect(get.headers.get('referrer-policy')).toBe('no-referrer');
      expect(get.headers.get('x-frame-options')).toBe('DENY');
      expect(get.headers.get('content-security-policy')).toMatch(/^default-src 'none'/);
      const head = await fetch(link, { method: 'HEAD', headers: { 'user-agent': ua } });
      expect(head.status).toBe(200);
      expect(await head.text()).toBe('');
    }
    await expectUntouched(approvalId);
  });

  it('approve through the form; a replayed POST is refused and sends nothing more', async () => {
    const { approvalId, links, taskToken } = await h.createRequest();
    expect((await h.item(approvalId))?.taskToken).toBe(taskToken);
    const link = linkFor(links, APPROVER);
    const csrf = csrfFromPage((await getPage(link)).html);
    const other = linkFor(links, SECOND_APPROVER);
    const otherCsrf = csrfFromPage((await getPage(other)).html);
    const fields = { csrf, decision: 'approve', comment: 'checked with the app team' };

    const first = await postForm(link, fields);
    expect(first.status).toBe(200);
    expect(await first.text()).toContain('Approved');
    const item = await h.item(approvalId);
    expect(item?.status).toBe('APPROVED');
    expect(item?.decision).toMatchObject({
      decision: 'approved',
      approver: APPROVER,
      comment: 'checked with the app team',
      sourceIp: expect.stringMatching(/127\.0\.0\.1/),
      userAgent: 'Mozilla/5.0 (X11; Linux x86_64) test',
    });
    const mine = () => h.deliveries().filter((d) => d.decision.approvalId === approvalId);
    expect(mine()).toHaveLength(1);
    expect(mine()[0]).toMatchObject({
      kind: 'approved',
      taskToken,
      decision: { approver: APPROVER },
    });

    expect(item?.taskToken, 'the token is dropped once delivered').toBeUndefined();

    const replay = await postForm(link, fields);
    expect(replay.status).toBe(409);
    expect(await replay.text()).toMatch(/already approved by you/);
    const late = await postForm(other, { csrf: otherCsrf, decision: 'reject' });
    expect(late.status).toBe(409);
    expect(mine()).toHaveLength(1);
    expect((await h.item(approvalId))?.status).toBe('APPROVED');
  });

  it('reject through the form → SendTaskFailure with the approver', async () => {
    const { approvalId, links } = await h.createRequest();
    const link = linkFor(links, SECOND_APPROVER);
    const res = await postForm(link, {
      csrf: csrfFromPage((await getPage(link)).html),
      decision: 'reject',
      comment: 'change freeze',
    });
    expect(res.status).toBe(200);
    const d = h.deliveries().filter((x) => x.decision.approvalId === approvalId);
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({
      kind: 'rejected',
      decision: { approver: SECOND_APPROVER, comment: 'change freeze' },
    });
    expect((await h.item(approvalId))?.status).toBe('REJECTED');
  });

  describe('refused, execution state unchanged', () => {
    it('forged signature', async () => {
      const { approvalId, links } = await h.createRequest();
      const link = linkFor(links, APPROVER);
      const csrf = csrfFromPage((await getPage(link)).html);
      const forged = withParam(link, 'sig', signLink(KEYS, { approvalId, approver: APPROVER, exp: 1 }));
      expect((await getPage(forged)).status).toBe(403);
      const res = await postForm(forged, { csrf, decision: 'approve' });
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('This approval link is not valid');
      await expectUntouched(approvalId);
    });

    it('tampered approver (keeping the other approver’s signature)', async () => {
      const { approvalId, links } = await h.createRequest();
      const link = linkFor(links, APPROVER);
      const tampered = withParam(link, 'approver', SECOND_APPROVER);
      const res = await postForm(tampered, {
        csrf: csrfFromPage((await getPage(link)).html),
        decision: 'approve',
      });
      expect(res.status).toBe(403);
      await expectUntouched(approvalId);
    });

    it('tampered expiry', async () => {
      const { approvalId, links } = await h.createRequest();
      const link = linkFor(links, APPROVER);
      const later = withParam(link, 'exp', String(Number(new URL(link).searchParams.get('exp')) + 86_400));
      expect((await getPage(later)).status).toBe(403);
      await expectUntouched(approvalId);
    });

    it('expired link and expired request', async () => {
      const { approvalId, links } = await h.createRequest();
      const link = linkFor(links, APPROVER);
      const csrf = csrfFromPage((await getPage(link)).html);
      h.clock.offsetSeconds = 3601;
      try {
        const get = await getPage(link);
        expect(get.status).toBe(410);
        expect(get.html).toContain('expired');
        const res = await postForm(link, { csrf, decision: 'approve' });
        expect(res.status).toBe(410);
      } finally {
        h.clock.offsetSeconds = 0;
      }
      await expectUntouched(approvalId);
    });

    it('wrong CSRF token (another approver’s, another request’s, none)', async () => {
      const a = await h.createRequest();
      const b = await h.createRequest();
      const link = linkFor(a.links, APPROVER);
      const otherApprover = csrfFromPage((await getPage(linkFor(a.links, SECOND_APPROVER))).html);
      const otherRequest = csrfFromPage((await getPage(linkFor(b.links, APPROVER))).html);
      for (const csrf of [otherApprover, otherRequest, '', 'x'.repeat(43)]) {
        const res = await postForm(link, { csrf, decision: 'approve' });
        expect(res.status).toBe(403);
      }
      await expectUntouched(a.approvalId);
    });

    it('a CSRF token is per page load and short-lived: what a scanner saw minutes ago decides nothing', async () => {
      const { approvalId, links } = await h.createRequest();
      const link = linkFor(links, APPROVER);
      const seenByScanner = csrfFromPage((await getPage(link, SCANNER_USER_AGENTS[0])).html);
      const second = csrfFromPage((await getPage(link)).html);
      expect(second).not.toBe(seenByScanner);
      h.clock.offsetSeconds = 16 * 60;
      try {
        const res = await postForm(link, { csrf: seenByScanner, decision: 'approve' });
        expect(res.status).toBe(403);
        expect(await res.text()).toContain('could not be verified');
        await expectUntouched(approvalId);
        // A fresh load of the (still valid) link gets a token that works.
        const fresh = csrfFromPage((await getPage(link)).html);
        expect((await postForm(link, { csrf: fresh, decision: 'approve' })).status).toBe(200);
      } finally {
        h.clock.offsetSeconds = 0;
      }
      expect((await h.item(approvalId))?.status).toBe('APPROVED');
    });

    it('the requester cannot approve their own request', async () => {
      const { approvalId, links } = await h.createRequest({
        event: roleEvent({ requestedBy: APPROVER, source: 'manual' }),
      });
      const link = linkFor(links, APPROVER);
      const get = await getPage(link);
      expect(get.status).toBe(403);
      expect(get.html).toContain('You cannot approve your own request');
      await expectUntouched(approvalId);
    });

    it('other methods and unknown paths', async () => {
      const { approvalId, links } = await h.createRequest();
      const link = linkFor(links, APPROVER);
      const put = await fetch(link, { method: 'PUT', body: 'decision=approve' });
      expect(put.status).toBe(405);
      expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
      expect((await fetch(`${h.baseUrl}/approvals/nope`)).status).toBe(404);
      expect((await fetch(`${h.baseUrl}/`)).status).toBe(404);
      await expectUntouched(approvalId);
    });
  });

  it('concurrent POSTs from both approvers → exactly one decision reaches the workflow', async () => {
    const { approvalId, links } = await h.createRequest();
    const forms = await Promise.all(
      [APPROVER, SECOND_APPROVER].map(async (a) => ({
        link: linkFor(links, a),
        csrf: csrfFromPage((await getPage(linkFor(links, a))).html),
      })),
    );
    const attempts = Array.from({ length: 8 }, (_, i) => {
      const f = forms[i % 2];
      if (!f) throw new Error('unreachable');
      return postForm(f.link, { csrf: f.csrf, decision: i % 3 === 0 ? 'reject' : 'approve' });
    });
    const statuses = (await Promise.all(attempts)).map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(7);
    const mine = h.deliveries().filter((d) => d.decision.approvalId === approvalId);
    expect(mine).toHaveLength(1);
    const item = await h.item(approvalId);
    expect(item?.status).toBe(mine[0]?.kind === 'approved' ? 'APPROVED' : 'REJECTED');
    expect(item?.decision?.approver).toBe(mine[0]?.decision.approver);
  });
});
