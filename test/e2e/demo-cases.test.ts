/**
 * End to end, through real SDK v3 clients only: each demo drift case goes from a deployed stack that
 * Config reports COMPLIANT, through drift injected with the service's own API, to an execution that
 * records VERIFIED, with the resource back to its template and CloudFormation drift detection IN_SYNC.
 * The approval the admin-role case needs is decided through the review page's form (GET, then POST).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { approvalLinks, decideViaForm } from '../../sandbox/demo/approve';
import { CASES, type DriftCase, surfaceDrift } from '../../sandbox/demo/cases';
import {
  awaitExecutionFor,
  deployCase,
  type E2E,
  finished,
  stackDriftStatus,
  startE2E,
  until,
  waitCompliant,
} from './support/harness';

let e: E2E;
/** Approval pages decided (path → HTTP status of the POST). */
const decisions = new Map<string, number>();
/** Resources whose approval requests the approver decides (only the cases that need one). */
const approvable = new Set<string>();

beforeAll(async () => {
  e = await startE2E({ timeScale: 0.01 });
  // Approval requests arrive as SNS messages; the approver opens the link and approves through the form.
  e.sb.onMessage((m) => {
    const link = approvalLinks(m.message)[0];
    if (!link || ![...approvable].some((id) => m.message.includes(id))) return;
    const key = new URL(link).pathname;
    if (decisions.has(key)) return;
    decisions.set(key, 0);
    void decideViaForm(link, 'approve', 'e2e: approved after review').then(
      (r) => decisions.set(key, r.status),
      () => decisions.set(key, -1),
    );
  });
});

afterAll(async () => {
  await e?.stop();
});

function caseById(id: string): DriftCase {
  const dc = CASES.find((c) => c.id === id);
  if (!dc) throw new Error(`no demo case ${id}`);
  return dc;
}

describe('demo drift cases end to end', () => {
  it.each(['ssh-open', 'bucket-encryption', 'admin-role', 'lambda-memory'])(
    '%s: injected drift → VERIFIED, resource restored, stack IN_SYNC',
    async (id) => {
      const dc = caseById(id);
      const resourceId = await deployCase(e, dc);
      await waitCompliant(e, dc, resourceId);
      expect(await dc.stillWrong(e.c, resourceId)).toBeNull();

      if (dc.approval) approvable.add(resourceId);
      await dc.inject(e.c, resourceId);
      expect(await dc.stillWrong(e.c, resourceId)).not.toBeNull();
      await surfaceDrift(e.c, dc);

      const execution = await awaitExecutionFor(e, resourceId, { resourceType: dc.resourceType });
      expect(execution.resourceType).toBe(dc.resourceType);
      const result = await finished(e, execution.arn);
      expect({ status: result.status, outcome: result.outcome }).toEqual({
        status: 'SUCCEEDED',
        outcome: 'VERIFIED',
      });

      expect(await dc.stillWrong(e.c, resourceId)).toBeNull();
      expect(await stackDriftStatus(e, dc.stackName)).toBe('IN_SYNC');
      await waitCompliant(e, dc, resourceId);
      if (dc.approval) {
        // Exactly one approval page was decided, with a 2xx answer to the POST.
        const statuses = await until('the approval POST to answer', 5_000, async () => {
          const s = [...decisions.values()];
          return s.length > 0 && s.every((x) => x !== 0) ? s : undefined;
        });
        expect(statuses).toHaveLength(1);
        expect(statuses[0]).toBeGreaterThanOrEqual(200);
        expect(statuses[0]).toBeLessThan(300);
      }
    },
    60_000,
  );
});
