/**
 * The run both permission-removal tests make: a demo case drifted on a sandbox whose template lacks one
 * permission, its execution followed to the end (anything but VERIFIED), and where the refusal surfaced —
 * the state that failed with the refusal's text, and the sandbox's log line naming the role and the action.
 */
import { GetExecutionHistoryCommand } from '@aws-sdk/client-sfn';
import { expect } from 'vitest';
import { type DriftCase, surfaceDrift } from '../../../sandbox/demo/cases';
import { awaitExecutionFor, deployCase, type E2E, finished, waitCompliant } from './harness';
import { failedStateOf } from './template-edits';

export interface DeniedRun {
  resourceId: string;
  /** The state whose task failed with the refusal's text, and that text. */
  failed: ReturnType<typeof failedStateOf>;
  /** The physical name of the role the permission was taken from. */
  roleName: string | undefined;
  /** The sandbox's `iam: AccessDenied:` log line naming `action`. */
  denial: string | undefined;
}

export async function deniedRun(
  e: E2E,
  dc: DriftCase,
  refusal: { text: string; action: string; roleLogicalId: string },
): Promise<DeniedRun> {
  const resourceId = await deployCase(e, dc);
  await waitCompliant(e, dc, resourceId);
  await dc.inject(e.c, resourceId);
  await surfaceDrift(e.c, dc);

  const execution = await awaitExecutionFor(e, resourceId, { resourceType: dc.resourceType });
  const result = await finished(e, execution.arn);
  expect(result.outcome).not.toBe('VERIFIED');

  const history = await e.c.sfn.send(
    new GetExecutionHistoryCommand({ executionArn: execution.arn, maxResults: 1000 }),
  );
  return {
    resourceId,
    failed: failedStateOf(history.events ?? [], refusal.text),
    roleName: e.stack.resources.get(refusal.roleLogicalId)?.physicalId,
    denial: e.sb.logs.find((l) => l.startsWith('iam: AccessDenied:') && l.includes(refusal.action)),
  };
}
