/**
 * Encryption at rest with a customer managed KMS key: a call on an SQS queue or SNS topic whose
 * `KmsMasterKeyId` names a key makes KMS calls with the caller's own permissions (kms:ViaService the
 * resource's service), so the caller needs those KMS actions on the key — allowed by the key policy and,
 * where the key policy trusts the account, its identity policies (KMS's rules, as iam-simulate evaluates
 * them). A refusal is reported as the resource's service reports it (SQS `KMS.AccessDeniedException`, SNS
 * `KMSAccessDenied`), before the call changes anything. AWS managed keys (`alias/aws/…`) admit every
 * principal of the account through the service, so they need nothing more.
 *
 * The key's DescribeKey is cached per sandbox until KMS's change generation moves (sandbox/core/changes.ts:
 * every KMS operation that is not a read bumps it, e.g. DisableKey, PutKeyPolicy, CreateAlias), like IAM's
 * other reads (reads.ts): every message sent to an encrypted queue or topic asked it again.
 */
import { randomUUID } from 'node:crypto';
import type { EvaluationResult } from '@cloud-copilot/iam-simulate';
import { asService } from '../../core/authz';
import { changeGeneration } from '../../core/changes';
import { AwsError, type SandboxContext } from '../../core/types';

const SEND = ['kms:GenerateDataKey', 'kms:Decrypt'];

/** The KMS actions each call on an encrypted resource needs (SQS's and SNS's documented permissions). */
const KEY_ACTIONS: Record<string, Record<string, string[]>> = {
  sqs: { SendMessage: SEND, SendMessageBatch: SEND, ReceiveMessage: ['kms:Decrypt'] },
  sns: { Publish: SEND, PublishBatch: SEND },
};

/** The KMS actions a service principal's delivery (`sqs:SendMessage`, `sns:Publish`) needs. */
const DELIVERY_ACTIONS: Record<string, string[]> = { 'sqs:SendMessage': SEND, 'sns:Publish': SEND };

/** How each service names a KMS refusal, a missing key and a disabled key. */
const CODES: Record<string, { denied: string; notFound: string; disabled: string }> = {
  sqs: { denied: 'KmsAccessDenied', notFound: 'KmsNotFound', disabled: 'KmsDisabled' },
  sns: { denied: 'KMSAccessDenied', notFound: 'KMSNotFound', disabled: 'KMSDisabled' },
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
  `User: ${service} is not authorized to perform: ${action} on resource: ${key} ${because} (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException; Request ID: ${randomUUID()})`;

/** The refusal of a KMS action on the key, as the encrypted resource's service reports it. */
export function keyDenied(
  service: string,
  principal: string,
  action: string,
  keyArn: string,
  result: EvaluationResult,
  deniedBy: 'identity' | 'resource',
): AwsError {
  const because =
    result === 'ExplicitlyDenied'
      ? `with an explicit deny in ${deniedBy === 'resource' ? 'a resource-based' : 'an identity-based'} policy`
      : `because no ${deniedBy === 'resource' ? 'resource-based' : 'identity-based'} policy allows the ${action} action`;
  return new AwsError(
    CODES[service]?.denied ?? 'AccessDeniedException',
    wording(principal, action, keyArn, because),
  );
}

type Described = { metadata: Record<string, unknown> } | { error: unknown };

interface CachedKey {
  generation: number;
  described: Promise<Described>;
}

const keyCaches = new WeakMap<SandboxContext, Map<string, CachedKey>>();
const MAX_CACHED_KEYS = 10_000;

/** KMS's DescribeKey of `keyId` in (account, region), as the service; cached until KMS changes anything. */
function describeKey(
  sandbox: SandboxContext,
  account: string,
  region: string,
  keyId: string,
): Promise<Described> {
  let cache = keyCaches.get(sandbox.home);
  if (!cache) {
    cache = new Map();
    keyCaches.set(sandbox.home, cache);
  }
  const key = `${account} ${region} ${keyId}`;
  const generation = changeGeneration(sandbox, 'kms');
  const hit = cache.get(key);
  if (hit && hit.generation === generation) return hit.described;
  if (cache.size >= MAX_CACHED_KEYS) cache.clear();
  const scope = sandbox.scoped(account, region);
  const described = asService(() => scope.call('kms', 'DescribeKey', { KeyId: keyId })).then(
    (out): Described => ({ metadata: (out.KeyMetadata ?? {}) as Record<string, unknown> }),
    (error: unknown): Described => ({ error }),
  );
  cache.set(key, { generation, described });
  return described;
}

/**
 * The key a call on `resourceArn` uses and the KMS actions it needs, or undefined when the call uses no
 * customer managed key (or KMS is not emulated). A key that does not exist or is disabled fails the call
 * as the service reports it.
 */
export async function keyUse(
  sandbox: SandboxContext,
  resourceArn: string,
  kmsKeyId: string | undefined,
  need: { operation: string } | { delivery: string },
): Promise<KeyUse | undefined> {
  const [, , service = '', region = '', account = ''] = resourceArn.split(':');
  const actions =
    'operation' in need ? KEY_ACTIONS[service]?.[need.operation] : DELIVERY_ACTIONS[need.delivery];
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
