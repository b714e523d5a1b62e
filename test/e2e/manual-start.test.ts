/**
 * Manual start end to end (#12): `drift-remediation remediate` (the real CLI, in a child process) puts a
 * drift-remediation.manual event on the sandbox's EventBridge; the intake rule forwards it to intake,
 * which starts the workflow. The role's stack is outside the Config rules' scope, so nothing but the
 * manual request starts it: approved, the runbook runs and the outcome is VERIFIED.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { GetRoleCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalLinks, decideViaForm } from '../../sandbox/demo/approve';
import { CASES } from '../../sandbox/demo/cases';
import {
  awaitExecutionFor,
  deployCase,
  type E2E,
  executionsFor,
  finished,
  outbox,
  sleep,
  startE2E,
  until,
} from './support/harness';

const run = promisify(execFile);
const STACK = 'drift-e2e-manual';
// Named inside the policy's runbookScope (iamRoles: drift-demo-*): the automation role may change it.
const ROLE = 'drift-demo-manual-role';
const adminRole = CASES.find((c) => c.id === 'admin-role');
if (!adminRole) throw new Error('the admin-role demo case is missing');
const dc = adminRole;

let e: E2E;
beforeAll(async () => {
  e = await startE2E({ timeScale: 0.01 });
  await deployCase(e, dc, {
    stackName: STACK,
    inScope: false,
    edit: (t) => t.replace('RoleName: drift-demo-reporting', `RoleName: ${ROLE}`),
  });
});
afterAll(async () => {
  await e?.stop();
});

function cli(...args: string[]) {
  return run(process.execPath, ['--import', 'tsx', 'sandbox/cli.ts', ...args], {
    env: { ...process.env, AWS_ENDPOINT_URL: '' },
    timeout: 60_000,
  });
}

describe('drift-remediation remediate', () => {
  it('refuses a malformed id before sending anything', async () => {
    const err = await cli(
      'remediate',
      '--type',
      'AWS::EC2::SecurityGroup',
      '--id',
      'not-a-group',
      '-e',
      e.sb.endpoint,
    ).then(
      () => undefined,
      (x: { stderr: string; code: number }) => x,
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toContain('is not a valid AWS::EC2::SecurityGroup id');
  });

  it('starts a remediation through EventBridge → intake; approved, it ends VERIFIED', async () => {
    await dc.inject(e.c, ROLE);
    // Out of scope: no Config rule looks at this stack, so nothing starts on its own.
    await sleep(1500);
    expect(await executionsFor(e, ROLE, dc.resourceType)).toEqual([]);

    // By its unique id, as Config reports roles: resolved to the name before anything else.
    const roleId = (await e.c.iam.send(new GetRoleCommand({ RoleName: ROLE }))).Role?.RoleId ?? '';
    expect(roleId).toMatch(/^AROA/);
    const { stdout } = await cli(
      'remediate',
      '--type',
      dc.resourceType,
      '--id',
      roleId,
      '--requested-by',
      'alice@example.com',
      '-e',
      e.sb.endpoint,
    );
    expect(stdout).toMatch(new RegExp(`requested remediation of AWS::IAM::Role ${roleId}: event manual-`));

    const x = await awaitExecutionFor(e, ROLE, { resourceType: dc.resourceType });
    const link = await until(`the approval message for ${ROLE}`, 20_000, async () => {
      const m = (await outbox(e)).find(
        (o) => o.message.includes(ROLE) && approvalLinks(o.message).length > 0,
      );
      return m ? approvalLinks(m.message)[0] : undefined;
    });
    await decideViaForm(link, 'approve', 'e2e: manual start');
    const done = await finished(e, x.arn, 60_000);
    expect(done.outcome).toBe('VERIFIED');
    const input = JSON.parse(done.describe.input ?? '{}') as { event?: Record<string, unknown> };
    expect(input.event).toMatchObject({
      source: 'manual',
      resourceId: ROLE,
      configResourceId: roleId,
      requestedBy: 'alice@example.com',
    });
    expect(await dc.stillWrong(e.c, ROLE)).toBeNull();
  });
});
