/**
 * Browser scenarios of the approval page, driven by playwright-core and the Chromium shipped in the
 * @sparticuz/chromium npm package (test/setup/browser.ts). They only see an `ApprovalTarget` (base URL +
 * request creation + decision backend), so the same scenarios run against the local harness
 * (browser.test.ts) and against the sandbox with a real execution.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packagedBrowser } from '../../setup/browser';
import { APPROVER, SECOND_APPROVER } from './fixtures';
import type { ApprovalTarget } from './harness';

export const ARTIFACTS_DIR = join(process.cwd(), 'test-artifacts', 'approvals');

export const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

export interface Browsing {
  context: BrowserContext;
  close(): Promise<void>;
}

/** A fresh persistent context (new user-data-dir) in headless chromium. */
export async function launch(opts: { javaScriptEnabled?: boolean } = {}): Promise<Browsing> {
  const browser = await packagedBrowser();
  const userDataDir = mkdtempSync(join(tmpdir(), 'approvals-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: browser.executablePath,
    env: browser.env,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 800 },
    javaScriptEnabled: opts.javaScriptEnabled ?? true,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

function linkOf(links: Record<string, string>, approver: string): string {
  const l = links[approver];
  if (!l) throw new Error(`no link for ${approver}`);
  return l;
}

/** Opens a page and records CSP violations and other console errors (also the console's browser test). */
export async function open(
  context: BrowserContext,
  url: string,
): Promise<{ page: Page; problems: string[] }> {
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('pageerror', (e) => problems.push(e.message));
  const res = await page.goto(url);
  expect(res?.status()).toBe(200);
  return { page, problems };
}

/** Every section's labelling element, by tag: a page whose sections all have an h2 gives ['H2', …]. */
export function sectionHeadings(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    Array.from(document.querySelectorAll('section')).map((s) => {
      const id = s.getAttribute('aria-labelledby');
      return id ? (document.getElementById(id)?.tagName ?? 'missing') : 'none';
    }),
  );
}

/** At desktop and phone width: no horizontal overflow, and a full-page screenshot `<name>-<w>x<h>.png`. */
export async function screenshotsAtBothSizes(page: Page, name: string): Promise<void> {
  for (const size of [
    { width: 1280, height: 800 },
    { width: 390, height: 844 },
  ]) {
    await page.setViewportSize(size);
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow, `horizontal overflow at ${size.width}px`).toBeLessThanOrEqual(0);
    await page.screenshot({
      path: join(ARTIFACTS_DIR, `${name}-${size.width}x${size.height}.png`),
      fullPage: true,
    });
  }
  await page.setViewportSize({ width: 1280, height: 800 });
}

async function waitForDecision(
  target: ApprovalTarget,
  approvalId: string,
  timeoutMs = 20_000,
): Promise<string | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const d = await target.delivered(approvalId);
    if (d || Date.now() > end) return d;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/**
 * Registers the browser scenarios against a target. `makeTarget` is called once (beforeAll); the
 * returned `close` runs in afterAll.
 */
export function defineBrowserApprovalTests(
  label: string,
  makeTarget: () => Promise<ApprovalTarget & { close(): Promise<void> }>,
) {
  describe(`approval page in chromium (${label})`, () => {
    let target: ApprovalTarget & { close(): Promise<void> };
    let browsing: Browsing | undefined;

    // A browser that does not start fails every test (with its error) instead of skipping them.
    let setupError: unknown;

    beforeAll(async () => {
      try {
        mkdirSync(ARTIFACTS_DIR, { recursive: true });
        target = await makeTarget();
        browsing = await launch();
      } catch (err) {
        setupError = err;
      }
    }, 60_000);
    afterAll(async () => {
      await browsing?.close();
      await target?.close();
    });

    const tgt = (): ApprovalTarget => {
      if (setupError) throw setupError;
      return target;
    };
    const ctx = (): BrowserContext => {
      if (setupError) throw setupError;
      if (!browsing) throw new Error('chromium did not start');
      return browsing.context;
    };

    it('shows the diff, approves with a comment → the workflow gets the approval with the approver', async () => {
      const req = await tgt().createRequest();
      const { page, problems } = await open(ctx(), linkOf(req.links, APPROVER));

      await expect.poll(() => page.title()).toMatch(/Approve remediation of app-role/);
      expect(await page.getAttribute('html', 'lang')).toBe('en');
      expect(await page.locator('h1').innerText()).toMatch(
        /Approve remediation of AWS::IAM::Role\s+app-role\?/,
      );
      // What approving does, in one sentence, and the risk cue, before any detail.
      expect(await page.locator('#summary').innerText()).toBe(
        'Approving will: Detach AdministratorAccess from role app-role.',
      );
      const risk = page.getByRole('region', { name: 'Risk: this drift grants privilege' });
      expect(await risk.locator('li').allInnerTexts()).toEqual([
        'AdministratorAccess is attached to app-role, and its template does not declare it.',
      ]);
      const riskBorder = await risk.evaluate((r) => getComputedStyle(r).borderLeftWidth);
      expect(riskBorder).toBe('8px');
      expect(await page.locator('main').innerText()).not.toMatch(/\bnull\b/);
      const diff = page.locator('section[aria-labelledby="h-diff"]');
      expect(await diff.innerText()).toContain('/ManagedPolicyArns/1');
      expect(await diff.locator('.actual pre').first().innerText()).toBe(
        'arn:aws:iam::aws:policy/AdministratorAccess',
      );
      expect(await diff.locator('.expected h4').first().innerText()).toBe('Expected (template)');
      expect(await diff.locator('.expected .none').first().innerText()).toBe('(not in the template)');
      expect(await page.locator('section[aria-labelledby="h-run"]').innerText()).toContain(
        'DriftRemediation-RestoreIamRolePolicies',
      );
      expect(await page.locator('.expiry').innerText()).toMatch(/Time left to decide: (59 minutes|1 hour)/);

      // Styled (the CSP hash admits the stylesheet) and nothing refused by the CSP.
      const approveBg = await page
        .locator('button.approve')
        .evaluate((b) => getComputedStyle(b).backgroundColor);
      expect(approveBg).not.toBe('rgba(0, 0, 0, 0)');
      expect(approveBg).not.toBe('rgb(239, 239, 239)');

      await screenshotsAtBothSizes(page, 'review');

      await page
        .getByLabel('Comment (optional)')
        .fill('Checked with the app team: the admin policy was a mistake.');
      await page.getByRole('button', { name: 'Approve remediation' }).click();
      await page.waitForURL(/\/approvals\//);
      await expect.poll(() => page.locator('h1').innerText()).toBe('Approved');
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'approved-1280x800.png') });
      expect(problems).toEqual([]);

      expect(await waitForDecision(tgt(), req.approvalId)).toBe('approved');
      expect(await tgt().decidedBy(req.approvalId)).toBe(APPROVER);

      // Reloading the link afterwards says what happened instead of offering a second decision.
      await page.goto(linkOf(req.links, APPROVER));
      expect(await page.locator('h1').innerText()).toBe('Already approved');
      expect(await page.locator('form').count()).toBe(0);
      await page.close();
    });

    it('rejects → the workflow gets the rejection', async () => {
      const req = await tgt().createRequest();
      const { page, problems } = await open(ctx(), linkOf(req.links, SECOND_APPROVER));
      await page.getByLabel('Comment (optional)').fill('Not during the change freeze.');
      await page.getByRole('button', { name: 'Reject' }).click();
      await expect.poll(() => page.locator('h1').innerText()).toBe('Rejected');
      await page.setViewportSize({ width: 390, height: 844 });
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'rejected-390x844.png') });
      expect(problems).toEqual([]);
      expect(await waitForDecision(tgt(), req.approvalId)).toBe('rejected');
      expect(await tgt().decidedBy(req.approvalId)).toBe(SECOND_APPROVER);
      await page.close();
    });

    it('keyboard only: Tab to the comment, type, Tab to Approve, Enter', async () => {
      const req = await tgt().createRequest();
      const { page } = await open(ctx(), linkOf(req.links, APPROVER));
      const focused = () =>
        page.evaluate(() => {
          const el = document.activeElement;
          return el ? `${el.tagName.toLowerCase()}#${el.id}[${el.getAttribute('value') ?? ''}]` : '';
        });
      let steps = 0;
      while ((await focused()) !== 'textarea#comment[]') {
        await page.keyboard.press('Tab');
        steps += 1;
        expect(steps, 'the comment field is reachable with Tab').toBeLessThan(30);
      }
      await page.keyboard.type('Approved from the keyboard.');
      await page.keyboard.press('Tab');
      expect(await focused()).toBe('button#[approve]');
      // The focused button shows a visible focus ring.
      const outline = await page.evaluate(
        () => getComputedStyle(document.activeElement as Element).outlineStyle,
      );
      expect(outline).not.toBe('none');
      await page.screenshot({ path: join(ARTIFACTS_DIR, 'keyboard-focus-1280x800.png') });
      await page.keyboard.press('Enter');
      await expect.poll(() => page.locator('h1').innerText()).toBe('Approved');
      expect(await waitForDecision(tgt(), req.approvalId)).toBe('approved');
      await page.close();
    });

    it('works with JavaScript disabled (and a tampered link gets the 403 page)', async () => {
      tgt();
      const noJs = await launch({ javaScriptEnabled: false });
      try {
        const req = await tgt().createRequest();
        const page = await noJs.context.newPage();
        const bad = new URL(linkOf(req.links, APPROVER));
        bad.searchParams.set('approver', SECOND_APPROVER);
        expect((await page.goto(bad.toString()))?.status()).toBe(403);
        expect(await page.locator('h1').innerText()).toBe('This approval link is not valid');
        await page.screenshot({ path: join(ARTIFACTS_DIR, 'invalid-link-390x844.png') });

        expect((await page.goto(linkOf(req.links, APPROVER)))?.status()).toBe(200);
        await page.getByRole('button', { name: 'Approve remediation' }).click();
        await expect.poll(() => page.locator('h1').innerText()).toBe('Approved');
        expect(await waitForDecision(tgt(), req.approvalId)).toBe('approved');
      } finally {
        await noJs.close();
      }
    });

    it('every form control has a label and every section a heading', async () => {
      const req = await tgt().createRequest();
      const { page } = await open(ctx(), linkOf(req.links, APPROVER));
      const unlabeled = await page.evaluate(() =>
        Array.from(document.querySelectorAll('textarea, input:not([type=hidden]), select'))
          .filter((el) => !(el as HTMLInputElement).labels?.length && !el.getAttribute('aria-label'))
          .map((el) => el.outerHTML),
      );
      expect(unlabeled).toEqual([]);
      const sections = await sectionHeadings(page);
      expect(sections.length).toBeGreaterThanOrEqual(4);
      expect(new Set(sections)).toEqual(new Set(['H2']));
      expect(await page.getByRole('button').allInnerTexts()).toEqual(['Approve remediation', 'Reject']);
      await page.close();
    });
  });
}
