/**
 * Who an automation's steps act as, as SSM decides it: the document's `assumeRole` (usually
 * `{{ AutomationAssumeRole }}`) resolved from the execution's parameters — the starter needs
 * iam:PassRole on that role, and the role must trust `ssm.amazonaws.com` (with the execution's account and
 * ARN as `aws:SourceAccount` / `aws:SourceArn`, as SSM assumes it) — or, without one, the principal that
 * started the execution. A role SSM cannot assume does not refuse the start: the execution fails before its
 * first step with AWS's "The defined assume role is unable to be assumed." (the reason in the sandbox log).
 */
import { isRoleArn, type Principal, passRole } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import type { RequestContext } from '../../core/types';
import { serviceAssumeRefusal } from '../sts';
import type { Json } from './values';

/** The failure message of an execution whose assume role SSM cannot assume. */
export const UNASSUMABLE_ROLE = 'The defined assume role is unable to be assumed.';

export interface AutomationCaller {
  caller?: Principal;
  /** Set when SSM cannot assume the role: the execution fails with this message. */
  refused?: string;
}

export async function automationCaller(
  ctx: RequestContext,
  assumeRole: string | undefined,
  parameters: Record<string, Json>,
  executionId: string,
): Promise<AutomationCaller> {
  const starter = ctx.caller ? { caller: ctx.caller } : {};
  const role = (assumeRole ?? '')
    .replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (_m, name: string) => {
      const v = parameters[name];
      return typeof v === 'string' ? v : '';
    })
    .trim();
  if (!isRoleArn(role)) return starter;
  const ssm = serviceModule(ctx.sandbox, 'ssm');
  if (!ssm) return starter;
  const caller = await passRole(ctx.sandbox, ctx.caller, ssm, role, `Automation-${executionId}`, ctx.region);
  const context = {
    'aws:SourceAccount': ctx.accountId,
    'aws:SourceArn': `arn:aws:ssm:${ctx.region}:${ctx.accountId}:automation-execution/${executionId}`,
  };
  const why = await serviceAssumeRefusal(ctx.sandbox, role, 'ssm.amazonaws.com', context);
  if (!why) return { caller };
  ctx.sandbox.log(`ssm: automation ${executionId} cannot assume ${role}: ${why}`);
  return { ...starter, refused: UNASSUMABLE_ROLE };
}
