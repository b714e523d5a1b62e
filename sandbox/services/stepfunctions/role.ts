/**
 * A state machine's role, as Step Functions checks it at CreateStateMachine: the caller passes the role
 * (iam:PassRole, `iam:PassedToService` states.amazonaws.com) and the role must exist and trust Step Functions
 * — the global principal `states.amazonaws.com` or the regional `states.REGION.amazonaws.com` — with the
 * state machine as `aws:SourceArn` and its account as `aws:SourceAccount`, else AccessDeniedException
 * "Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume
 * the provided role." and nothing is created. Not checked without an IAM module (then there are no roles).
 */
import { isRoleArn, passRole } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import { AwsError, type RequestContext } from '../../core/types';
import { serviceAssumeRefusal } from '../sts';
import { stateMachineArn } from './names';

export async function requireMachineRole(input: Record<string, unknown>, ctx: RequestContext): Promise<void> {
  const role = input.roleArn;
  if (!isRoleArn(role)) return;
  const states = serviceModule(ctx.sandbox, 'stepfunctions');
  if (states) await passRole(ctx.sandbox, ctx.caller, states, role, 'states', ctx.region);
  const name = typeof input.name === 'string' ? input.name : '';
  const context = {
    'aws:SourceAccount': ctx.accountId,
    'aws:SourceArn': stateMachineArn(ctx.region, ctx.accountId, name),
  };
  const why = await serviceAssumeRefusal(ctx.sandbox, role, 'states.amazonaws.com', context, [
    `states.${ctx.region}.amazonaws.com`,
  ]);
  if (!why) return;
  ctx.sandbox.log(`stepfunctions: CreateStateMachine ${name}: ${why}`);
  throw new AwsError(
    'AccessDeniedException',
    'Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.',
  );
}
