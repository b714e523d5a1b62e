/**
 * Lambda (restJson1, /2015-03-31/functions/…): function configuration only — CreateFunction,
 * GetFunction, GetFunctionConfiguration, UpdateFunctionConfiguration, DeleteFunction, ListFunctions,
 * and tags. Code is kept as a hash and never run here (the in-process task handlers are a different
 * registry, SandboxContext.invokeFunction). The execution role must be one Lambda can assume
 * (./execution-role.ts).
 */
import { functionRegistry } from '../../core/functions';
import {
  AwsError,
  type RawHttpRequest,
  type RawHttpResponse,
  type RequestContext,
  type SandboxContext,
  type ServiceModule,
} from '../../core/types';
import { compact, isObj, num, type Obj, str, strs } from '../state';
import { requireExecutionRole } from './execution-role';
import { functionArnOf, lambdaPermissions } from './permissions';
import { configurationOf, functionNameOf, lambdaStore } from './store';

function jsonBody(req: RawHttpRequest): Obj {
  const text = req.body.toString('utf8').trim();
  if (text === '') return {};
  try {
    const v: unknown = JSON.parse(text);
    if (isObj(v)) return v;
  } catch {
    // fall through
  }
  throw new AwsError('SerializationException', 'Could not parse request body into json', 400);
}

function route(req: RawHttpRequest): { operation: string; input: Obj } | undefined {
  const m = req.method.toUpperCase();
  const parts = req.path
    .split('/')
    .filter((s) => s !== '')
    .map(decodeURIComponent);
  const [version, kind, name, sub] = parts;
  if (version === '2017-03-31' && kind === 'tags' && name !== undefined) {
    const resource = parts.slice(2).join('/');
    if (m === 'GET') return { operation: 'ListTags', input: { Resource: resource } };
    if (m === 'POST') return { operation: 'TagResource', input: { Resource: resource, ...jsonBody(req) } };
    if (m === 'DELETE')
      return {
        operation: 'UntagResource',
        input: { Resource: resource, TagKeys: req.query.getAll('tagKeys') },
      };
    return undefined;
  }
  if (version !== '2015-03-31' || kind !== 'functions') return undefined;
  if (name === undefined) {
    if (m === 'POST') return { operation: 'CreateFunction', input: jsonBody(req) };
    if (m === 'GET') {
      return {
        operation: 'ListFunctions',
        input: compact({
          Marker: req.query.get('Marker') ?? undefined,
          MaxItems: req.query.get('MaxItems') ?? undefined,
          FunctionVersion: req.query.get('FunctionVersion') ?? undefined,
        }),
      };
    }
    return undefined;
  }
  const base = compact({ FunctionName: name, Qualifier: req.query.get('Qualifier') ?? undefined });
  if (sub === undefined) {
    if (m === 'GET') return { operation: 'GetFunction', input: base };
    if (m === 'DELETE') return { operation: 'DeleteFunction', input: base };
    return undefined;
  }
  if (sub === 'policy') {
    if (m === 'POST' && parts.length === 4)
      return { operation: 'AddPermission', input: { ...jsonBody(req), ...base } };
    if (m === 'GET' && parts.length === 4) return { operation: 'GetPolicy', input: base };
    if (m === 'DELETE' && parts.length === 5)
      return { operation: 'RemovePermission', input: { ...base, StatementId: parts[4] } };
    return undefined;
  }
  if (sub === 'configuration' && parts.length === 4) {
    if (m === 'GET') return { operation: 'GetFunctionConfiguration', input: base };
    if (m === 'PUT')
      return { operation: 'UpdateFunctionConfiguration', input: { ...jsonBody(req), FunctionName: name } };
  }
  return undefined;
}

function encode(operation: string, output: unknown): RawHttpResponse {
  const json = (status: number, body: unknown): RawHttpResponse => ({
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  switch (operation) {
    case 'CreateFunction':
    case 'AddPermission':
      return json(201, output);
    case 'RemovePermission':
    case 'DeleteFunction':
    case 'TagResource':
    case 'UntagResource':
      return { status: 204 };
    default:
      return json(200, output ?? {});
  }
}

function encodeError(err: AwsError, requestId: string): RawHttpResponse {
  return {
    status: err.statusCode,
    headers: {
      'content-type': 'application/json',
      'x-amzn-errortype': err.code,
      'x-amzn-requestid': requestId,
    },
    body: JSON.stringify({ Type: err.statusCode >= 500 ? 'Service' : 'User', message: err.message }),
  };
}

function tagsMap(v: unknown): Record<string, string> {
  if (!isObj(v)) return {};
  return Object.fromEntries(Object.entries(v).map(([k, val]) => [k, str(val) ?? '']));
}

function assertLatest(input: Obj): void {
  const q = str(input.Qualifier);
  if (q !== undefined && q !== '$LATEST') {
    throw new AwsError(
      'ResourceNotFoundException',
      `Function not found: ${str(input.FunctionName) ?? ''}:${q}`,
      404,
    );
  }
}

/** The function a permission call names: one of the Lambda API's or an in-process task function. */
function permissionTarget(input: Obj, sandbox: SandboxContext): string {
  assertLatest(input);
  const name = str(input.FunctionName) ?? '';
  const arn = functionArnOf(sandbox, name);
  const known =
    lambdaStore(sandbox).functions.has(arn.slice(arn.lastIndexOf(':') + 1)) ||
    functionRegistry(sandbox).get(arn);
  if (!known) throw new AwsError('ResourceNotFoundException', `Function not found: ${arn}`, 404);
  return arn;
}

/** CreateFunction: the execution role checked for the function to be, then the function. */
async function createFunction(input: Obj, ctx: RequestContext): Promise<Obj> {
  const arn = functionArnOf(ctx.sandbox, functionNameOf(str(input.FunctionName)));
  await requireExecutionRole(ctx.sandbox, ctx.caller, input.Role, arn, ctx.region);
  return configurationOf(lambdaStore(ctx.sandbox).create(input));
}

export function lambdaService(): ServiceModule {
  return {
    serviceName: 'lambda',
    signingName: 'lambda',
    protocol: 'restJson1',
    rest: { route, encode, encodeError },
    operations: {
      CreateFunction: createFunction,
      GetFunction: (input, ctx) => {
        assertLatest(input);
        const fn = lambdaStore(ctx.sandbox).get(str(input.FunctionName));
        return compact({
          Configuration: configurationOf(fn),
          Code: {
            RepositoryType: 'S3',
            Location: `https://awslambda-${ctx.region}-tasks.s3.${ctx.region}.amazonaws.com/snapshots/${ctx.accountId}/${fn.name}`,
          },
          Tags: Object.keys(fn.tags).length > 0 ? { ...fn.tags } : undefined,
        });
      },
      AddPermission: (input, ctx) => {
        const arn = permissionTarget(input, ctx.sandbox);
        return { Statement: JSON.stringify(lambdaPermissions(ctx.sandbox).add(arn, input)) };
      },
      GetPolicy: (input, ctx) => ({
        Policy: lambdaPermissions(ctx.sandbox).get(permissionTarget(input, ctx.sandbox)),
      }),
      RemovePermission: (input, ctx) => {
        lambdaPermissions(ctx.sandbox).remove(permissionTarget(input, ctx.sandbox), str(input.StatementId));
        return {};
      },
      GetFunctionConfiguration: (input, ctx) => {
        assertLatest(input);
        return configurationOf(lambdaStore(ctx.sandbox).get(str(input.FunctionName)));
      },
      UpdateFunctionConfiguration: async (input, ctx) => {
        const { arn } = lambdaStore(ctx.sandbox).get(str(input.FunctionName));
        await requireExecutionRole(ctx.sandbox, ctx.caller, input.Role, arn, ctx.region);
        return configurationOf(lambdaStore(ctx.sandbox).updateConfiguration(str(input.FunctionName), input));
      },
      DeleteFunction: (input, ctx) => {
        assertLatest(input);
        lambdaStore(ctx.sandbox).delete(str(input.FunctionName));
        return {};
      },
      ListFunctions: (input, ctx) => {
        const all = [...lambdaStore(ctx.sandbox).functions.values()].sort((a, b) =>
          a.name.localeCompare(b.name),
        );
        const max = num(input.MaxItems) ?? 50;
        if (max < 1 || max > 10000) {
          throw new AwsError('InvalidParameterValueException', 'MaxItems must be between 1 and 10000', 400);
        }
        const marker = str(input.Marker);
        const start = marker
          ? all.findIndex((f) => f.name === Buffer.from(marker, 'base64').toString('utf8'))
          : 0;
        if (start < 0) throw new AwsError('InvalidParameterValueException', 'Invalid marker', 400);
        const page = all.slice(start, start + max);
        const next = all[start + max];
        return compact({
          Functions: page.map(configurationOf),
          NextMarker: next ? Buffer.from(next.name).toString('base64') : undefined,
        });
      },
      ListTags: (input, ctx) => ({ Tags: { ...lambdaStore(ctx.sandbox).get(str(input.Resource)).tags } }),
      TagResource: (input, ctx) => {
        lambdaStore(ctx.sandbox).setTags(str(input.Resource), tagsMap(input.Tags), []);
        return {};
      },
      UntagResource: (input, ctx) => {
        lambdaStore(ctx.sandbox).setTags(str(input.Resource), {}, strs(input.TagKeys));
        return {};
      },
    },
  };
}
