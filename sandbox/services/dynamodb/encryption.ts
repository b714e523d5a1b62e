/**
 * Encryption at rest for DynamoDB tables, which dynalite lacks: a table's SSESpecification (CreateTable,
 * UpdateTable) is kept here and described as DynamoDB describes it (SSEDescription: Status ENABLED,
 * SSEType KMS, KMSMasterKeyArn); no SSESpecification, or `Enabled: false`, is the AWS owned key (no
 * SSEDescription). A customer managed key must be usable when it is set, and stays needed: while it is
 * disabled, pending deletion or gone, the table is inaccessible — DescribeTable says
 * `INACCESSIBLE_ENCRYPTION_CREDENTIALS` with InaccessibleEncryptionDateTime, and every item call on it
 * fails (`AccessDeniedException` "KMS key access denied error: …", as DynamoDB reports KMS's refusal) and
 * changes nothing. AWS notices an inaccessible key within minutes and archives the table after seven
 * days; the sandbox notices at once and never archives. Whether the caller may use the key is IAM's
 * question (sandbox/services/iam/key-use.ts); the AWS managed key (`alias/aws/dynamodb`) is always usable.
 * Items are stored unencrypted.
 */
import { randomUUID } from 'node:crypto';
import { AwsError, type RequestContext } from '../../core/types';
import { describeKey, keyRefusal } from '../kms/describe';

type Input = Record<string, unknown>;

interface TableKey {
  /** The key's ARN (the AWS managed key's alias ARN). */
  keyArn: string;
  /** When the key was first found unusable (cleared once it is usable again). */
  inaccessibleSince?: Date;
}

const AWS_MANAGED = /^(?:arn:[^:]+:kms:[^:]*:\d*:)?alias\/aws\//;

/** A table name from a TableName that may be the table's ARN. */
const tableName = (v: unknown): string => {
  const s = typeof v === 'string' ? v : '';
  return s.startsWith('arn:') ? (s.split(':table/')[1]?.split('/')[0] ?? s) : s;
};

/** KMS's refusal, as DynamoDB passes it on. */
function kmsFailure(refusal: AwsError): AwsError {
  return new AwsError(
    'AccessDeniedException',
    `KMS key access denied error: com.amazonaws.services.kms.model.${refusal.code}: ${refusal.message} (Service: AWSKMS; Status Code: 400; Error Code: ${refusal.code}; Request ID: ${randomUUID()})`,
  );
}

/** What an SSESpecification asks for: a key (ARN or id as given), the AWS owned key (null), or nothing said. */
function requested(spec: unknown, ctx: RequestContext): string | null | undefined {
  if (spec === undefined || spec === null) return undefined;
  const s = spec as Input;
  if (s.Enabled !== true) return null;
  if (s.SSEType !== undefined && s.SSEType !== 'KMS')
    throw new AwsError('ValidationException', 'SSEType must be KMS when SSE is enabled.');
  const id = typeof s.KMSMasterKeyId === 'string' && s.KMSMasterKeyId ? s.KMSMasterKeyId : undefined;
  return id ?? `arn:aws:kms:${ctx.region}:${ctx.accountId}:alias/aws/dynamodb`;
}

/** The tables' keys, per account-region, and the checks DynamoDB makes with them. */
export class TableEncryption {
  private readonly keys = new Map<string, TableKey>();

  private id = (ctx: RequestContext, table: string) => `${ctx.accountId}/${ctx.region}/${table}`;

  /** The key's DescribeKey, in the account-region its ARN names (else the call's). */
  private describe(ctx: RequestContext, keyId: string) {
    const [, , , region = '', account = ''] = keyId.startsWith('arn:') ? keyId.split(':') : [];
    return describeKey(ctx.sandbox, account || ctx.accountId, region || ctx.region, keyId);
  }

  /** KMS's refusal of the key, or undefined when it is usable. */
  private async refusal(ctx: RequestContext, keyId: string): Promise<AwsError | undefined> {
    if (AWS_MANAGED.test(keyId)) return undefined;
    return keyRefusal(await this.describe(ctx, keyId), keyId);
  }

  /** The key an SSESpecification names, resolved to its ARN; fails when it cannot be used. */
  private async resolve(ctx: RequestContext, keyId: string): Promise<string> {
    if (AWS_MANAGED.test(keyId)) return keyId;
    const described = await this.describe(ctx, keyId);
    const refusal = keyRefusal(described, keyId);
    if (refusal) {
      ctx.sandbox.log(`dynamodb: key ${keyId} cannot encrypt a table: ${refusal.code} ${refusal.message}`);
      throw kmsFailure(refusal);
    }
    return 'metadata' in described ? String(described.metadata.Arn) : keyId;
  }

  /**
   * CreateTable / UpdateTable: checks the key the SSESpecification names before `forward` changes
   * anything, then records it; the answer's TableDescription gets its SSEDescription.
   */
  async configure(input: Input, ctx: RequestContext, forward: () => Promise<unknown>): Promise<unknown> {
    const table = tableName(input.TableName);
    const wanted = requested(input.SSESpecification, ctx);
    const keyArn = typeof wanted === 'string' ? await this.resolve(ctx, wanted) : wanted;
    const out = (await forward()) as Input;
    if (keyArn === null) this.keys.delete(this.id(ctx, table));
    else if (keyArn !== undefined) this.keys.set(this.id(ctx, table), { keyArn });
    return this.described(out, 'TableDescription', ctx, table);
  }

  /** Adds the table's SSEDescription to an answer (DescribeTable's `Table`, the others' `TableDescription`). */
  async described(out: Input, member: string, ctx: RequestContext, table: string): Promise<Input> {
    const t = this.keys.get(this.id(ctx, tableName(table)));
    const description = out[member] as Input | undefined;
    if (!t || !description) return out;
    const refusal = await this.refusal(ctx, t.keyArn);
    if (refusal) t.inaccessibleSince ??= new Date();
    else t.inaccessibleSince = undefined;
    const sse = { Status: 'ENABLED', SSEType: 'KMS', KMSMasterKeyArn: t.keyArn };
    return {
      ...out,
      [member]: {
        ...description,
        ...(t.inaccessibleSince ? { TableStatus: 'INACCESSIBLE_ENCRYPTION_CREDENTIALS' } : {}),
        SSEDescription: t.inaccessibleSince
          ? { ...sse, InaccessibleEncryptionDateTime: t.inaccessibleSince }
          : sse,
      },
    };
  }

  /** Item calls: each table the call names must have a usable key (BatchGetItem/BatchWriteItem name several). */
  async requireAccessible(input: Input, ctx: RequestContext): Promise<void> {
    const tables =
      input.RequestItems && typeof input.RequestItems === 'object'
        ? Object.keys(input.RequestItems)
        : [tableName(input.TableName)];
    for (const table of tables) {
      const t = this.keys.get(this.id(ctx, tableName(table)));
      if (!t) continue;
      const refusal = await this.refusal(ctx, t.keyArn);
      if (!refusal) continue;
      t.inaccessibleSince ??= new Date();
      ctx.sandbox.log(`dynamodb: table ${table} is inaccessible: ${refusal.code} ${refusal.message}`);
      throw kmsFailure(refusal);
    }
  }

  forget(ctx: RequestContext, table: unknown): void {
    this.keys.delete(this.id(ctx, tableName(table)));
  }
}
