/**
 * CloudFormation provider for AWS::Lambda::Function (configuration only: the code is hashed, not run).
 */
import { AwsError, type ProviderContext, type ResourceProvider } from '../../core/types';
import { callsOf, handlerReads } from '../handler-calls';
import { isObj, type Obj, physicalName, str, tagsFrom } from '../state';
import { executionRoleRefusal } from './execution-role';
import { functionArnOf } from './permissions';
import { type LambdaFunction, lambdaStore } from './store';

const CONFIG_PROPS = [
  'MemorySize',
  'Timeout',
  'Runtime',
  'Handler',
  'Description',
  'Role',
  'Environment',
  'EphemeralStorage',
  'TracingConfig',
];

function tagMap(v: unknown): Record<string, string> {
  return Object.fromEntries(tagsFrom(v).map((t) => [t.Key, t.Value]));
}

function attributes(fn: LambdaFunction): Record<string, string> {
  return { Arn: fn.arn };
}

/** One Lambda call CloudFormation's handler makes: authorized, made, recorded. */
const lambdaCall = callsOf('lambda');

/** CloudFormation's handler gets Lambda's refusal of an execution role Lambda cannot assume for `name`. */
async function refuseRole(ctx: ProviderContext, role: unknown, name: string): Promise<void> {
  const fn = functionArnOf(ctx.sandbox, name);
  const refusal = typeof role === 'string' ? await executionRoleRefusal(ctx.sandbox, role, fn) : undefined;
  if (refusal) throw new AwsError('InvalidParameterValueException', refusal, 400);
}

export const functionProvider: ResourceProvider = {
  type: 'AWS::Lambda::Function',
  async create(logicalId, props, ctx) {
    const input = {
      ...props,
      FunctionName:
        str(props.FunctionName) ?? physicalName(ctx.stackName, logicalId, 64).replace(/[^A-Za-z0-9_-]/g, '-'),
      Code: isObj(props.Code) ? props.Code : {},
      Tags: tagMap(props.Tags),
    };
    await refuseRole(ctx, props.Role, input.FunctionName);
    const { Code: _code, ...request } = input;
    const fn = await lambdaCall(
      ctx,
      'CreateFunction',
      request,
      () => lambdaStore(ctx.sandbox).create(input),
      (created) => ({ FunctionName: created.name, FunctionArn: created.arn }),
    );
    return { physicalId: fn.name, attributes: attributes(fn) };
  },
  async update(physicalId, props, _previous, ctx) {
    const store = lambdaStore(ctx.sandbox);
    const changes: Obj = {};
    for (const p of CONFIG_PROPS) changes[p] = props[p];
    // Properties left out of the template go back to Lambda's defaults.
    changes.MemorySize ??= 128;
    changes.Timeout ??= 3;
    changes.Description ??= '';
    changes.Environment ??= { Variables: {} };
    for (const k of Object.keys(changes)) if (changes[k] === undefined) delete changes[k];
    await refuseRole(ctx, changes.Role, physicalId);
    const fn = await lambdaCall(
      ctx,
      'UpdateFunctionConfiguration',
      { FunctionName: physicalId, ...changes },
      () => store.updateConfiguration(physicalId, changes),
    );
    const tags = tagMap(props.Tags);
    const stale = Object.keys(fn.tags).filter((k) => !(k in tags));
    const fresh = Object.fromEntries(Object.entries(tags).filter(([k, v]) => fn.tags[k] !== v));
    if (stale.length > 0)
      await lambdaCall(ctx, 'UntagResource', { Resource: fn.arn, TagKeys: stale }, () =>
        store.setTags(physicalId, {}, stale),
      );
    if (Object.keys(fresh).length > 0)
      await lambdaCall(ctx, 'TagResource', { Resource: fn.arn, Tags: fresh }, () =>
        store.setTags(physicalId, fresh, []),
      );
    return { physicalId, attributes: attributes(fn) };
  },
  async delete(physicalId, ctx) {
    const store = lambdaStore(ctx.sandbox);
    if (!store.functions.has(physicalId)) return;
    await lambdaCall(ctx, 'DeleteFunction', { FunctionName: physicalId }, () => store.delete(physicalId));
  },
  async read(physicalId, ctx) {
    // The read handler's calls: the function, its code signing and recursion configurations.
    const FunctionName = physicalId;
    await handlerReads(ctx, 'lambda', [
      ['GetFunction', { FunctionName }],
      ['GetFunctionCodeSigningConfig', { FunctionName }],
      ['GetFunctionRecursionConfig', { FunctionName }],
    ]);
    const fn = lambdaStore(ctx.sandbox).functions.get(physicalId);
    if (!fn) return undefined;
    const out: Obj = {
      FunctionName: fn.name,
      Arn: fn.arn,
      Role: fn.role,
      MemorySize: fn.memorySize,
      Timeout: fn.timeout,
      PackageType: fn.packageType,
      Architectures: [...fn.architectures],
      EphemeralStorage: { Size: fn.ephemeralStorage },
      TracingConfig: { Mode: fn.tracingMode },
    };
    if (fn.runtime !== undefined) out.Runtime = fn.runtime;
    if (fn.handler !== undefined) out.Handler = fn.handler;
    if (fn.description !== '') out.Description = fn.description;
    if (fn.environment && Object.keys(fn.environment).length > 0)
      out.Environment = { Variables: { ...fn.environment } };
    const tags = Object.entries(fn.tags).map(([Key, Value]) => ({ Key, Value }));
    if (tags.length > 0) out.Tags = tags;
    return out;
  },
  requiresReplacement: (property) => property === 'FunctionName' || property === 'PackageType',
  driftIgnoredProperties: ['Code'],
  sample: {
    FunctionName: '{{ Name }}',
    Runtime: 'nodejs22.x',
    Handler: 'index.handler',
    MemorySize: 128,
    Timeout: 30,
    Role: 'arn:aws:iam::000000000000:role/{{ Name }}-exec',
    Environment: { Variables: { SIZE: '256' } },
    Code: { ZipFile: 'export const handler = async () => ({ ok: true });' },
  },
  sampleResources: {
    SampleExecutionRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: '{{ Name }}-exec',
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            { Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' },
          ],
        },
      },
    },
  },
};
