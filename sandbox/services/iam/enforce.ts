/**
 * IAM enforcement: every call by a role session is evaluated with @cloud-copilot/iam-simulate against
 * the role's identity policies as the IAM module stores them (inline, attached managed — AWS managed ones
 * with their published documents — and the permissions boundary), for the call's IAM action and resource
 * ARN (./actions.ts). Cloud Control's resource handlers make their calls as the caller's session (or
 * its RoleArn's), each evaluated here as it is made (../cloudcontrol/session.ts). A denied call fails
 * with the protocol's error code and AWS's message shape, before the operation runs, so it changes
 * nothing; the sandbox log names the principal and the missing action.
 *
 * Resource-based policies (an SQS queue's or SNS topic's `Policy`, ./resource-policies.ts) are evaluated
 * together with the identity policies as AWS does: for a same-account caller an allow in either suffices;
 * for a caller from another account than the resource's (the account in its ARN) both must allow — an
 * account's administrator too needs the resource policy to reach another account's resource. An explicit
 * deny in either wins. A service principal (EventBridge delivering to a target) has no identity
 * policies: only the resource policy can admit it. The endpoint stands for AWS's TLS endpoint, so
 * `aws:SecureTransport` is `true` for every request (the `Bool aws:SecureTransport false` deny that CDK's
 * `enforceSSL` writes never fires, as for an HTTPS client in AWS).
 *
 * Not evaluated: SCPs, session policies.
 */
import {
  type EvaluationResult,
  runSimulation,
  runUnsafeSimulation,
  type Simulation,
} from '@cloud-copilot/iam-simulate';
import { type Authorizer, accountOf, type Principal, setAuthorizer } from '../../core/authz';
import { organizationKeys } from '../../core/organization';
import { AwsError, type SandboxContext, type ServiceModule } from '../../core/types';
import { iamRequest } from './actions';
import { anyId, arnParts, blindToId, resourceStrings, typesBlindToId } from './decision-key';
import { type KeyUse, keyDenied, keyUse, requestedKey } from './key-use';
import { resourceFacts } from './resource-policies';
import { resourceTagContext } from './resource-tags';
import { type IamStore, iamStore } from './store';
import type { IamCheck, RequestContext } from './tag-on-create';

type Input = Record<string, unknown>;

export interface PolicyInput {
  name: string;
  policy: unknown;
}

/** A role's identity policies (inline, attached) and its permissions boundary, as iam-simulate takes them. */
export function identityPolicies(
  store: IamStore,
  roleArn: string,
): { identity: PolicyInput[]; boundary: PolicyInput[] } {
  const role = store.roles.get(roleArn.slice(roleArn.lastIndexOf('/') + 1));
  if (!role || role.arn !== roleArn) return { identity: [], boundary: [] };
  const identity: PolicyInput[] = [...role.inline.entries()].map(([name, doc]) => ({
    name,
    policy: JSON.parse(doc),
  }));
  for (const arn of role.attached) {
    const p = store.policies.get(arn);
    if (p) identity.push({ name: p.name, policy: JSON.parse(store.defaultDocument(p)) });
  }
  const boundary: PolicyInput[] = [];
  if (role.permissionsBoundary) {
    const p = store.policies.get(role.permissionsBoundary) ?? store.policy(role.permissionsBoundary);
    boundary.push({ name: p.name, policy: JSON.parse(store.defaultDocument(p)) });
  }
  return { identity, boundary };
}

/** What EC2 encodes into its denial (decoded, AWS's message says who, what and on which resource). */
function encodedFailure(caller: Principal, action: string, resource: string): string {
  const context = { principal: { arn: caller.arn }, action, resource };
  return Buffer.from(JSON.stringify({ allowed: false, explicitDeny: false, context })).toString('base64url');
}

/** The protocol's access-denied error, worded as AWS words it. */
export function accessDenied(
  module: ServiceModule,
  caller: Principal,
  action: string,
  resource: string,
  result: EvaluationResult,
  deniedBy: 'identity' | 'resource' = 'identity',
): AwsError {
  const because =
    result === 'ExplicitlyDenied'
      ? `with an explicit deny in ${deniedBy === 'resource' ? 'a resource-based' : 'an identity-based'} policy`
      : `because no identity-based policy allows the ${action} action`;
  const on = module.protocol === 'restXml' ? `"${resource}"` : resource;
  const text = `User: ${caller.arn} is not authorized to perform: ${action} on resource: ${on} ${because}`;
  switch (module.protocol) {
    case 'ec2Query':
      // EC2 ends with the encoded authorization failure (sts:DecodeAuthorizationMessage's input).
      return new AwsError(
        'UnauthorizedOperation',
        `You are not authorized to perform this operation. ${text}. Encoded authorization failure message: ${encodedFailure(caller, action, resource)}`,
        403,
      );
    case 'awsQuery':
      return new AwsError(module.signingName === 'sns' ? 'AuthorizationError' : 'AccessDenied', text, 403);
    case 'restXml':
      return new AwsError('AccessDenied', text, 403);
    case 'restJson1':
      return new AwsError('AccessDeniedException', text, 403);
    default:
      return new AwsError('AccessDeniedException', text, 400);
  }
}

/** One authorization question: may the caller do `action` on `resource` (with these context keys)? */
interface Check {
  action: string;
  resource: string;
  region: string;
  /** The resource's account, where its ARN names none (S3 buckets); default: the ARN's, else the caller's. */
  account?: string;
  context?: RequestContext;
  /** The resource's policy document (JSON text), if it has one. */
  resourcePolicy?: string;
}

/** What IAM decided, and for an explicit deny whether the resource's policy holds it. */
interface Decision {
  result: EvaluationResult;
  deniedBy: 'identity' | 'resource';
}

/** What an account's administrator is allowed by its own account (a resource elsewhere decides for itself). */
const ALLOW_ALL = { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] };

/** The account a resource ARN names (undefined for `*` and ARNs without one, e.g. S3 buckets). */
function resourceAccount(arn: string): string | undefined {
  return /^\d{12}$/.exec(arn.split(':')[4] ?? '')?.[0];
}

/** Context keys every request carries: the endpoint stands for AWS's TLS endpoint. */
const TRANSPORT = { 'aws:SecureTransport': 'true' };

interface RoleTraits {
  readsTags: boolean;
  namesSession: boolean;
  /** The Resource/NotResource strings of its identity policies and boundary (./decision-key.ts). */
  resources: string[] | undefined;
}

/** How often a decision was asked and how often it had to be simulated (the rest were cache hits). */
export interface DecisionStats {
  decisions: number;
  simulations: number;
}

const statsBySandbox = new WeakMap<SandboxContext, DecisionStats>();

/** The sandbox's IAM decision counts so far (every account-region scope together). */
export function decisionStats(sandbox: SandboxContext): DecisionStats {
  let s = statsBySandbox.get(sandbox.home);
  if (!s) {
    s = { decisions: 0, simulations: 0 };
    statsBySandbox.set(sandbox.home, s);
  }
  return s;
}

/** What can make two sessions of one role evaluate differently: policy variables, session-specific keys. */
const SESSION_KEYS = /\$\{|aws:userid|aws:username|aws:SourceIdentity|RoleSessionName|aws:FederatedProvider/i;

class Enforcer {
  private readonly decisions = new Map<string, Promise<Decision>>();
  private readonly roleTraits = new Map<string, RoleTraits>();
  /** A small number per resource policy text, for decision keys (KMS key policies run to kilobytes). */
  private readonly policyIds = new Map<string, number>();
  /** The Resource/NotResource strings of each resource policy text. */
  private readonly policyResources = new Map<string, string[] | undefined>();
  /** Whether a policy set (role or administrator, resource policy) can tell ids under an ARN prefix apart. */
  private readonly blindness = new Map<string, boolean>();
  private generation = -1;
  private readonly stats: DecisionStats;

  constructor(private readonly sandbox: SandboxContext) {
    this.stats = decisionStats(sandbox);
  }

  /** Forgets cached answers when any role or policy changed. */
  private fresh(): IamStore {
    const store = iamStore(this.sandbox);
    if (store.generation !== this.generation || this.decisions.size > 20_000) {
      this.decisions.clear();
      this.roleTraits.clear();
      this.policyIds.clear();
      this.policyResources.clear();
      this.blindness.clear();
      this.generation = store.generation;
    }
    return store;
  }

  /** What a role's policies refer to: resource tags (then they are read), anything naming the session. */
  private traits(roleArn: string): RoleTraits {
    const store = this.fresh();
    let v = this.roleTraits.get(roleArn);
    if (v === undefined) {
      const { identity, boundary } = identityPolicies(store, roleArn);
      const text = JSON.stringify([identity, boundary]);
      // aws:ResourceTag/…, or a service's own key for it (ec2:ResourceTag/…); condition keys ignore case.
      v = {
        readsTags: /:ResourceTag\//i.test(text),
        namesSession: SESSION_KEYS.test(text),
        resources: resourceStrings([...identity, ...boundary].map((p) => p.policy)),
      };
      this.roleTraits.set(roleArn, v);
    }
    return v;
  }

  /** Whether the caller's policies have `aws:ResourceTag` conditions (then the resource's tags are read). */
  private readsTags(caller: Principal): boolean {
    return this.traits(caller.roleArn ?? '').readsTags;
  }

  /**
   * Allowed, ImplicitlyDenied or ExplicitlyDenied for `principal` (a caller's ARN or a service principal).
   * Cached per IAM generation. A role session's answer is its role's whenever nothing in the evaluation
   * can tell sessions apart (no resource policy, no session keys or policy variables in the role's
   * policies): Step Functions and SSM Automation start a session per execution, so keyed by session the
   * cache would never hit for them. Likewise a resource's answer is that of every resource differing
   * only in its id when no policy evaluated can tell their ids apart (./decision-key.ts).
   */
  decide(principal: string, roleArn: string | undefined, check: Check, admin = false): Promise<Decision> {
    const blind = typesBlindToId(check.action);
    if (typeof blind !== 'boolean') return blind.then(() => this.decide(principal, roleArn, check, admin));
    const store = this.fresh();
    const who =
      roleArn && !check.resourcePolicy && !this.traits(roleArn).namesSession ? `role ${roleArn}` : principal;
    const key = JSON.stringify([who, roleArn, this.keyOf(check, roleArn, admin, blind), admin]);
    this.stats.decisions++;
    let d = this.decisions.get(key);
    if (!d) {
      this.stats.simulations++;
      d = this.simulate(store, principal, roleArn, check, admin);
      this.decisions.set(key, d);
    }
    return d;
  }

  /**
   * The check as a key: its resource generalized where the policies cannot tell ids apart, its resource
   * policy's text replaced by that text's number (same text, same number).
   */
  private keyOf(check: Check, roleArn: string | undefined, admin: boolean, typesBlind: boolean): unknown {
    const { resourcePolicy, ...rest } = check;
    let id: number | undefined;
    if (resourcePolicy !== undefined) {
      id = this.policyIds.get(resourcePolicy);
      if (id === undefined) {
        id = this.policyIds.size;
        this.policyIds.set(resourcePolicy, id);
      }
    }
    const parts = typesBlind ? arnParts(check.resource) : undefined;
    let resource = check.resource;
    if (parts) {
      const memo = `${roleArn ?? ''} ${admin} ${id ?? ''} ${parts.prefix}`;
      let blind = this.blindness.get(memo);
      if (blind === undefined) {
        // The policies evaluated: the role's, the administrator's allow-all, the resource's.
        const own = roleArn ? this.traits(roleArn).resources : admin ? ['*'] : [];
        const theirs = resourcePolicy === undefined ? [] : this.resourcesOf(resourcePolicy);
        blind = own !== undefined && theirs !== undefined && blindToId(parts, [...own, ...theirs]);
        this.blindness.set(memo, blind);
      }
      if (blind) resource = anyId(parts);
    }
    return id === undefined ? { ...rest, resource } : [{ ...rest, resource }, id];
  }

  /** The Resource/NotResource strings of a resource policy (undefined: not a policy document). */
  private resourcesOf(policy: string): string[] | undefined {
    if (!this.policyResources.has(policy)) {
      let doc: unknown;
      try {
        doc = JSON.parse(policy);
      } catch {
        doc = undefined;
      }
      this.policyResources.set(policy, doc === undefined ? undefined : resourceStrings([doc]));
    }
    return this.policyResources.get(policy);
  }

  private async simulate(
    store: IamStore,
    principal: string,
    roleArn: string | undefined,
    check: Check,
    admin: boolean,
  ): Promise<Decision> {
    const { action, resource, region, account, context, resourcePolicy } = check;
    if (!roleArn && !admin && !resourcePolicy) return { result: 'ImplicitlyDenied', deniedBy: 'identity' };
    const { identity, boundary } = roleArn
      ? identityPolicies(store, roleArn)
      : { identity: admin ? [{ name: 'administrator', policy: ALLOW_ALL }] : [], boundary: [] };
    const simulation: Simulation = {
      request: {
        principal,
        action,
        // The resource's own account: iam-simulate then needs both policies for a caller from another account.
        resource: { resource, accountId: account ?? resourceAccount(resource) ?? this.sandbox.accountId },
        contextVariables: {
          // The caller's account is this enforcer's; in an organization its keys come with it.
          ...(roleArn || admin
            ? {
                'aws:PrincipalArn': roleArn ?? principal,
                'aws:PrincipalAccount': this.sandbox.accountId,
                ...organizationKeys(this.sandbox, this.sandbox.accountId),
              }
            : {}),
          'aws:RequestedRegion': region,
          ...TRANSPORT,
          ...context,
        },
      },
      identityPolicies: identity,
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      ...(resourcePolicy ? { resourcePolicy: JSON.parse(resourcePolicy) } : {}),
      ...(boundary.length > 0 ? { permissionBoundaryPolicies: boundary } : {}),
    };
    const r = await runSimulation(simulation, {});
    if (r.resultType === 'error') {
      // The data's ARN shapes miss some real ARNs (AWS-owned SSM documents carry no account): evaluate
      // the policies as written, without the request validation.
      this.sandbox.log(`iam: ${action} on ${resource} evaluated unvalidated (${JSON.stringify(r.errors)})`);
      return { result: runUnsafeSimulation(simulation, {}), deniedBy: 'identity' };
    }
    const analysis = r.resultType === 'single' ? r.result.analysis : undefined;
    // Denied by the resource's policy: its explicit deny, or (KMS keys) the identity allows but the key
    // policy does not.
    const byResource =
      analysis?.resourceAnalysis?.result === 'ExplicitlyDenied' ||
      (r.overallResult === 'ImplicitlyDenied' && analysis?.identityAnalysis?.result === 'Allowed');
    return { result: r.overallResult, deniedBy: byResource ? 'resource' : 'identity' };
  }

  readonly authorizer: Authorizer = {
    call: async (caller, module, operation, input, region) => {
      // Anyone may ask who they are: AWS needs no permission for it. AssumeRole is decided by the STS
      // module, which evaluates the role's trust policy with the caller's own policies (and the context).
      if (module.signingName === 'sts') return;
      const { action, checks, known } = await iamRequest(this.sandbox, module, operation, input, region);
      // The resource's account: its ARN's, or its service's record of it (S3 buckets), else the caller's.
      const accountOfResource = (arn: string): string =>
        module.resourceOwner?.(operation, input, this.sandbox) ??
        resourceAccount(arn) ??
        this.sandbox.accountId;
      // The administrator may do anything in its own account; elsewhere only what the resource's policy grants.
      if (caller.admin && checks.every((c) => accountOfResource(c.resource) === this.sandbox.accountId))
        return;
      if (!known) this.sandbox.log(`iam: ${action} is not an action IAM documents; evaluated as written`);
      // A call on several resources (EC2 CreateTags, DynamoDB's batch calls) needs the action on each, and
      // each one's key; the first refused fails the whole call.
      const call = { module, operation, input, region, action };
      for (const c of checks) await this.requireOn(caller, call, c, accountOfResource(c.resource));
    },
    action: (caller, module, action, resource, region, context) =>
      this.require(caller, module, { action, resource, region, ...(context ? { context } : {}) }),
    service: async (servicePrincipal, action, resource, region, context) => {
      const { policy: resourcePolicy, kmsKeyId } = await resourceFacts(this.sandbox, resource);
      const check = { action, resource, region, context, ...(resourcePolicy ? { resourcePolicy } : {}) };
      const { result } = await this.decide(servicePrincipal, undefined, check);
      if (result === 'Allowed') {
        const use = await keyUse(this.sandbox, resource, kmsKeyId, { delivery: action });
        if (!use) return undefined;
        try {
          await this.requireKey(servicePrincipal, undefined, resource.split(':')[4] ?? '', use, context);
          return undefined;
        } catch (err) {
          return err instanceof AwsError ? `${err.code}: ${err.message}` : String(err);
        }
      }
      const why = result === 'ExplicitlyDenied' ? 'explicit deny' : 'no resource-based policy allows it';
      this.sandbox.log(
        `iam: AccessDenied: ${servicePrincipal} is not allowed ${action} on ${resource} (${why})`,
      );
      return `${servicePrincipal} is not authorized to perform: ${action} on resource: ${resource} (${why})`;
    },
  };

  /**
   * One check of a call: the action on its resource (its tags, its resource policy, the request's
   * condition keys) and, for the call's own action, the KMS actions its customer managed key needs for
   * this call (the key the call names for a resource it creates or re-keys).
   */
  private async requireOn(
    caller: Principal,
    call: { module: ServiceModule; operation: string; input: Input; region: string; action: string },
    check: IamCheck,
    account: string,
  ): Promise<void> {
    const { module, operation, input, region } = call;
    const { action, resource } = check;
    const tags = this.readsTags(caller) ? await resourceTagContext(this.sandbox, resource) : {};
    const { policy: resourcePolicy, kmsKeyId } = await resourceFacts(this.sandbox, resource);
    await this.require(caller, module, {
      action,
      resource,
      region,
      account,
      context: { ...tags, ...check.context },
      ...(resourcePolicy ? { resourcePolicy } : {}),
    });
    // An implied action (tag-on-create's ec2:CreateTags) uses no key of its own.
    if (action !== call.action) return;
    const key = requestedKey(module.signingName, operation, input) ?? kmsKeyId;
    const need = { service: module.signingName, operation, input, region };
    const use = await keyUse(this.sandbox, resource, key, need);
    if (use) await this.requireKey(caller.arn, caller.roleArn, accountOf(caller), use, {});
  }

  private async require(caller: Principal, module: ServiceModule, check: Check): Promise<void> {
    const { action, resource } = check;
    const { result, deniedBy } = await this.decide(caller.arn, caller.roleArn, check, caller.admin);
    if (result === 'Allowed') return;
    this.sandbox.log(
      `iam: AccessDenied: ${caller.arn} is not allowed ${action} on ${resource} (${result === 'ExplicitlyDenied' ? `explicit deny in ${deniedBy === 'resource' ? 'the resource' : 'an identity'} policy` : 'no policy allows it'})`,
    );
    throw accessDenied(module, caller, action, resource, result, deniedBy);
  }

  /**
   * The KMS actions a call on an encrypted resource makes for its caller: each must be allowed on the key
   * (its key policy as the resource policy); refused as the resource's service reports it.
   */
  private async requireKey(
    principal: string,
    roleArn: string | undefined,
    callerAccount: string,
    use: KeyUse,
    context: Record<string, string>,
  ): Promise<void> {
    const { policy } = await resourceFacts(this.sandbox, use.keyArn);
    const keyContext = { ...context, 'kms:ViaService': use.viaService, 'kms:CallerAccount': callerAccount };
    for (const action of use.actions) {
      const check = { action, resource: use.keyArn, region: use.region, context: keyContext };
      const { result, deniedBy } = await this.decide(principal, roleArn, {
        ...check,
        ...(policy ? { resourcePolicy: policy } : {}),
      });
      if (result === 'Allowed') continue;
      this.sandbox.log(`iam: AccessDenied: ${principal} is not allowed ${action} on ${use.keyArn} (KMS key)`);
      throw keyDenied(use.viaService.split('.')[0] ?? '', principal, action, use.keyArn, result, deniedBy);
    }
  }
}

/**
 * Turns enforcement on for this sandbox (the IAM module's start hook). A call is evaluated in its
 * caller's account (whose IAM holds the caller's role) and the call's region (where its resource is).
 */
export function enforceIam(sandbox: SandboxContext): void {
  const enforcers = new WeakMap<SandboxContext, Enforcer>();
  const of = (account: string, region: string): Authorizer => {
    const scope = sandbox.scoped(account, region);
    let e = enforcers.get(scope);
    if (!e) {
      e = new Enforcer(scope);
      enforcers.set(scope, e);
    }
    return e.authorizer;
  };
  setAuthorizer(sandbox, {
    call: (caller, module, operation, input, region) =>
      of(accountOf(caller), region).call(caller, module, operation, input, region),
    action: (caller, module, action, resource, region, context) =>
      of(accountOf(caller), region).action(caller, module, action, resource, region, context),
    // A service principal reaches a resource in the resource's own account.
    service: (principal, action, resource, region, context) =>
      of(/^\d{12}$/.exec(resource.split(':')[4] ?? '')?.[0] ?? sandbox.accountId, region).service(
        principal,
        action,
        resource,
        region,
        context,
      ),
  });
}
