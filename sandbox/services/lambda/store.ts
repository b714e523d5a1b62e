/**
 * Lambda function configuration (code is stored as a hash, never run), shared by the restJson1
 * operations and the AWS::Lambda::Function provider.
 */
import { createHash, randomUUID } from 'node:crypto';
import { AwsError, type SandboxContext } from '../../core/types';
import { compact, isObj, num, type Obj, stateOf, str, strs } from '../state';

export const FUNCTION_TYPE = 'AWS::Lambda::Function';

export const RUNTIMES = [
  'nodejs18.x',
  'nodejs20.x',
  'nodejs22.x',
  'nodejs24.x',
  'python3.9',
  'python3.10',
  'python3.11',
  'python3.12',
  'python3.13',
  'java11',
  'java17',
  'java21',
  'dotnet8',
  'ruby3.2',
  'ruby3.3',
  'provided.al2',
  'provided.al2023',
];

export interface LambdaFunction {
  name: string;
  arn: string;
  runtime?: string;
  role: string;
  handler?: string;
  description: string;
  timeout: number;
  memorySize: number;
  environment?: Record<string, string>;
  codeSha256: string;
  codeSize: number;
  packageType: 'Zip' | 'Image';
  architectures: string[];
  ephemeralStorage: number;
  lastModified: string;
  revisionId: string;
  tags: Record<string, string>;
  tracingMode: string;
}

function validation(field: string, value: unknown, constraint: string): AwsError {
  return new AwsError(
    'ValidationException',
    `1 validation error detected: Value '${String(value)}' at '${field}' failed to satisfy constraint: ${constraint}`,
    400,
  );
}

/** Lambda's LastModified format: 2024-01-01T00:00:00.000+0000. */
function lambdaTime(d: Date): string {
  return d.toISOString().replace('Z', '+0000');
}

/** Accepts a name, a full ARN, or a partial ARN (123456789012:function:name); qualifiers are ignored. */
export function functionNameOf(nameOrArn: string | undefined): string {
  if (!nameOrArn) throw validation('functionName', null, 'Member must not be null');
  const m =
    /^(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?(?:\d{12}:)?(?:function:)?([A-Za-z0-9_-]{1,140})(?::[A-Za-z0-9$_-]+)?$/.exec(
      nameOrArn,
    );
  if (!m?.[1]) {
    throw validation(
      'functionName',
      nameOrArn,
      'Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]+))?',
    );
  }
  return m[1];
}

function checkConfig(input: Obj): void {
  const memory = num(input.MemorySize);
  if (input.MemorySize !== undefined && (memory === undefined || memory < 128 || memory > 10240)) {
    throw validation('memorySize', input.MemorySize, 'Member must have value between 128 and 10240');
  }
  const timeout = num(input.Timeout);
  if (input.Timeout !== undefined && (timeout === undefined || timeout < 1 || timeout > 900)) {
    throw validation('timeout', input.Timeout, 'Member must have value between 1 and 900');
  }
  const runtime = str(input.Runtime);
  if (runtime !== undefined && !RUNTIMES.includes(runtime)) {
    throw new AwsError(
      'InvalidParameterValueException',
      `Value ${runtime} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: [${RUNTIMES.join(', ')}] or be a valid ARN`,
      400,
    );
  }
  const role = str(input.Role);
  if (role !== undefined && !/^arn:aws[a-z-]*:iam::\d{12}:role\/?[a-zA-Z_0-9+=,.@\-_/]+$/.test(role)) {
    throw validation(
      'role',
      role,
      'Member must satisfy regular expression pattern: arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+',
    );
  }
  const env = input.Environment;
  if (env !== undefined) {
    const vars = isObj(env) ? env.Variables : undefined;
    if (vars !== undefined && !isObj(vars))
      throw new AwsError('InvalidParameterValueException', 'Environment variables must be a map.', 400);
    const size = JSON.stringify(vars ?? {}).length;
    if (size > 4096) {
      throw new AwsError(
        'InvalidParameterValueException',
        `Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: ${size}`,
        400,
      );
    }
    for (const k of Object.keys(vars ?? {})) {
      if (!/^[a-zA-Z]\w*$/.test(k))
        throw new AwsError(
          'InvalidParameterValueException',
          `Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys or invalid names: ${k}`,
          400,
        );
    }
  }
  const desc = str(input.Description);
  if (desc !== undefined && desc.length > 256)
    throw validation('description', desc, 'Member must have length less than or equal to 256');
}

function envOf(v: unknown): Record<string, string> | undefined {
  if (!isObj(v) || !isObj(v.Variables)) return undefined;
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v.Variables)) out[k] = str(val) ?? '';
  return out;
}

export class LambdaStore {
  readonly functions = new Map<string, LambdaFunction>();

  constructor(private readonly sandbox: SandboxContext) {}

  private change(name: string, kind: 'created' | 'updated' | 'deleted'): void {
    this.sandbox.recordChange({ resourceType: FUNCTION_TYPE, resourceId: name, kind });
  }

  create(input: Obj): LambdaFunction {
    const name = str(input.FunctionName);
    if (!name) throw validation('functionName', null, 'Member must not be null');
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(name)) {
      throw validation(
        'functionName',
        name,
        'Member must satisfy regular expression pattern: [a-zA-Z0-9-_]+ and have length at most 64',
      );
    }
    if (!str(input.Role)) throw validation('role', null, 'Member must not be null');
    checkConfig(input);
    const packageType = str(input.PackageType) === 'Image' ? 'Image' : 'Zip';
    const code = isObj(input.Code) ? input.Code : undefined;
    if (!code) throw validation('code', null, 'Member must not be null');
    if (packageType === 'Zip') {
      if (!str(input.Runtime))
        throw new AwsError(
          'InvalidParameterValueException',
          'Runtime is required for Zip package type.',
          400,
        );
      if (!str(input.Handler))
        throw new AwsError(
          'InvalidParameterValueException',
          'Handler is required for Zip package type.',
          400,
        );
    }
    if (this.functions.has(name))
      throw new AwsError('ResourceConflictException', `Function already exist: ${name}`, 409);
    const zip = code.ZipFile;
    const bytes =
      zip instanceof Uint8Array
        ? Buffer.from(zip)
        : typeof zip === 'string'
          ? Buffer.from(zip, 'base64')
          : Buffer.from(JSON.stringify(code));
    const now = this.sandbox.clock.now();
    const fn: LambdaFunction = {
      name,
      arn: `arn:aws:lambda:${this.sandbox.region}:${this.sandbox.accountId}:function:${name}`,
      runtime: str(input.Runtime),
      role: str(input.Role) ?? '',
      handler: str(input.Handler),
      description: str(input.Description) ?? '',
      timeout: num(input.Timeout) ?? 3,
      memorySize: num(input.MemorySize) ?? 128,
      environment: envOf(input.Environment),
      codeSha256: createHash('sha256').update(bytes).digest('base64'),
      codeSize: bytes.length,
      packageType,
      architectures: strs(input.Architectures).length > 0 ? strs(input.Architectures) : ['x86_64'],
      ephemeralStorage: num((input.EphemeralStorage as Obj | undefined)?.Size) ?? 512,
      lastModified: lambdaTime(now),
      revisionId: randomUUID(),
      tags: isObj(input.Tags)
        ? Object.fromEntries(Object.entries(input.Tags).map(([k, v]) => [k, str(v) ?? '']))
        : {},
      tracingMode: str((input.TracingConfig as Obj | undefined)?.Mode) ?? 'PassThrough',
    };
    this.functions.set(name, fn);
    this.change(name, 'created');
    return fn;
  }

  get(nameOrArn: string | undefined): LambdaFunction {
    const name = functionNameOf(nameOrArn);
    const fn = this.functions.get(name);
    if (!fn) {
      throw new AwsError(
        'ResourceNotFoundException',
        `Function not found: arn:aws:lambda:${this.sandbox.region}:${this.sandbox.accountId}:function:${name}`,
        404,
      );
    }
    return fn;
  }

  updateConfiguration(nameOrArn: string | undefined, input: Obj): LambdaFunction {
    const fn = this.get(nameOrArn);
    checkConfig(input);
    const revision = str(input.RevisionId);
    if (revision !== undefined && revision !== fn.revisionId) {
      throw new AwsError(
        'PreconditionFailedException',
        'The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id',
        412,
      );
    }
    if (input.MemorySize !== undefined) fn.memorySize = num(input.MemorySize) ?? fn.memorySize;
    if (input.Timeout !== undefined) fn.timeout = num(input.Timeout) ?? fn.timeout;
    if (input.Runtime !== undefined) fn.runtime = str(input.Runtime);
    if (input.Handler !== undefined) fn.handler = str(input.Handler);
    if (input.Description !== undefined) fn.description = str(input.Description) ?? '';
    if (input.Role !== undefined) fn.role = str(input.Role) ?? fn.role;
    if (input.Environment !== undefined) fn.environment = envOf(input.Environment);
    if (input.EphemeralStorage !== undefined)
      fn.ephemeralStorage = num((input.EphemeralStorage as Obj).Size) ?? fn.ephemeralStorage;
    if (input.TracingConfig !== undefined)
      fn.tracingMode = str((input.TracingConfig as Obj).Mode) ?? fn.tracingMode;
    fn.lastModified = lambdaTime(this.sandbox.clock.now());
    fn.revisionId = randomUUID();
    this.change(fn.name, 'updated');
    return fn;
  }

  setTags(nameOrArn: string | undefined, tags: Record<string, string>, remove: string[]): void {
    const fn = this.get(nameOrArn);
    for (const k of remove) delete fn.tags[k];
    Object.assign(fn.tags, tags);
    this.change(fn.name, 'updated');
  }

  delete(nameOrArn: string | undefined): void {
    const fn = this.get(nameOrArn);
    this.functions.delete(fn.name);
    this.change(fn.name, 'deleted');
  }
}

export function lambdaStore(sandbox: SandboxContext): LambdaStore {
  return stateOf(sandbox, 'lambda', () => new LambdaStore(sandbox));
}

/** FunctionConfiguration (SDK shape). */
export function configurationOf(fn: LambdaFunction): Obj {
  return compact({
    FunctionName: fn.name,
    FunctionArn: fn.arn,
    Runtime: fn.runtime,
    Role: fn.role,
    Handler: fn.handler,
    CodeSize: fn.codeSize,
    Description: fn.description,
    Timeout: fn.timeout,
    MemorySize: fn.memorySize,
    LastModified: fn.lastModified,
    CodeSha256: fn.codeSha256,
    Version: '$LATEST',
    Environment: fn.environment ? { Variables: { ...fn.environment } } : undefined,
    TracingConfig: { Mode: fn.tracingMode },
    RevisionId: fn.revisionId,
    State: 'Active',
    LastUpdateStatus: 'Successful',
    PackageType: fn.packageType,
    Architectures: [...fn.architectures],
    EphemeralStorage: { Size: fn.ephemeralStorage },
    SnapStart: { ApplyOn: 'None', OptimizationStatus: 'Off' },
    LoggingConfig: { LogFormat: 'Text', LogGroup: `/aws/lambda/${fn.name}` },
  });
}
