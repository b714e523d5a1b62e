/**
 * Who is calling, as AWS would know it. Every signed request names an access key; the sandbox mints
 * temporary credentials per role session (`credentialsFor`: what Lambda gives a function for its
 * execution role, what SSM Automation gets by assuming AutomationAssumeRole, …) and maps each key back
 * to its principal. Keys the sandbox did not mint belong to the sandbox's administrator (the demo and CLI
 * dummy credentials), so `aws --endpoint-url …` with any credentials still works.
 *
 * Service principals (EventBridge delivering to a target) are authorized by `authorizeService` against the
 * target's resource policy alone, as AWS does.
 *
 * In-process calls (`SandboxContext.call`, `invokeFunction`) carry their caller in an AsyncLocalStorage
 * context: `runAs(principal, fn)` around an engine's step; no context means the emulated AWS service
 * itself (Config, EventBridge delivery), which is not checked; CloudFormation's provisioning is checked
 * call by call as its resource handlers make them, as the stack's role or caller, and its drift reads as
 * the caller (sandbox/services/handler-calls.ts).
 *
 * The IAM module registers the authorizer (sandbox/services/iam/enforce.ts); without an IAM module
 * nothing is enforced.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import { AwsError, type SandboxContext, type ServiceModule } from './types';

export interface Principal {
  /** As AWS names it in a denial: arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION, or an IAM user ARN. */
  readonly arn: string;
  /** The role whose policies apply (role sessions). */
  readonly roleArn?: string;
  /** The sandbox's administrator: allowed everything without evaluation. */
  readonly admin?: boolean;
}

export interface TemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiration: Date;
}

/** Throws the protocol's access-denied AwsError when IAM would refuse the caller. */
export interface Authorizer {
  /** One API call (its action and resource from the operation and input). */
  call(
    caller: Principal,
    module: ServiceModule,
    operation: string,
    input: Record<string, unknown>,
    region: string,
  ): Promise<void>;
  /** One action on one resource that a call implies (iam:PassRole of a role given to a service). */
  action(
    caller: Principal,
    module: ServiceModule,
    action: string,
    resource: string,
    region: string,
    context?: Record<string, string>,
  ): Promise<void>;
  /**
   * A service principal (`events.amazonaws.com` delivering to a rule's target) doing `action` on
   * `resource`: only the resource's policy can allow it. Resolves to the denial's reason, or undefined.
   */
  service(
    servicePrincipal: string,
    action: string,
    resource: string,
    region: string,
    context: Record<string, string>,
  ): Promise<string | undefined>;
}

interface AuthzState {
  byKey: Map<string, Principal>;
  bySession: Map<string, TemporaryCredentials>;
  authorizer?: Authorizer;
  /** The home account's administrator. */
  admin: Principal;
}

const states = new WeakMap<SandboxContext, AuthzState>();
const callers = new AsyncLocalStorage<Principal | undefined>();

/** One state per sandbox (all account-region scopes share the home context's). */
function state(ctx: SandboxContext): AuthzState {
  const home = ctx.home;
  let s = states.get(home);
  if (!s) {
    s = { byKey: new Map(), bySession: new Map(), admin: adminOf(home.accountId) };
    states.set(home, s);
  }
  return s;
}

/** An account's sandbox administrator (allowed everything, like the account's root user). */
function adminOf(accountId: string): Principal {
  return { arn: `arn:aws:iam::${accountId}:user/sandbox-admin`, admin: true };
}

/** The account a principal belongs to (the account field of its ARN). */
export function accountOf(principal: Principal): string {
  return principal.arn.split(':')[4] ?? '';
}

function keyId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  return `ASIA${[...randomBytes(16)].map((b) => alphabet[b % 32]).join('')}`;
}

/** The role session's principal ARN (arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION). */
export function assumedRoleArn(roleArn: string, sessionName: string): string {
  const m = /^arn:(aws[a-z-]*):iam::(\d{12}):role\/(?:.*\/)?([^/]+)$/.exec(roleArn);
  if (!m) throw new Error(`not a role ARN: ${roleArn}`);
  return `arn:${m[1]}:sts::${m[2]}:assumed-role/${m[3]}/${sessionName}`;
}

/**
 * Temporary credentials for a session of `roleArn` (the same ones for the same role and session name,
 * like a cached STS session); requests signed with them are authorized against that role's policies.
 * Exposed for engines that run code outside this process (e.g. Python for aws:executeScript).
 */
export function credentialsFor(
  ctx: SandboxContext,
  roleArn: string,
  sessionName: string,
): TemporaryCredentials {
  const s = state(ctx);
  const sessionKey = `${roleArn} ${sessionName}`;
  const known = s.bySession.get(sessionKey);
  if (known) return known;
  const creds: TemporaryCredentials = {
    accessKeyId: keyId(),
    secretAccessKey: randomBytes(30).toString('base64'),
    sessionToken: randomBytes(48).toString('base64'),
    expiration: new Date(Date.now() + 12 * 3600_000),
  };
  s.bySession.set(sessionKey, creds);
  s.byKey.set(creds.accessKeyId, { arn: assumedRoleArn(roleArn, sessionName), roleArn });
  return creds;
}

const ROLE_ARN_SHAPE = /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/;

/**
 * Whether `value` is shaped as an IAM role ARN: what a service acting as a role (CloudFormation's RoleARN,
 * Lambda's execution role, a state machine's, a schedule target's, an AutomationAssumeRole) is given to pass
 * and assume; anything else is left to that request's own validation.
 */
export function isRoleArn(value: unknown): value is string {
  return typeof value === 'string' && ROLE_ARN_SHAPE.test(value);
}

/** The principal of a role session, for in-process callers (`runAs`). */
export function rolePrincipal(roleArn: string, sessionName: string): Principal {
  return { arn: assumedRoleArn(roleArn, sessionName), roleArn };
}

/**
 * The principal a signed request's access key belongs to: a session minted here, else the administrator
 * of the account a 12-digit key names (LocalStack's convention), else the home account's administrator.
 */
export function principalForKey(ctx: SandboxContext, accessKeyId: string | undefined): Principal {
  const s = state(ctx);
  const minted = accessKeyId ? s.byKey.get(accessKeyId) : undefined;
  if (minted) return minted;
  return accessKeyId && /^\d{12}$/.test(accessKeyId) ? adminOf(accessKeyId) : s.admin;
}

/** Runs `fn` with `principal` as the caller of the in-process calls it makes. */
export function runAs<T>(principal: Principal | undefined, fn: () => T): T {
  return callers.run(principal, fn);
}

/** Runs `fn` as the emulated AWS service itself (no caller), whatever context it was started from. */
export function asService<T>(fn: () => T): T {
  return callers.exit(fn);
}

/** The in-process caller, or undefined for the service itself. */
export function currentCaller(): Principal | undefined {
  return callers.getStore();
}

export function setAuthorizer(ctx: SandboxContext, authorizer: Authorizer | undefined): void {
  state(ctx).authorizer = authorizer;
}

/** Whether a top-level input member (a QueueUrl, an ARN, an owner id) names an account other than `own`. */
function namesAnotherAccount(input: Record<string, unknown>, own: string): boolean {
  for (const v of Object.values(input)) {
    if (typeof v !== 'string') continue;
    for (const m of v.matchAll(/(?<!\d)\d{12}(?!\d)/g)) if (m[0] !== own) return true;
  }
  return false;
}

/**
 * Authorizes a call by `caller` (no-op for the service itself or without an IAM module; an account's
 * administrator is checked only against another account's resource, whose policy must admit it).
 */
export async function authorize(
  ctx: SandboxContext,
  caller: Principal | undefined,
  module: ServiceModule,
  operation: string,
  input: Record<string, unknown>,
  region: string,
): Promise<void> {
  const authorizer = state(ctx).authorizer;
  if (!caller || !authorizer) return;
  const own = accountOf(caller);
  const owner = module.resourceOwner?.(operation, input, ctx) ?? own;
  if (caller.admin && owner === own && !namesAnotherAccount(input, own)) return;
  await authorizer.call(caller, module, operation, input, region);
}

/**
 * Authorizes a service principal's own access to a resource (EventBridge delivering to a queue, topic or
 * function): without a resource policy that admits it, AWS refuses. Throws AccessDenied naming the action
 * (no-op without an IAM module).
 */
export async function authorizeService(
  ctx: SandboxContext,
  servicePrincipal: string,
  action: string,
  resource: string,
  region: string,
  context: Record<string, string>,
): Promise<void> {
  const authorizer = state(ctx).authorizer;
  if (!authorizer) return;
  const denied = await authorizer.service(servicePrincipal, action, resource, region, context);
  if (denied) throw new AwsError('AccessDenied', denied, 403);
}

/**
 * A service acting as `roleArn` for `caller` (SSM Automation's AutomationAssumeRole): the caller needs
 * iam:PassRole on the role (denied in `module`'s error shape); returns the role session's principal.
 */
export async function passRole(
  ctx: SandboxContext,
  caller: Principal | undefined,
  module: ServiceModule,
  roleArn: string,
  sessionName: string,
  region: string,
): Promise<Principal> {
  const authorizer = state(ctx).authorizer;
  const passedTo = { 'iam:PassedToService': `${module.signingName}.amazonaws.com` };
  if (caller && !caller.admin && authorizer)
    await authorizer.action(caller, module, 'iam:PassRole', roleArn, region, passedTo);
  return rolePrincipal(roleArn, sessionName);
}

/**
 * One action on one resource by `caller` outside any API operation (a Function URL with AuthType AWS_IAM:
 * lambda:InvokeFunctionUrl): throws the module's access-denied error when IAM refuses; an account's
 * administrator and the service itself pass (no-op without an IAM module).
 */
export async function authorizeAction(
  ctx: SandboxContext,
  caller: Principal,
  module: ServiceModule,
  action: string,
  resource: string,
  region: string,
  context: Record<string, string> = {},
): Promise<void> {
  const authorizer = state(ctx).authorizer;
  if (caller.admin || !authorizer) return;
  await authorizer.action(caller, module, action, resource, region, context);
}
