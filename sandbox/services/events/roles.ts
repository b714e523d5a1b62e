/**
 * Targets EventBridge reaches through an IAM role, the target's `RoleArn` (AWS's "IAM roles for sending events
 * to targets"): a Step Functions state machine — PutTargets refuses one without a role (`ValidationException`
 * "RoleArn is required for target ARN.") — and an event bus of another account or region (a bus whose policy
 * admits an organization rather than the account needs one). Queues, topics and functions are reached through
 * their resource policies instead (events/index.ts `admitted`).
 *
 * PutTargets naming a RoleArn needs the caller's `iam:PassRole` on it (`iam:PassedToService`
 * events.amazonaws.com), refused with EventBridge's `AccessDeniedException` (HTTP 400) before anything is
 * stored. At delivery EventBridge assumes the role as `events.amazonaws.com` with the rule's ARN as
 * `aws:SourceArn` and its account as `aws:SourceAccount` (AWS's confused-deputy keys for rule targets), and
 * makes the target's call as that role session (a state machine: `states:StartExecution`), which IAM
 * evaluates against the role's policies. A role that does not trust EventBridge, or lacks the call, fails the
 * delivery: a failed invocation, logged, the target not invoked.
 */
import { authorize, isRoleArn, type Principal, passRole, rolePrincipal } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import { arnService } from '../../core/targets';
import { AwsError, type SandboxContext, type ServiceModule } from '../../core/types';
import { serviceAssumeRefusal } from '../sts';

interface TargetCall {
  service: string;
  operation: string;
  input: Record<string, unknown>;
}

/** Target services EventBridge reaches as the target's role, with the call it then makes (if IAM sees one). */
const ROLE_TARGETS: Readonly<Record<string, { required: boolean; call?: (arn: string) => TargetCall }>> = {
  states: {
    required: true,
    call: (arn) => ({
      service: 'stepfunctions',
      operation: 'StartExecution',
      input: { stateMachineArn: arn },
    }),
  },
  events: { required: false },
};

/** PutTargets' check of one target's role: required where AWS requires it, passed by the caller. */
export async function checkTargetRole(
  sandbox: SandboxContext,
  caller: Principal | undefined,
  module: ServiceModule,
  target: { Arn: string; RoleArn?: unknown },
  region: string,
): Promise<void> {
  const kind = ROLE_TARGETS[arnService(target.Arn) ?? ''];
  if (target.RoleArn === undefined) {
    if (kind?.required)
      throw new AwsError('ValidationException', `RoleArn is required for target ${target.Arn}.`);
    return;
  }
  if (isRoleArn(target.RoleArn)) await passRole(sandbox, caller, module, target.RoleArn, 'events', region);
}

/**
 * EventBridge assumes `roleArn` for rule `ruleArn` (in `sandbox`'s account) and makes the target's call as it;
 * throws why it may not (nothing delivered). Targets reached through resource policies need nothing here.
 */
export async function assumeTargetRole(
  sandbox: SandboxContext,
  ruleArn: string,
  roleArn: string | undefined,
  targetArn: string,
): Promise<void> {
  const kind = ROLE_TARGETS[arnService(targetArn) ?? ''];
  if (!kind || !roleArn) return;
  const context = { 'aws:SourceArn': ruleArn, 'aws:SourceAccount': sandbox.accountId };
  const why = await serviceAssumeRefusal(sandbox, roleArn, 'events.amazonaws.com', context);
  if (why) throw new AwsError('AccessDenied', `EventBridge could not assume the target's role: ${why}`, 403);
  const call = kind.call?.(targetArn);
  const module = call ? serviceModule(sandbox, call.service) : undefined;
  if (!call || !module) return;
  const session = rolePrincipal(roleArn, ruleArn.slice(ruleArn.lastIndexOf('/') + 1).padEnd(2, '_'));
  await authorize(sandbox, session, module, call.operation, call.input, sandbox.region);
}
