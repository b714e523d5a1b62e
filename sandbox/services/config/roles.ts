/**
 * The roles Config acts as. A managed rule that calls other services with a role its parameters name
 * (CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK's `cloudformationRoleArn`) assumes it as
 * `config.amazonaws.com`: the role's trust policy must admit Config (with the rule's account and ARN as
 * `aws:SourceAccount` / `aws:SourceArn`), evaluated as STS evaluates a service's AssumeRole (sts `serviceMayAssume`);
 * the rule's calls are then made as that role session, so IAM enforces the role's permissions.
 */
import { type Principal, rolePrincipal } from '../../core/authz';
import type { SandboxContext } from '../../core/types';
import { existingRole, serviceMayAssume } from '../sts';

/** The session name Config's rule sessions carry (the assumed-role ARN's last part). */
const SESSION = 'AWSConfig-Rule';

/** Why Config may not assume the role for the rule, or undefined when its trust policy admits Config. */
export async function configMayNotAssume(
  sandbox: SandboxContext,
  roleArn: string,
  ruleArn: string,
): Promise<string | undefined> {
  if (!existingRole(sandbox, roleArn)) return `the role ${roleArn} does not exist`;
  const context = { 'aws:SourceAccount': sandbox.accountId, 'aws:SourceArn': ruleArn };
  return (await serviceMayAssume(sandbox, roleArn, 'config.amazonaws.com', context))
    ? undefined
    : `config.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`;
}

/** The role session a rule's calls are made as. */
export function ruleSession(roleArn: string): Principal {
  return rolePrincipal(roleArn, SESSION);
}
