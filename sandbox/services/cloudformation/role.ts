/**
 * Whether CloudFormation can act as a role: what a stack operation's RoleARN and a Cloud Control request's
 * RoleArn (which CloudFormation assumes for Cloud Control) both need.
 */
import { serviceModule } from '../../core/sandbox';
import type { SandboxContext } from '../../core/types';
import { serviceMayAssume } from '../sts';

/**
 * Whether CloudFormation can act as `roleArn` (undefined: no role, it acts with the caller's credentials):
 * the role exists and its trust policy admits cloudformation.amazonaws.com. Not checked without an IAM
 * module (then no roles exist and nothing is enforced). A refusal is logged by `service` (the one asking).
 */
export async function cloudFormationMayAct(
  sandbox: SandboxContext,
  roleArn: string | undefined,
  service = 'cloudformation',
): Promise<boolean> {
  if (roleArn === undefined || !serviceModule(sandbox, 'iam')) return true;
  const usable = await serviceMayAssume(sandbox, roleArn, 'cloudformation.amazonaws.com');
  if (!usable) sandbox.log(`${service}: role ${roleArn} does not exist or does not trust CloudFormation`);
  return usable;
}
