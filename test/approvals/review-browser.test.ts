/**
 * The read-only review page (#15: the shared channel's "Review" button) in real Chromium against the local
 * approval stack: the same summary, risk and diff as the approval page, no decision control at all, headings
 * and keyboard use; forged, decision-purpose and expired signatures get clear 403 pages (JavaScript off);
 * after the approver decides from their personal link, the review page says who decided. Screenshots in
 * test-artifacts/approvals/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reviewUrl, signLink, signReview } from '../../tasks/shared/approvals/signing';
import {
  ARTIFACTS_DIR,
  type Browsing,
  launch,
  open,
  screenshotsAtBothSizes,
  sectionHeadings,
} from './support/browser-scenarios';
import { APPROVER, KEYS } from './support/fixtures';
import { type LocalApprovalHarness, startLocalApprovals } from './support/harness';

let h: LocalApprovalHarness;
let browsing: Browsing;

beforeAll(async () => {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  h = await startLocalApprovals();
  browsing = await launch();
}, 60_000);
afterAll(async () => {
  await browsing?.close();
  await h?.close();
});

/** A request and its review link (what the Slack button opens), plus the approver's personal link. */
async function request() {
  const req = await h.createRequest();
  const personal = req.links[APPROVER] ?? '';
  const exp = Number(new URL(personal).searchParams.get('exp'));
  return { ...req, exp, personal, review: reviewUrl(h.baseUrl, KEYS, { approvalId: req.approvalId, exp }) };
}

describe('read-only review page in chromium', () => {
  it('shows what approving would do, the risk and the diff, with no decision control; keyboard and labels', async () => {
    const req = await request();
    const { page, problems } = await open(browsing.context, req.review);
    await expect.poll(() => page.title()).toBe('Review: remediation of app-role');
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator('h1').innerText()).toMatch(
      /Remediation of AWS::IAM::Role\s+app-role awaits approval/,
    );
    expect(await page.locator('#summary').innerText()).toBe(
      'Approving would: Detach AdministratorAccess from role app-role.',
    );
    const risk = page.getByRole('region', { name: 'Risk: this drift grants privilege' });
    expect(await risk.locator('li').count()).toBe(1);
    expect(await page.locator('.expiry').innerText()).toMatch(
      /Waiting for a decision; time left: (59 minutes|1 hour)/,
    );
    expect(await page.locator('#how-to-decide').innerText()).toContain(
      'Decisions are made from the personal link sent to each approver',
    );
    const diff = page.locator('section[aria-labelledby="h-diff"]');
    expect(await diff.locator('.actual pre').first().innerText()).toBe(
      'arn:aws:iam::aws:policy/AdministratorAccess',
    );

    // No way to decide: no form, no button, no field, nothing posting anywhere.
    expect(await page.locator('form, button, input, textarea, select').count()).toBe(0);
    expect(await page.getByRole('button').count()).toBe(0);
    expect(await page.locator('main').innerText()).not.toMatch(/\bnull\b/);
    const sections = await sectionHeadings(page);
    expect(sections.length).toBeGreaterThanOrEqual(4);
    expect(new Set(sections)).toEqual(new Set(['H2']));

    // Keyboard: the first Tab reaches the skip link, with a visible focus ring; Enter jumps to the drift.
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => ({
      text: (document.activeElement as HTMLElement | null)?.innerText,
      outline: getComputedStyle(document.activeElement as Element).outlineStyle,
    }));
    expect(focused).toEqual({ text: 'Skip to the drift', outline: expect.not.stringMatching(/^none$/) });
    await page.keyboard.press('Enter');
    await expect.poll(() => new URL(page.url()).hash).toBe('#h-diff');
    // Nothing else to tab to but links.
    const focusable = await page.evaluate(() =>
      Array.from(document.querySelectorAll('a[href], button, input, select, textarea, [tabindex]')).map(
        (el) => el.tagName,
      ),
    );
    expect(new Set(focusable)).toEqual(new Set(['A']));

    await screenshotsAtBothSizes(page, 'view-only');
    expect(problems).toEqual([]);
    // Opening it changed nothing.
    expect(h.deliveries()).toEqual([]);
    expect((await h.item(req.approvalId))?.status).toBe('PENDING');
    await page.close();
  });

  it('forged, decision-purpose and expired signatures get clear 403 pages (JavaScript off)', async () => {
    const req = await request();
    const noJs = await launch({ javaScriptEnabled: false });
    try {
      const page = await noJs.context.newPage();
      const path = `${h.baseUrl}/approvals/${req.approvalId}/review`;
      const cases: Array<[string, string, string]> = [
        ['forged', `${path}?exp=${req.exp}&sig=${'A'.repeat(43)}`, 'This review link is not valid'],
        [
          'decision signature',
          `${path}?exp=${req.exp}&sig=${signLink(KEYS, { approvalId: req.approvalId, approver: APPROVER, exp: req.exp })}`,
          'This review link is not valid',
        ],
        [
          'expired',
          `${path}?exp=1000&sig=${signReview(KEYS, { approvalId: req.approvalId, exp: 1000 })}`,
          'This review link has expired',
        ],
      ];
      for (const [what, url, title] of cases) {
        expect((await page.goto(url))?.status(), what).toBe(403);
        expect(await page.locator('h1').innerText(), what).toBe(title);
        expect(await page.locator('form, button').count(), what).toBe(0);
      }
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'view-only-expired-390x844.png') });
      expect(h.deliveries()).toEqual([]);
    } finally {
      await noJs.close();
    }
  });

  it('after the approver decides from their personal link, the review page says who approved', async () => {
    const req = await request();
    const personal = await open(browsing.context, req.personal);
    await personal.page.getByRole('button', { name: 'Approve remediation' }).click();
    await expect.poll(() => personal.page.locator('h1').innerText()).toBe('Approved');
    await personal.page.close();
    const { page } = await open(browsing.context, req.review);
    expect(await page.locator('.expiry').innerText()).toMatch(
      new RegExp(`^Approved by ${APPROVER.replace('.', '\\.')} at \\d{4}-`),
    );
    expect(await page.locator('form, button').count()).toBe(0);
    await page.close();
  });
});
