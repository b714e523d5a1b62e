/**
 * Whom Cloud Control's resource handlers act as. AWS: "By default, Cloud Control API uses your AWS user
 * credentials to create a temporary session, and uses that session to make any necessary calls to
 * downstream AWS services"; with a request's `RoleArn` it uses that role, which CloudFormation
 * (cloudformation.amazonaws.com) assumes. Nothing is checked up front: each call a handler makes
 * (sandbox/services/handler-calls.ts) is authorized when it is made, as that call's service evaluates
 * it, so a missing permission fails that call naming its action, and calls made before it stay made.
 */
import { authorize, isRoleArn, type Principal, passRole, rolePrincipal } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import { AwsError, type ProviderContext, type RequestContext } from '../../core/types';
import { cloudFormationMayAct } from '../cloudformation/role';
import { str } from '../state';

/** The session a handler acts with: the request's RoleArn (the sandbox names the session as CloudFormation's) or the caller. */
export interface HandlerSession {
  readonly principal: Principal | undefined;
  /** Why the RoleArn cannot be used (the handler then fails with InvalidCredentials before any call). */
  readonly refusal?: string;
}

const ROLE_SESSION = 'AWSCloudFormation';

/**
 * The request's session. A RoleArn must be a role ARN (ValidationException otherwise) and the caller must
 * be allowed to pass it to CloudFormation (`iam:PassRole`, AccessDeniedException at once); a role that
 * does not exist or does not trust CloudFormation is found when the handler starts (`refusal`).
 */
export async function handlerSession(
  input: Record<string, unknown>,
  ctx: RequestContext,
): Promise<HandlerSession> {
  const roleArn = str(input.RoleArn);
  if (roleArn === undefined) return { principal: ctx.caller };
  if (!isRoleArn(roleArn))
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value '${roleArn}' at 'roleArn' failed to satisfy constraint: Member must satisfy regular expression pattern: arn:.+:iam::[0-9]{12}:role/.+`,
    );
  const module = serviceModule(ctx.sandbox, 'cloudcontrol');
  // The role is passed to CloudFormation, which assumes it for Cloud Control.
  if (module)
    await passRole(
      ctx.sandbox,
      ctx.caller,
      { ...module, signingName: 'cloudformation' },
      roleArn,
      ROLE_SESSION,
      ctx.region,
    );
  const principal = rolePrincipal(roleArn, ROLE_SESSION);
  if (await cloudFormationMayAct(ctx.sandbox, roleArn, 'cloudcontrol')) return { principal };
  return { principal, refusal: `Role ${roleArn} is invalid or cannot be assumed` };
}

/** The handler cannot start: its RoleArn cannot be assumed (Cloud Control's InvalidCredentials). */
export function assertUsable(session: HandlerSession): void {
  if (session.refusal) throw new AwsError('InvalidCredentials', session.refusal, 400);
}

/** The provider context of a handler acting as `session`: each downstream call authorized as it is made. */
export function handlerContext(ctx: RequestContext, session: HandlerSession): ProviderContext {
  const { principal } = session;
  return {
    stackName: 'CloudControl',
    region: ctx.region,
    accountId: ctx.accountId,
    sandbox: ctx.sandbox,
    authorizeCall: async (service, operation, input) => {
      const module = serviceModule(ctx.sandbox, service);
      if (module) await authorize(ctx.sandbox, principal, module, operation, input, ctx.region);
    },
  };
}
