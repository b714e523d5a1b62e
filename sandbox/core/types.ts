/**
 * The sandbox's internal contracts. Every emulated service is a ServiceModule; the server
 * (sandbox/core/server.ts) routes a signed request by its SigV4 credential scope's service name to
 * the module with that signingName, decodes the wire protocol into an SDK-shaped input object
 * (PascalCase member names, exactly as the SDK's *CommandInput), calls the operation, and encodes the
 * SDK-shaped output back into the wire protocol. Operations therefore speak SDK shapes only, which is
 * also what the SSM Automation engine passes for `aws:executeAwsApi` (Service + Api + inputs) through
 * `SandboxContext.call`.
 */

import type { Principal } from './authz';

/** An AWS error with the code the SDK maps to a typed exception (e.g. ValidationError, InvalidGroup.NotFound). */
export class AwsError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly statusCode = 400,
    readonly fault: 'Sender' | 'Receiver' = statusCode >= 500 ? 'Receiver' : 'Sender',
  ) {
    super(message);
    this.name = code;
  }
}

export type Protocol = 'awsQuery' | 'ec2Query' | 'awsJson1_0' | 'awsJson1_1' | 'restXml' | 'restJson1';

/** What an operation knows about its call. */
export interface RequestContext {
  readonly service: string;
  readonly operation: string;
  readonly region: string;
  readonly accountId: string;
  readonly requestId: string;
  readonly sandbox: SandboxContext;
  /** Who called (sandbox/core/authz.ts); undefined when the emulated service itself calls. */
  readonly caller?: Principal;
}

export type OperationHandler = (
  input: Record<string, unknown>,
  ctx: RequestContext,
) => Promise<unknown> | unknown;

export interface RawHttpRequest {
  method: string;
  /** Path without query string, e.g. /2015-03-31/functions/my-fn/configuration */
  path: string;
  query: URLSearchParams;
  headers: Record<string, string>;
  body: Buffer;
  /** The client's address (audit records for unsigned routes such as the approval pages). */
  remoteAddress?: string;
}
export interface RawHttpResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface ServiceModule {
  /** The service's SDK/boto3 name, as SSM's aws:executeAwsApi `Service:` names it: ec2, s3, iam, lambda, cloudformation, cloudcontrol, config, ssm, sns, sqs, events, dynamodb, stepfunctions, secretsmanager, scheduler. */
  readonly serviceName: string;
  /** SigV4 signing name: cloudformation, ec2, s3, iam, lambda, cloudcontrolapi, config, ssm, sns, sqs, events, dynamodb, states, secretsmanager, scheduler … */
  readonly signingName: string;
  readonly protocol: Protocol;
  /** JSON target prefix for awsJson (e.g. AmazonSSM, StarlingDoveService, CloudApiService), XML namespace for query protocols. */
  readonly targetPrefix?: string;
  readonly xmlNamespace?: string;
  /** SDK-shaped operations, by API name (CreateStack, DescribeSecurityGroups …). */
  readonly operations: Record<string, OperationHandler>;
  /**
   * REST protocols only (restXml, restJson1): map an HTTP request to an operation and its SDK-shaped
   * input, and its output back to HTTP. RPC protocols leave this out; the server does the codec.
   */
  readonly rest?: {
    route(req: RawHttpRequest): { operation: string; input: Record<string, unknown> } | undefined;
    encode(operation: string, output: unknown): RawHttpResponse;
    encodeError(err: AwsError, requestId: string): RawHttpResponse;
  };
  /**
   * awsJson services with the awsQueryCompatible trait (SQS): error code → the legacy query error code
   * sent in the `x-amzn-query-error` header (e.g. QueueDoesNotExist → AWS.SimpleQueueService.NonExistentQueue).
   */
  readonly awsQueryCompatible?: Readonly<Record<string, string>>;
  /**
   * The account owning the resource a call names, for services whose ARNs carry none (S3 buckets): IAM
   * then evaluates a caller from another account against both its identity and the resource's policy.
   */
  resourceOwner?(
    operation: string,
    input: Record<string, unknown>,
    sandbox: SandboxContext,
  ): string | undefined;
  /** Called once when the sandbox starts (start engines, register delivery handlers, pollers). */
  start?(ctx: SandboxContext): Promise<void> | void;
  /** Called when the sandbox stops (stop pollers, close engines). */
  stop?(): Promise<void> | void;
}

/** An EventBridge event as PutEvents delivers it to rules (the full envelope). */
export interface BusEvent {
  version: '0';
  id: string;
  'detail-type': string;
  source: string;
  account: string;
  time: string;
  region: string;
  resources: string[];
  detail: Record<string, unknown>;
}

/** Scaled time: every emulated duration (latency, SSM step time, Config delay, Wait states) goes through it. */
export interface Clock {
  /** Real ms per emulated second is 1000 × timeScale (0.01 → a 30 s runbook takes 300 ms). */
  readonly timeScale: number;
  now(): Date;
  /** Sleeps for `seconds` emulated seconds. */
  sleep(seconds: number, signal?: AbortSignal): Promise<void>;
}

/** A change to a resource, from any API or from CloudFormation; Config evaluates on these. */
export interface ResourceChange {
  resourceType: string;
  resourceId: string;
  /** 'deleted' when the resource is gone. */
  kind: 'created' | 'updated' | 'deleted';
  /**
   * True when the change cannot alter the resource's existence, ids, tags, policies or stack membership
   * (a stack's drift status, a rule's description): IAM's cached reads of it stay good (core/changes.ts).
   */
  contentsOnly?: boolean;
}

/**
 * A CloudFormation resource type the sandbox can provision, read back and drift-check. Properties use
 * CloudFormation's property names and shapes (as in a template), so drift is a comparison of like with like.
 */
export interface ResourceProvider {
  readonly type: string;
  create(logicalId: string, props: Record<string, unknown>, ctx: ProviderContext): Promise<ProvisionResult>;
  update(
    physicalId: string,
    props: Record<string, unknown>,
    previous: Record<string, unknown>,
    ctx: ProviderContext,
  ): Promise<ProvisionResult>;
  delete(physicalId: string, ctx: ProviderContext): Promise<void>;
  /** The resource's live properties in template shape, or undefined if it no longer exists. */
  read(physicalId: string, ctx: ProviderContext): Promise<Record<string, unknown> | undefined>;
  /** Whether changing `property` replaces the resource (CloudFormation's "Update requires: Replacement"). */
  requiresReplacement?(property: string): boolean;
  /** Properties AWS drift detection does not check for this type (write-only or unsupported). */
  readonly driftIgnoredProperties?: readonly string[];
  /**
   * A minimal, compliant resource of this type in template shape, for tests that derive a scenario per
   * policy entry (test/runbooks/sandbox.test.ts): deploy it, drift it, remediate it. `{{ Name }}` in a
   * string is replaced by a unique lowercase name.
   */
  readonly sample?: Readonly<Record<string, unknown>>;
  /**
   * Other resources the sample needs (logical id → template resource, `{{ Name }}` replaced alike), deployed
   * before it in the same stack: a function's execution role, which Lambda must be able to assume.
   */
  readonly sampleResources?: Readonly<Record<string, unknown>>;
}

/** One AWS API call as data (as an SSM `aws:executeAwsApi` step names one); `{{ ResourceId }}` is replaced. */
export interface ApiCallSpec {
  /** SDK v3 client package suffix: `ec2` for @aws-sdk/client-ec2. */
  service: string;
  /** Operation name: `AuthorizeSecurityGroupIngress`. */
  api: string;
  input: Record<string, unknown>;
}

export interface ProvisionResult {
  physicalId: string;
  /** Fn::GetAtt values (Arn, GroupId, …). */
  attributes: Record<string, string>;
}

export interface ProviderContext {
  readonly stackName: string;
  readonly region: string;
  readonly accountId: string;
  readonly sandbox: SandboxContext;
  /**
   * Reports an API call the provider's handler makes (SDK-shaped input/output), which CloudTrail records
   * as the stack's role or caller with `invokedBy: cloudformation.amazonaws.com` (sandbox/core/cloudtrail.ts).
   */
  recordCall?(service: string, operation: string, input: Record<string, unknown>, output?: unknown): void;
  /**
   * Authorizes one API call the handler is about to make (sandbox/services/handler-calls.ts) as the identity
   * it acts for; throws the denial (the resource fails naming the action). Absent: nothing is checked.
   */
  authorizeCall?(service: string, operation: string, input: Record<string, unknown>): Promise<void>;
}

/** An AWS Organizations model (SandboxOptions.organization): what `aws:PrincipalOrgID` / `aws:PrincipalOrgPaths` evaluate against. */
export interface Organization {
  /** o-xxxxxxxxxx */
  readonly id: string;
  /** r-xxxx; default r-sbox. */
  readonly rootId?: string;
  readonly managementAccountId?: string;
  /** Member accounts (the management account is a member too), each optionally under an OU (ou-xxxx-xxxxxxxx). */
  readonly accounts: readonly { readonly id: string; readonly ou?: string; readonly name?: string }[];
}

/**
 * The whole sandbox as a service module sees it, for one account and region (a scope). Requests run in
 * the scope of their caller's account (from the access key) and their signature's region; state made
 * with `stateOf` (sandbox/services/state.ts) is kept per scope, so two accounts or two regions never see
 * each other's resources. The home scope (SandboxOptions.accountId / region) is `home`; clock, functions,
 * delivery targets and the SNS outbox are shared by all scopes.
 */
export interface SandboxContext {
  readonly region: string;
  readonly accountId: string;
  /** The home account-region's context (the one `startSandbox` returns); shared registries hang off it. */
  readonly home: SandboxContext;
  /** This sandbox in another account-region (the same object for the same pair; `home` for the home pair). */
  scoped(accountId: string, region: string): SandboxContext;
  /** The organization the sandbox's accounts belong to, when one is configured. */
  readonly organization?: Organization;
  /** The endpoint URL (http://127.0.0.1:PORT) once the server listens; used for SQS queue URLs and links. */
  readonly endpoint?: string;
  readonly clock: Clock;
  /** Publishes an event to the default event bus (rules → targets), like PutEvents but as the emulated AWS service itself: aws.* sources, which PutEvents refuses from callers, are allowed here. */
  putEvent(
    event: Omit<BusEvent, 'version' | 'id' | 'account' | 'region' | 'time'> & Partial<BusEvent>,
  ): Promise<void>;
  /** Calls another emulated service in-process with SDK-shaped input (what aws:executeAwsApi does). Service is the SDK/SSM service name: ec2, s3, iam, lambda, cloudformation, cloudcontrol, config, ssm … */
  call(service: string, operation: string, input: Record<string, unknown>): Promise<Record<string, unknown>>;
  /** Resource providers by CloudFormation type. */
  readonly providers: ReadonlyMap<string, ResourceProvider>;
  /** Tells Config (and anyone listening) that a resource changed. */
  recordChange(change: ResourceChange): void;
  /** Listens to this scope's resource changes only. */
  onChange(listener: (change: ResourceChange) => void): () => void;
  /**
   * Invokes an in-process Lambda handler registered by the installer (sandbox/core/functions.ts), by
   * function name or ARN, with the payload as Lambda would deliver it. Throws the handler's error
   * unchanged (its `name` is the Lambda errorType). Used by Step Functions tasks, SQS event source
   * mappings and EventBridge Lambda targets. At most a few handlers run at once (sandbox/core/functions.ts);
   * `onStart` is called when this one starts running.
   */
  invokeFunction(nameOrArn: string, payload: unknown, hooks?: { onStart?: () => void }): Promise<unknown>;
  /** A sandbox log line (printed by the CLI with --verbose, kept for tests). */
  log(line: string): void;
}
