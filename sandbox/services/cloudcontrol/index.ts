/**
 * Cloud Control API (awsJson1.0, target CloudApiService): GetResource / ListResources read through the
 * CloudFormation resource providers (template-shape properties as a JSON string); CreateResource,
 * UpdateResource (RFC 6902 PatchDocument applied to the current properties, then provider.update) and
 * DeleteResource run asynchronously on the sandbox clock and are tracked by ProgressEvents
 * (IN_PROGRESS → SUCCESS | FAILED with Cloud Control's ErrorCode), read with GetResourceRequestStatus.
 * The handlers act as the caller's session or the request's RoleArn (./session.ts): each call they make
 * is authorized when made, so a denied one fails the request (or GetResource / ListResources) naming its
 * action, and the calls made before it stay made, as in AWS.
 */
import { randomUUID } from 'node:crypto';
import jsonpatch, { type Operation as PatchOperation } from 'fast-json-patch';
import {
  AwsError,
  type ProviderContext,
  type RequestContext,
  type ResourceProvider,
  type SandboxContext,
  type ServiceModule,
} from '../../core/types';
import { ec2Store } from '../ec2/store';
import { handlerReads, PartiallyCreated } from '../handler-calls';
import { iamStore } from '../iam/store';
import { lambdaStore } from '../lambda/store';
import { s3Store } from '../s3/store';
import { isObj, num, type Obj, stateOf, str } from '../state';
import { assertUsable, type HandlerSession, handlerContext, handlerSession } from './session';

type Operation = 'CREATE' | 'UPDATE' | 'DELETE';
type Status = 'PENDING' | 'IN_PROGRESS' | 'SUCCESS' | 'FAILED' | 'CANCEL_IN_PROGRESS' | 'CANCEL_COMPLETE';

interface ProgressEvent {
  TypeName: string;
  Identifier?: string;
  RequestToken: string;
  Operation: Operation;
  OperationStatus: Status;
  EventTime: Date;
  ResourceModel?: string;
  StatusMessage?: string;
  ErrorCode?: string;
}

interface Request {
  event: ProgressEvent;
  clientToken?: string;
  /** The request's fingerprint, to tell a retry (same token, same request) from a conflict. */
  fingerprint: string;
  cancelled: boolean;
}

interface CloudControlState {
  requests: Map<string, Request>;
  byClientToken: Map<string, Request>;
}

function state(sandbox: SandboxContext): CloudControlState {
  return stateOf(sandbox, 'cloudcontrol', () => ({ requests: new Map(), byClientToken: new Map() }));
}

/** Properties the provider reports but that cannot be set (Cloud Control's readOnlyProperties). */
const READ_ONLY: Record<string, string[]> = {
  'AWS::EC2::SecurityGroup': ['GroupId', 'Id'],
  'AWS::EC2::SecurityGroupIngress': ['Id'],
  'AWS::S3::Bucket': ['Arn', 'DomainName', 'RegionalDomainName', 'DualStackDomainName', 'WebsiteURL'],
  'AWS::IAM::Role': ['Arn', 'RoleId'],
  'AWS::IAM::ManagedPolicy': ['PolicyArn'],
  'AWS::Lambda::Function': ['Arn'],
};

interface Lister {
  /** The list call the type's list handler makes (service, operation, input), authorized as the caller. */
  call: readonly [service: string, operation: string, input: Obj];
  /** Primary identifiers of every resource of the type (what ListResources pages over). */
  ids: (sandbox: SandboxContext) => string[];
}

const LISTERS: Record<string, Lister> = {
  'AWS::EC2::SecurityGroup': {
    call: ['ec2', 'DescribeSecurityGroups', {}],
    ids: (s) => [...ec2Store(s).groups.keys()],
  },
  'AWS::EC2::SecurityGroupIngress': {
    call: ['ec2', 'DescribeSecurityGroupRules', {}],
    ids: (s) =>
      [...ec2Store(s).groups.values()].flatMap((g) =>
        g.rules.filter((r) => !r.isEgress).map((r) => r.ruleId),
      ),
  },
  'AWS::S3::Bucket': { call: ['s3', 'ListBuckets', {}], ids: (s) => [...s3Store(s).buckets.keys()] },
  'AWS::IAM::Role': { call: ['iam', 'ListRoles', {}], ids: (s) => [...iamStore(s).roles.keys()] },
  'AWS::IAM::ManagedPolicy': {
    call: ['iam', 'ListPolicies', { Scope: 'Local' }],
    ids: (s) => [...iamStore(s).policies.values()].filter((p) => !p.awsManaged).map((p) => p.arn),
  },
  'AWS::Lambda::Function': {
    call: ['lambda', 'ListFunctions', {}],
    ids: (s) => [...lambdaStore(s).functions.keys()],
  },
};

function providerFor(ctx: RequestContext, typeName: unknown): { type: string; provider: ResourceProvider } {
  const type = str(typeName);
  if (!type)
    throw new AwsError(
      'ValidationException',
      "1 validation error detected: Value null at 'typeName' failed to satisfy constraint: Member must not be null",
    );
  if (!/^[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}$/.test(type)) {
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value '${type}' at 'typeName' failed to satisfy constraint: Member must satisfy regular expression pattern: [A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}::[A-Za-z0-9]{2,64}`,
    );
  }
  const provider = ctx.sandbox.providers.get(type);
  if (!provider) throw new AwsError('TypeNotFoundException', `The type ${type} cannot be found.`);
  return { type, provider };
}

/** Cloud Control itself (no caller): the request's own checks of what exists, before a handler runs. */
function serviceContext(ctx: RequestContext): ProviderContext {
  return { stackName: 'CloudControl', region: ctx.region, accountId: ctx.accountId, sandbox: ctx.sandbox };
}

function identifierOf(input: Obj): string {
  const id = str(input.Identifier);
  if (!id)
    throw new AwsError(
      'ValidationException',
      "1 validation error detected: Value null at 'identifier' failed to satisfy constraint: Member must not be null",
    );
  return id;
}

async function readOrNotFound(
  provider: ResourceProvider,
  type: string,
  id: string,
  pctx: ProviderContext,
): Promise<Obj> {
  const props = await provider.read(id, pctx);
  if (!props)
    throw new AwsError(
      'ResourceNotFoundException',
      `Resource of type '${type}' with identifier '${id}' was not found.`,
    );
  return props;
}

const HANDLER_ERROR_CODES = new Set([
  'NotUpdatable',
  'InvalidRequest',
  'AccessDenied',
  'InvalidCredentials',
  'AlreadyExists',
  'NotFound',
  'ResourceConflict',
  'Throttling',
  'ServiceLimitExceeded',
  'NotStabilized',
  'GeneralServiceException',
  'ServiceInternalError',
  'InternalFailure',
]);

/** Maps a provider/service error to Cloud Control's HandlerErrorCode. */
function errorCode(err: unknown): string {
  const code = err instanceof AwsError ? err.code : err instanceof Error ? err.name : '';
  if (HANDLER_ERROR_CODES.has(code)) return code;
  if (/AccessDenied|UnauthorizedOperation|AuthorizationError/.test(code)) return 'AccessDenied';
  if (/NotFound|NoSuch/.test(code)) return 'NotFound';
  if (/Duplicate|AlreadyExists|AlreadyOwned|ResourceConflictException/.test(code)) return 'AlreadyExists';
  if (/DeleteConflict|DependencyViolation/.test(code)) return 'ResourceConflict';
  if (/LimitExceeded/.test(code)) return 'ServiceLimitExceeded';
  if (/Throttl/.test(code)) return 'Throttling';
  if (err instanceof AwsError && err.statusCode < 500) return 'InvalidRequest';
  return 'GeneralServiceException';
}

function eventOut(e: ProgressEvent): Obj {
  return { ...e, EventTime: new Date(e.EventTime) };
}

/** Starts an asynchronous request; `work` runs after a short emulated delay and returns the new model. */
function startRequest(
  signal: AbortSignal,
  ctx: RequestContext,
  base: { TypeName: string; Identifier?: string; Operation: Operation },
  input: Obj,
  work: () => Promise<{ identifier: string; model?: Obj }>,
): Obj {
  const st = state(ctx.sandbox);
  const clientToken = str(input.ClientToken);
  const fingerprint = JSON.stringify({ ...input, ClientToken: undefined });
  if (clientToken) {
    const prior = st.byClientToken.get(clientToken);
    if (prior) {
      if (prior.fingerprint !== fingerprint) {
        throw new AwsError(
          'ClientTokenConflictException',
          `The client token ${clientToken} was already used for a different request.`,
        );
      }
      return { ProgressEvent: eventOut(prior.event) };
    }
  }
  if (base.Identifier !== undefined) {
    for (const r of st.requests.values()) {
      if (
        r.event.TypeName === base.TypeName &&
        r.event.Identifier === base.Identifier &&
        (r.event.OperationStatus === 'IN_PROGRESS' || r.event.OperationStatus === 'PENDING')
      ) {
        throw new AwsError(
          'ConcurrentOperationException',
          `Another resource operation (${r.event.RequestToken}) is in progress on ${base.TypeName} ${base.Identifier}.`,
        );
      }
    }
  }
  const event: ProgressEvent = {
    ...base,
    RequestToken: randomUUID(),
    OperationStatus: 'IN_PROGRESS',
    EventTime: ctx.sandbox.clock.now(),
  };
  const request: Request = { event, clientToken, fingerprint, cancelled: false };
  st.requests.set(event.RequestToken, request);
  if (clientToken) st.byClientToken.set(clientToken, request);
  const snapshot = eventOut(event);
  void (async () => {
    try {
      await ctx.sandbox.clock.sleep(1, signal);
    } catch {
      return; // the sandbox stopped
    }
    if (request.cancelled) {
      event.OperationStatus = 'CANCEL_COMPLETE';
      event.EventTime = ctx.sandbox.clock.now();
      return;
    }
    try {
      // The handler acts with the request's session: each call it makes is authorized as it is made.
      const { identifier, model } = await work();
      event.Identifier = identifier;
      if (model) event.ResourceModel = JSON.stringify(model);
      event.OperationStatus = 'SUCCESS';
    } catch (caught) {
      // A create that failed after its resource was made names it; the resource is left, as in AWS.
      if (caught instanceof PartiallyCreated) event.Identifier = caught.physicalId;
      const err = caught instanceof PartiallyCreated ? caught.cause : caught;
      event.OperationStatus = 'FAILED';
      event.ErrorCode = errorCode(err);
      event.StatusMessage = err instanceof Error ? err.message : String(err);
      ctx.sandbox.log(
        `cloudcontrol ${base.Operation} ${base.TypeName} ${base.Identifier ?? ''} failed: ${event.StatusMessage}`,
      );
    }
    event.EventTime = ctx.sandbox.clock.now();
  })();
  return { ProgressEvent: snapshot };
}

function parseJsonObject(text: unknown, field: string): Obj {
  const s = str(text);
  if (s === undefined)
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value null at '${field}' failed to satisfy constraint: Member must not be null`,
    );
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw new AwsError('InvalidRequestException', `${field} is not valid JSON.`);
  }
  if (!isObj(v)) throw new AwsError('InvalidRequestException', `${field} must be a JSON object.`);
  return v;
}

function parsePatch(text: unknown): PatchOperation[] {
  const s = str(text);
  if (s === undefined)
    throw new AwsError(
      'ValidationException',
      "1 validation error detected: Value null at 'patchDocument' failed to satisfy constraint: Member must not be null",
    );
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    throw new AwsError('InvalidRequestException', 'The PatchDocument is not valid JSON.');
  }
  if (!Array.isArray(v) || v.length === 0)
    throw new AwsError(
      'InvalidRequestException',
      'The PatchDocument must be a non-empty JSON Patch (RFC 6902) array.',
    );
  const ops = v as PatchOperation[];
  const invalid = jsonpatch.validate(ops);
  if (invalid)
    throw new AwsError(
      'InvalidRequestException',
      `Invalid PatchDocument: ${invalid.message.split('\n')[0] ?? invalid.name}`,
    );
  return ops;
}

function stripReadOnly(type: string, props: Obj): Obj {
  const out: Obj = { ...props };
  for (const k of READ_ONLY[type] ?? []) delete out[k];
  return out;
}

type Input = Record<string, unknown>;

/**
 * A handler answering at once (GetResource, ListResources), as Cloud Control reports its failure: a
 * denied or unusable session is `AccessDeniedException` / `InvalidCredentialsException` with
 * `TYPE Handler returned status FAILED: MESSAGE (HandlerErrorCode: CODE, RequestToken: …)`.
 */
async function synchronousHandler<T>(
  type: string,
  session: HandlerSession,
  run: () => Promise<T>,
): Promise<T> {
  try {
    assertUsable(session);
    return await run();
  } catch (err) {
    const code = errorCode(err);
    if (!(err instanceof AwsError) || (code !== 'AccessDenied' && code !== 'InvalidCredentials')) throw err;
    const failed = new AwsError(
      `${code}Exception`,
      `${type} Handler returned status FAILED: ${err.message} (HandlerErrorCode: ${code}, RequestToken: ${randomUUID()})`,
    );
    failed.cause = err;
    throw failed;
  }
}

async function getResource(input: Input, ctx: RequestContext): Promise<Obj> {
  const { type, provider } = providerFor(ctx, input.TypeName);
  const id = identifierOf(input);
  const session = await handlerSession(input, ctx);
  const props = await synchronousHandler(type, session, () =>
    readOrNotFound(provider, type, id, handlerContext(ctx, session)),
  );
  return { TypeName: type, ResourceDescription: { Identifier: id, Properties: JSON.stringify(props) } };
}

async function listResources(input: Input, ctx: RequestContext): Promise<Obj> {
  const { type, provider } = providerFor(ctx, input.TypeName);
  const lister = LISTERS[type];
  if (!lister)
    throw new AwsError('UnsupportedActionException', `Resource type ${type} does not support LIST action`);
  const max = num(input.MaxResults) ?? 100;
  if (max < 1 || max > 100) throw new AwsError('ValidationException', 'MaxResults must be between 1 and 100');
  const token = str(input.NextToken);
  const start = token ? Number.parseInt(Buffer.from(token, 'base64').toString('utf8'), 10) : 0;
  if (Number.isNaN(start)) throw new AwsError('InvalidRequestException', 'The NextToken is not valid.');
  // The list handler's one list call, as the session; the models come from what it lists.
  const [service, operation, call] = lister.call;
  const session = await handlerSession(input, ctx);
  await synchronousHandler(type, session, () =>
    handlerReads(handlerContext(ctx, session), service, [[operation, call]]),
  );
  const ids = lister.ids(ctx.sandbox).sort();
  const descriptions: Obj[] = [];
  for (const id of ids.slice(start, start + max)) {
    const props = await provider.read(id, serviceContext(ctx));
    if (props) descriptions.push({ Identifier: id, Properties: JSON.stringify(props) });
  }
  const next = start + max < ids.length ? Buffer.from(String(start + max)).toString('base64') : undefined;
  return next
    ? { TypeName: type, ResourceDescriptions: descriptions, NextToken: next }
    : { TypeName: type, ResourceDescriptions: descriptions };
}

async function createResource(signal: AbortSignal, input: Input, ctx: RequestContext): Promise<Obj> {
  const { type, provider } = providerFor(ctx, input.TypeName);
  const desired = parseJsonObject(input.DesiredState, 'desiredState');
  const session = await handlerSession(input, ctx);
  return startRequest(signal, ctx, { TypeName: type, Operation: 'CREATE' }, input, async () => {
    assertUsable(session);
    const pctx = handlerContext(ctx, session);
    const res = await provider.create(type.split('::').pop() ?? 'Resource', desired, pctx);
    return { identifier: res.physicalId, model: await provider.read(res.physicalId, pctx) };
  });
}

/** The current model with the request's JSON Patch applied (InvalidRequestException if it does not apply). */
function patched(current: Obj, input: Input): Obj {
  const patch = parsePatch(input.PatchDocument);
  try {
    return jsonpatch.applyPatch(structuredClone(current), patch, true, false).newDocument;
  } catch (err) {
    throw new AwsError(
      'InvalidRequestException',
      `The PatchDocument cannot be applied: ${err instanceof Error ? (err.message.split('\n')[0] ?? err.name) : String(err)}`,
    );
  }
}

/** NotUpdatable when the patch changes a read-only property or one whose change needs a replacement. */
function checkUpdatable(type: string, provider: ResourceProvider, current: Obj, desired: Obj): void {
  for (const k of READ_ONLY[type] ?? []) {
    if (JSON.stringify(current[k]) !== JSON.stringify(desired[k])) {
      throw new AwsError('NotUpdatable', `Property ${k} of ${type} is read-only.`);
    }
  }
  const before = stripReadOnly(type, current);
  const after = stripReadOnly(type, desired);
  for (const k of new Set([...Object.keys(before), ...Object.keys(after)])) {
    if (JSON.stringify(before[k]) !== JSON.stringify(after[k]) && provider.requiresReplacement?.(k)) {
      throw new AwsError('NotUpdatable', `Property ${k} of ${type} cannot be updated (create-only).`);
    }
  }
}

async function updateResource(signal: AbortSignal, input: Input, ctx: RequestContext): Promise<Obj> {
  const { type, provider } = providerFor(ctx, input.TypeName);
  const id = identifierOf(input);
  const desired = patched(await readOrNotFound(provider, type, id, serviceContext(ctx)), input);
  const session = await handlerSession(input, ctx);
  return startRequest(
    signal,
    ctx,
    { TypeName: type, Identifier: id, Operation: 'UPDATE' },
    input,
    async () => {
      assertUsable(session);
      // The update handler reads the resource first, then makes the calls that change what differs.
      const pctx = handlerContext(ctx, session);
      const current = await readOrNotFound(provider, type, id, pctx);
      checkUpdatable(type, provider, current, desired);
      const after = stripReadOnly(type, desired);
      const res = await provider.update(id, after, stripReadOnly(type, current), pctx);
      return { identifier: res.physicalId, model: await provider.read(res.physicalId, pctx) };
    },
  );
}

async function deleteResource(signal: AbortSignal, input: Input, ctx: RequestContext): Promise<Obj> {
  const { type, provider } = providerFor(ctx, input.TypeName);
  const id = identifierOf(input);
  await readOrNotFound(provider, type, id, serviceContext(ctx));
  const session = await handlerSession(input, ctx);
  return startRequest(
    signal,
    ctx,
    { TypeName: type, Identifier: id, Operation: 'DELETE' },
    input,
    async () => {
      assertUsable(session);
      await provider.delete(id, handlerContext(ctx, session));
      return { identifier: id };
    },
  );
}

function requestOf(input: Input, ctx: RequestContext) {
  const token = str(input.RequestToken) ?? '';
  const r = state(ctx.sandbox).requests.get(token);
  if (!r) throw new AwsError('RequestTokenNotFoundException', `Request with token ${token} was not found.`);
  return r;
}

function cancelResourceRequest(input: Input, ctx: RequestContext): Obj {
  const r = requestOf(input, ctx);
  if (r.event.OperationStatus !== 'IN_PROGRESS' && r.event.OperationStatus !== 'PENDING') {
    throw new AwsError(
      'ConcurrentModificationException',
      `Request ${str(input.RequestToken)} is already ${r.event.OperationStatus}.`,
    );
  }
  r.cancelled = true;
  r.event.OperationStatus = 'CANCEL_IN_PROGRESS';
  return { ProgressEvent: eventOut(r.event) };
}

function listResourceRequests(input: Input, ctx: RequestContext): Obj {
  const filter = isObj(input.ResourceRequestStatusFilter) ? input.ResourceRequestStatusFilter : {};
  const ops = Array.isArray(filter.Operations) ? filter.Operations : undefined;
  const statuses = Array.isArray(filter.OperationStatuses) ? filter.OperationStatuses : undefined;
  const list = [...state(ctx.sandbox).requests.values()]
    .map((r) => r.event)
    .filter((e) => (!ops || ops.includes(e.Operation)) && (!statuses || statuses.includes(e.OperationStatus)))
    .map(eventOut);
  return { ResourceRequestStatusSummaries: list };
}

export function cloudControlService(): ServiceModule {
  // Stopping the sandbox ends pending requests' waits.
  const lifetime = new AbortController();
  return {
    stop: () => lifetime.abort(new Error('sandbox stopped')),
    serviceName: 'cloudcontrol',
    signingName: 'cloudcontrolapi',
    protocol: 'awsJson1_0',
    targetPrefix: 'CloudApiService',
    operations: {
      GetResource: getResource,
      ListResources: listResources,
      CreateResource: (input, ctx) => createResource(lifetime.signal, input, ctx),
      UpdateResource: (input, ctx) => updateResource(lifetime.signal, input, ctx),
      DeleteResource: (input, ctx) => deleteResource(lifetime.signal, input, ctx),
      GetResourceRequestStatus: (input, ctx) => ({ ProgressEvent: eventOut(requestOf(input, ctx).event) }),
      CancelResourceRequest: cancelResourceRequest,
      ListResourceRequests: listResourceRequests,
    },
  };
}
