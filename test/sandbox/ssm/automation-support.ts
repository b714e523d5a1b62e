/**
 * Waiting for an SSM automation through the real SDK client, shared by the sandbox's SSM tests: polls
 * GetAutomationExecution until the execution reaches one of `statuses` (default: any terminal one).
 */
import { type AutomationExecution, GetAutomationExecutionCommand, type SSMClient } from '@aws-sdk/client-ssm';

export const TERMINAL_STATUSES = ['Success', 'Failed', 'TimedOut', 'Cancelled'] as const;

export async function automationIn(
  ssm: SSMClient,
  id: string,
  statuses: readonly string[] = TERMINAL_STATUSES,
  { tries = 600, everyMs = 50 }: { tries?: number; everyMs?: number } = {},
): Promise<AutomationExecution> {
  for (let i = 0; i < tries; i++) {
    const e = (await ssm.send(new GetAutomationExecutionCommand({ AutomationExecutionId: id })))
      .AutomationExecution;
    if (e?.AutomationExecutionStatus && statuses.includes(e.AutomationExecutionStatus)) return e;
    await new Promise((res) => setTimeout(res, everyMs));
  }
  throw new Error(`automation ${id} did not reach ${statuses.join('/')}`);
}
