/**
 * The installed stack's IAM, as AWS would have it: roles, their inline policies (AWS::IAM::Policy) and
 * customer managed policies go into the sandbox's IAM, and each in-process Lambda handler runs as its
 * execution role — its SDK clients sign with that role session's credentials (tasks/shared/clients.ts's
 * sandbox hook) and the sandbox authorizes each call against the role's policies.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Principal, TemporaryCredentials } from '../core/authz';
import { credentialsFor, rolePrincipal, runAs } from '../core/authz';
import type { Sandbox } from '../core/sandbox';
import type { ProvisionResult, SandboxContext } from '../core/types';

type Props = Record<string, unknown>;

const IAM_TYPES = new Set(['AWS::IAM::Role', 'AWS::IAM::ManagedPolicy', 'AWS::IAM::Policy']);

/**
 * Creates an IAM resource of the template in the sandbox's IAM; undefined when the type is not IAM's or
 * the sandbox has no IAM module (then the installer records a placeholder, as before).
 */
export async function installIamResource(
  sb: Sandbox,
  ctx: SandboxContext,
  stackName: string,
  logicalId: string,
  type: string,
  props: Props,
): Promise<ProvisionResult | undefined> {
  if (!IAM_TYPES.has(type) || !sb.services.has('iam')) return undefined;
  if (type === 'AWS::IAM::Policy') {
    // An inline policy of each named role (CDK's DefaultPolicy); Ref gives the policy name.
    const name = String(props.PolicyName);
    const document = JSON.stringify(props.PolicyDocument);
    for (const role of (props.Roles as unknown[] | undefined) ?? []) {
      await ctx.call('iam', 'PutRolePolicy', {
        RoleName: String(role),
        PolicyName: name,
        PolicyDocument: document,
      });
    }
    return { physicalId: name, attributes: {} };
  }
  const provider = ctx.providers.get(type);
  if (!provider) return undefined;
  const { region, accountId } = ctx;
  return provider.create(logicalId, props, { stackName, region, accountId, sandbox: ctx });
}

const invocations = new AsyncLocalStorage<TemporaryCredentials>();

/** The credentials of the handler invocation running now (the clients' hook reads them). */
export function currentInvocationCredentials(): TemporaryCredentials | undefined {
  return invocations.getStore();
}

/**
 * Runs one invocation of `functionName` as its execution role: in-process calls are made as the role
 * session (`runAs`) and SDK clients sign with its credentials. Without a role (no IAM module, or a
 * template that names none) the handler runs with the process's credentials, as before.
 */
export function runAsFunction<T>(
  sb: Sandbox,
  roleArn: string | undefined,
  functionName: string,
  fn: () => Promise<T>,
): Promise<T> {
  if (!roleArn || !sb.services.has('iam')) return fn();
  const principal: Principal = rolePrincipal(roleArn, functionName);
  const credentials = credentialsFor(sb.context, roleArn, functionName);
  return invocations.run(credentials, () => runAs(principal, fn));
}
