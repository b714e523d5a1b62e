/**
 * CloudFormation (awsQuery): stacks from JSON/YAML templates provisioned through the sandbox's resource
 * providers, stack events, drift detection (stack and resource), change sets including
 * DeploymentMode=REVERT_DRIFT, exports. Operations take and return SDK shapes; the server does the
 * awsQuery codec. Errors carry CloudFormation's codes (ValidationError, AlreadyExistsException,
 * ChangeSetNotFound, InvalidChangeSetStatus, InsufficientCapabilitiesException, …).
 */
import { randomUUID } from 'node:crypto';
import { isRoleArn, type Principal, passRole, rolePrincipal } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import type { OperationHandler, RequestContext, ServiceModule } from '../../core/types';
import { AwsError } from '../../core/types';
import { isObj, type Obj, objs, str, strs } from '../state';
import {
  CHANGE_SET_SECONDS,
  type ChangeSetState,
  cfnWorld,
  type Deployment,
  type Detection,
  errorText,
  HandlerAccessDenied,
  isBusy,
  lookupStack,
  type ResourceDrift,
  type ResourceState,
  requireStack,
  StackEngine,
  type StackState,
  type Tag,
  TERMINAL_DELETED,
  validation,
} from './engine';
import { cloudFormationMayAct } from './role';
import {
  deploymentOrder,
  describeParameters,
  type ParameterInput,
  parseTemplate,
  requiredCapability,
  resolveParameters,
} from './template';

export { propertyDifferences, renderValue } from './drift';
export * from './template';

const STACK_NAME = /^[a-zA-Z][-a-zA-Z0-9]*$/;
const DRIFT_FILTERS = new Set(['IN_SYNC', 'MODIFIED', 'DELETED', 'NOT_CHECKED']);

const engines = new WeakMap<RequestContext['sandbox'], StackEngine>();
function engineOf(ctx: RequestContext): StackEngine {
  let e = engines.get(ctx.sandbox);
  if (!e) {
    e = new StackEngine(ctx.sandbox);
    engines.set(ctx.sandbox, e);
  }
  return e;
}

function checkStackName(name: string | undefined, member = 'stackName'): string {
  if (!name)
    throw validation(
      `1 validation error detected: Value null at '${member}' failed to satisfy constraint: Member must not be null`,
    );
  if (name.length > 128 || !STACK_NAME.test(name)) {
    throw validation(
      `1 validation error detected: Value '${name}' at '${member}' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*`,
    );
  }
  return name;
}

function tagsOf(v: unknown): Tag[] {
  return objs(v).map((t) => ({ Key: str(t.Key) ?? '', Value: str(t.Value) ?? '' }));
}

function parameterInputs(v: unknown): ParameterInput[] {
  return objs(v).map((p) => ({
    ...(str(p.ParameterKey) !== undefined ? { ParameterKey: str(p.ParameterKey) } : {}),
    ...(str(p.ParameterValue) !== undefined ? { ParameterValue: str(p.ParameterValue) } : {}),
    ...(p.UsePreviousValue === true ? { UsePreviousValue: true } : {}),
  }));
}

/** Template body from TemplateBody / UsePreviousTemplate (TemplateURL is not supported locally). */
function templateBodyOf(input: Obj, previous?: StackState): string {
  const body = str(input.TemplateBody);
  const url = str(input.TemplateURL);
  if (input.UsePreviousTemplate === true) {
    if (body || url)
      throw validation('You cannot specify both usePreviousTemplate and Template Body/Template Url');
    if (!previous) throw validation('UsePreviousTemplate can only be used with an existing stack');
    return previous.templateBody;
  }
  if (body && url) throw validation('You cannot specify both Template URL and Template Body');
  if (url) throw validation('TemplateURL must be a supported URL. The sandbox accepts TemplateBody only.');
  if (!body) throw validation('Either Template URL or Template Body must be specified.');
  return body;
}

interface ChangeSetRequest {
  stackName: string;
  name: string;
  type: 'CREATE' | 'UPDATE';
  mode: 'REVERT_DRIFT' | undefined;
}

/** CreateChangeSet's parameters, validated as CloudFormation does. */
function changeSetRequest(input: Obj): ChangeSetRequest {
  const stackName = checkStackName(str(input.StackName));
  const name = str(input.ChangeSetName);
  if (!name || name.length > 128 || !STACK_NAME.test(name)) {
    throw validation(
      `1 validation error detected: Value '${name ?? 'null'}' at 'changeSetName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*`,
    );
  }
  const type = str(input.ChangeSetType) ?? 'UPDATE';
  if (type !== 'CREATE' && type !== 'UPDATE') {
    throw validation(`ChangeSetType ${type} is not supported by the sandbox (CREATE, UPDATE)`);
  }
  const mode = str(input.DeploymentMode);
  if (mode !== undefined && mode !== 'REVERT_DRIFT') {
    throw validation(
      `1 validation error detected: Value '${mode}' at 'deploymentMode' failed to satisfy constraint: Member must satisfy enum value set: [REVERT_DRIFT]`,
    );
  }
  return { stackName, name, type, mode };
}

/** The stack a change set is for: none or one under review for CREATE, an updatable one for UPDATE. */
function changeSetStack(e: StackEngine, req: ChangeSetRequest): StackState | undefined {
  const { stackName, name, type, mode } = req;
  const stack = lookupStack(e.world, stackName);
  if (type === 'CREATE') {
    if (mode) throw validation('DeploymentMode REVERT_DRIFT is only supported for ChangeSetType UPDATE');
    if (stack && stack.status !== 'REVIEW_IN_PROGRESS')
      throw new AwsError(
        'AlreadyExistsException',
        `Stack [${stackName}] already exists and cannot be created again with the changeSet [${name}].`,
      );
  } else {
    if (!stack || stack.status === 'REVIEW_IN_PROGRESS')
      throw validation(`Stack [${stackName}] does not exist`);
    assertUpdatable(stack);
  }
  if (stack && [...e.world.changeSets.values()].some((c) => c.stackId === stack.stackId && c.name === name)) {
    throw new AwsError('AlreadyExistsException', `ChangeSet [${name}] already exists`);
  }
  return stack;
}

/** Works out a change set's changes in the background: every resource added (CREATE) or the engine's plan (UPDATE). */
async function computeChangeSet(
  e: StackEngine,
  cs: ChangeSetState,
  target: StackState,
  reader: Principal | undefined,
): Promise<void> {
  cs.status = 'CREATE_IN_PROGRESS';
  await e.sleep(CHANGE_SET_SECONDS);
  try {
    if (cs.type === 'CREATE') {
      cs.changes = deploymentOrder(cs.template, cs.conditions).map((id) => ({
        Type: 'Resource' as const,
        ResourceChange: {
          Action: 'Add',
          LogicalResourceId: id,
          ResourceType: cs.template.Resources[id]?.Type ?? '',
          Scope: [],
          Details: [],
        },
      }));
    } else {
      cs.changes = await e.plan(target, cs, cs.conditions, cs.deploymentMode === 'REVERT_DRIFT', reader);
    }
    const sameTemplate =
      JSON.stringify(cs.template) === JSON.stringify(target.template) &&
      JSON.stringify(cs.parameters) === JSON.stringify(target.parameters) &&
      JSON.stringify(cs.tags) === JSON.stringify(target.tags);
    if (cs.type === 'UPDATE' && cs.changes.length === 0 && sameTemplate) {
      cs.status = 'FAILED';
      cs.statusReason =
        "The submitted information didn't contain changes. Submit different information to create a change set.";
      return;
    }
    cs.status = 'CREATE_COMPLETE';
    cs.executionStatus = 'AVAILABLE';
  } catch (err) {
    cs.status = 'FAILED';
    cs.statusReason = errorText(err);
  }
}

async function deploymentFor(ctx: RequestContext, input: Obj, previous?: StackState): Promise<Deployment> {
  const templateBody = templateBodyOf(input, previous);
  const template = parseTemplate(templateBody);
  const capabilities = strs(input.Capabilities);
  const need = requiredCapability(template);
  if (
    need &&
    !capabilities.includes(need) &&
    !(need === 'CAPABILITY_IAM' && capabilities.includes('CAPABILITY_NAMED_IAM'))
  ) {
    throw new AwsError('InsufficientCapabilitiesException', `Requires capabilities : [${need}]`);
  }
  const { values, described } = await resolveParameters(
    template,
    parameterInputs(input.Parameters),
    previous?.parameters ?? {},
    async (name) => {
      try {
        const r = await ctx.sandbox.call('ssm', 'GetParameter', { Name: name });
        const p = r.Parameter;
        return isObj(p) ? str(p.Value) : undefined;
      } catch {
        return undefined;
      }
    },
  );
  return {
    templateBody,
    template,
    parameters: values,
    describedParameters: described,
    capabilities,
    tags: input.Tags === undefined && previous ? previous.tags : tagsOf(input.Tags),
    notificationArns:
      input.NotificationARNs === undefined && previous
        ? previous.notificationArns
        : strs(input.NotificationARNs),
  };
}

function stackIdFor(ctx: RequestContext, name: string): string {
  return `arn:aws:cloudformation:${ctx.region}:${ctx.accountId}:stack/${name}/${randomUUID()}`;
}

function newStack(
  ctx: RequestContext,
  e: StackEngine,
  name: string,
  d: Deployment,
  input: Obj,
  status: string,
): StackState {
  const stack: StackState = {
    ...d,
    stackId: stackIdFor(ctx, name),
    stackName: name,
    status,
    creationTime: e.now(),
    disableRollback: input.DisableRollback === true,
    terminationProtection: input.EnableTerminationProtection === true,
    conditions: {},
    outputs: [],
    resources: new Map(),
    events: [],
    driftStatus: 'NOT_CHECKED',
    imports: new Set(),
    ...(typeof input.TimeoutInMinutes === 'number' ? { timeoutInMinutes: input.TimeoutInMinutes } : {}),
    ...(str(input.RoleARN) ? { roleArn: str(input.RoleARN) } : {}),
    ...(ctx.caller ? { caller: ctx.caller } : {}),
  };
  return stack;
}

/** A stack operation naming a service role (RoleARN) passes it to CloudFormation: the caller needs iam:PassRole. */
async function passStackRole(input: Obj, ctx: RequestContext): Promise<void> {
  const role = str(input.RoleARN);
  const module = serviceModule(ctx.sandbox, 'cloudformation');
  if (role && module) await passRole(ctx.sandbox, ctx.caller, module, role, 'AWSCloudFormation', ctx.region);
}

/** The role a stack operation acts as must be one CloudFormation can assume: ValidationError as AWS words it. */
async function requireUsableRole(ctx: RequestContext, roleArn: string | undefined): Promise<void> {
  if (roleArn !== undefined && !isRoleArn(roleArn)) throw validation(`${roleArn} is not a valid RoleARN`);
  if (!(await cloudFormationMayAct(ctx.sandbox, roleArn))) throw invalidRole(roleArn ?? '');
}

const invalidRole = (roleArn: string): AwsError =>
  validation(`Role ${roleArn} is invalid or cannot be assumed`);

/** CloudFormation acts with the latest operation's RoleARN (kept when not given) or its caller's credentials. */
function actingFor(stack: StackState, input: Obj, ctx: RequestContext): void {
  const role = str(input.RoleARN);
  if (role) stack.roleArn = role;
  if (ctx.caller) stack.caller = ctx.caller;
  else delete stack.caller;
}

function assertIdle(stack: StackState): void {
  if (isBusy(stack.status) || stack.status === TERMINAL_DELETED) {
    throw validation(`Stack:${stack.stackId} is in ${stack.status} state and can not be updated.`);
  }
}

function assertUpdatable(stack: StackState): void {
  assertIdle(stack);
  if (
    stack.status === 'ROLLBACK_COMPLETE' ||
    stack.status === 'ROLLBACK_FAILED' ||
    stack.status === 'CREATE_FAILED' ||
    stack.status === 'DELETE_FAILED' ||
    stack.status === 'REVIEW_IN_PROGRESS'
  ) {
    throw validation(`Stack:${stack.stackId} is in ${stack.status} state and can not be updated.`);
  }
}

function describeStack(stack: StackState): Obj {
  return {
    StackId: stack.stackId,
    StackName: stack.stackName,
    ...(stack.changeSetId ? { ChangeSetId: stack.changeSetId } : {}),
    ...(stack.template.Description !== undefined ? { Description: String(stack.template.Description) } : {}),
    Parameters: stack.describedParameters,
    CreationTime: stack.creationTime,
    ...(stack.deletionTime ? { DeletionTime: stack.deletionTime } : {}),
    ...(stack.lastUpdatedTime ? { LastUpdatedTime: stack.lastUpdatedTime } : {}),
    RollbackConfiguration: {},
    StackStatus: stack.status,
    ...(stack.statusReason ? { StackStatusReason: stack.statusReason } : {}),
    DisableRollback: stack.disableRollback,
    NotificationARNs: stack.notificationArns,
    ...(stack.timeoutInMinutes !== undefined ? { TimeoutInMinutes: stack.timeoutInMinutes } : {}),
    Capabilities: stack.capabilities,
    Outputs: stack.outputs,
    ...(stack.roleArn ? { RoleARN: stack.roleArn } : {}),
    Tags: stack.tags,
    EnableTerminationProtection: stack.terminationProtection,
    DriftInformation: {
      StackDriftStatus: stack.driftStatus,
      ...(stack.lastDriftCheck ? { LastCheckTimestamp: stack.lastDriftCheck } : {}),
    },
  };
}

function driftInformation(r: ResourceState): Obj {
  return {
    StackResourceDriftStatus: r.drift?.StackResourceDriftStatus ?? 'NOT_CHECKED',
    ...(r.drift ? { LastCheckTimestamp: r.drift.Timestamp } : {}),
  };
}

function stackResource(stack: StackState, r: ResourceState): Obj {
  return {
    StackName: stack.stackName,
    StackId: stack.stackId,
    LogicalResourceId: r.logicalId,
    ...(r.physicalId !== undefined ? { PhysicalResourceId: r.physicalId } : {}),
    ResourceType: r.type,
    Timestamp: r.timestamp,
    ResourceStatus: r.status,
    ...(r.statusReason ? { ResourceStatusReason: r.statusReason } : {}),
    DriftInformation: driftInformation(r),
  };
}

function requireResource(stack: StackState, logicalId: string | undefined): ResourceState {
  if (!logicalId)
    throw validation(
      "1 validation error detected: Value null at 'logicalResourceId' failed to satisfy constraint: Member must not be null",
    );
  const r = stack.resources.get(logicalId);
  if (!r) throw validation(`Resource ${logicalId} does not exist for stack ${stack.stackName}`);
  return r;
}

/** Simple offset pagination with opaque tokens. */
function page<T>(items: T[], input: Obj, max = 100): { items: T[]; NextToken?: string } {
  const token = str(input.NextToken);
  const start = token ? Number(Buffer.from(token, 'base64').toString('utf8')) : 0;
  if (!Number.isInteger(start) || start < 0) throw validation('Invalid NextToken');
  const limit = typeof input.MaxResults === 'number' ? input.MaxResults : max;
  const slice = items.slice(start, start + limit);
  const next =
    start + limit < items.length ? Buffer.from(String(start + limit)).toString('base64') : undefined;
  return { items: slice, ...(next ? { NextToken: next } : {}) };
}

// ---------------------------------------------------------------- change sets

function changeSetArn(ctx: RequestContext, name: string): string {
  return `arn:aws:cloudformation:${ctx.region}:${ctx.accountId}:changeSet/${name}/${randomUUID()}`;
}

function findChangeSet(e: StackEngine, input: Obj): ChangeSetState {
  const name = str(input.ChangeSetName);
  if (!name)
    throw validation(
      "1 validation error detected: Value null at 'changeSetName' failed to satisfy constraint: Member must not be null",
    );
  let cs: ChangeSetState | undefined;
  if (name.startsWith('arn:')) cs = e.world.changeSets.get(name);
  else {
    const stackName = str(input.StackName);
    if (!stackName)
      throw validation('StackName must be specified if ChangeSetName is not specified as an ARN.');
    const stack = lookupStack(e.world, stackName);
    cs = stack
      ? [...e.world.changeSets.values()].find((c) => c.stackId === stack.stackId && c.name === name)
      : undefined;
  }
  if (!cs) throw new AwsError('ChangeSetNotFound', `ChangeSet [${name}] does not exist`, 404);
  return cs;
}

function changeSetSummary(cs: ChangeSetState): Obj {
  return {
    StackId: cs.stackId,
    StackName: cs.stackName,
    ChangeSetId: cs.id,
    ChangeSetName: cs.name,
    ExecutionStatus: cs.executionStatus,
    Status: cs.status,
    ...(cs.statusReason ? { StatusReason: cs.statusReason } : {}),
    CreationTime: cs.creationTime,
    ...(cs.description ? { Description: cs.description } : {}),
    IncludeNestedStacks: false,
  };
}

// ---------------------------------------------------------------- operations

const operations: Record<string, OperationHandler> = {
  async CreateStack(input, ctx) {
    await passStackRole(input, ctx);
    await requireUsableRole(ctx, str(input.RoleARN));
    const e = engineOf(ctx);
    const name = checkStackName(str(input.StackName));
    if (lookupStack(e.world, name))
      throw new AwsError('AlreadyExistsException', `Stack [${name}] already exists`);
    const onFailure = str(input.OnFailure) ?? (input.DisableRollback === true ? 'DO_NOTHING' : 'ROLLBACK');
    if (input.OnFailure !== undefined && input.DisableRollback !== undefined) {
      throw validation('You cannot specify both OnFailure and DisableRollback');
    }
    if (!['ROLLBACK', 'DELETE', 'DO_NOTHING'].includes(onFailure)) {
      throw validation(
        `1 validation error detected: Value '${onFailure}' at 'onFailure' failed to satisfy constraint: Member must satisfy enum value set: [DO_NOTHING, ROLLBACK, DELETE]`,
      );
    }
    const d = await deploymentFor(ctx, input);
    const stack = newStack(ctx, e, name, d, input, 'CREATE_IN_PROGRESS');
    stack.conditions = e.conditionsFor(stack, d);
    deploymentOrder(d.template, stack.conditions);
    e.world.stacks.push(stack);
    const token = str(input.ClientRequestToken);
    e.setStackStatus(stack, 'CREATE_IN_PROGRESS', 'User Initiated', token);
    e.background(`CreateStack ${name}`, () =>
      e.provisionCreate(stack, onFailure as 'ROLLBACK' | 'DELETE' | 'DO_NOTHING', token),
    );
    return { StackId: stack.stackId };
  },

  async UpdateStack(input, ctx) {
    await passStackRole(input, ctx);
    const e = engineOf(ctx);
    const stack = requireStack(e.world, str(input.StackName));
    assertUpdatable(stack);
    await requireUsableRole(ctx, str(input.RoleARN) ?? stack.roleArn);
    const d = await deploymentFor(ctx, input, stack);
    const conditions = e.conditionsFor(stack, d);
    const changes = await e.plan(stack, d, conditions, false);
    const sameOutputs =
      JSON.stringify(d.template.Outputs ?? {}) === JSON.stringify(stack.template.Outputs ?? {});
    const sameTags = JSON.stringify(d.tags) === JSON.stringify(stack.tags);
    if (
      changes.length === 0 &&
      sameOutputs &&
      sameTags &&
      JSON.stringify(d.parameters) === JSON.stringify(stack.parameters)
    ) {
      throw validation('No updates are to be performed.');
    }
    const token = str(input.ClientRequestToken);
    actingFor(stack, input, ctx);
    e.setStackStatus(stack, 'UPDATE_IN_PROGRESS', 'User Initiated', token);
    e.background(`UpdateStack ${stack.stackName}`, async () => {
      await e.provisionUpdate(stack, d, conditions, false, token);
    });
    return { StackId: stack.stackId };
  },

  async DeleteStack(input, ctx) {
    await passStackRole(input, ctx);
    const e = engineOf(ctx);
    const name = str(input.StackName);
    if (!name)
      throw validation(
        "1 validation error detected: Value null at 'stackName' failed to satisfy constraint: Member must not be null",
      );
    const stack = lookupStack(e.world, name);
    if (!stack || stack.status === TERMINAL_DELETED) return {};
    if (stack.terminationProtection) {
      throw validation(`Stack [${stack.stackName}] cannot be deleted while TerminationProtection is enabled`);
    }
    if (stack.status === 'DELETE_IN_PROGRESS') return {};
    if (isBusy(stack.status) && stack.status !== 'REVIEW_IN_PROGRESS') {
      throw validation(`Stack [${stack.stackName}] cannot be deleted while in status ${stack.status}`);
    }
    await requireUsableRole(ctx, str(input.RoleARN));
    actingFor(stack, input, ctx);
    for (const [exportName, owner] of e.world.exports) {
      if (owner.stackId !== stack.stackId) continue;
      const user = e.world.stacks.find((s) => s.status !== TERMINAL_DELETED && s.imports.has(exportName));
      if (user)
        throw validation(`Export ${exportName} cannot be deleted as it is in use by ${user.stackName}`);
    }
    const retain = strs(input.RetainResources);
    const token = str(input.ClientRequestToken);
    if (!(await cloudFormationMayAct(ctx.sandbox, stack.roleArn))) {
      // The stack's own role is gone or no longer trusts CloudFormation: the deletion fails, nothing deleted.
      const reason = invalidRole(stack.roleArn ?? '').message;
      e.setStackStatus(stack, 'DELETE_IN_PROGRESS', 'User Initiated', token);
      e.setStackStatus(stack, 'DELETE_FAILED', reason, token);
      return {};
    }
    e.background(`DeleteStack ${stack.stackName}`, () => e.deleteStack(stack, retain, token));
    return {};
  },

  DescribeStacks(input, ctx) {
    const e = engineOf(ctx);
    const name = str(input.StackName);
    const stacks = name
      ? [requireStack(e.world, name)]
      : e.world.stacks.filter((s) => s.status !== TERMINAL_DELETED);
    const { items, NextToken } = page(stacks, input);
    return { Stacks: items.map(describeStack), ...(NextToken ? { NextToken } : {}) };
  },

  ListStacks(input, ctx) {
    const e = engineOf(ctx);
    const filter = strs(input.StackStatusFilter);
    const stacks = e.world.stacks.filter((s) => filter.length === 0 || filter.includes(s.status));
    const { items, NextToken } = page(stacks, input);
    return {
      StackSummaries: items.map((s) => ({
        StackId: s.stackId,
        StackName: s.stackName,
        ...(s.template.Description !== undefined
          ? { TemplateDescription: String(s.template.Description) }
          : {}),
        CreationTime: s.creationTime,
        ...(s.lastUpdatedTime ? { LastUpdatedTime: s.lastUpdatedTime } : {}),
        ...(s.deletionTime ? { DeletionTime: s.deletionTime } : {}),
        StackStatus: s.status,
        ...(s.statusReason ? { StackStatusReason: s.statusReason } : {}),
        DriftInformation: {
          StackDriftStatus: s.driftStatus,
          ...(s.lastDriftCheck ? { LastCheckTimestamp: s.lastDriftCheck } : {}),
        },
      })),
      ...(NextToken ? { NextToken } : {}),
    };
  },

  DescribeStackResources(input, ctx) {
    const e = engineOf(ctx);
    const name = str(input.StackName);
    const physicalId = str(input.PhysicalResourceId);
    const logicalId = str(input.LogicalResourceId);
    let stack: StackState;
    if (name) stack = requireStack(e.world, name);
    else if (physicalId) {
      const found = e.world.stacks.find(
        (s) =>
          s.status !== TERMINAL_DELETED && [...s.resources.values()].some((r) => r.physicalId === physicalId),
      );
      if (!found) throw validation(`Stack for ${physicalId} does not exist`);
      stack = found;
    } else {
      throw validation('Either StackName or PhysicalResourceId must be specified.');
    }
    const resources = [...stack.resources.values()].filter((r) => !logicalId || r.logicalId === logicalId);
    return { StackResources: resources.map((r) => stackResource(stack, r)) };
  },

  DescribeStackResource(input, ctx) {
    const e = engineOf(ctx);
    const stack = requireStack(e.world, str(input.StackName));
    const r = requireResource(stack, str(input.LogicalResourceId));
    const { Timestamp, ...rest } = stackResource(stack, r);
    return {
      StackResourceDetail: {
        ...rest,
        LastUpdatedTimestamp: Timestamp,
        ...(r.metadata ? { Metadata: JSON.stringify(r.metadata) } : {}),
      },
    };
  },

  ListStackResources(input, ctx) {
    const e = engineOf(ctx);
    const stack = requireStack(e.world, str(input.StackName));
    const { items, NextToken } = page([...stack.resources.values()], input);
    return {
      StackResourceSummaries: items.map((r) => ({
        LogicalResourceId: r.logicalId,
        ...(r.physicalId !== undefined ? { PhysicalResourceId: r.physicalId } : {}),
        ResourceType: r.type,
        LastUpdatedTimestamp: r.timestamp,
        ResourceStatus: r.status,
        ...(r.statusReason ? { ResourceStatusReason: r.statusReason } : {}),
        DriftInformation: driftInformation(r),
      })),
      ...(NextToken ? { NextToken } : {}),
    };
  },

  DescribeStackEvents(input, ctx) {
    const e = engineOf(ctx);
    const stack = requireStack(e.world, str(input.StackName));
    const { items, NextToken } = page(stack.events, input);
    return { StackEvents: items, ...(NextToken ? { NextToken } : {}) };
  },

  GetTemplate(input, ctx) {
    const e = engineOf(ctx);
    const stage = str(input.TemplateStage) ?? 'Original';
    if (stage !== 'Original' && stage !== 'Processed') {
      throw validation(
        `1 validation error detected: Value '${stage}' at 'templateStage' failed to satisfy constraint: Member must satisfy enum value set: [Original, Processed]`,
      );
    }
    let d: Deployment;
    if (input.ChangeSetName !== undefined) d = findChangeSet(e, input);
    else d = requireStack(e.world, str(input.StackName));
    return {
      TemplateBody: stage === 'Original' ? d.templateBody : JSON.stringify(d.template),
      StagesAvailable: ['Original', 'Processed'],
    };
  },

  ValidateTemplate(input) {
    const body = templateBodyOf(input);
    const template = parseTemplate(body);
    deploymentOrder(template);
    const cap = requiredCapability(template);
    const iamTypes = [
      ...new Set(
        Object.values(template.Resources)
          .map((r) => r.Type)
          .filter((t) => t.startsWith('AWS::IAM::')),
      ),
    ].sort();
    return {
      Parameters: describeParameters(template),
      ...(template.Description !== undefined ? { Description: String(template.Description) } : {}),
      Capabilities: cap ? [cap] : [],
      ...(cap
        ? { CapabilitiesReason: `The following resource(s) require capabilities: [${iamTypes.join(', ')}]` }
        : {}),
      DeclaredTransforms: [],
    };
  },

  UpdateTerminationProtection(input, ctx) {
    const e = engineOf(ctx);
    const stack = requireStack(e.world, str(input.StackName));
    if (typeof input.EnableTerminationProtection !== 'boolean') {
      throw validation(
        "1 validation error detected: Value null at 'enableTerminationProtection' failed to satisfy constraint: Member must not be null",
      );
    }
    stack.terminationProtection = input.EnableTerminationProtection;
    return { StackId: stack.stackId };
  },

  ListExports(input, ctx) {
    const e = engineOf(ctx);
    const all = [...e.world.exports].map(([Name, v]) => ({
      ExportingStackId: v.stackId,
      Name,
      Value: v.value,
    }));
    const { items, NextToken } = page(all, input);
    return { Exports: items, ...(NextToken ? { NextToken } : {}) };
  },

  // ------------------------------------------------------------ drift

  DetectStackDrift(input, ctx) {
    const e = engineOf(ctx);
    const stack = requireStack(e.world, str(input.StackName));
    if (isBusy(stack.status) || stack.status === TERMINAL_DELETED) {
      throw validation(
        `Drift detection cannot be performed on stack [${stack.stackName}] in status [${stack.status}]`,
      );
    }
    const logicalIds = input.LogicalResourceIds === undefined ? undefined : strs(input.LogicalResourceIds);
    for (const id of logicalIds ?? []) requireResource(stack, id);
    const detection: Detection = {
      id: randomUUID(),
      stackId: stack.stackId,
      status: 'DETECTION_IN_PROGRESS',
      timestamp: e.now(),
    };
    e.world.detections.set(detection.id, detection);
    e.background(`DetectStackDrift ${stack.stackName}`, () =>
      e.runDetection(stack, detection, logicalIds, ctx.caller),
    );
    return { StackDriftDetectionId: detection.id };
  },

  DescribeStackDriftDetectionStatus(input, ctx) {
    const e = engineOf(ctx);
    const id = str(input.StackDriftDetectionId);
    if (!id)
      throw validation(
        "1 validation error detected: Value null at 'stackDriftDetectionId' failed to satisfy constraint: Member must not be null",
      );
    const d = e.world.detections.get(id);
    if (!d) throw validation(`Drift detection with id ${id} does not exist`);
    return {
      StackId: d.stackId,
      StackDriftDetectionId: d.id,
      ...(d.stackDriftStatus ? { StackDriftStatus: d.stackDriftStatus } : {}),
      DetectionStatus: d.status,
      ...(d.reason ? { DetectionStatusReason: d.reason } : {}),
      ...(d.driftedCount !== undefined ? { DriftedStackResourceCount: d.driftedCount } : {}),
      Timestamp: d.timestamp,
    };
  },

  DescribeStackResourceDrifts(input, ctx) {
    const e = engineOf(ctx);
    const stack = requireStack(e.world, str(input.StackName));
    const filters = strs(input.StackResourceDriftStatusFilters);
    for (const f of filters) {
      if (!DRIFT_FILTERS.has(f)) {
        throw validation(
          `1 validation error detected: Value '[${filters.join(', ')}]' at 'stackResourceDriftStatusFilters' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [DELETED, MODIFIED, IN_SYNC, NOT_CHECKED]]`,
        );
      }
    }
    if (
      input.MaxResults !== undefined &&
      (typeof input.MaxResults !== 'number' || input.MaxResults < 1 || input.MaxResults > 100)
    ) {
      throw validation(
        `1 validation error detected: Value '${String(input.MaxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and 100`,
      );
    }
    const drifts = [...stack.resources.values()]
      .map((r) => r.drift)
      .filter((d) => d !== undefined)
      .filter((d) => filters.length === 0 || filters.includes(d.StackResourceDriftStatus));
    const { items, NextToken } = page(drifts, input);
    return { StackResourceDrifts: items, ...(NextToken ? { NextToken } : {}) };
  },

  async DetectStackResourceDrift(input, ctx) {
    const e = engineOf(ctx);
    const stack = requireStack(e.world, str(input.StackName));
    const r = requireResource(stack, str(input.LogicalResourceId));
    if (isBusy(stack.status)) {
      throw validation(
        `Drift detection cannot be performed on stack [${stack.stackName}] in status [${stack.status}]`,
      );
    }
    let drift: ResourceDrift | undefined;
    try {
      drift = await e.detectResource(stack, r, ctx.caller);
    } catch (err) {
      // The read handler was refused: CloudFormation's AccessDenied with the service's denial, naming the
      // read action the caller lacks.
      if (err instanceof HandlerAccessDenied && err.cause instanceof AwsError)
        throw new AwsError('AccessDenied', err.cause.message, 403);
      throw err;
    }
    if (!drift) throw validation(`Drift detection is not supported for resource type ${r.type}`);
    return { StackResourceDrift: drift };
  },

  // ------------------------------------------------------------ change sets

  async CreateChangeSet(input, ctx) {
    await passStackRole(input, ctx);
    const e = engineOf(ctx);
    const req = changeSetRequest(input);
    let stack = changeSetStack(e, req);
    const roleArn = str(input.RoleARN) ?? stack?.roleArn;
    await requireUsableRole(ctx, roleArn);
    const d = await deploymentFor(ctx, input, req.type === 'UPDATE' ? stack : undefined);
    if (!stack) {
      stack = newStack(ctx, e, req.stackName, d, input, 'REVIEW_IN_PROGRESS');
      e.world.stacks.push(stack);
      e.event(stack, 'REVIEW_IN_PROGRESS', { reason: 'User Initiated' });
    }
    const target = stack;
    const conditions = e.conditionsFor(target, d);
    deploymentOrder(d.template, conditions);
    const cs: ChangeSetState = {
      ...d,
      id: changeSetArn(ctx, req.name),
      name: req.name,
      stackId: target.stackId,
      stackName: target.stackName,
      type: req.type,
      ...(req.mode ? { deploymentMode: 'REVERT_DRIFT' as const } : {}),
      ...(str(input.Description) ? { description: str(input.Description) } : {}),
      ...(str(input.RoleARN) ? { roleArn: str(input.RoleARN) } : {}),
      status: 'CREATE_PENDING',
      executionStatus: 'UNAVAILABLE',
      creationTime: e.now(),
      changes: [],
      conditions,
    };
    if (req.type === 'CREATE') target.changeSetId = cs.id;
    e.world.changeSets.set(cs.id, cs);
    // A REVERT_DRIFT change set reads the live resources as the role it acts as, else as its creator.
    const reader = roleArn ? rolePrincipal(roleArn, 'AWSCloudFormation') : ctx.caller;
    e.background(`CreateChangeSet ${req.name}`, () => computeChangeSet(e, cs, target, reader));
    return { Id: cs.id, StackId: target.stackId };
  },

  DescribeChangeSet(input, ctx) {
    const e = engineOf(ctx);
    const cs = findChangeSet(e, input);
    const { items, NextToken } = page(cs.changes, input);
    return {
      ...changeSetSummary(cs),
      Parameters: cs.describedParameters,
      NotificationARNs: cs.notificationArns,
      Capabilities: cs.capabilities,
      Tags: cs.tags,
      Changes: items,
      ...(cs.deploymentMode ? { DeploymentMode: cs.deploymentMode } : {}),
      ...(NextToken ? { NextToken } : {}),
    };
  },

  ListChangeSets(input, ctx) {
    const e = engineOf(ctx);
    const stack = requireStack(e.world, str(input.StackName));
    const all = [...e.world.changeSets.values()].filter((c) => c.stackId === stack.stackId);
    const { items, NextToken } = page(all, input);
    return { Summaries: items.map(changeSetSummary), ...(NextToken ? { NextToken } : {}) };
  },

  DeleteChangeSet(input, ctx) {
    const e = engineOf(ctx);
    const cs = findChangeSet(e, input);
    if (cs.executionStatus === 'EXECUTE_IN_PROGRESS') {
      throw new AwsError(
        'InvalidChangeSetStatus',
        `Cannot delete ChangeSet [${cs.id}] because it is in EXECUTE_IN_PROGRESS status.`,
      );
    }
    e.world.changeSets.delete(cs.id);
    return {};
  },

  async ExecuteChangeSet(input, ctx) {
    const e = engineOf(ctx);
    const cs = findChangeSet(e, input);
    if (cs.status !== 'CREATE_COMPLETE' || cs.executionStatus !== 'AVAILABLE') {
      throw new AwsError(
        'InvalidChangeSetStatus',
        `ChangeSet [${cs.id}] cannot be executed in its current status of [${cs.status}]`,
      );
    }
    const stack = lookupStack(e.world, cs.stackId);
    if (!stack) throw validation(`Stack with id ${cs.stackId} does not exist`);
    if (cs.type === 'UPDATE') assertUpdatable(stack);
    else if (stack.status !== 'REVIEW_IN_PROGRESS') assertIdle(stack);
    const token = str(input.ClientRequestToken);
    await requireUsableRole(ctx, cs.roleArn ?? stack.roleArn);
    actingFor(stack, cs.roleArn ? { RoleARN: cs.roleArn } : {}, ctx);
    cs.executionStatus = 'EXECUTE_IN_PROGRESS';
    // Executing one change set makes the stack's other change sets invalid: CloudFormation deletes them.
    for (const other of [...e.world.changeSets.values()]) {
      if (other.stackId === cs.stackId && other.id !== cs.id) e.world.changeSets.delete(other.id);
    }
    const disableRollback = input.DisableRollback === true;
    if (cs.type === 'CREATE') {
      Object.assign(stack, {
        templateBody: cs.templateBody,
        template: cs.template,
        parameters: cs.parameters,
        describedParameters: cs.describedParameters,
        capabilities: cs.capabilities,
        tags: cs.tags,
        notificationArns: cs.notificationArns,
        conditions: cs.conditions,
        disableRollback,
      });
      e.setStackStatus(stack, 'CREATE_IN_PROGRESS', 'User Initiated', token);
      e.background(`ExecuteChangeSet ${cs.name}`, async () => {
        await e.provisionCreate(stack, disableRollback ? 'DO_NOTHING' : 'ROLLBACK', token);
        cs.executionStatus = stack.status === 'CREATE_COMPLETE' ? 'EXECUTE_COMPLETE' : 'EXECUTE_FAILED';
        delete stack.changeSetId;
      });
    } else {
      e.setStackStatus(stack, 'UPDATE_IN_PROGRESS', 'User Initiated', token);
      stack.changeSetId = cs.id;
      e.background(`ExecuteChangeSet ${cs.name}`, async () => {
        const ok = await e.provisionUpdate(
          stack,
          cs,
          cs.conditions,
          cs.deploymentMode === 'REVERT_DRIFT',
          token,
        );
        cs.executionStatus = ok ? 'EXECUTE_COMPLETE' : 'EXECUTE_FAILED';
      });
    }
    return {};
  },
};

export function cloudFormationService(): ServiceModule {
  let world: ReturnType<typeof cfnWorld> | undefined;
  return {
    serviceName: 'cloudformation',
    signingName: 'cloudformation',
    protocol: 'awsQuery',
    xmlNamespace: 'http://cloudformation.amazonaws.com/doc/2010-05-15/',
    operations,
    start(sandbox) {
      world = cfnWorld(sandbox);
    },
    async stop() {
      if (!world) return;
      world.controller.abort(new Error('sandbox stopped'));
      await Promise.allSettled([...world.tasks]);
    },
  };
}
