/**
 * The roles Config acts as. A managed rule that calls other services with a role its parameters name
 * (CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK's `cloudformationRoleArn`) assumes it as
 * `config.amazonaws.com`: the role's trust policy must admit Config (with the rule's account and ARN as
 * `aws:SourceAccount` / `aws:SourceArn`), evaluated with @cloud-copilot/iam-simulate as STS evaluates it;
 * the rule's calls are then made as that role session, so IAM enforces the role's permissions.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { type Principal, rolePrincipal } from '../../core/authz';
import type { SandboxContext } from '../../core/types';
import { iamStore } from '../iam/store';
import { accountScope } from '../state';

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:[^/]+\/)*([\w+=,.@-]{1,64})$/;

/** The session name Config's rule sessions carry (the assumed-role ARN's last part). */
const SESSION = 'AWSConfig-Rule';

/** Why Config may not assume the role for the rule, or undefined when its trust policy admits Config. */
export async function configMayNotAssume(
  sandbox: SandboxContext,
  roleArn: string,
  ruleArn: string,
): Promise<string | undefined> {
  const m = ROLE_ARN.exec(roleArn);
  const account = m?.[1] ?? '';
  const role = m
    ? iamStore(accountScope(sandbox.scoped(account, sandbox.region))).roles.get(m[2] ?? '')
    : undefined;
  if (!role || role.arn !== roleArn) return `the role ${roleArn} does not exist`;
  const r = await runSimulation(
    {
      request: {
        principal: 'config.amazonaws.com',
        action: 'sts:AssumeRole',
        resource: { resource: role.arn, accountId: account },
        contextVariables: {
          'aws:SourceAccount': sandbox.accountId,
          'aws:SourceArn': ruleArn,
          'aws:SecureTransport': 'true',
        },
      },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: JSON.parse(role.assumeRolePolicy),
    },
    {},
  );
  return r.resultType !== 'error' && r.overallResult === 'Allowed'
    ? undefined
    : `config.amazonaws.com is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`;
}

/** The role session a rule's calls are made as. */
export function ruleSession(roleArn: string): Principal {
  return rolePrincipal(roleArn, SESSION);
}
