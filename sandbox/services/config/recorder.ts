/**
 * Config's configuration recorder: PutConfigurationRecorder (one per account and region, with a role Config
 * assumes and a recording group), PutDeliveryChannel (needed before StartConfigurationRecorder),
 * Start/StopConfigurationRecorder, DescribeConfigurationRecorders / …Status, and the configuration items it
 * records. While recording, every change of a resource of a recorded type (and, on start, every existing
 * one) is read as the recorder's role session (`AWSConfig-Describe`) through IAM enforcement — the describe
 * calls of discovery.ts, each authorized as that role — and recorded as a configuration item; a refused read
 * leaves the item unrecorded (or stale), shows in the status (`lastStatus` Failure, `lastErrorCode`,
 * `lastErrorMessage`) and the sandbox log. Managed rules evaluate these items (evaluators.ts), and an item
 * that differs from the resource's last one is a configuration change (`onRecorded`), which change-triggered
 * rules evaluate (index.ts); so a type the recorder does not record, or a stopped recorder, gives no new
 * evaluations.
 *
 * An account with Config enabled (what the project's prerequisites ask for) has a recorder: unless
 * `ConfigServiceOptions.defaultRecorder` is false, each account-region gets on first use the recorder
 * `default` as the service-linked role AWSServiceRoleForConfig (AWSConfigServiceRolePolicy from the managed
 * policy data), recording all supported types including global (IAM) ones, with the delivery channel
 * `default`. Delivery itself (snapshots to S3, SNS) is not emulated.
 */
import { authorize, rolePrincipal } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import { AwsError, type RequestContext, type SandboxContext } from '../../core/types';
import { iamStore } from '../iam/store';
import { s3Store } from '../s3/store';
import { isObj, type Obj, stateOf, str, strs } from '../state';
import { existingRole, serviceMayAssume } from '../sts';
import {
  CAPTURED_TYPES,
  CONFIG_RESOURCE_TYPES,
  capture,
  type Discovered,
  idsOfType,
  type ReadCall,
} from './discovery';

const GLOBAL_TYPES = new Set(['AWS::IAM::Role', 'AWS::IAM::Policy', 'AWS::IAM::User', 'AWS::IAM::Group']);
const STRATEGIES = [
  'ALL_SUPPORTED_RESOURCE_TYPES',
  'INCLUSION_BY_RESOURCE_TYPES',
  'EXCLUSION_BY_RESOURCE_TYPES',
];
/** The session name of the recorder's reads (the assumed-role ARN's last part, as in CloudTrail). */
const SESSION = 'AWSConfig-Describe';

export interface RecordingGroup {
  allSupported: boolean;
  includeGlobalResourceTypes: boolean;
  resourceTypes: string[];
  exclusionByResourceTypes: { resourceTypes: string[] };
  recordingStrategy: { useOnly: string };
}

interface Recorder {
  name: string;
  roleARN: string;
  recordingGroup: RecordingGroup;
  recording: boolean;
  lastStartTime?: Date;
  lastStopTime?: Date;
  lastStatus?: 'Pending' | 'Success' | 'Failure';
  lastErrorCode?: string;
  lastErrorMessage?: string;
  lastStatusChangeTime?: Date;
}

interface DeliveryChannel {
  name: string;
  s3BucketName: string;
  s3KeyPrefix?: string;
  snsTopicARN?: string;
  configSnapshotDeliveryProperties?: Obj;
}

/** A configuration item as Config keeps it. */
export interface ConfigurationItem extends Omit<Discovered, 'configuration'> {
  status: 'OK' | 'ResourceDeleted';
  captureTime: Date;
  configuration: Obj | null;
}

/**
 * Told of each configuration item the recorder records that differs from the resource's last one (a
 * configuration change, ResourceDeleted included): what change-triggered rules evaluate (index.ts).
 */
export type RecordedListener = (item: ConfigurationItem) => void;

/** Which recordings tell the listeners: those that changed the item, every one, or none. */
type Notify = 'changed' | 'always' | 'never';

interface RecorderState {
  recorder?: Recorder;
  channel?: DeliveryChannel;
  /** `${type}|${id}` → the latest configuration item. */
  items: Map<string, ConfigurationItem>;
  /** Recordings in progress (an evaluation waits for the item of the change it follows). */
  inflight: Map<string, Promise<void>>;
  /** The sweep of every existing resource when the recorder starts. */
  sweep?: Promise<void>;
  /** Physical id → Config id of roles and policies seen, so a deleted one is recorded under its id. */
  configIds: Map<string, string>;
  unsubscribe?: () => void;
  listeners: Set<RecordedListener>;
  defaulted: boolean;
}

export interface RecorderOptions {
  /** Give each account-region the recorder an account with Config enabled has (default true). */
  defaultRecorder: boolean;
}

function recorderState(sandbox: SandboxContext): RecorderState {
  return stateOf(sandbox, 'config-recorder', () => ({
    items: new Map(),
    inflight: new Map(),
    configIds: new Map(),
    listeners: new Set(),
    defaulted: false,
  }));
}

/** Listens to the configuration changes the recorder records in this account-region; returns the unsubscribe. */
export function onRecorded(sandbox: SandboxContext, listener: RecordedListener): () => void {
  const { listeners } = recorderState(sandbox);
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Whether two items of a resource record the same configuration (capture times aside). */
function sameItem(a: ConfigurationItem | undefined, b: ConfigurationItem): boolean {
  const content = ({ captureTime: _, ...rest }: ConfigurationItem) => JSON.stringify(rest);
  return a !== undefined && content(a) === content(b);
}

/** Stores an item and tells the listeners, as `notify` says. */
function store(st: RecorderState, item: ConfigurationItem, notify: Notify): void {
  const key = `${item.resourceType}|${item.resourceId}`;
  const prev = st.items.get(key);
  st.items.set(key, item);
  if (notify === 'never' || (notify === 'changed' && sameItem(prev, item))) return;
  for (const listener of st.listeners) listener(item);
}

/** Config's service-linked role ARN in the sandbox's account. */
export function serviceLinkedRoleArn(sandbox: SandboxContext): string {
  return `arn:aws:iam::${sandbox.accountId}:role/aws-service-role/config.amazonaws.com/AWSServiceRoleForConfig`;
}

/** The role the recorder acts as, if there is a recorder. */
export function recorderRole(sandbox: SandboxContext): string | undefined {
  return recorderState(sandbox).recorder?.roleARN;
}

/** Whether the recorder records the type (its recording group). */
function recordsType(group: RecordingGroup, type: string): boolean {
  switch (group.recordingStrategy.useOnly) {
    case 'INCLUSION_BY_RESOURCE_TYPES':
      return group.resourceTypes.includes(type);
    case 'EXCLUSION_BY_RESOURCE_TYPES':
      return !group.exclusionByResourceTypes.resourceTypes.includes(type);
    default:
      return !GLOBAL_TYPES.has(type) || group.includeGlobalResourceTypes;
  }
}

function badGroup(message: string): AwsError {
  return new AwsError('InvalidRecordingGroupException', message);
}

function typesOf(value: unknown): string[] {
  const types = strs(value);
  const unknown = types.filter((t) => !CONFIG_RESOURCE_TYPES.has(t));
  if (unknown.length > 0) throw badGroup(`The resource types [${unknown.join(', ')}] are not valid.`);
  return types;
}

/** The recording group of a request, checked as Config checks it (default: all supported types). */
function recordingGroupOf(input: unknown): RecordingGroup {
  const g = isObj(input) ? input : {};
  const allSupported = g.allSupported === undefined ? true : g.allSupported === true;
  const includeGlobal = g.includeGlobalResourceTypes === true;
  const resourceTypes = typesOf(g.resourceTypes);
  const excluded = typesOf(isObj(g.exclusionByResourceTypes) ? g.exclusionByResourceTypes.resourceTypes : []);
  const fallback = allSupported ? STRATEGIES[0] : excluded.length > 0 ? STRATEGIES[2] : STRATEGIES[1];
  const useOnly = (isObj(g.recordingStrategy) ? str(g.recordingStrategy.useOnly) : undefined) ?? fallback;
  if (!useOnly || !STRATEGIES.includes(useOnly))
    throw badGroup(`The recording strategy ${useOnly} is not valid.`);
  if (allSupported && (resourceTypes.length > 0 || excluded.length > 0 || useOnly !== STRATEGIES[0]))
    throw badGroup('When allSupported is true, resourceTypes and exclusionByResourceTypes must be empty.');
  if (includeGlobal && !allSupported)
    throw badGroup('includeGlobalResourceTypes can be true only when allSupported is true.');
  if (useOnly === STRATEGIES[1] && resourceTypes.length === 0)
    throw badGroup('The recording group must list resourceTypes for INCLUSION_BY_RESOURCE_TYPES.');
  if (useOnly === STRATEGIES[2] && excluded.length === 0)
    throw badGroup('The recording group must list exclusionByResourceTypes for EXCLUSION_BY_RESOURCE_TYPES.');
  return {
    allSupported,
    includeGlobalResourceTypes: includeGlobal,
    resourceTypes,
    exclusionByResourceTypes: { resourceTypes: excluded },
    recordingStrategy: { useOnly },
  };
}

function setStatus(sandbox: SandboxContext, r: Recorder, error?: { code: string; message: string }): void {
  const status = error ? 'Failure' : 'Success';
  if (r.lastStatus !== status || r.lastErrorCode !== error?.code)
    r.lastStatusChangeTime = sandbox.clock.now();
  r.lastStatus = status;
  r.lastErrorCode = error?.code;
  r.lastErrorMessage = error?.message;
}

/** Authorizes the item's describe calls as the recorder's role session; the refusal, if any. */
async function refusedRead(
  sandbox: SandboxContext,
  roleArn: string,
  seen: { reads: ReadCall[] },
): Promise<AwsError | undefined> {
  if (!existingRole(sandbox, roleArn))
    return new AwsError('AccessDenied', `AWS Config cannot assume the role ${roleArn}: it does not exist.`);
  const caller = rolePrincipal(roleArn, SESSION);
  for (const c of seen.reads) {
    const module = serviceModule(sandbox, c.service);
    if (!module) continue;
    try {
      await authorize(sandbox, caller, module, c.operation, c.input, sandbox.region);
    } catch (err) {
      if (err instanceof AwsError) return err;
      throw err;
    }
  }
  return undefined;
}

/** Records one resource now (ResourceDeleted once it is gone), as the recorder's role. */
async function recordNow(sandbox: SandboxContext, type: string, id: string, notify: Notify): Promise<void> {
  const st = recorderState(sandbox);
  const r = st.recorder;
  if (!r?.recording || !recordsType(r.recordingGroup, type)) return;
  const key = `${type}|${id}`;
  const seen = await capture(sandbox, type, id);
  if (!seen) {
    const prev = st.items.get(key);
    if (prev?.status === 'OK') {
      const deleted = { ...prev, status: 'ResourceDeleted' as const, configuration: null, tags: {} };
      store(st, { ...deleted, captureTime: sandbox.clock.now() }, notify);
    }
    return;
  }
  const refused = await refusedRead(sandbox, r.roleARN, seen);
  if (refused) {
    setStatus(sandbox, r, { code: refused.code, message: refused.message });
    sandbox.log(`config: the recorder could not record ${type} ${id} as ${r.roleARN}: ${refused.message}`);
    return;
  }
  const now = (await capture(sandbox, type, id))?.item;
  if (!now) return;
  store(st, { ...now, status: 'OK', captureTime: sandbox.clock.now() }, notify);
  setStatus(sandbox, r);
}

/**
 * Starts recording one resource; its promise is kept until done, for evaluations that need the item.
 * `notify`: a change tells the listeners when the item changed.
 */
function record(
  sandbox: SandboxContext,
  type: string,
  id: string,
  notify: Notify = 'changed',
): Promise<void> {
  const st = recorderState(sandbox);
  const key = `${type}|${id}`;
  const before = st.inflight.get(key) ?? Promise.resolve();
  const p = before
    .then(() => recordNow(sandbox, type, id, notify))
    .catch((err: unknown) => sandbox.log(`config: recording ${type} ${id} failed: ${String(err)}`))
    .finally(() => {
      if (st.inflight.get(key) === p) st.inflight.delete(key);
    });
  st.inflight.set(key, p);
  return p;
}

/** Config's id for a changed resource (roles by AROA…, customer managed policies by ANPA…). */
function configIdOfChange(sandbox: SandboxContext, st: RecorderState, type: string, physicalId: string) {
  if (type === 'AWS::IAM::Role') {
    const role = iamStore(sandbox).roles.get(physicalId);
    if (role) st.configIds.set(`role/${physicalId}`, role.id);
    return st.configIds.get(`role/${physicalId}`);
  }
  if (type === 'AWS::IAM::ManagedPolicy') {
    const policy = iamStore(sandbox).policies.get(physicalId);
    if (policy && !policy.awsManaged) st.configIds.set(physicalId, policy.id);
    return st.configIds.get(physicalId);
  }
  return physicalId;
}

function subscribe(sandbox: SandboxContext, st: RecorderState): void {
  if (st.unsubscribe) return;
  st.unsubscribe = sandbox.onChange((change) => {
    const type = change.resourceType === 'AWS::IAM::ManagedPolicy' ? 'AWS::IAM::Policy' : change.resourceType;
    if (!CAPTURED_TYPES.includes(type)) return;
    const id = configIdOfChange(sandbox, st, change.resourceType, change.resourceId);
    if (id) void record(sandbox, type, id);
  });
}

/**
 * Records every existing resource of the recorded types (the recorder starting, or its group changing).
 * `notify` says which of the recorded items tell the listeners.
 */
function sweep(sandbox: SandboxContext, notify: Notify): void {
  const st = recorderState(sandbox);
  const r = st.recorder;
  if (!r?.recording) return;
  r.lastStatus = 'Pending';
  r.lastStatusChangeTime = sandbox.clock.now();
  const types = CAPTURED_TYPES.filter((t) => recordsType(r.recordingGroup, t));
  st.sweep = Promise.all(
    types.map(async (t) =>
      Promise.all((await idsOfType(sandbox, t)).map((id) => record(sandbox, t, id, notify))),
    ),
  )
    .then(() => {
      if (r.lastStatus === 'Pending') setStatus(sandbox, r);
    })
    .catch((err: unknown) => sandbox.log(`config: the recorder's sweep failed: ${String(err)}`));
}

/** The recorder an account with Config enabled has (see the module comment), once per account-region. */
export function ensureRecorder(sandbox: SandboxContext, options: RecorderOptions): void {
  const st = recorderState(sandbox);
  subscribe(sandbox, st);
  if (st.defaulted || !options.defaultRecorder) return;
  st.defaulted = true;
  const iam = iamStore(sandbox);
  const roleName = 'AWSServiceRoleForConfig';
  if (!iam.roles.has(roleName)) {
    iam.createRole({
      RoleName: roleName,
      Path: '/aws-service-role/config.amazonaws.com/',
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'config.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
      Description: 'A service-linked role required for AWS Config to access your resources.',
    });
    iam.attachRolePolicy(roleName, 'arn:aws:iam::aws:policy/aws-service-role/AWSConfigServiceRolePolicy');
  }
  st.channel = { name: 'default', s3BucketName: `config-bucket-${sandbox.accountId}` };
  st.recorder = {
    name: 'default',
    roleARN: serviceLinkedRoleArn(sandbox),
    recordingGroup: recordingGroupOf({ allSupported: true, includeGlobalResourceTypes: true }),
    recording: true,
    lastStartTime: sandbox.clock.now(),
  };
  // What an account's recorder recorded before the sandbox started: not a change now.
  sweep(sandbox, 'never');
}

/** The current item of a resource, once the recordings it may be waiting for are done. */
export async function recordedItem(
  sandbox: SandboxContext,
  type: string,
  id: string,
): Promise<ConfigurationItem | undefined> {
  const st = recorderState(sandbox);
  await st.sweep;
  await st.inflight.get(`${type}|${id}`);
  const item = st.items.get(`${type}|${id}`);
  return item?.status === 'OK' ? item : undefined;
}

/** The ids of the recorded (existing) resources of a type, once recordings in progress are done. */
export async function recordedIds(sandbox: SandboxContext, type: string): Promise<string[]> {
  const st = recorderState(sandbox);
  await st.sweep;
  await Promise.all(st.inflight.values());
  return discovered(sandbox, type).map((i) => i.resourceId);
}

/** The recorded (existing) resources of a type, as Config has them now. */
export function discovered(sandbox: SandboxContext, type: string): ConfigurationItem[] {
  return [...recorderState(sandbox).items.values()].filter(
    (i) => i.resourceType === type && i.status === 'OK',
  );
}

/** Every recorded item (GetDiscoveredResourceCounts, BatchGetResourceConfig). */
export function allItems(sandbox: SandboxContext): ConfigurationItem[] {
  return [...recorderState(sandbox).items.values()];
}

// ---- API handlers ----

function noRecorder(name: string): AwsError {
  return new AwsError(
    'NoSuchConfigurationRecorderException',
    `Cannot find configuration recorder with the specified name '${name}'.`,
  );
}

function recorderNamed(st: RecorderState, name: string | undefined): Recorder {
  const r = st.recorder;
  if (!r || r.name !== name) throw noRecorder(name ?? '');
  return r;
}

/** The role must exist and trust config.amazonaws.com (with the account as aws:SourceAccount). */
async function checkRole(sandbox: SandboxContext, roleArn: string | undefined): Promise<string> {
  if (!roleArn) throw new AwsError('InvalidRoleException', 'You have provided a null or empty role ARN.');
  const context = { 'aws:SourceAccount': sandbox.accountId };
  if (!(await serviceMayAssume(sandbox, roleArn, 'config.amazonaws.com', context)))
    throw new AwsError(
      'InvalidRoleException',
      `The role ${roleArn} does not exist or its trust policy does not allow config.amazonaws.com to assume it.`,
    );
  return roleArn;
}

export async function putConfigurationRecorder(input: Obj, ctx: RequestContext): Promise<Obj> {
  const st = recorderState(ctx.sandbox);
  const cr = isObj(input.ConfigurationRecorder) ? input.ConfigurationRecorder : {};
  const name = str(cr.name) ?? 'default';
  if (name.length === 0 || name.length > 256 || /\s/.test(name))
    throw new AwsError(
      'InvalidConfigurationRecorderNameException',
      `The configuration recorder name '${name}' is not valid.`,
    );
  if (st.recorder && st.recorder.name !== name)
    throw new AwsError(
      'MaxNumberOfConfigurationRecordersExceededException',
      `Failed to put configuration recorder '${name}' because the maximum number of configuration recorders: 1 is reached.`,
    );
  const group = recordingGroupOf(cr.recordingGroup);
  const roleARN = await checkRole(ctx.sandbox, str(cr.roleARN));
  const existing = st.recorder;
  st.recorder = { ...(existing ?? { recording: false }), name, roleARN, recordingGroup: group };
  // A type newly recorded brings new items: configuration changes, as any other.
  if (st.recorder.recording) sweep(ctx.sandbox, 'changed');
  return {};
}

/** The recorders a request names (NoSuchConfigurationRecorderException for another), or the one there is. */
function recordersNamed(input: Obj, ctx: RequestContext): Recorder[] {
  const st = recorderState(ctx.sandbox);
  const names = strs(input.ConfigurationRecorderNames);
  return names.length > 0 ? names.map((n) => recorderNamed(st, n)) : st.recorder ? [st.recorder] : [];
}

export function describeConfigurationRecorders(input: Obj, ctx: RequestContext): Obj {
  const list = recordersNamed(input, ctx);
  return {
    ConfigurationRecorders: list.map((r) => ({
      name: r.name,
      roleARN: r.roleARN,
      recordingGroup: r.recordingGroup,
      recordingMode: { recordingFrequency: 'CONTINUOUS', recordingModeOverrides: [] },
    })),
  };
}

export function describeConfigurationRecorderStatus(input: Obj, ctx: RequestContext): Obj {
  const list = recordersNamed(input, ctx);
  return {
    ConfigurationRecordersStatus: list.map((r) => ({
      name: r.name,
      recording: r.recording,
      ...(r.lastStartTime ? { lastStartTime: r.lastStartTime } : {}),
      ...(r.lastStopTime ? { lastStopTime: r.lastStopTime } : {}),
      ...(r.lastStatus ? { lastStatus: r.lastStatus } : {}),
      ...(r.lastErrorCode ? { lastErrorCode: r.lastErrorCode, lastErrorMessage: r.lastErrorMessage } : {}),
      ...(r.lastStatusChangeTime ? { lastStatusChangeTime: r.lastStatusChangeTime } : {}),
    })),
  };
}

export async function startConfigurationRecorder(input: Obj, ctx: RequestContext): Promise<Obj> {
  const st = recorderState(ctx.sandbox);
  const r = recorderNamed(st, str(input.ConfigurationRecorderName));
  if (!st.channel)
    throw new AwsError(
      'NoAvailableDeliveryChannelException',
      'Delivery channel is not available to start configuration recorder.',
    );
  await checkRole(ctx.sandbox, r.roleARN);
  if (r.recording) return {};
  r.recording = true;
  r.lastStartTime = ctx.sandbox.clock.now();
  // Recording starts with an item for every existing resource: configuration changes, as in AWS, which
  // change-triggered rules evaluate.
  sweep(ctx.sandbox, 'always');
  return {};
}

export function stopConfigurationRecorder(input: Obj, ctx: RequestContext): Obj {
  const r = recorderNamed(recorderState(ctx.sandbox), str(input.ConfigurationRecorderName));
  if (r.recording) {
    r.recording = false;
    r.lastStopTime = ctx.sandbox.clock.now();
  }
  return {};
}

/** Deletes the recorder; the items it recorded stay (as Config keeps recorded history). */
export function deleteConfigurationRecorder(input: Obj, ctx: RequestContext): Obj {
  const st = recorderState(ctx.sandbox);
  recorderNamed(st, str(input.ConfigurationRecorderName));
  st.recorder = undefined;
  return {};
}

export function putDeliveryChannel(input: Obj, ctx: RequestContext): Obj {
  const st = recorderState(ctx.sandbox);
  const dc = isObj(input.DeliveryChannel) ? input.DeliveryChannel : {};
  const name = str(dc.name) ?? 'default';
  if (!st.recorder)
    throw new AwsError(
      'NoAvailableConfigurationRecorderException',
      'Configuration recorder is not available to put delivery channel.',
    );
  if (st.channel && st.channel.name !== name)
    throw new AwsError(
      'MaxNumberOfDeliveryChannelsExceededException',
      `Failed to put delivery channel '${name}' because the maximum number of delivery channels: 1 is reached.`,
    );
  const bucket = str(dc.s3BucketName);
  if (!bucket)
    throw new AwsError('NoSuchBucketException', 'Cannot find a S3 bucket with an empty bucket name.');
  if (!s3Store(ctx.sandbox).buckets.has(bucket))
    throw new AwsError('NoSuchBucketException', `Cannot find a S3 bucket with name ${bucket}.`);
  st.channel = {
    name,
    s3BucketName: bucket,
    ...(str(dc.s3KeyPrefix) ? { s3KeyPrefix: str(dc.s3KeyPrefix) } : {}),
    ...(str(dc.snsTopicARN) ? { snsTopicARN: str(dc.snsTopicARN) } : {}),
    ...(isObj(dc.configSnapshotDeliveryProperties)
      ? { configSnapshotDeliveryProperties: dc.configSnapshotDeliveryProperties }
      : {}),
  };
  return {};
}

export function describeDeliveryChannels(input: Obj, ctx: RequestContext): Obj {
  const st = recorderState(ctx.sandbox);
  const names = strs(input.DeliveryChannelNames);
  const channel = st.channel;
  for (const n of names) {
    if (channel?.name !== n)
      throw new AwsError(
        'NoSuchDeliveryChannelException',
        `Cannot find delivery channel with specified name '${n}'.`,
      );
  }
  return { DeliveryChannels: channel ? [{ ...channel }] : [] };
}

export function deleteDeliveryChannel(input: Obj, ctx: RequestContext): Obj {
  const st = recorderState(ctx.sandbox);
  const name = str(input.DeliveryChannelName) ?? '';
  if (st.channel?.name !== name)
    throw new AwsError(
      'NoSuchDeliveryChannelException',
      `Cannot find delivery channel with specified name '${name}'.`,
    );
  if (st.recorder?.recording)
    throw new AwsError(
      'LastDeliveryChannelDeleteFailedException',
      `Failed to delete last specified delivery channel with name '${name}', because there is a running configuration recorder.`,
    );
  st.channel = undefined;
  return {};
}
