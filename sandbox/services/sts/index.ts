/**
 * STS (awsQuery): AssumeRole and GetCallerIdentity. AssumeRole evaluates the role's trust policy (a
 * resource policy on the role) together with the caller's identity policies, with
 * @cloud-copilot/iam-simulate, as AWS does: the trust policy must admit the caller — by its ARN, its role's
 * ARN or its account (then the caller's own policies must allow sts:AssumeRole on the role) — under its
 * conditions (`sts:ExternalId`, `aws:PrincipalOrgID`/`aws:PrincipalOrgPaths` from the organization model,
 * `aws:PrincipalAccount`, `aws:PrincipalArn`). Refused: AccessDenied in AWS's words, and no credentials.
 * Admitted: session credentials whose requests run in the role's account as the role session, so IAM
 * enforcement evaluates them against the role's policies. Session policies and tags are not modelled.
 */
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { accountOf, assumedRoleArn, credentialsFor, type Principal } from '../../core/authz';
import { organizationKeys } from '../../core/organization';
import { serviceModule } from '../../core/sandbox';
import { AwsError, type RequestContext, type SandboxContext, type ServiceModule } from '../../core/types';
import { identityPolicies } from '../iam/enforce';
import { iamStore } from '../iam/store';
import { accountScope, num, str } from '../state';

const ROLE_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):role\/(?:[^/]+\/)*([\w+=,.@-]{1,64})$/;
const SESSION_NAME = /^[\w+=,.@-]{2,64}$/;
const EXTERNAL_ID = /^[\w+=,.@:/-]{2,1224}$/;
const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

/** The caller of a request; the emulated service itself acts as the account's administrator. */
function callerOf(ctx: RequestContext): Principal {
  return ctx.caller ?? { arn: `arn:aws:iam::${ctx.accountId}:user/sandbox-admin`, admin: true };
}

function denied(caller: Principal, roleArn: string): AwsError {
  return new AwsError(
    'AccessDenied',
    `User: ${caller.arn} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
    403,
  );
}

/** Whether the role's trust policy (with the caller's own policies where AWS needs them) admits the caller. */
async function trusts(
  sandbox: SandboxContext,
  caller: Principal,
  role: { arn: string; account: string; trust: string },
  externalId: string | undefined,
): Promise<boolean> {
  const account = accountOf(caller);
  const own = caller.roleArn
    ? identityPolicies(iamStore(sandbox.scoped(account, sandbox.region)), caller.roleArn)
    : { identity: caller.admin ? [{ name: 'admin', policy: ALLOW_ALL }] : [], boundary: [] };
  const simulation: Simulation = {
    request: {
      principal: caller.arn,
      action: 'sts:AssumeRole',
      resource: { resource: role.arn, accountId: role.account },
      contextVariables: {
        'aws:PrincipalArn': caller.roleArn ?? caller.arn,
        'aws:PrincipalAccount': account,
        'aws:SecureTransport': 'true',
        ...organizationKeys(sandbox, account),
        ...(externalId ? { 'sts:ExternalId': externalId } : {}),
      },
    },
    identityPolicies: own.identity,
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: JSON.parse(role.trust),
    ...(own.boundary.length > 0 ? { permissionBoundaryPolicies: own.boundary } : {}),
  };
  const r = await runSimulation(simulation, {});
  if (r.resultType !== 'single') {
    sandbox.log(`sts: trust policy of ${role.arn} not evaluable (${JSON.stringify(r)})`);
    return false;
  }
  // A role's trust policy must admit the caller even in the role's own account.
  const trust = r.result.analysis?.resourceAnalysis?.result;
  return r.overallResult === 'Allowed' && (trust === 'Allowed' || trust === 'AllowedForAccount');
}

/** The IAM role `roleArn` names, if it exists (in its own account). */
export function existingRole(sandbox: SandboxContext, roleArn: string) {
  const m = ROLE_ARN.exec(roleArn);
  if (!m) return undefined;
  const role = iamStore(accountScope(sandbox.scoped(m[1] ?? '', sandbox.home.region))).roles.get(m[2] ?? '');
  return role?.arn === roleArn ? role : undefined;
}

/**
 * Whether a service (`cloudformation.amazonaws.com` acting for a stack's RoleARN, `config.amazonaws.com`
 * for a rule's role) may assume `roleArn`: the role exists and its trust policy admits the service
 * principal with the request's `context` (`aws:SourceAccount`, `aws:SourceArn`), as STS decides for AWS services.
 */
export async function serviceMayAssume(
  sandbox: SandboxContext,
  roleArn: string,
  service: string,
  context: Record<string, string> = {},
): Promise<boolean> {
  const role = existingRole(sandbox, roleArn);
  if (!role) return false;
  const r = await runSimulation(
    {
      request: {
        principal: service,
        action: 'sts:AssumeRole',
        resource: { resource: role.arn, accountId: role.arn.split(':')[4] ?? '' },
        contextVariables: { ...context, 'aws:SecureTransport': 'true' },
      },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: JSON.parse(role.assumeRolePolicy),
    },
    {},
  );
  return r.resultType !== 'error' && r.overallResult === 'Allowed';
}

/**
 * Why `service` may not assume `roleArn` (the role is missing or its trust policy does not admit the service
 * with `context`), or undefined when it may — or when the sandbox has no IAM module (then there are no roles
 * and nothing is enforced). `alternatives` are other principals of the same service that count as well (Step
 * Functions' regional `states.REGION.amazonaws.com`).
 */
export async function serviceAssumeRefusal(
  sandbox: SandboxContext,
  roleArn: string,
  service: string,
  context: Record<string, string> = {},
  alternatives: readonly string[] = [],
): Promise<string | undefined> {
  if (!serviceModule(sandbox, 'iam')) return undefined;
  if (!existingRole(sandbox, roleArn)) return `the role ${roleArn} does not exist`;
  for (const principal of [service, ...alternatives])
    if (await serviceMayAssume(sandbox, roleArn, principal, context)) return undefined;
  return `${service} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`;
}

function validated(input: Record<string, unknown>) {
  const roleArn = str(input.RoleArn) ?? '';
  const sessionName = str(input.RoleSessionName) ?? '';
  const externalId = str(input.ExternalId);
  const duration = num(input.DurationSeconds) ?? 3600;
  const m = ROLE_ARN.exec(roleArn);
  if (!m) throw new AwsError('ValidationError', `${roleArn || 'RoleArn'} is not a valid role ARN`);
  if (!SESSION_NAME.test(sessionName))
    throw new AwsError(
      'ValidationError',
      "1 validation error detected: Value at 'roleSessionName' failed to satisfy constraint: Member must satisfy regular expression pattern: [\\w+=,.@-]*",
    );
  if (externalId !== undefined && !EXTERNAL_ID.test(externalId))
    throw new AwsError('ValidationError', 'ExternalId must be 2 to 1224 characters of [\\w+=,.@:/-]');
  if (!Number.isInteger(duration) || duration < 900 || duration > 43_200)
    throw new AwsError('ValidationError', 'DurationSeconds must be between 900 and 43200');
  return { roleArn, account: m[1] ?? '', name: m[2] ?? '', sessionName, externalId, duration };
}

async function assumeRole(input: Record<string, unknown>, ctx: RequestContext) {
  const req = validated(input);
  const caller = callerOf(ctx);
  const role = existingRole(ctx.sandbox, req.roleArn);
  // A role that does not exist is refused like one that does not trust the caller (AWS words both alike).
  if (!role) throw denied(caller, req.roleArn);
  if (req.duration > role.maxSessionDuration)
    throw new AwsError(
      'ValidationError',
      `The requested DurationSeconds exceeds the MaxSessionDuration set for this role.`,
    );
  const admitted = await trusts(
    ctx.sandbox,
    caller,
    { arn: role.arn, account: req.account, trust: role.assumeRolePolicy },
    req.externalId,
  );
  if (!admitted) {
    ctx.sandbox.log(`sts: AccessDenied: ${caller.arn} may not assume ${role.arn} (trust policy)`);
    throw denied(caller, req.roleArn);
  }
  const creds = credentialsFor(ctx.sandbox, role.arn, req.sessionName);
  return {
    Credentials: {
      AccessKeyId: creds.accessKeyId,
      SecretAccessKey: creds.secretAccessKey,
      SessionToken: creds.sessionToken,
      Expiration: new Date(ctx.sandbox.clock.now().getTime() + req.duration * 1000),
    },
    AssumedRoleUser: {
      AssumedRoleId: `${role.id}:${req.sessionName}`,
      Arn: assumedRoleArn(role.arn, req.sessionName),
    },
  };
}

function getCallerIdentity(_input: Record<string, unknown>, ctx: RequestContext) {
  const caller = callerOf(ctx);
  const account = accountOf(caller);
  const session = /assumed-role\/[^/]+\/(.+)$/.exec(caller.arn)?.[1];
  const role = caller.roleArn
    ? iamStore(ctx.sandbox.scoped(account, ctx.sandbox.home.region)).roles.get(
        caller.roleArn.slice(caller.roleArn.lastIndexOf('/') + 1),
      )
    : undefined;
  const userId = session ? `${role?.id ?? 'AROASANDBOX'}:${session}` : `AIDA${account}`;
  return { UserId: userId, Account: account, Arn: caller.arn };
}

export function stsService(): ServiceModule {
  return {
    serviceName: 'sts',
    signingName: 'sts',
    protocol: 'awsQuery',
    xmlNamespace: 'https://sts.amazonaws.com/doc/2011-06-15/',
    operations: { AssumeRole: assumeRole, GetCallerIdentity: getCallerIdentity },
  };
}
