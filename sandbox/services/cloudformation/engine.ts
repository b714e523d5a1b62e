/**
 * CloudFormation's stack engine for the sandbox: per-sandbox stack state, provisioning in dependency
 * order through the resource providers (create, update/replace, delete, rollback), change planning
 * (UpdateStack, change sets, REVERT_DRIFT), and drift detection. Operations in ./index call into it;
 * long-running work runs in the background on the sandbox clock so statuses progress as in AWS.
 */
import { randomUUID } from 'node:crypto';
import { authorize, type Principal, rolePrincipal } from '../../core/authz';
import { noteChange } from '../../core/changes';
import { recordServiceCall } from '../../core/cloudtrail';
import { serviceModule } from '../../core/sandbox';
import type { ProviderContext, ResourceProvider, SandboxContext } from '../../core/types';
import { AwsError } from '../../core/types';
import { PartiallyCreated } from '../handler-calls';
import { stateOf } from '../state';
import {
  canonicalJson,
  checkedProperties,
  type PropertyDifference,
  propertyDifferences,
  renderValue,
  reportedActual,
} from './drift';
import {
  type CfnResource,
  type CfnTemplate,
  deploymentOrder,
  evaluateConditions,
  type InstalledResource,
  included,
  type ResolveContext,
  type ResolvedOutput,
  resolveOutputs,
  resolveProperties,
} from './template';

type Obj = Record<string, unknown>;

/** Emulated seconds each resource operation and each drift detection takes. */
export const RESOURCE_SECONDS = 1;
export const DRIFT_SECONDS = 2;
export const CHANGE_SET_SECONDS = 1;

export type DriftStatus = 'IN_SYNC' | 'MODIFIED' | 'DELETED' | 'NOT_CHECKED';

export interface ResourceDrift {
  StackId: string;
  LogicalResourceId: string;
  PhysicalResourceId?: string;
  ResourceType: string;
  ExpectedProperties?: string;
  ActualProperties?: string;
  PropertyDifferences?: PropertyDifference[];
  StackResourceDriftStatus: DriftStatus;
  Timestamp: Date;
}

export interface ResourceState {
  logicalId: string;
  type: string;
  physicalId?: string;
  status: string;
  statusReason?: string;
  timestamp: Date;
  /** Resolved properties as last deployed (what drift detection expects). */
  properties: Obj;
  attributes: Record<string, string>;
  metadata?: Obj;
  drift?: ResourceDrift;
}

export interface StackEvent {
  StackId: string;
  EventId: string;
  StackName: string;
  LogicalResourceId: string;
  PhysicalResourceId?: string;
  ResourceType: string;
  Timestamp: Date;
  ResourceStatus: string;
  ResourceStatusReason?: string;
  ResourceProperties?: string;
  ClientRequestToken?: string;
}

export interface Tag {
  Key: string;
  Value: string;
}

/** What a deployment (create or update) deploys. */
export interface Deployment {
  templateBody: string;
  template: CfnTemplate;
  parameters: Record<string, string | string[]>;
  describedParameters: { ParameterKey: string; ParameterValue: string; ResolvedValue?: string }[];
  capabilities: string[];
  tags: Tag[];
  notificationArns: string[];
}

const CFN = 'cloudformation.amazonaws.com';

export interface StackState extends Deployment {
  stackId: string;
  stackName: string;
  status: string;
  statusReason?: string;
  creationTime: Date;
  lastUpdatedTime?: Date;
  deletionTime?: Date;
  disableRollback: boolean;
  timeoutInMinutes?: number;
  roleArn?: string;
  /** Who last created, updated or deleted the stack (CloudFormation acts with its credentials without a role). */
  caller?: Principal;
  terminationProtection: boolean;
  conditions: Record<string, boolean>;
  outputs: ResolvedOutput[];
  /** By logical id, in deployment order. */
  resources: Map<string, ResourceState>;
  /** Newest first. */
  events: StackEvent[];
  driftStatus: 'DRIFTED' | 'IN_SYNC' | 'NOT_CHECKED' | 'UNKNOWN';
  lastDriftCheck?: Date;
  /** Set while the stack exists only for a CREATE change set (REVIEW_IN_PROGRESS). */
  changeSetId?: string;
  imports: Set<string>;
}

export interface Detection {
  id: string;
  stackId: string;
  status: 'DETECTION_IN_PROGRESS' | 'DETECTION_COMPLETE' | 'DETECTION_FAILED';
  stackDriftStatus?: 'DRIFTED' | 'IN_SYNC' | 'UNKNOWN' | 'NOT_CHECKED';
  reason?: string;
  driftedCount?: number;
  timestamp: Date;
}

export interface ResourceChangeOut {
  Type: 'Resource';
  HookInvocationCount?: number;
  ResourceChange: Obj;
}

export interface ChangeSetState extends Deployment {
  id: string;
  name: string;
  stackId: string;
  stackName: string;
  type: 'CREATE' | 'UPDATE';
  deploymentMode?: 'REVERT_DRIFT';
  description?: string;
  /** The RoleARN it was created with: CloudFormation acts as that role when it is executed. */
  roleArn?: string;
  status:
    | 'CREATE_PENDING'
    | 'CREATE_IN_PROGRESS'
    | 'CREATE_COMPLETE'
    | 'DELETE_PENDING'
    | 'DELETE_IN_PROGRESS'
    | 'DELETE_COMPLETE'
    | 'DELETE_FAILED'
    | 'FAILED';
  statusReason?: string;
  executionStatus:
    | 'UNAVAILABLE'
    | 'AVAILABLE'
    | 'EXECUTE_IN_PROGRESS'
    | 'EXECUTE_COMPLETE'
    | 'EXECUTE_FAILED'
    | 'OBSOLETE';
  creationTime: Date;
  changes: ResourceChangeOut[];
  conditions: Record<string, boolean>;
}

export interface CfnWorld {
  /** Every stack ever created (deleted ones stay describable by stack id). */
  stacks: StackState[];
  detections: Map<string, Detection>;
  changeSets: Map<string, ChangeSetState>;
  /** export name → exporting stack id and value */
  exports: Map<string, { stackId: string; value: string }>;
  tasks: Set<Promise<void>>;
  controller: AbortController;
}

export function cfnWorld(sandbox: SandboxContext): CfnWorld {
  return stateOf(sandbox, 'cloudformation', () => ({
    stacks: [],
    detections: new Map(),
    changeSets: new Map(),
    exports: new Map(),
    tasks: new Set(),
    controller: new AbortController(),
  }));
}

export const validation = (message: string): AwsError => new AwsError('ValidationError', message);

const isArn = (s: string): boolean => s.startsWith('arn:');

export const TERMINAL_DELETED = 'DELETE_COMPLETE';

/** Statuses in which a stack accepts an update, a delete or drift detection. */
export function isBusy(status: string): boolean {
  return status.endsWith('_IN_PROGRESS');
}

/** The stack a name or stack id names (deleted stacks only by id), or undefined. */
export function lookupStack(world: CfnWorld, nameOrId: string): StackState | undefined {
  if (isArn(nameOrId)) return world.stacks.find((s) => s.stackId === nameOrId);
  return world.stacks.find((s) => s.stackName === nameOrId && s.status !== TERMINAL_DELETED);
}

export function requireStack(world: CfnWorld, nameOrId: string | undefined): StackState {
  if (!nameOrId)
    throw validation(
      "1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null",
    );
  const s = lookupStack(world, nameOrId);
  if (!s) throw validation(`Stack with id ${nameOrId} does not exist`);
  return s;
}

// ---------------------------------------------------------------- the engine

/** Providers the engine handles itself (no live resource behind them; never drift-checked). */
const NOOP_TYPES = new Set(['AWS::CDK::Metadata', 'AWS::CloudFormation::WaitConditionHandle']);

/**
 * What an update did so far, for its rollback and cleanup. `updated` holds every resource updated in
 * place or being updated when the update failed (`props`: what the update set or was setting), so the
 * rollback brings the failed one back too, whatever calls its handler made before failing.
 */
interface UpdateTrack {
  created: ResourceState[];
  updated: { r: ResourceState; before: Obj; props: Obj; live?: Obj }[];
  replaced: { old: ResourceState; fresh: ResourceState }[];
}

/** Resources an update removes: no longer in the template, another type, or their condition is false. */
function removals(
  stack: StackState,
  next: Deployment,
  conditions: Record<string, boolean>,
): ResourceChangeOut[] {
  const out: ResourceChangeOut[] = [];
  for (const r of stack.resources.values()) {
    const def = next.template.Resources[r.logicalId];
    const stays = def !== undefined && def.Type === r.type && included(def.Condition, conditions);
    if (!stays && r.physicalId !== undefined) {
      out.push(
        resourceChange({
          Action: 'Remove',
          LogicalResourceId: r.logicalId,
          PhysicalResourceId: r.physicalId,
          ResourceType: r.type,
          PolicyAction: 'Delete',
          Scope: [],
          Details: [],
        }),
      );
    }
  }
  return out;
}

export class StackEngine {
  readonly world: CfnWorld;

  constructor(readonly sandbox: SandboxContext) {
    this.world = cfnWorld(sandbox);
  }

  now(): Date {
    return this.sandbox.clock.now();
  }

  /** Runs work in the background; failures are logged, never thrown into a request. */
  background(what: string, work: () => Promise<void>): void {
    const p = work()
      .catch((err: unknown) => {
        if (this.world.controller.signal.aborted) return;
        this.sandbox.log(
          `cloudformation: ${what} failed: ${err instanceof Error ? err.message : String(err)}`,
        );
      })
      .finally(() => {
        this.world.tasks.delete(p);
      });
    this.world.tasks.add(p);
  }

  sleep(seconds: number): Promise<void> {
    return this.sandbox.clock.sleep(seconds, this.world.controller.signal);
  }

  /** CloudFormation acts as the stack's role (RoleARN) or else with the caller's credentials, as in AWS. */
  actingAs(stack: StackState): Principal | undefined {
    return stack.roleArn ? rolePrincipal(stack.roleArn, 'AWSCloudFormation') : stack.caller;
  }

  /**
   * The calls CloudFormation's resource handlers make, as the stack's role or caller (`principal`: a drift
   * detection's reader instead): each is authorized when the handler makes it (ProviderContext.authorizeCall,
   * the service's own evaluation of that call), so a template needs the permissions of the calls its
   * resources need and no others; a denial fails the resource with the handler's message naming the action,
   * as AWS reports it. CloudTrail records the mutating ones with CloudFormation as their invoker.
   */
  providerContext(
    stack: StackState,
    principal: Principal | undefined = this.actingAs(stack),
  ): ProviderContext {
    return {
      stackName: stack.stackName,
      region: this.sandbox.region,
      accountId: this.sandbox.accountId,
      sandbox: this.sandbox,
      recordCall: (service, operation, input, output) => {
        if (principal)
          recordServiceCall(this.sandbox, {
            service,
            operation,
            input,
            output,
            caller: principal,
            invokedBy: CFN,
          });
      },
      authorizeCall: async (service, operation, input) => {
        const module = serviceModule(this.sandbox, service);
        if (!module || !principal) return;
        try {
          await authorize(this.sandbox, principal, module, operation, input, this.sandbox.region);
        } catch (err) {
          if (!(err instanceof AwsError)) throw err;
          throw new HandlerAccessDenied(err);
        }
      },
    };
  }

  provider(type: string): ResourceProvider | undefined {
    return this.sandbox.providers.get(type);
  }

  resolveContext(
    stack: Pick<StackState, 'stackName' | 'stackId' | 'notificationArns'> &
      Partial<Pick<StackState, 'imports'>>,
    deployment: Pick<Deployment, 'template' | 'parameters'>,
    conditions: Record<string, boolean>,
    resources: ReadonlyMap<string, InstalledResource>,
  ): ResolveContext {
    const exports = new Map<string, string>();
    for (const [k, v] of this.world.exports) exports.set(k, v.value);
    return {
      region: this.sandbox.region,
      accountId: this.sandbox.accountId,
      stackName: stack.stackName,
      stackId: stack.stackId,
      notificationArns: stack.notificationArns,
      resources,
      parameters: deployment.parameters,
      mappings: deployment.template.Mappings ?? {},
      conditions,
      exports,
      onImport: (name) => stack.imports?.add(name),
    };
  }

  conditionsFor(
    stack: Pick<StackState, 'stackName' | 'stackId' | 'notificationArns'>,
    d: Deployment,
  ): Record<string, boolean> {
    const { conditions: _none, ...ctx } = this.resolveContext(stack, d, {}, new Map());
    return evaluateConditions(d.template, ctx);
  }

  /** The installed resources of a stack as references see them. */
  installed(stack: StackState): Map<string, InstalledResource> {
    const m = new Map<string, InstalledResource>();
    for (const r of stack.resources.values()) {
      if (r.physicalId !== undefined && !r.status.startsWith('DELETE_COMPLETE')) {
        m.set(r.logicalId, {
          logicalId: r.logicalId,
          type: r.type,
          physicalId: r.physicalId,
          attributes: r.attributes,
        });
      }
    }
    return m;
  }

  event(
    stack: StackState,
    status: string,
    opts: {
      logicalId?: string;
      physicalId?: string;
      type?: string;
      reason?: string;
      properties?: Obj;
      token?: string;
    } = {},
  ): void {
    let eventId = opts.logicalId ? `${opts.logicalId}-${status}-${this.now().toISOString()}` : randomUUID();
    if (stack.events.some((e) => e.EventId === eventId)) eventId = `${eventId}-${randomUUID().slice(0, 8)}`;
    stack.events.unshift({
      StackId: stack.stackId,
      EventId: eventId,
      StackName: stack.stackName,
      LogicalResourceId: opts.logicalId ?? stack.stackName,
      PhysicalResourceId: opts.logicalId ? (opts.physicalId ?? '') : stack.stackId,
      ResourceType: opts.type ?? 'AWS::CloudFormation::Stack',
      Timestamp: this.now(),
      ResourceStatus: status,
      ...(opts.reason ? { ResourceStatusReason: opts.reason } : {}),
      ...(opts.properties ? { ResourceProperties: JSON.stringify(opts.properties) } : {}),
      ...(opts.token ? { ClientRequestToken: opts.token } : {}),
    });
  }

  setStackStatus(stack: StackState, status: string, reason?: string, token?: string): void {
    stack.status = status;
    if (reason === undefined) delete stack.statusReason;
    else stack.statusReason = reason;
    this.event(stack, status, { ...(reason ? { reason } : {}), ...(token ? { token } : {}) });
    if (status.endsWith('_COMPLETE') || status.endsWith('_FAILED')) {
      this.sandbox.recordChange({
        resourceType: 'AWS::CloudFormation::Stack',
        resourceId: stack.stackId,
        kind: status === TERMINAL_DELETED ? 'deleted' : stack.lastUpdatedTime ? 'updated' : 'created',
      });
    }
  }

  setResourceStatus(
    stack: StackState,
    r: ResourceState,
    status: string,
    reason?: string,
    properties?: Obj,
  ): void {
    r.status = status;
    r.timestamp = this.now();
    // A physical id may join or leave the stack: cached reads of its resources go stale (core/changes.ts).
    noteChange(this.sandbox, 'cloudformation');
    if (reason === undefined) delete r.statusReason;
    else r.statusReason = reason;
    this.event(stack, status, {
      logicalId: r.logicalId,
      type: r.type,
      ...(r.physicalId !== undefined ? { physicalId: r.physicalId } : {}),
      ...(reason ? { reason } : {}),
      ...(properties ? { properties } : {}),
    });
  }

  // ------------------------------------------------------------ create

  /** Creates a resource; `phase` UPDATE when it replaces an existing one (CloudFormation reports UPDATE_*). */
  async createResource(
    stack: StackState,
    r: ResourceState,
    props: Obj,
    phase: 'CREATE' | 'UPDATE' = 'CREATE',
  ): Promise<void> {
    if (phase === 'CREATE') this.setResourceStatus(stack, r, 'CREATE_IN_PROGRESS', undefined, props);
    await this.sleep(RESOURCE_SECONDS);
    if (NOOP_TYPES.has(r.type)) {
      r.physicalId = `${stack.stackName}-${r.logicalId}-${randomUUID().slice(0, 12).toUpperCase()}`;
    } else {
      const provider = this.provider(r.type);
      if (!provider)
        throw new Error(
          `Resource type ${r.type} is not supported by the sandbox (no resource provider for it)`,
        );
      const result = await provider
        .create(r.logicalId, props, this.providerContext(stack))
        .catch((err: unknown) => {
          // Made before a later call failed: the resource has a physical id, so the rollback deletes it.
          if (!(err instanceof PartiallyCreated)) throw err;
          r.physicalId = err.physicalId;
          throw err.cause;
        });
      r.physicalId = result.physicalId;
      r.attributes = { ...result.attributes };
    }
    r.properties = props;
    this.setResourceStatus(stack, r, `${phase}_IN_PROGRESS`, 'Resource creation Initiated');
    this.setResourceStatus(stack, r, `${phase}_COMPLETE`);
  }

  async deleteResource(stack: StackState, r: ResourceState, retain = false): Promise<void> {
    const policy = stack.template.Resources[r.logicalId]?.DeletionPolicy;
    if (r.physicalId === undefined || r.status === 'DELETE_COMPLETE' || r.status === 'DELETE_SKIPPED') return;
    if (retain || policy === 'Retain' || policy === 'RetainExceptOnCreate') {
      this.setResourceStatus(stack, r, 'DELETE_SKIPPED');
      return;
    }
    this.setResourceStatus(stack, r, 'DELETE_IN_PROGRESS');
    await this.sleep(RESOURCE_SECONDS);
    if (!NOOP_TYPES.has(r.type)) {
      try {
        await this.provider(r.type)?.delete(r.physicalId, this.providerContext(stack));
      } catch (err) {
        if (!this.world.controller.signal.aborted)
          this.setResourceStatus(stack, r, 'DELETE_FAILED', errorText(err));
        throw err;
      }
    }
    this.setResourceStatus(stack, r, 'DELETE_COMPLETE');
  }

  /** The stack status reason when deleting resources failed, as CloudFormation words it (undefined: none did). */
  private failedToDelete(stack: StackState): string | undefined {
    const failed = [...stack.resources.values()].filter((r) => r.status === 'DELETE_FAILED');
    if (failed.length === 0) return undefined;
    return `The following resource(s) failed to delete: [${failed.map((r) => r.logicalId).join(', ')}]. `;
  }

  /** CreateStack / a CREATE change set: provision every resource, roll back on failure. */
  async provisionCreate(
    stack: StackState,
    onFailure: 'ROLLBACK' | 'DELETE' | 'DO_NOTHING',
    token?: string,
  ): Promise<void> {
    const order = deploymentOrder(stack.template, stack.conditions);
    for (const id of order) {
      const def = stack.template.Resources[id];
      if (!def) continue;
      stack.resources.set(id, {
        logicalId: id,
        type: def.Type,
        status: 'NOT_STARTED',
        timestamp: this.now(),
        properties: {},
        attributes: {},
        ...(def.Metadata ? { metadata: def.Metadata } : {}),
      });
    }
    let failed: ResourceState | undefined;
    for (const id of order) {
      const r = stack.resources.get(id);
      const def = stack.template.Resources[id];
      if (!r || !def) continue;
      try {
        const props = resolveProperties(
          def,
          this.resolveContext(stack, stack, stack.conditions, this.installed(stack)),
        );
        await this.createResource(stack, r, props);
      } catch (err) {
        if (this.world.controller.signal.aborted) return;
        this.setResourceStatus(stack, r, 'CREATE_FAILED', errorText(err));
        failed = r;
        break;
      }
    }
    for (const [id, r] of stack.resources) if (r.status === 'NOT_STARTED') stack.resources.delete(id);
    if (!failed) {
      try {
        this.publishOutputs(stack);
      } catch (err) {
        failed = {
          logicalId: stack.stackName,
          type: 'AWS::CloudFormation::Stack',
          status: 'CREATE_FAILED',
          statusReason: errorText(err),
          timestamp: this.now(),
          properties: {},
          attributes: {},
        };
      }
    }
    if (!failed) {
      this.setStackStatus(stack, 'CREATE_COMPLETE', undefined, token);
      return;
    }
    const reason = `The following resource(s) failed to create: [${failed.logicalId}]. `;
    if (onFailure === 'DO_NOTHING') {
      this.setStackStatus(stack, 'CREATE_FAILED', reason, token);
      return;
    }
    if (onFailure === 'DELETE') {
      this.setStackStatus(stack, 'DELETE_IN_PROGRESS', `${reason}Delete requested by user.`, token);
      await this.deleteAll(stack);
      stack.deletionTime = this.now();
      this.setStackStatus(stack, TERMINAL_DELETED, undefined, token);
      return;
    }
    this.setStackStatus(stack, 'ROLLBACK_IN_PROGRESS', `${reason}Rollback requested by user.`, token);
    try {
      await this.deleteAll(stack);
      stack.outputs = [];
      this.setStackStatus(stack, 'ROLLBACK_COMPLETE', undefined, token);
    } catch (err) {
      if (this.world.controller.signal.aborted) return;
      this.setStackStatus(stack, 'ROLLBACK_FAILED', this.failedToDelete(stack) ?? errorText(err), token);
    }
  }

  /** Deletes the stack's resources in reverse order; the first one that fails to delete stops it (DELETE_FAILED). */
  private async deleteAll(stack: StackState, retain: readonly string[] = []): Promise<void> {
    for (const r of [...stack.resources.values()].reverse())
      await this.deleteResource(stack, r, retain.includes(r.logicalId));
  }

  publishOutputs(stack: StackState): void {
    const ctx = this.resolveContext(stack, stack, stack.conditions, this.installed(stack));
    const outputs = resolveOutputs(stack.template, ctx);
    for (const o of outputs) {
      if (!o.ExportName) continue;
      const owner = this.world.exports.get(o.ExportName);
      if (owner && owner.stackId !== stack.stackId) {
        const other = this.world.stacks.find((s) => s.stackId === owner.stackId);
        throw validation(
          `Export with name ${o.ExportName} is already exported by stack ${other?.stackName ?? owner.stackId}`,
        );
      }
    }
    for (const [name, owner] of [...this.world.exports])
      if (owner.stackId === stack.stackId) this.world.exports.delete(name);
    for (const o of outputs)
      if (o.ExportName)
        this.world.exports.set(o.ExportName, { stackId: stack.stackId, value: o.OutputValue });
    stack.outputs = outputs;
  }

  // ------------------------------------------------------------ delete

  async deleteStack(stack: StackState, retain: readonly string[], token?: string): Promise<void> {
    this.setStackStatus(stack, 'DELETE_IN_PROGRESS', 'User Initiated', token);
    try {
      await this.deleteAll(stack, retain);
    } catch (err) {
      if (this.world.controller.signal.aborted) return;
      this.setStackStatus(stack, 'DELETE_FAILED', this.failedToDelete(stack) ?? errorText(err), token);
      return;
    }
    for (const [name, owner] of [...this.world.exports])
      if (owner.stackId === stack.stackId) this.world.exports.delete(name);
    stack.deletionTime = this.now();
    this.setStackStatus(stack, TERMINAL_DELETED, undefined, token);
    for (const cs of [...this.world.changeSets.values()])
      if (cs.stackId === stack.stackId) this.world.changeSets.delete(cs.id);
  }

  // ------------------------------------------------------------ planning

  /**
   * The changes deploying `next` to `stack` makes, in change-set shape. With `revertDrift`, each
   * existing resource's live properties are read and drifted ones are restored to the template values.
   */
  async plan(
    stack: StackState,
    next: Deployment,
    conditions: Record<string, boolean>,
    revertDrift: boolean,
    reader?: Principal,
  ): Promise<ResourceChangeOut[]> {
    const order = deploymentOrder(next.template, conditions);
    const preview = this.previewResources(stack, order);
    const ctx = this.resolveContext(stack, next, conditions, preview);
    const changes: ResourceChangeOut[] = [];
    const now = this.now();
    for (const id of order) {
      const def = next.template.Resources[id];
      if (!def) continue;
      const current = stack.resources.get(id);
      const props = resolveProperties(def, ctx);
      if (!current || current.physicalId === undefined || current.type !== def.Type) {
        changes.push(
          resourceChange({
            Action: 'Add',
            LogicalResourceId: id,
            ResourceType: def.Type,
            Scope: [],
            Details: [],
            ...(revertDrift ? { ResourceDriftStatus: 'UNKNOWN' } : {}),
          }),
        );
        continue;
      }
      const provider = this.provider(def.Type);
      const requires = (p: string): boolean => provider?.requiresReplacement?.(p) ?? false;
      const base = {
        LogicalResourceId: id,
        PhysicalResourceId: current.physicalId,
        ResourceType: def.Type,
      };
      if (revertDrift && provider && !NOOP_TYPES.has(def.Type)) {
        const change = await this.revertDriftChange(stack, current, props, base, provider, now, reader);
        if (change) changes.push(change);
        continue;
      }
      const details = templateDetails(current.properties, props, def.Properties ?? {}, requires, next, stack);
      if (details.length > 0) changes.push(modifyChange(base, details));
    }
    changes.push(...removals(stack, next, conditions));
    return changes;
  }

  /** REVERT_DRIFT: the change that puts a resource back to its template (recreate, sync or modify). */
  private async revertDriftChange(
    stack: StackState,
    current: ResourceState,
    props: Record<string, unknown>,
    base: { LogicalResourceId: string; PhysicalResourceId: string; ResourceType: string },
    provider: ResourceProvider,
    now: Date,
    reader: Principal | undefined,
  ): Promise<ResourceChangeOut | undefined> {
    const requires = (p: string): boolean => provider.requiresReplacement?.(p) ?? false;
    // The live read runs as whoever made the change set (its read handler's calls, as the reader).
    const actual = await provider.read(base.PhysicalResourceId, this.providerContext(stack, reader));
    const ignored = provider.driftIgnoredProperties ?? [];
    if (!actual) {
      return resourceChange({
        Action: 'Add',
        ...base,
        Scope: [],
        Details: [],
        ResourceDriftStatus: 'DELETED',
      });
    }
    const drifted = propertyDifferences(checkedProperties(current.properties, ignored), actual);
    const toTemplate = propertyDifferences(checkedProperties(props, ignored), actual);
    const templateChanged = canonicalJson(props) !== canonicalJson(current.properties);
    const driftStatus = drifted.length > 0 ? 'MODIFIED' : 'IN_SYNC';
    if (toTemplate.length === 0) {
      if (!templateChanged && drifted.length === 0) return undefined;
      return resourceChange({
        Action: 'SyncWithActual',
        ...base,
        Replacement: 'False',
        Scope: ['Properties'],
        Details: [],
        ResourceDriftStatus: driftStatus,
      });
    }
    const details = toTemplate.map((d) => revertDetail(d, current.properties, requires, now));
    return modifyChange(base, details, { ResourceDriftStatus: driftStatus });
  }

  /** Resources as they would be referenced during an update: placeholders for ones not yet created. */
  private previewResources(stack: StackState, order: readonly string[]): Map<string, InstalledResource> {
    const m = this.installed(stack);
    for (const id of order) {
      if (m.has(id)) continue;
      const attributes = new Proxy({} as Record<string, string>, {
        get: (_t, a) => `{{${id}.${String(a)}}}`,
      });
      m.set(id, { logicalId: id, type: 'unknown', physicalId: `{{${id}}}`, attributes });
    }
    return m;
  }

  /**
   * Executes an update: resources added, modified (in place or by replacement), reverted to the template
   * (revertDrift), removed; on failure everything is rolled back to the previous deployment.
   */
  async provisionUpdate(
    stack: StackState,
    next: Deployment,
    conditions: Record<string, boolean>,
    revertDrift: boolean,
    token?: string,
  ): Promise<boolean> {
    const { previous, snapshot } = this.adoptDeployment(stack, next, conditions);
    const order = deploymentOrder(next.template, conditions);
    const track: UpdateTrack = { created: [], updated: [], replaced: [] };
    try {
      for (const id of order) {
        const def = next.template.Resources[id];
        if (def) await this.updateResource(stack, next, conditions, revertDrift, id, def, track);
      }
      this.publishOutputs(stack);
    } catch (err) {
      if (this.world.controller.signal.aborted) return false;
      this.markUpdateFailed(stack, err, token);
      await this.rollbackUpdate(stack, previous, snapshot, track);
      return false;
    }
    await this.cleanUpAfterUpdate(stack, next, conditions, track.replaced, token);
    this.reorder(stack, order);
    stack.driftStatus = 'NOT_CHECKED';
    this.setStackStatus(stack, 'UPDATE_COMPLETE', undefined, token);
    return true;
  }

  /** The stack takes the new deployment; returns what a rollback restores. */
  private adoptDeployment(
    stack: StackState,
    next: Deployment,
    conditions: Record<string, boolean>,
  ): {
    previous: Deployment & { conditions: Record<string, boolean>; outputs: ResolvedOutput[] };
    snapshot: Map<string, ResourceState>;
  } {
    const previous = {
      templateBody: stack.templateBody,
      template: stack.template,
      parameters: stack.parameters,
      describedParameters: stack.describedParameters,
      capabilities: stack.capabilities,
      tags: stack.tags,
      notificationArns: stack.notificationArns,
      conditions: stack.conditions,
      outputs: stack.outputs,
    };
    const snapshot = new Map([...stack.resources].map(([k, r]) => [k, { ...r }]));
    Object.assign(stack, {
      templateBody: next.templateBody,
      template: next.template,
      parameters: next.parameters,
      describedParameters: next.describedParameters,
      capabilities: next.capabilities,
      tags: next.tags,
      notificationArns: next.notificationArns,
      conditions,
    });
    stack.lastUpdatedTime = this.now();
    return { previous, snapshot };
  }

  private freshResource(id: string, type: string): ResourceState {
    return {
      logicalId: id,
      type,
      status: 'NOT_STARTED',
      timestamp: this.now(),
      properties: {},
      attributes: {},
    };
  }

  /** One resource of an update: create, re-create (deleted outside CloudFormation), replace, update in place, or nothing. */
  private async updateResource(
    stack: StackState,
    next: Deployment,
    conditions: Record<string, boolean>,
    revertDrift: boolean,
    id: string,
    def: CfnResource,
    track: UpdateTrack,
  ): Promise<void> {
    const props = resolveProperties(def, this.resolveContext(stack, next, conditions, this.installed(stack)));
    const current = stack.resources.get(id);
    const provider = this.provider(def.Type);
    if (!current || current.physicalId === undefined || current.type !== def.Type) {
      const r = this.freshResource(id, def.Type);
      if (current) track.replaced.push({ old: current, fresh: r });
      stack.resources.set(id, r);
      track.created.push(r);
      await this.createResource(stack, r, props);
      return;
    }
    let live: Obj | undefined;
    if (revertDrift && provider && !NOOP_TYPES.has(def.Type)) {
      live = await provider.read(current.physicalId, this.providerContext(stack));
      if (!live) {
        // Deleted outside CloudFormation: re-create it.
        const r = this.freshResource(id, def.Type);
        stack.resources.set(id, r);
        track.created.push(r);
        await this.createResource(stack, r, props);
        return;
      }
    }
    const ignored = provider?.driftIgnoredProperties ?? [];
    const templateChanged = canonicalJson(props) !== canonicalJson(current.properties);
    const liveDiffers =
      live !== undefined && propertyDifferences(checkedProperties(props, ignored), live).length > 0;
    if (!templateChanged && !liveDiffers) return;
    if (live !== undefined && !liveDiffers) {
      // The template now matches the live resource (SyncWithActual): nothing to change.
      current.properties = props;
      delete current.drift;
      return;
    }
    // Only properties a template declares (before or now) can change; live-only values such as a
    // generated GroupName or the default VpcId are not the template's and never force a replacement.
    const declared = new Set([...Object.keys(props), ...Object.keys(current.properties)]);
    const changedKeys = changedProperties(live ?? current.properties, props).filter((k) => declared.has(k));
    if (provider && !NOOP_TYPES.has(def.Type) && changedKeys.some((k) => provider.requiresReplacement?.(k))) {
      const fresh = this.freshResource(id, def.Type);
      stack.resources.set(id, fresh);
      track.replaced.push({ old: current, fresh });
      this.setResourceStatus(
        stack,
        fresh,
        'UPDATE_IN_PROGRESS',
        'Requested update requires the creation of a new physical resource; hence creating one.',
      );
      await this.createResource(stack, fresh, props, 'UPDATE');
      return;
    }
    await this.updateInPlace(
      stack,
      current,
      current.physicalId,
      { props, live, provider, type: def.Type },
      track,
    );
  }

  private async updateInPlace(
    stack: StackState,
    current: ResourceState,
    physicalId: string,
    change: { props: Obj; live: Obj | undefined; provider: ResourceProvider | undefined; type: string },
    track: UpdateTrack,
  ): Promise<void> {
    const { props, live, provider, type } = change;
    this.setResourceStatus(stack, current, 'UPDATE_IN_PROGRESS', undefined, props);
    await this.sleep(RESOURCE_SECONDS);
    const before = current.properties;
    track.updated.push({ r: current, before, props, ...(live ? { live } : {}) });
    if (provider && !NOOP_TYPES.has(type)) {
      const result = await provider.update(
        physicalId,
        props,
        live ?? current.properties,
        this.providerContext(stack),
      );
      current.physicalId = result.physicalId;
      current.attributes = { ...result.attributes };
    }
    current.properties = props;
    delete current.drift;
    this.setResourceStatus(stack, current, 'UPDATE_COMPLETE');
  }

  /** The resource that was in progress fails, and the stack starts rolling back. */
  private markUpdateFailed(stack: StackState, err: unknown, token: string | undefined): void {
    const failedId = [...stack.resources.values()].find((r) => r.status.endsWith('_IN_PROGRESS'))?.logicalId;
    const failing = failedId ? stack.resources.get(failedId) : undefined;
    if (failing)
      this.setResourceStatus(
        stack,
        failing,
        failing.status.startsWith('CREATE') ? 'CREATE_FAILED' : 'UPDATE_FAILED',
        errorText(err),
      );
    this.setStackStatus(
      stack,
      'UPDATE_ROLLBACK_IN_PROGRESS',
      `The following resource(s) failed to ${failing?.status === 'CREATE_FAILED' ? 'create' : 'update'}: [${failedId ?? stack.stackName}]. ${failedId ? '' : errorText(err)}`.trim(),
      token,
    );
  }

  /** Cleanup: replaced physical resources and removed resources are deleted (failures are only logged). */
  private async cleanUpAfterUpdate(
    stack: StackState,
    next: Deployment,
    conditions: Record<string, boolean>,
    replaced: UpdateTrack['replaced'],
    token: string | undefined,
  ): Promise<void> {
    this.setStackStatus(stack, 'UPDATE_COMPLETE_CLEANUP_IN_PROGRESS', undefined, token);
    // A resource that cannot be deleted in cleanup is skipped (DELETE_FAILED, left in the account); the
    // update still completes, as in CloudFormation.
    for (const { old } of replaced) {
      if (old.physicalId === undefined || NOOP_TYPES.has(old.type)) continue;
      const ids = { logicalId: old.logicalId, physicalId: old.physicalId, type: old.type };
      try {
        this.event(stack, 'DELETE_IN_PROGRESS', ids);
        await this.provider(old.type)?.delete(old.physicalId, this.providerContext(stack));
        this.event(stack, 'DELETE_COMPLETE', ids);
      } catch (err) {
        this.event(stack, 'DELETE_FAILED', { ...ids, reason: errorText(err) });
        this.sandbox.log(`cloudformation: cleanup of ${old.logicalId} failed: ${errorText(err)}`);
      }
    }
    for (const r of [...stack.resources.values()].reverse()) {
      const def = next.template.Resources[r.logicalId];
      if (def && def.Type === r.type && included(def.Condition, conditions)) continue;
      try {
        await this.deleteResource(stack, r);
      } catch (err) {
        this.sandbox.log(`cloudformation: cleanup of ${r.logicalId} failed: ${errorText(err)}`);
      }
      stack.resources.delete(r.logicalId);
    }
  }

  private reorder(stack: StackState, order: readonly string[]): void {
    const next = new Map<string, ResourceState>();
    for (const id of order) {
      const r = stack.resources.get(id);
      if (r) next.set(id, r);
    }
    for (const [id, r] of stack.resources) if (!next.has(id)) next.set(id, r);
    stack.resources = next;
  }

  private async rollbackUpdate(
    stack: StackState,
    previous: Deployment & { conditions: Record<string, boolean>; outputs: ResolvedOutput[] },
    snapshot: Map<string, ResourceState>,
    track: UpdateTrack,
  ): Promise<void> {
    const { updated } = track;
    Object.assign(stack, {
      templateBody: previous.templateBody,
      template: previous.template,
      parameters: previous.parameters,
      describedParameters: previous.describedParameters,
      capabilities: previous.capabilities,
      tags: previous.tags,
      notificationArns: previous.notificationArns,
      conditions: previous.conditions,
      outputs: previous.outputs,
    });
    let ok = true;
    // Every resource updated or being updated goes back to the previous template's properties (or,
    // for REVERT_DRIFT, its live ones), from what the update set or was setting.
    for (const { r, before, props, live } of [...updated].reverse()) {
      try {
        this.setResourceStatus(stack, r, 'UPDATE_IN_PROGRESS');
        if (r.physicalId !== undefined && !NOOP_TYPES.has(r.type)) {
          await this.provider(r.type)?.update(
            r.physicalId,
            live ?? before,
            props,
            this.providerContext(stack),
          );
        }
        r.properties = before;
        this.setResourceStatus(stack, r, 'UPDATE_COMPLETE');
      } catch (err) {
        ok = false;
        this.setResourceStatus(stack, r, 'UPDATE_FAILED', errorText(err));
      }
    }
    this.setStackStatus(stack, 'UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS');
    // Cleanup: what the update created — new resources and replacements, a half-made one too — is
    // deleted; one that cannot be is skipped (DELETE_FAILED, left in the account) and the rollback itself
    // is complete, as in CloudFormation.
    for (const r of [...new Set([...track.created, ...track.replaced.map((x) => x.fresh)])].reverse()) {
      try {
        await this.deleteResource(stack, r);
      } catch (err) {
        this.sandbox.log(`cloudformation: rollback cleanup of ${r.logicalId} failed: ${errorText(err)}`);
      }
    }
    stack.resources = new Map(
      [...snapshot].map(([k, r]) => [
        k,
        { ...r, properties: updated.find((u) => u.r.logicalId === k)?.before ?? r.properties },
      ]),
    );
    this.setStackStatus(stack, ok ? 'UPDATE_ROLLBACK_COMPLETE' : 'UPDATE_ROLLBACK_FAILED');
  }

  // ------------------------------------------------------------ drift

  /**
   * Checks one resource against its deployed properties; undefined when its type supports no drift
   * detection. CloudFormation reads the resource with the credentials of whoever asked (`reader`), so
   * the calls its read handler makes must be allowed for them (HandlerAccessDenied otherwise).
   */
  async detectResource(
    stack: StackState,
    r: ResourceState,
    reader: Principal | undefined,
  ): Promise<ResourceDrift | undefined> {
    if (r.physicalId === undefined || NOOP_TYPES.has(r.type)) return undefined;
    const provider = this.provider(r.type);
    if (!provider) return undefined;
    const ignored = provider.driftIgnoredProperties ?? [];
    const expected = checkedProperties(r.properties, ignored);
    const actual = await provider.read(r.physicalId, this.providerContext(stack, reader));
    const base = {
      StackId: stack.stackId,
      LogicalResourceId: r.logicalId,
      PhysicalResourceId: r.physicalId,
      ResourceType: r.type,
      ExpectedProperties: canonicalJson(expected),
      Timestamp: this.now(),
    };
    let drift: ResourceDrift;
    if (!actual) {
      drift = { ...base, StackResourceDriftStatus: 'DELETED' };
    } else {
      const diffs = propertyDifferences(expected, actual);
      drift = {
        ...base,
        ActualProperties: canonicalJson(reportedActual(expected, actual)),
        StackResourceDriftStatus: diffs.length > 0 ? 'MODIFIED' : 'IN_SYNC',
        ...(diffs.length > 0 ? { PropertyDifferences: diffs } : {}),
      };
    }
    r.drift = drift;
    return drift;
  }

  /**
   * DetectStackDrift in the background, reading as `reader`. A resource that cannot be read (its read
   * handler denied) fails the detection — DETECTION_FAILED naming those resources and why — while the
   * others are still checked, as CloudFormation reports results for the resources it could check.
   */
  async runDetection(
    stack: StackState,
    detection: Detection,
    logicalIds: readonly string[] | undefined,
    reader: Principal | undefined,
  ): Promise<void> {
    try {
      await this.sleep(DRIFT_SECONDS);
      let drifted = 0;
      let checked = 0;
      const failures: string[] = [];
      for (const r of stack.resources.values()) {
        if (logicalIds && !logicalIds.includes(r.logicalId)) continue;
        let d: ResourceDrift | undefined;
        try {
          d = await this.detectResource(stack, r, reader);
        } catch (err) {
          if (!(err instanceof HandlerAccessDenied)) throw err;
          failures.push(`${r.logicalId}: ${err.message}`);
          continue;
        }
        if (!d) continue;
        checked++;
        if (d.StackResourceDriftStatus === 'MODIFIED' || d.StackResourceDriftStatus === 'DELETED') drifted++;
      }
      const failed = failures.map((f) => f.slice(0, f.indexOf(':')));
      detection.status = failures.length > 0 ? 'DETECTION_FAILED' : 'DETECTION_COMPLETE';
      detection.stackDriftStatus = drifted > 0 ? 'DRIFTED' : failures.length > 0 ? 'UNKNOWN' : 'IN_SYNC';
      detection.driftedCount = drifted;
      stack.driftStatus = detection.stackDriftStatus;
      stack.lastDriftCheck = detection.timestamp;
      if (failures.length > 0)
        detection.reason = `Failed to detect drift on resources [${failed.join(', ')}]. ${failures.join(' ')}`;
      else if (checked === 0) detection.reason = 'No resources in the stack support drift detection.';
    } catch (err) {
      if (this.world.controller.signal.aborted) return;
      detection.status = 'DETECTION_FAILED';
      detection.stackDriftStatus = 'UNKNOWN';
      detection.reason = `Failed to detect drift: ${errorText(err)}`;
    }
    await this.sandbox.putEvent({
      source: 'aws.cloudformation',
      'detail-type': 'CloudFormation Drift Detection Status Change',
      resources: [stack.stackId],
      detail: {
        'stack-id': stack.stackId,
        'stack-drift-detection-id': detection.id,
        'status-details': {
          'stack-drift-status': detection.stackDriftStatus ?? 'UNKNOWN',
          'detection-status': detection.status,
        },
        'drift-detection-details': { 'drifted-stack-resource-count': detection.driftedCount ?? -1 },
      },
    });
    // Only the stack's drift status changed: not its tags or resources (IAM's cached reads stay good).
    this.sandbox.recordChange({
      resourceType: 'AWS::CloudFormation::Stack',
      resourceId: stack.stackId,
      kind: 'updated',
      contentsOnly: true,
    });
  }
}

// ---------------------------------------------------------------- change-set details

function resourceChange(rc: Obj): ResourceChangeOut {
  return { Type: 'Resource', ResourceChange: rc };
}

/** A Modify change: its Replacement and Scope follow from its details. */
function modifyChange(base: Obj, details: Obj[], extra: Obj = {}): ResourceChangeOut {
  return resourceChange({
    Action: 'Modify',
    ...base,
    Replacement: replacementOf(details),
    Scope: scopeOf(details),
    Details: details,
    ...extra,
  });
}

function topName(path: string): string {
  return path.split('/')[1] ?? '';
}

const attributeOf = (name: string): 'Tags' | 'Properties' => (name === 'Tags' ? 'Tags' : 'Properties');

function revertDetail(
  d: PropertyDifference,
  previous: Obj,
  requires: (p: string) => boolean,
  now: Date,
): Obj {
  const name = topName(d.PropertyPath);
  const attr = attributeOf(name);
  const before = d.ActualValue === 'null' ? undefined : d.ActualValue;
  const after = d.ExpectedValue === 'null' ? undefined : d.ExpectedValue;
  const changeType = d.DifferenceType === 'ADD' ? 'Remove' : d.DifferenceType === 'REMOVE' ? 'Add' : 'Modify';
  const prev = valueAt(previous, d.PropertyPath);
  return {
    Target: {
      Attribute: attr,
      ...(attr === 'Properties'
        ? { Name: name, RequiresRecreation: requires(name) ? 'Always' : 'Never' }
        : { RequiresRecreation: 'Never' }),
      Path: `/Properties${d.PropertyPath}`,
      ...(before !== undefined ? { BeforeValue: before } : {}),
      ...(after !== undefined ? { AfterValue: after } : {}),
      BeforeValueFrom: 'ACTUAL_STATE',
      AfterValueFrom: 'TEMPLATE',
      Drift: {
        ...(prev !== undefined ? { PreviousValue: renderValue(prev) } : {}),
        ...(before !== undefined ? { ActualValue: before } : {}),
        DriftDetectionTimestamp: now,
      },
      AttributeChangeType: changeType,
    },
    Evaluation: 'Static',
    ChangeSource: 'DirectModification',
  };
}

function valueAt(root: unknown, path: string): unknown {
  let cur: unknown = root;
  for (const raw of path.split('/').slice(1)) {
    const k = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) cur = cur[Number(k)];
    else if (cur && typeof cur === 'object') cur = (cur as Obj)[k];
    else return undefined;
  }
  return cur;
}

function changedProperties(before: Obj, after: Obj): string[] {
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  return [...keys].filter((k) => canonicalJson(before[k]) !== canonicalJson(after[k]));
}

/** Template-to-template details (a classic change set): one per changed top-level property. */
function templateDetails(
  before: Obj,
  after: Obj,
  raw: Obj,
  requires: (p: string) => boolean,
  next: Deployment,
  stack: StackState,
): Obj[] {
  const out: Obj[] = [];
  for (const name of changedProperties(before, after)) {
    const dynamic = JSON.stringify(after[name] ?? null).includes('{{');
    const rawText = JSON.stringify(raw[name] ?? null);
    const paramRef = Object.keys(next.template.Parameters ?? {}).find(
      (p) =>
        rawText.includes(`"Ref":"${p}"`) &&
        canonicalJson(next.parameters[p]) !== canonicalJson(stack.parameters[p]),
    );
    const attr = attributeOf(name);
    const recreation = requires(name) ? (dynamic ? 'Conditionally' : 'Always') : 'Never';
    out.push({
      Target: {
        Attribute: attr,
        ...(attr === 'Properties' ? { Name: name } : {}),
        RequiresRecreation: recreation,
        Path: `/Properties/${name}`,
      },
      Evaluation: dynamic ? 'Dynamic' : 'Static',
      ChangeSource: paramRef ? 'ParameterReference' : dynamic ? 'ResourceReference' : 'DirectModification',
      ...(paramRef ? { CausingEntity: paramRef } : {}),
    });
  }
  return out;
}

function replacementOf(details: Obj[]): 'True' | 'False' | 'Conditional' {
  let r: 'True' | 'False' | 'Conditional' = 'False';
  for (const d of details) {
    const t = d.Target as Obj;
    if (t.RequiresRecreation === 'Always') {
      if (d.Evaluation === 'Static') return 'True';
      r = 'Conditional';
    } else if (t.RequiresRecreation === 'Conditionally') r = 'Conditional';
  }
  return r;
}

function scopeOf(details: Obj[]): string[] {
  return [...new Set(details.map((d) => String((d.Target as Obj).Attribute)))];
}

/**
 * A resource handler refused by IAM, as CloudFormation reports it in the resource's status reason:
 * `Resource handler returned message: "User: … is not authorized to perform: ACTION …" (…, HandlerErrorCode: AccessDenied)`.
 */
export class HandlerAccessDenied extends Error {
  override readonly name = 'HandlerAccessDenied';
  constructor(denial: AwsError) {
    super(
      `Resource handler returned message: "${denial.message} (Status Code: ${denial.statusCode})" (HandlerErrorCode: AccessDenied)`,
      { cause: denial },
    );
  }
}

export function errorText(err: unknown): string {
  if (err instanceof AwsError) return `${err.message} (Error Code: ${err.code})`;
  return err instanceof Error ? err.message : String(err);
}
