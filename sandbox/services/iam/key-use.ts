/**
 * Encryption at rest with a customer managed KMS key: a call on an SQS queue, SNS topic, Secrets Manager
 * secret or DynamoDB table whose key is a customer managed key makes KMS calls with the caller's own
 * permissions (kms:ViaService the resource's service), so the caller needs those KMS actions on the key —
 * allowed by the key policy and, where the key policy trusts the account, its identity policies (KMS's
 * rules, as iam-simulate evaluates them). A refusal is reported as the resource's service reports it (SQS
 * `KMS.AccessDeniedException`, SNS `KMSAccessDenied`, Secrets Manager `AccessDeniedException` "Access to KMS
 * is not allowed", DynamoDB `AccessDeniedException` "KMS key access denied error: …"), before the call
 * changes anything. AWS managed keys (`alias/aws/…`) admit every principal of the account through the
 * service, so they need nothing more. A missing or disabled key fails SQS and SNS calls here; Secrets
 * Manager and DynamoDB check their key's state themselves (for every caller, the administrator too).
 *
 * The key's DescribeKey is cached until KMS changes anything (../kms/describe.ts), like IAM's other reads
 * (reads.ts): every message sent to an encrypted queue or topic asked it again.
 */
import { randomUUID } from 'node:crypto';
import type { EvaluationResult } from '@cloud-copilot/iam-simulate';
import { AwsError, type SandboxContext } from '../../core/types';
import { describeKey } from '../kms/describe';

type Input = Record<string, unknown>;
/** The KMS actions a call needs, from its input (undefined: it uses no key). */
type Needs = (input: Input) => string[] | undefined;

const SEND = ['kms:GenerateDataKey', 'kms:Decrypt'];
const always =
  (actions: string[]): Needs =>
  () =>
    actions;
const secretValue = (i: Input): boolean =>
  i.SecretString !== undefined || i.SecretBinary !== undefined || i.GenerateSecretString !== undefined;

/** The customer managed key DynamoDB's SSESpecification names (none: an AWS owned or managed key). */
export function sseKey(spec: unknown): string | undefined {
  const s = (spec ?? {}) as Input;
  if (s.Enabled === false || (s.SSEType !== undefined && s.SSEType !== 'KMS')) return undefined;
  return typeof s.KMSMasterKeyId === 'string' && s.KMSMasterKeyId !== '' ? s.KMSMasterKeyId : undefined;
}

/**
 * DynamoDB's data calls: the table key is decrypted with the caller's permissions (kms:Decrypt) — for the
 * batch calls, the key of each table RequestItems names (IAM checks them table by table, ./actions.ts).
 */
const TABLE_DATA = [
  'GetItem',
  'PutItem',
  'UpdateItem',
  'DeleteItem',
  'Query',
  'Scan',
  'BatchGetItem',
  'BatchWriteItem',
];
/** Creating or re-keying a table: DynamoDB describes the key, decrypts with it and makes itself a grant. */
const TABLE_KEY = ['kms:DescribeKey', 'kms:CreateGrant', 'kms:Decrypt'];

/** The KMS actions each call on an encrypted resource needs (each service's documented permissions). */
const KEY_ACTIONS: Record<string, Record<string, Needs>> = {
  sqs: { SendMessage: always(SEND), SendMessageBatch: always(SEND), ReceiveMessage: always(['kms:Decrypt']) },
  sns: { Publish: always(SEND), PublishBatch: always(SEND) },
  // A new secret value is sealed under a new data key; reading one decrypts its data key.
  secretsmanager: {
    GetSecretValue: always(['kms:Decrypt']),
    CreateSecret: (i) => (secretValue(i) ? ['kms:GenerateDataKey'] : undefined),
    PutSecretValue: always(['kms:GenerateDataKey']),
    UpdateSecret: (i) => (secretValue(i) || i.KmsKeyId !== undefined ? ['kms:GenerateDataKey'] : undefined),
  },
  dynamodb: {
    ...Object.fromEntries(TABLE_DATA.map((op) => [op, always(['kms:Decrypt'])])),
    CreateTable: (i) => (sseKey(i.SSESpecification) ? TABLE_KEY : undefined),
    UpdateTable: (i) => (sseKey(i.SSESpecification) ? TABLE_KEY : undefined),
  },
};

/** The key a call names for the resource it creates or re-keys (else the resource's own key counts). */
export function requestedKey(service: string, operation: string, input: Input): string | undefined {
  if (service === 'secretsmanager' && (operation === 'CreateSecret' || operation === 'UpdateSecret'))
    return typeof input.KmsKeyId === 'string' && input.KmsKeyId !== '' ? input.KmsKeyId : undefined;
  if (service === 'dynamodb' && (operation === 'CreateTable' || operation === 'UpdateTable'))
    return sseKey(input.SSESpecification);
  return undefined;
}

/** The KMS actions a service principal's delivery (`sqs:SendMessage`, `sns:Publish`) needs. */
const DELIVERY_ACTIONS: Record<string, string[]> = { 'sqs:SendMessage': SEND, 'sns:Publish': SEND };

/** How SQS and SNS name a KMS refusal, a missing key and a disabled key. */
const CODES: Record<string, { denied: string; notFound: string; disabled: string }> = {
  sqs: { denied: 'KmsAccessDenied', notFound: 'KmsNotFound', disabled: 'KmsDisabled' },
  sns: { denied: 'KMSAccessDenied', notFound: 'KMSNotFound', disabled: 'KMSDisabled' },
};

const requestId = (): string => `Request ID: ${randomUUID()}`;

/** How Secrets Manager and DynamoDB word a KMS refusal (neither names the action; the sandbox log does). */
const OPAQUE_DENIALS: Record<string, () => AwsError> = {
  secretsmanager: () => new AwsError('AccessDeniedException', 'Access to KMS is not allowed'),
  dynamodb: () =>
    new AwsError(
      'AccessDeniedException',
      `KMS key access denied error: com.amazonaws.services.kms.model.AWSKMSException: The ciphertext refers to a customer master key that does not exist, does not exist in this region, or you are not allowed to access. (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; ${requestId()})`,
    ),
};

export interface KeyUse {
  /** The key's ARN. */
  keyArn: string;
  /** The key's region (its ARN's). */
  region: string;
  actions: string[];
  /** `kms:ViaService`: the resource's service endpoint in the key's region. */
  viaService: string;
}

const wording = (service: string, action: string, key: string, because: string): string =>
  `User: ${service} is not authorized to perform: ${action} on resource: ${key} ${because} (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; ${requestId()})`;

/** The refusal of a KMS action on the key, as the encrypted resource's service reports it. */
export function keyDenied(
  service: string,
  principal: string,
  action: string,
  keyArn: string,
  result: EvaluationResult,
  deniedBy: 'identity' | 'resource',
): AwsError {
  const opaque = OPAQUE_DENIALS[service];
  if (opaque) return opaque();
  const because =
    result === 'ExplicitlyDenied'
      ? `with an explicit deny in ${deniedBy === 'resource' ? 'a resource-based' : 'an identity-based'} policy`
      : `because no ${deniedBy === 'resource' ? 'resource-based' : 'identity-based'} policy allows the ${action} action`;
  return new AwsError(
    CODES[service]?.denied ?? 'AccessDeniedException',
    wording(principal, action, keyArn, because),
  );
}

/** A call (its service, operation, input and region) or a service principal's delivery action. */
export type KeyNeed =
  | { service: string; operation: string; input: Input; region: string }
  | { delivery: string };

/**
 * The key a call on `resourceArn` uses and the KMS actions it needs, or undefined when the call uses no
 * customer managed key (or KMS is not emulated). For SQS and SNS a key that does not exist or is disabled
 * fails the call as the service reports it; Secrets Manager and DynamoDB report their key's state
 * themselves. The key lives in the resource's account-region (the call's for a resource not yet created).
 */
export async function keyUse(
  sandbox: SandboxContext,
  resourceArn: string,
  kmsKeyId: string | undefined,
  need: KeyNeed,
): Promise<KeyUse | undefined> {
  const [, , arnService = '', arnRegion = '', arnAccount = ''] = resourceArn.split(':');
  const service = 'service' in need ? need.service : arnService;
  const region = arnRegion || ('region' in need ? need.region : sandbox.region);
  const account = /^\d{12}$/.test(arnAccount) ? arnAccount : sandbox.accountId;
  const actions =
    'operation' in need
      ? KEY_ACTIONS[service]?.[need.operation]?.(need.input)
      : DELIVERY_ACTIONS[need.delivery];
  if (!kmsKeyId || !actions || /^(?:arn:[^:]+:kms:[^:]*:\d*:)?alias\/aws\//.test(kmsKeyId)) return undefined;
  const codes = CODES[service];
  const described = await describeKey(sandbox, account, region, kmsKeyId);
  if ('error' in described) {
    const err = described.error;
    if (!(err instanceof AwsError) || err.code !== 'NotFoundException' || !codes) return undefined;
    throw new AwsError(
      codes.notFound,
      `${err.message} (Service: AWSKMS; Status Code: 400; Error Code: NotFoundException)`,
    );
  }
  const metadata = described.metadata;
  const keyArn = String(metadata.Arn);
  if (metadata.Enabled === false && codes)
    throw new AwsError(
      codes.disabled,
      `${keyArn} is disabled. (Service: AWSKMS; Status Code: 400; Error Code: DisabledException)`,
    );
  const keyRegion = keyArn.split(':')[3] ?? region;
  return { keyArn, region: keyRegion, actions, viaService: `${service}.${keyRegion}.amazonaws.com` };
}
