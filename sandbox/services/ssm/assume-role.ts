/**
 * Who an automation's steps act as, as SSM decides it: the document's `assumeRole` (usually
 * `{{ AutomationAssumeRole }}`) resolved from the execution's parameters — the starter needs
 * iam:PassRole on that role — or, without one, the principal that started the execution.
 */
import { type Principal, passRole } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import type { RequestContext } from '../../core/types';
import type { Json } from './values';

export async function automationCaller(
  ctx: RequestContext,
  assumeRole: string | undefined,
  parameters: Record<string, Json>,
  executionId: string,
): Promise<Principal | undefined> {
  const role = (assumeRole ?? '')
    .replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (_m, name: string) => {
      const v = parameters[name];
      return typeof v === 'string' ? v : '';
    })
    .trim();
  if (!role) return ctx.caller;
  if (!/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/.test(role)) return ctx.caller;
  const ssm = serviceModule(ctx.sandbox, 'ssm');
  if (!ssm) return ctx.caller;
  return passRole(ctx.sandbox, ctx.caller, ssm, role, `Automation-${executionId}`, ctx.region);
}
