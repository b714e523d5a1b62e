/**
 * The approval signing secret is encrypted with the stack's customer managed key, so reading it needs
 * kms:Decrypt through Secrets Manager as in AWS. With kms:Decrypt taken from the request-approval
 * function's role in the synthesized template (its identity policies and the key policy statement CDK
 * adds for the secret's readers), an approval-required drift fails at "Request approval" with Secrets
 * Manager's AccessDeniedException ("Access to KMS is not allowed", which names no action, as in AWS), the
 * sandbox log naming the role and kms:Decrypt on the key, and
 * nothing changed: no approval was requested, no automation ran, the drift is still there.
 */
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalLinks } from '../../sandbox/demo/approve';
import { CASES } from '../../sandbox/demo/cases';
import { synthesizeRemediationTemplate } from '../../sandbox/install/synth';
import { deniedRun } from './support/denied-run';
import { automationsFor, type E2E, outbox, startE2E } from './support/harness';
import { withoutPermission } from './support/template-edits';

const REMOVED = 'kms:Decrypt';
const TASK = 'request-approval';
const DENIED = 'Access to KMS is not allowed';

const adminRole = CASES.find((c) => c.id === 'admin-role');
if (!adminRole) throw new Error('the admin-role demo case is missing');
const dc = adminRole;

let e: E2E;
let roleLogicalId: string;

beforeAll(async () => {
  const { template } = await synthesizeRemediationTemplate({ policyFile: 'runbooks/policy.yaml' });
  roleLogicalId = withoutPermission(template, TASK, REMOVED, { keyPolicies: true });
  e = await startE2E({ timeScale: 0.01, template });
}, 120_000);
afterAll(async () => {
  await e?.stop();
});

describe('KMS for the approval signing secret', () => {
  it('request-approval without kms:Decrypt fails at Request approval (Access to KMS is not allowed); nothing changes', async () => {
    const { resourceId, failed, roleName, denial } = await deniedRun(e, dc, {
      text: DENIED,
      action: REMOVED,
      roleLogicalId,
    });
    // Secrets Manager's refusal, as Powertools' SecretsProvider passes it on (GetParameterError).
    expect(failed?.state).toBe('Request approval');
    expect(failed?.error).toMatch(/^GetParameterError /);

    const keyArn = e.stack.find('AWS::KMS::Key')?.attributes.Arn;
    expect(roleName).toBeDefined();
    expect(keyArn).toMatch(/^arn:aws:kms:/);
    expect(denial).toContain(`assumed-role/${roleName}/`);
    expect(denial).toContain(`is not allowed ${REMOVED} on ${keyArn} (KMS key)`);

    // The stack's tables are under the same key, as DynamoDB describes them.
    const table = await e.c.ddb.send(new DescribeTableCommand({ TableName: e.env('APPROVALS_TABLE') }));
    expect(table.Table?.SSEDescription).toEqual({
      Status: 'ENABLED',
      SSEType: 'KMS',
      KMSMasterKeyArn: keyArn,
    });

    // Nothing changed: no approval message went out, no automation started, the drift is still there.
    const messages = (await outbox(e)).filter((m) => m.message.includes(resourceId));
    expect(messages.length).toBeGreaterThan(0); // the FAILED outcome was announced
    expect(messages.filter((m) => approvalLinks(m.message).length > 0)).toEqual([]);
    expect(await automationsFor(e, resourceId)).toEqual([]);
    expect(await dc.stillWrong(e.c, resourceId)).not.toBeNull();
  }, 90_000);
});
