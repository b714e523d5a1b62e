/**
 * S3 bucket settings shared by the restXml operations and the AWS::S3::Bucket provider. Settings are
 * kept in SDK shapes (ServerSideEncryptionConfiguration.Rules, VersioningConfiguration, …).
 */
import { AwsError, type SandboxContext } from '../../core/types';
import { bool, compact, type Obj, objs, stateOf, str, type Tag, tagsFrom } from '../state';

export const BUCKET_TYPE = 'AWS::S3::Bucket';

/** Where a bucket lives: its owner account and its region. */
export interface BucketHome {
  accountId: string;
  region: string;
}

/**
 * S3's one bucket namespace: every bucket of every account and region of this sandbox, by name (a name
 * is unique across accounts and regions, as in AWS's partition). Each bucket's settings stay in its own
 * account-region's store.
 */
export function bucketNamespace(sandbox: SandboxContext): Map<string, BucketHome> {
  return stateOf(sandbox.home, 's3-namespace', () => new Map<string, BucketHome>());
}

export interface EncryptionRule {
  ApplyServerSideEncryptionByDefault?: { SSEAlgorithm: string; KMSMasterKeyID?: string };
  BucketKeyEnabled?: boolean;
}

export interface PublicAccessBlock {
  BlockPublicAcls: boolean;
  IgnorePublicAcls: boolean;
  BlockPublicPolicy: boolean;
  RestrictPublicBuckets: boolean;
}

export interface Bucket {
  name: string;
  region: string;
  creationDate: Date;
  encryption?: EncryptionRule[];
  versioning?: { Status: 'Enabled' | 'Suspended'; MFADelete?: 'Enabled' | 'Disabled' };
  publicAccessBlock?: PublicAccessBlock;
  tags?: Tag[];
  /** The bucket policy (JSON text), which IAM evaluates as the bucket's resource policy. */
  policy?: string;
}

const ALGORITHMS = new Set(['AES256', 'aws:kms', 'aws:kms:dsse']);

export function assertBucketName(name: string): void {
  const ok =
    name.length >= 3 &&
    name.length <= 63 &&
    /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name) &&
    !name.includes('..') &&
    !/^\d+\.\d+\.\d+\.\d+$/.test(name) &&
    !name.startsWith('xn--') &&
    !name.endsWith('-s3alias');
  if (!ok) throw new AwsError('InvalidBucketName', 'The specified bucket is not valid.', 400);
}

/** A policy granting everyone (`*`) access with no condition: what BlockPublicPolicy refuses. */
function isPublic(doc: Obj): boolean {
  return objs(doc.Statement).some((st) => {
    const p = st.Principal as Obj | string | undefined;
    const everyone = p === '*' || (typeof p === 'object' && [p.AWS].flat().includes('*'));
    return st.Effect === 'Allow' && everyone && st.Condition === undefined;
  });
}

export class S3Store {
  readonly buckets = new Map<string, Bucket>();

  constructor(private readonly sandbox: SandboxContext) {}

  /** The account whose buckets this store holds. */
  get accountId(): string {
    return this.sandbox.accountId;
  }

  private change(name: string, kind: 'created' | 'updated' | 'deleted'): void {
    this.sandbox.recordChange({ resourceType: BUCKET_TYPE, resourceId: name, kind });
  }

  get(name: string | undefined): Bucket {
    const b = name ? this.buckets.get(name) : undefined;
    if (!b)
      throw Object.assign(new AwsError('NoSuchBucket', 'The specified bucket does not exist', 404), {
        bucketName: name,
      });
    return b;
  }

  /**
   * New buckets get SSE-S3 (AES256) default encryption and all four public access blocks on, as S3
   * does since 2023. The name must be free in the whole namespace: another account's bucket is
   * BucketAlreadyExists; re-creating an owned bucket answers 200 in us-east-1 (legacy) when the bucket is
   * there, else BucketAlreadyOwnedByYou (also for an owned bucket in another region).
   */
  create(name: string | undefined, region: string): Bucket {
    if (!name) throw new AwsError('InvalidBucketName', 'The specified bucket is not valid.', 400);
    assertBucketName(name);
    const namespace = bucketNamespace(this.sandbox);
    const home = namespace.get(name);
    if (home && home.accountId !== this.sandbox.accountId) {
      throw Object.assign(
        new AwsError(
          'BucketAlreadyExists',
          'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
          409,
        ),
        { bucketName: name },
      );
    }
    if (home) {
      const existing = this.buckets.get(name);
      if (existing && region === 'us-east-1' && existing.region === 'us-east-1') return existing;
      throw Object.assign(
        new AwsError(
          'BucketAlreadyOwnedByYou',
          'Your previous request to create the named bucket succeeded and you already own it.',
          409,
        ),
        { bucketName: name },
      );
    }
    const b: Bucket = {
      name,
      region,
      creationDate: this.sandbox.clock.now(),
      encryption: [
        { ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false },
      ],
      publicAccessBlock: {
        BlockPublicAcls: true,
        IgnorePublicAcls: true,
        BlockPublicPolicy: true,
        RestrictPublicBuckets: true,
      },
    };
    this.buckets.set(name, b);
    namespace.set(name, { accountId: this.sandbox.accountId, region });
    this.change(name, 'created');
    return b;
  }

  delete(name: string | undefined): void {
    const b = this.get(name);
    this.buckets.delete(b.name);
    bucketNamespace(this.sandbox).delete(b.name);
    this.change(b.name, 'deleted');
  }

  putEncryption(name: string | undefined, config: unknown): void {
    const b = this.get(name);
    const rules = objs((config as Obj | undefined)?.Rules);
    if (rules.length === 0)
      throw new AwsError(
        'MalformedXML',
        'The XML you provided was not well-formed or did not validate against our published schema',
        400,
      );
    const parsed: EncryptionRule[] = rules.map((r) => {
      const d = r.ApplyServerSideEncryptionByDefault as Obj | undefined;
      const alg = str(d?.SSEAlgorithm);
      if (d && (!alg || !ALGORITHMS.has(alg))) {
        throw new AwsError(
          'MalformedXML',
          'The XML you provided was not well-formed or did not validate against our published schema',
          400,
        );
      }
      const kms = str(d?.KMSMasterKeyID);
      if (alg === 'AES256' && kms) {
        throw new AwsError(
          'InvalidArgument',
          'a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse',
          400,
        );
      }
      return compact({
        ApplyServerSideEncryptionByDefault:
          d && alg ? compact({ SSEAlgorithm: alg, KMSMasterKeyID: kms }) : undefined,
        BucketKeyEnabled: bool(r.BucketKeyEnabled),
      });
    });
    b.encryption = parsed;
    this.change(b.name, 'updated');
  }

  getEncryption(name: string | undefined): EncryptionRule[] {
    const b = this.get(name);
    if (!b.encryption) {
      throw Object.assign(
        new AwsError(
          'ServerSideEncryptionConfigurationNotFoundError',
          'The server side encryption configuration was not found',
          404,
        ),
        { bucketName: b.name },
      );
    }
    return b.encryption;
  }

  /** Removes the default encryption configuration (the sandbox keeps the pre-2023 behaviour: none afterwards). */
  deleteEncryption(name: string | undefined): void {
    const b = this.get(name);
    b.encryption = undefined;
    this.change(b.name, 'updated');
  }

  putVersioning(name: string | undefined, config: unknown): void {
    const b = this.get(name);
    const c = (config ?? {}) as Obj;
    const status = str(c.Status);
    const mfa = str(c.MFADelete);
    if (
      (status !== 'Enabled' && status !== 'Suspended') ||
      (mfa !== undefined && mfa !== 'Enabled' && mfa !== 'Disabled')
    ) {
      throw new AwsError(
        'MalformedXML',
        'The XML you provided was not well-formed or did not validate against our published schema',
        400,
      );
    }
    b.versioning = compact({
      Status: status as 'Enabled' | 'Suspended',
      MFADelete: mfa as 'Enabled' | 'Disabled' | undefined,
    });
    this.change(b.name, 'updated');
  }

  putPublicAccessBlock(name: string | undefined, config: unknown): void {
    const b = this.get(name);
    const c = (config ?? {}) as Obj;
    b.publicAccessBlock = {
      BlockPublicAcls: bool(c.BlockPublicAcls) ?? false,
      IgnorePublicAcls: bool(c.IgnorePublicAcls) ?? false,
      BlockPublicPolicy: bool(c.BlockPublicPolicy) ?? false,
      RestrictPublicBuckets: bool(c.RestrictPublicBuckets) ?? false,
    };
    this.change(b.name, 'updated');
  }

  getPublicAccessBlock(name: string | undefined): PublicAccessBlock {
    const b = this.get(name);
    if (!b.publicAccessBlock) {
      throw Object.assign(
        new AwsError(
          'NoSuchPublicAccessBlockConfiguration',
          'The public access block configuration was not found',
          404,
        ),
        { bucketName: b.name },
      );
    }
    return b.publicAccessBlock;
  }

  deletePublicAccessBlock(name: string | undefined): void {
    const b = this.get(name);
    b.publicAccessBlock = undefined;
    this.change(b.name, 'updated');
  }

  /**
   * Stores a bucket policy: JSON with a Statement list; refused while BlockPublicPolicy is on if it grants
   * anyone (`*`) access without a condition.
   */
  putPolicy(name: string | undefined, text: string | undefined): void {
    const b = this.get(name);
    let doc: Obj | undefined;
    try {
      const parsed: unknown = text?.trimStart().startsWith('{') ? JSON.parse(text) : undefined;
      doc = parsed && typeof parsed === 'object' ? (parsed as Obj) : undefined;
    } catch {
      doc = undefined;
    }
    if (!doc?.Statement)
      throw new AwsError(
        'MalformedPolicy',
        "Policies must be valid JSON and the first byte must be '{'",
        400,
      );
    if (b.publicAccessBlock?.BlockPublicPolicy && isPublic(doc))
      throw new AwsError('AccessDenied', 'Access Denied', 403);
    b.policy = text;
    this.change(b.name, 'updated');
  }

  getPolicy(name: string | undefined): string {
    const b = this.get(name);
    if (b.policy === undefined)
      throw Object.assign(new AwsError('NoSuchBucketPolicy', 'The bucket policy does not exist', 404), {
        bucketName: b.name,
      });
    return b.policy;
  }

  deletePolicy(name: string | undefined): void {
    const b = this.get(name);
    b.policy = undefined;
    this.change(b.name, 'updated');
  }

  putTagging(name: string | undefined, tagging: unknown): void {
    const b = this.get(name);
    const tags = tagsFrom((tagging as Obj | undefined)?.TagSet);
    const keys = new Set<string>();
    for (const t of tags) {
      if (keys.has(t.Key))
        throw new AwsError('InvalidTag', 'Cannot provide multiple Tags with the same key', 400);
      keys.add(t.Key);
      if (t.Key.length > 128 || t.Value.length > 256)
        throw new AwsError('InvalidTag', 'The TagKey or TagValue you have provided is too long', 400);
      if (t.Key.toLowerCase().startsWith('aws:'))
        throw new AwsError('InvalidTag', 'Your TagKey cannot be prefixed with aws:', 400);
    }
    if (tags.length > 50) throw new AwsError('BadRequest', 'Object tags cannot be greater than 50', 400);
    b.tags = tags;
    this.change(b.name, 'updated');
  }

  getTagging(name: string | undefined): Tag[] {
    const b = this.get(name);
    if (!b.tags || b.tags.length === 0) {
      throw Object.assign(new AwsError('NoSuchTagSet', 'The TagSet does not exist', 404), {
        bucketName: b.name,
      });
    }
    return b.tags;
  }

  deleteTagging(name: string | undefined): void {
    const b = this.get(name);
    b.tags = undefined;
    this.change(b.name, 'updated');
  }
}

export function s3Store(sandbox: SandboxContext): S3Store {
  return stateOf(sandbox, 's3', () => new S3Store(sandbox));
}

/**
 * The store of the account-region holding bucket `name`, whichever account asks (IAM decides whether it
 * may: the bucket policy for another account). A caller's request signed for another region than the
 * bucket's is answered as S3 answers a request sent to another region's endpoint: 301 PermanentRedirect
 * with `x-amz-bucket-region` (what SDK v3's `followRegionRedirects` follows). The emulated services
 * themselves (no caller: IAM's reads, Config) reach a bucket in any region.
 */
export function bucketStore(
  sandbox: SandboxContext,
  name: string | undefined,
  region: string,
  redirect: boolean,
): S3Store {
  const home = name ? bucketNamespace(sandbox).get(name) : undefined;
  if (!home) return s3Store(sandbox); // its get() answers NoSuchBucket
  if (redirect && home.region !== region) {
    throw Object.assign(
      new AwsError(
        'PermanentRedirect',
        'The bucket you are attempting to access must be addressed using the specified endpoint. Please send all future requests to this endpoint.',
        301,
      ),
      { bucketName: name, bucketRegion: home.region, endpoint: `${name}.s3.${home.region}.amazonaws.com` },
    );
  }
  return s3Store(sandbox.scoped(home.accountId, home.region));
}
