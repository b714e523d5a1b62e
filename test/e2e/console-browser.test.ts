/**
 * The ops console (#15) in real Chromium (the @sparticuz/chromium package via playwright-core, the
 * approval tests' launcher) against a sandbox with real executions: a security group opened to SSH
 * (VERIFIED without approval), AdministratorAccess attached to a role (approved with a comment through
 * the review page's form → VERIFIED) and one stopped at once (ABORTED). The page lists the three, filters by
 * keyboard (ABORTED too), opens one and shows the graph with the path taken, the approval record, the
 * runbook's steps and the cost (priced now and as stored on the outcome record); the fleet view counts the
 * outcomes and sums the stored cost per day. Every SDK command the console sent is one of its read-only
 * commands, none a Scan. Screenshots: test-artifacts/console/.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DescribeExecutionCommand, StartExecutionCommand, StopExecutionCommand } from '@aws-sdk/client-sfn';
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONSOLE_COMMANDS } from '../../sandbox/console/data';
import { approvalLinks, decideViaForm } from '../../sandbox/demo/approve';
import { type DriftCase, surfaceDrift } from '../../sandbox/demo/cases';
import { formatUsd } from '../../tasks/shared/cost';
import { type Browsing, launch, open } from '../approvals/support/browser-scenarios';
import {
  awaitExecutionFor,
  demoCase,
  deployCase,
  type E2E,
  finished,
  outbox,
  startE2E,
  until,
} from './support/harness';

const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console');
const ssh = demoCase('ssh-open');
const admin = demoCase('admin-role');
const COMMENT = 'Admin policy attached by mistake (console test)';

let e: E2E;
let browsing: Browsing;
const sent = new Set<string>();
interface Run {
  name: string;
  id: string;
}
let runs: { ssh: Run; admin: Run; aborted: Run };
let setupError: unknown;

async function remediate(dc: DriftCase, approve: boolean) {
  const id = await deployCase(e, dc);
  await dc.inject(e.c, id);
  await surfaceDrift(e.c, dc);
  const run = await awaitExecutionFor(e, id, { resourceType: dc.resourceType });
  if (approve) {
    const link = await until('the approval message', 20_000, async () => {
      const m = (await outbox(e)).find((x) => x.message.includes(id) && approvalLinks(x.message).length > 0);
      return m ? approvalLinks(m.message)[0] : undefined;
    });
    await reviewPageClock(link);
    expect((await decideViaForm(link, 'approve', COMMENT)).status).toBe(200);
  }
  expect((await finished(e, run.arn)).outcome).toBe('VERIFIED');
  return { name: run.name, id };
}

/**
 * The review page's times are on one clock (#15 item 6): the event's "Detected at" (stamped by the emulated
 * Config), "Requested at" and the expiry (Request approval's task clock: the sandbox's clock here) and now.
 */
async function reviewPageClock(link: string): Promise<void> {
  const page = await browsing.context.newPage();
  await page.goto(link);
  const fact = async (name: string) =>
    Date.parse(await page.locator(`dt:text-is("${name}") + dd`).innerText());
  const detected = await fact('Detected at');
  const requested = await fact('Requested at');
  const expires = Date.parse((await page.locator('.expiry time').getAttribute('datetime')) ?? '');
  const now = e.sb.clock.now().getTime();
  expect(detected).toBeLessThanOrEqual(requested);
  expect(requested).toBeLessThanOrEqual(now);
  // The policy's ttlSeconds (3600) after the request, on the same clock (the link and the item carry seconds).
  expect(Math.abs(expires - requested - 3_600_000)).toBeLessThan(1000);
  expect(expires).toBeGreaterThan(now);
  await page.screenshot({ path: join(ARTIFACTS, 'review-page-1280x800.png'), fullPage: true });
  await page.close();
}

const outcomeItems = async (dc: DriftCase, id: string) =>
  (
    await e.c.ddb.send(
      new QueryCommand({
        TableName: e.env('OUTCOMES_TABLE'),
        KeyConditionExpression: 'resourceKey = :k',
        ExpressionAttributeValues: { ':k': `${e.sb.accountId}/${e.sb.region}/${dc.resourceType}/${id}` },
      }),
    )
  ).Items ?? [];

/** An execution for another security group, stopped at once: ABORTED (abort-cleanup records it). */
async function aborted(template: Run): Promise<Run> {
  const first = await e.c.sfn.send(
    new DescribeExecutionCommand({ executionArn: (await awaitExecutionFor(e, template.id)).arn }),
  );
  const id = 'sg-0c0a50e0000000001';
  const input = (first.input ?? '{}').replaceAll(template.id, id);
  const started = await e.c.sfn.send(
    new StartExecutionCommand({ stateMachineArn: e.stack.stateMachineArn, name: 'console-aborted', input }),
  );
  await e.c.sfn.send(new StopExecutionCommand({ executionArn: started.executionArn, cause: 'console test' }));
  await until('the ABORTED outcome', 20_000, async () =>
    (await outcomeItems(ssh, id)).some((i) => i.outcome === 'ABORTED') ? true : undefined,
  );
  return { name: 'console-aborted', id };
}

beforeAll(async () => {
  try {
    mkdirSync(ARTIFACTS, { recursive: true });
    e = await startE2E({ timeScale: 0.01, consoleCommands: sent });
    browsing = await launch();
    const done = { ssh: await remediate(ssh, false), admin: await remediate(admin, true) };
    runs = { ...done, aborted: await aborted(done.ssh) };
  } catch (err) {
    setupError = err;
  }
}, 120_000);
afterAll(async () => {
  await browsing?.close();
  await e?.stop();
});

async function openConsole(hash = ''): Promise<{ page: Page; problems: string[] }> {
  if (setupError) throw setupError;
  return open(browsing.context, `${e.sb.endpoint}/console${hash}`);
}

const rows = (page: Page) => page.locator('table.executions tbody tr');

describe('the ops console in chromium', () => {
  it('lists the executions and filters them by keyboard', async () => {
    const { page, problems } = await openConsole();
    await expect.poll(() => rows(page).count(), { timeout: 15_000 }).toBe(3);
    expect(await page.getAttribute('html', 'lang')).toBe('en');
    expect(await page.locator('main').innerText()).toContain(runs.admin.name);
    await page.screenshot({ path: join(ARTIFACTS, 'list-1280x800.png'), fullPage: true });

    // Keyboard only: the Resource filter by its label, typed into.
    await page.getByLabel('Resource').focus();
    await page.keyboard.type(runs.ssh.id);
    await expect.poll(() => rows(page).count()).toBe(1);
    expect(await rows(page).first().innerText()).toContain(runs.ssh.name);
    // The resource's account and region side by side (the event's; #13).
    expect(await rows(page).first().locator('td').nth(5).innerText()).toBe(
      `${e.sb.accountId} ${e.sb.region}`,
    );
    await page.getByLabel('Resource').fill('');
    await page.getByLabel('Outcome').selectOption('FAILED');
    await expect.poll(() => page.getByRole('status').innerText()).toMatch(/^0 executions/);
    await page.getByLabel('Outcome').selectOption('VERIFIED');
    await expect.poll(() => rows(page).count()).toBe(2);
    // ABORTED is an outcome too (abort-cleanup's), in the list of every outcome the table can hold.
    await page.getByLabel('Outcome').focus();
    await page.keyboard.press('End');
    expect(await page.getByLabel('Outcome').inputValue()).toBe('ABORTED');
    await expect.poll(() => rows(page).count()).toBe(1);
    expect(await rows(page).first().innerText()).toContain(runs.aborted.name);
    await page.screenshot({ path: join(ARTIFACTS, 'list-aborted-1280x800.png'), fullPage: true });
    await page.getByLabel('Outcome').selectOption('');
    for (const label of [
      'Status',
      'Outcome',
      'Rule',
      'Resource',
      'Account',
      'Started after',
      'Started before',
    ])
      expect(await page.getByLabel(label).count(), label).toBe(1);
    expect(problems).toEqual([]);
    await page.close();
  });

  it('opens one by keyboard: graph with the path taken, approval record, runbook steps, cost, history', async () => {
    const { page, problems } = await openConsole();
    const link = page.getByRole('link', { name: runs.admin.name });
    await link.focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('h1').innerText(), { timeout: 15_000 }).toBe(runs.admin.name);

    const graph = page.getByRole('img', { name: /State graph of \d+ states/ });
    const label = (await graph.getAttribute('aria-label')) ?? '';
    expect(label).toContain('Plan remediation → Confirm non-compliance');
    expect(label).toContain('Request approval');
    const taken = await page
      .locator('g.node.taken')
      .evaluateAll((gs) => gs.map((g) => g.getAttribute('data-state')));
    expect(taken).toEqual(expect.arrayContaining(['Request approval', 'Start runbook', 'Outcome: VERIFIED']));
    expect(taken).not.toContain('Outcome: REJECTED');
    expect(await page.locator('g.node:not(.taken)').count()).toBeGreaterThan(0);
    expect(await page.locator('polyline.edge.taken').count()).toBeGreaterThanOrEqual(taken.length - 2);

    const approval = await page.locator('section[aria-labelledby="h-approval"]').innerText();
    expect(approval).toContain('approved');
    expect(approval).toContain('security-oncall@example.com');
    expect(approval).toContain(COMMENT);
    expect(approval).toContain('drift-remediation-demo/1.0');

    const runbook = await page.locator('section[aria-labelledby="h-runbook"]').innerText();
    expect(runbook).toContain('DriftRemediation-RestoreIamRolePolicies');
    expect(runbook).toMatch(/Success/);
    expect(await page.locator('.cost-total').innerText()).toMatch(/^\$0\.\d{6}$/);
    const stored = (await outcomeItems(admin, runs.admin.id)).find(
      (i) => i.executionName === runs.admin.name,
    );
    const recorded = (stored?.cost as { usd?: { total?: number } } | undefined)?.usd?.total ?? 0;
    expect(recorded).toBeGreaterThan(0);
    expect(await page.locator('.cost-recorded').innerText()).toBe(formatUsd(recorded));
    expect(await page.locator('section[aria-labelledby="h-cost"]').innerText()).toMatch(
      /State transitions\s+\d+/,
    );

    // Each state's input opens from the keyboard; nothing secret is shown.
    const input = page.getByText('Input of Plan remediation', { exact: false }).first();
    await input.focus();
    await page.keyboard.press('Enter');
    expect(
      await page.locator('section[aria-labelledby="h-history"] details[open] pre').first().innerText(),
    ).toContain(runs.admin.id);
    const text = await page.locator('main').innerText();
    expect(text).not.toMatch(/[A-Za-z0-9+/=_-]{100,}/);
    expect(text).not.toMatch(/[?&](sig|signature)=/);
    await page.screenshot({ path: join(ARTIFACTS, 'execution-1280x800.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS, 'execution-390x844.png') });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('the fleet view counts outcomes and the stored cost per day, slots and who waits for a human', async () => {
    const { page, problems } = await openConsole();
    // By keyboard from the list: the Fleet link in the console's navigation.
    await page.getByRole('navigation', { name: 'Console' }).getByRole('link', { name: 'Fleet' }).focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('h1').innerText()).toBe('Fleet');
    const days = page.locator('section[aria-labelledby="h-days"]');
    await expect.poll(() => days.locator('tbody tr').count(), { timeout: 15_000 }).toBeGreaterThan(0);
    const head = await days.locator('thead th').allInnerTexts();
    // The period's totals: every outcome of this sandbox is in the period, whatever day it fell on.
    const totals = await days.locator('tfoot td').allInnerTexts();
    const col = (name: string) => totals[head.indexOf(name) - 1];
    expect(Number(col('VERIFIED'))).toBe(2);
    expect(Number(col('ABORTED'))).toBe(1);
    expect(Number(col('Priced'))).toBe(2);
    const storedTotal = (
      await Promise.all([outcomeItems(ssh, runs.ssh.id), outcomeItems(admin, runs.admin.id)])
    )
      .flat()
      .reduce((sum, i) => sum + ((i.cost as { usd?: { total?: number } } | undefined)?.usd?.total ?? 0), 0);
    expect(storedTotal).toBeGreaterThan(0);
    expect(col('Cost')).toBe(formatUsd(Math.round(storedTotal * 1e9) / 1e9));
    expect(await days.locator('table caption').innerText()).toContain('Outcomes per day');
    expect(await page.locator('section[aria-labelledby="h-slots"]').innerText()).toMatch(/In use\s+0/);
    expect(await page.locator('section[aria-labelledby="h-slots"]').innerText()).toMatch(/Queue depth\s+0/);
    expect(await page.locator('section[aria-labelledby="h-flap"]').innerText()).toContain(runs.ssh.id);
    expect(await page.locator('section[aria-labelledby="h-esc"]').innerText()).toContain(
      'Nobody is waited for.',
    );
    // No channel is configured here: no notification delivery failed (test/e2e/notifications.test.ts lists one).
    expect(await page.locator('section[aria-labelledby="h-notify"]').innerText()).toContain('None failed.');
    await page.screenshot({ path: join(ARTIFACTS, 'fleet-1280x800.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('sent only read-only commands, and refuses anything but GET', async () => {
    if (setupError) throw setupError;
    expect([...sent].sort()).toEqual(
      expect.arrayContaining([
        'DescribeExecutionCommand',
        'GetExecutionHistoryCommand',
        'ListExecutionsCommand',
      ]),
    );
    for (const c of sent) expect(CONSOLE_COMMANDS as readonly string[]).toContain(c);
    // Tables are read by key and index (the fleet view's time index), never scanned.
    expect(sent).toContain('QueryCommand');
    expect(sent).not.toContain('ScanCommand');
    const post = await fetch(`${e.sb.endpoint}/console/api/executions`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
  });
});
