/**
 * Issue 5, through the whole sandbox and a real browser: AdministratorAccess attached to a role whose
 * policy entry requires approval → the execution waits at "Request approval" → the approver opens the
 * link from the notification in Chromium (the @sparticuz/chromium package), sees the drift diff, clicks Approve → the execution
 * proceeds to VERIFIED and the role is restored. A second role, rejected in the browser → REJECTED and
 * left as it is. Screenshots of the live page at 1280×800 and 390×844 go to test-artifacts/approvals/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalLinks } from '../../sandbox/demo/approve';
import { CASES, surfaceDrift } from '../../sandbox/demo/cases';
import { ARTIFACTS_DIR, type Browsing, launch } from '../approvals/support/browser-scenarios';
import {
  awaitExecutionFor,
  currentState,
  deployCase,
  type E2E,
  finished,
  outbox,
  startE2E,
  until,
} from './support/harness';

const adminRole = CASES.find((c) => c.id === 'admin-role');
if (!adminRole) throw new Error('the admin-role demo case is missing');
const dc = adminRole;

let e: E2E;
let browsing: Browsing;
// A sandbox or browser that does not start fails both tests with its error (a failed beforeAll would
// only mark them skipped).
let setupError: unknown;

beforeAll(async () => {
  try {
    e = await startE2E({ timeScale: 0.01 });
    browsing = await launch();
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
  } catch (err) {
    setupError = err;
  }
});
afterAll(async () => {
  await browsing?.close();
  await e?.stop();
});

async function awaitingApproval(suffix: string): Promise<{ roleName: string; arn: string; link: string }> {
  if (setupError) throw setupError;
  const stackName = `drift-e2e-browser-${suffix}`;
  const roleName = `drift-e2e-browser-${suffix}`;
  await deployCase(e, dc, {
    stackName,
    edit: (t) => t.replace('RoleName: drift-demo-reporting', `RoleName: ${roleName}`),
  });
  await dc.inject(e.c, roleName);
  await surfaceDrift(e.c, dc, stackName);
  const run = await awaitExecutionFor(e, roleName, { resourceType: dc.resourceType });
  await until(`${run.name} to wait for approval`, 20_000, async () =>
    (await currentState(e, run.arn)) === 'Request approval' ? true : undefined,
  );
  const link = await until(`the approval message for ${roleName}`, 10_000, async () => {
    const m = (await outbox(e)).find(
      (x) => x.message.includes(roleName) && approvalLinks(x.message).length > 0,
    );
    return m ? approvalLinks(m.message)[0] : undefined;
  });
  return { roleName, arn: run.arn, link };
}

describe('approving in a real browser, end to end', () => {
  it('opens the emailed link, shows the drift, approves → VERIFIED and the role restored', async () => {
    const { roleName, arn, link } = await awaitingApproval('approve');
    const page = await browsing.context.newPage();
    await page.goto(link);
    const text = await page.locator('main').innerText();
    expect(text).toContain(roleName);
    expect(text).toContain('AdministratorAccess');
    expect(text).toContain('DriftRemediation-RestoreIamRolePolicies');
    // The first thing the approver reads: what approving does, then the risk.
    expect(await page.locator('#summary').innerText()).toBe(
      `Approving will: Detach AdministratorAccess from role ${roleName}.`,
    );
    expect(
      await page.getByRole('region', { name: 'Risk: this drift grants privilege' }).innerText(),
    ).toContain(`AdministratorAccess is attached to ${roleName}`);
    expect(text).not.toMatch(/\bnull\b/);
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'sandbox-review-1280x800.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS_DIR, 'sandbox-review-390x844.png'), fullPage: true });

    await page.getByLabel(/comment/i).fill('approved from the browser test');
    await page.getByRole('button', { name: /approve/i }).click();
    await page.waitForLoadState('domcontentloaded');
    expect(await page.locator('body').innerText()).toMatch(/approved/i);
    await page.close();

    const r = await finished(e, arn);
    expect(r.outcome).toBe('VERIFIED');
    expect(r.output.approval).toMatchObject({
      decision: 'approved',
      approver: 'security-oncall@example.com',
    });
    expect(await dc.stillWrong(e.c, roleName)).toBeNull();
  });

  it('rejects in the browser → REJECTED, the role left as it is', async () => {
    const { roleName, arn, link } = await awaitingApproval('reject');
    const page = await browsing.context.newPage();
    await page.goto(link);
    await page.getByRole('button', { name: /reject/i }).click();
    await page.waitForLoadState('domcontentloaded');
    expect(await page.locator('body').innerText()).toMatch(/rejected/i);
    await page.close();

    const r = await finished(e, arn);
    expect(r.outcome).toBe('REJECTED');
    expect(await dc.stillWrong(e.c, roleName)).toBe('AdministratorAccess is still attached');
  });
});
