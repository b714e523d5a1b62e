/**
 * Manual start end to end: `drift-remediation remediate` (the real CLI, in a child process) signs its
 * request (SigV4) as an IAM role session to the manual-start entry's Function URL (AuthType AWS_IAM, as
 * the sandbox emulates it: signature and lambda:InvokeFunctionUrl checked); the entry records the caller
 * as requestedBy with its proof and forwards to intake, which starts the workflow. The role's stack is
 * outside the Config rules' scope, so nothing but the manual request starts it: approved, the runbook
 * runs and the outcome is VERIFIED. A manual event naming someone else (even with a copied proof) is
 * marked unauthenticated: its approval page offers no Approve, and an approve POST is refused.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { CreateRoleCommand, GetRoleCommand, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialsFor } from '../../sandbox/core/authz';
import { approvalLinks, decideViaForm } from '../../sandbox/demo/approve';
import { CASES } from '../../sandbox/demo/cases';
import { MANUAL_DETAIL_TYPE, MANUAL_SOURCE } from '../../tasks/shared/manual-start';
import {
  awaitExecutionFor,
  deployCase,
  type E2E,
  executionsFor,
  finished,
  outbox,
  scanAll,
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

function cli(credentials: NodeJS.ProcessEnv, ...args: string[]) {
  return run(process.execPath, ['--import', 'tsx', 'sandbox/cli.ts', ...args], {
    env: { ...process.env, AWS_ENDPOINT_URL: '', ...credentials },
    timeout: 60_000,
  });
}

/** `remediate` of ROLE with `credentials` that the entry must refuse: the CLI's exit code and stderr. */
function refusedRemediate(credentials: NodeJS.ProcessEnv) {
  return cli(credentials, 'remediate', '--type', dc.resourceType, '--id', ROLE, '-e', e.sb.endpoint).then(
    () => undefined,
    (x: { stderr: string; code: number }) => x,
  );
}

describe('drift-remediation remediate', () => {
  it('refuses a malformed id before sending anything', async () => {
    const err = await cli(
      {},
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

  it('starts through the IAM-authenticated entry: the caller is the recorded requester; approved, VERIFIED', async () => {
    await dc.inject(e.c, ROLE);
    // Out of scope: no Config rule looks at this stack, so nothing starts on its own.
    await sleep(1500);
    expect(await executionsFor(e, ROLE, dc.resourceType)).toEqual([]);

    // By its unique id, as Config reports roles: resolved to the name before anything else.
    const roleId = (await e.c.iam.send(new GetRoleCommand({ RoleName: ROLE }))).Role?.RoleId ?? '';
    expect(roleId).toMatch(/^AROA/);
    const alice = await operatorSession('drift-operator', 'alice', true);
    const { stdout } = await cli(
      alice,
      'remediate',
      '--type',
      dc.resourceType,
      '--id',
      roleId,
      '-e',
      e.sb.endpoint,
    );
    const caller = `arn:aws:sts::${e.sb.accountId}:assumed-role/drift-operator/alice`;
    expect(stdout).toContain(`requested remediation of AWS::IAM::Role ${roleId} as ${caller}: event manual-`);

    const x = await awaitExecutionFor(e, ROLE, { resourceType: dc.resourceType });
    const link = await approvalLink();
    await decideViaForm(link, 'approve', 'e2e: manual start');
    const done = await finished(e, x.arn, 60_000);
    expect(done.outcome).toBe('VERIFIED');
    const input = JSON.parse(done.describe.input ?? '{}') as { event?: Record<string, unknown> };
    expect(input.event).toMatchObject({
      source: 'manual',
      resourceId: ROLE,
      configResourceId: roleId,
      requestedBy: caller,
    });
    proven = input.event;
    const item = (await scanAll(e, e.env('APPROVALS_TABLE'))).find((a) => a.executionArn === x.arn);
    expect(item).toMatchObject({ requestedBy: caller, requesterAuthenticated: true });
    expect(await dc.stillWrong(e.c, ROLE)).toBeNull();
  });

  it('refuses a caller without lambda:InvokeFunctionUrl, a request signed with the wrong secret, and an unsigned one', async () => {
    const bob = await operatorSession('drift-bystander', 'bob', false);
    const refused = await refusedRemediate(bob);
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toContain('HTTP 403');
    const alice = await operatorSession('drift-operator', 'alice', true);
    const forged = await refusedRemediate({
      ...alice,
      AWS_SECRET_ACCESS_KEY: 'not-the-secret-of-this-key-000000000000',
    });
    expect(forged?.stderr).toContain('HTTP 403');
    const unsigned = await fetch(new URL('/manual-start/', e.sb.endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceType: dc.resourceType, resourceId: ROLE }),
    });
    expect(unsigned.status).toBe(403);
    await sleep(500);
    expect((await executionsFor(e, ROLE, dc.resourceType)).length).toBe(1); // the first test's only
  });

  it('a forged requestedBy (manual event, copied proof) is marked unauthenticated and cannot be approved', async () => {
    expect(proven).toBeDefined();
    await dc.inject(e.c, ROLE);
    const detail = {
      ...proven,
      eventId: `manual-forged-${Date.now()}`,
      orderingTimestamp: e.sb.clock.now().toISOString(),
      requestedBy: 'bob@example.com',
    };
    const put = await e.c.events.send(
      new PutEventsCommand({
        Entries: [{ Source: MANUAL_SOURCE, DetailType: MANUAL_DETAIL_TYPE, Detail: JSON.stringify(detail) }],
      }),
    );
    expect(put.FailedEntryCount ?? 0).toBe(0);
    const x = await until("the forged request's execution", 20_000, async () =>
      (await executionsFor(e, ROLE, dc.resourceType)).find((r) => r.status === 'RUNNING'),
    );
    const link = await approvalLink((m) => m.includes('bob@example.com'));
    const page = await (await fetch(link)).text();
    expect(page).toContain('requester NOT authenticated');
    expect(page).toContain('This request cannot be approved');
    expect(page).not.toContain('value="approve"');
    const approve = await decideViaForm(link, 'approve', 'self-approval attempt');
    expect(approve.status).toBe(403);
    expect(approve.page).toContain('This request cannot be approved');
    const item = (await scanAll(e, e.env('APPROVALS_TABLE'))).find((a) => a.executionArn === x.arn);
    expect(item).toMatchObject({
      status: 'PENDING',
      requestedBy: 'bob@example.com',
      requesterAuthenticated: false,
    });
    expect(item?.requesterIdentities).toBeUndefined();
    const reject = await decideViaForm(link, 'reject', 'not authenticated');
    expect(reject.status).toBe(200);
    expect((await finished(e, x.arn, 60_000)).outcome).toBe('REJECTED');
  });
});

let proven: Record<string, unknown> | undefined;

/** A role session of `role` (created once, trusting the account) that may, or may not, call the entry's URL. */
async function operatorSession(
  role: string,
  session: string,
  mayInvoke: boolean,
): Promise<NodeJS.ProcessEnv> {
  const trust = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: e.sb.accountId }, Action: 'sts:AssumeRole' }],
  };
  const created = await e.c.iam
    .send(new CreateRoleCommand({ RoleName: role, AssumeRolePolicyDocument: JSON.stringify(trust) }))
    .catch((err: Error) => (err.name.startsWith('EntityAlreadyExists') ? undefined : Promise.reject(err)));
  if (created && mayInvoke) {
    const doc = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'lambda:InvokeFunctionUrl',
          Resource: '*',
          Condition: { StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } },
        },
      ],
    };
    await e.c.iam.send(
      new PutRolePolicyCommand({
        RoleName: role,
        PolicyName: 'manual-start',
        PolicyDocument: JSON.stringify(doc),
      }),
    );
  }
  const c = credentialsFor(e.sb.context, `arn:aws:iam::${e.sb.accountId}:role/${role}`, session);
  return {
    AWS_ACCESS_KEY_ID: c.accessKeyId,
    AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
    AWS_SESSION_TOKEN: c.sessionToken,
  };
}

async function approvalLink(also: (message: string) => boolean = () => true): Promise<string> {
  return until(`the approval message for ${ROLE}`, 20_000, async () => {
    const m = (await outbox(e)).find(
      (o) => o.message.includes(ROLE) && also(o.message) && approvalLinks(o.message).length > 0,
    );
    return m ? approvalLinks(m.message)[0] : undefined;
  });
}
