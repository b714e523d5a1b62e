/**
 * CloudFormation provider for AWS::S3::Bucket: BucketName, BucketEncryption
 * (ServerSideEncryptionConfiguration [{ServerSideEncryptionByDefault, BucketKeyEnabled}]),
 * VersioningConfiguration, PublicAccessBlockConfiguration, Tags — in template shape.
 */
import type { ProviderContext, ResourceProvider } from '../../core/types';
import { completeCreate, handlerCall, handlerReads } from '../handler-calls';
import { bool, compact, isObj, type Obj, objs, physicalName, str, tagsFrom } from '../state';
import { type Bucket, type EncryptionRule, s3Store } from './store';

function rulesFromTemplate(enc: unknown): Obj[] {
  const list = isObj(enc) ? objs(enc.ServerSideEncryptionConfiguration) : [];
  return list.map((r) => {
    const d = isObj(r.ServerSideEncryptionByDefault) ? r.ServerSideEncryptionByDefault : undefined;
    return compact({
      ApplyServerSideEncryptionByDefault: d
        ? compact({ SSEAlgorithm: str(d.SSEAlgorithm), KMSMasterKeyID: str(d.KMSMasterKeyID) })
        : undefined,
      BucketKeyEnabled: bool(r.BucketKeyEnabled),
    });
  });
}

function encryptionToTemplate(rules: EncryptionRule[]): Obj {
  return {
    ServerSideEncryptionConfiguration: rules.map((r) =>
      compact({
        ServerSideEncryptionByDefault: r.ApplyServerSideEncryptionByDefault
          ? compact({ ...r.ApplyServerSideEncryptionByDefault })
          : undefined,
        BucketKeyEnabled: r.BucketKeyEnabled,
      }),
    ),
  };
}

function attributes(b: Bucket): Record<string, string> {
  return {
    Arn: `arn:aws:s3:::${b.name}`,
    DomainName: `${b.name}.s3.amazonaws.com`,
    RegionalDomainName: `${b.name}.s3.${b.region}.amazonaws.com`,
    DualStackDomainName: `${b.name}.s3.dualstack.${b.region}.amazonaws.com`,
    WebsiteURL: `http://${b.name}.s3-website-${b.region}.amazonaws.com`,
  };
}

/** One S3 call CloudFormation's handler makes: authorized, made, recorded. */
function s3Call<T>(ctx: ProviderContext, operation: string, input: Obj, apply: () => T): Promise<T> {
  return handlerCall(ctx, 's3', operation, input, apply);
}

/** The bucket's configuration calls for the template's properties (only those it sets or removes). */
async function apply(
  ctx: ProviderContext,
  name: string,
  props: Obj,
  previous: Obj | undefined,
): Promise<void> {
  const store = s3Store(ctx.sandbox);
  const Bucket = name;
  if (props.BucketEncryption !== undefined || previous?.BucketEncryption !== undefined) {
    // Removing the property returns the bucket to S3's default (SSE-S3).
    const Rules =
      props.BucketEncryption !== undefined
        ? rulesFromTemplate(props.BucketEncryption)
        : [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false }];
    const input = { Bucket, ServerSideEncryptionConfiguration: { Rules } };
    await s3Call(ctx, 'PutBucketEncryption', input, () => store.putEncryption(name, { Rules }));
  }
  const versioning = isObj(props.VersioningConfiguration)
    ? props.VersioningConfiguration.Status
    : previous?.VersioningConfiguration !== undefined && store.get(name).versioning?.Status === 'Enabled'
      ? 'Suspended'
      : undefined;
  if (versioning !== undefined) {
    const input = { Bucket, VersioningConfiguration: { Status: versioning } };
    await s3Call(ctx, 'PutBucketVersioning', input, () => store.putVersioning(name, { Status: versioning }));
  }
  if (isObj(props.PublicAccessBlockConfiguration)) {
    const block = props.PublicAccessBlockConfiguration;
    const input = { Bucket, PublicAccessBlockConfiguration: block };
    await s3Call(ctx, 'PutPublicAccessBlock', input, () => store.putPublicAccessBlock(name, block));
  } else if (previous?.PublicAccessBlockConfiguration !== undefined) {
    await s3Call(ctx, 'DeletePublicAccessBlock', { Bucket }, () => store.deletePublicAccessBlock(name));
  }
  const tags = tagsFrom(props.Tags);
  if (tags.length > 0) {
    const input = { Bucket, Tagging: { TagSet: tags } };
    await s3Call(ctx, 'PutBucketTagging', input, () => store.putTagging(name, { TagSet: tags }));
  } else if (previous?.Tags !== undefined || (store.get(name).tags?.length ?? 0) > 0) {
    await s3Call(ctx, 'DeleteBucketTagging', { Bucket }, () => store.deleteTagging(name));
  }
}

export const bucketProvider: ResourceProvider = {
  type: 'AWS::S3::Bucket',
  async create(logicalId, props, ctx) {
    const store = s3Store(ctx.sandbox);
    const name = str(props.BucketName) ?? physicalName(ctx.stackName, logicalId, 63, true);
    const b = await s3Call(ctx, 'CreateBucket', { Bucket: name }, () => store.create(name, ctx.region));
    // A failure from here on leaves the bucket made: the stack's rollback deletes it.
    await completeCreate(name, () => apply(ctx, name, props, undefined));
    return { physicalId: b.name, attributes: attributes(b) };
  },
  async update(physicalId, props, previous, ctx) {
    const b = s3Store(ctx.sandbox).get(physicalId);
    await apply(ctx, physicalId, props, previous);
    return { physicalId, attributes: attributes(b) };
  },
  async delete(physicalId, ctx) {
    const store = s3Store(ctx.sandbox);
    if (!store.buckets.has(physicalId)) return;
    await s3Call(ctx, 'DeleteBucket', { Bucket: physicalId }, () => store.delete(physicalId));
  },
  async read(physicalId, ctx) {
    const b = s3Store(ctx.sandbox).buckets.get(physicalId);
    const Bucket = physicalId;
    await handlerReads(ctx, 's3', [['HeadBucket', { Bucket }]]);
    if (!b) return undefined;
    // The configurations this provider reads back, one Get call each, as the read handler makes them.
    await handlerReads(ctx, 's3', [
      ['GetBucketEncryption', { Bucket }],
      ['GetBucketVersioning', { Bucket }],
      ['GetPublicAccessBlock', { Bucket }],
      ['GetBucketTagging', { Bucket }],
    ]);
    const attrs = attributes(b);
    const out: Obj = {
      BucketName: b.name,
      Arn: attrs.Arn,
      DomainName: attrs.DomainName,
      RegionalDomainName: attrs.RegionalDomainName,
    };
    if (b.encryption) out.BucketEncryption = encryptionToTemplate(b.encryption);
    if (b.versioning) out.VersioningConfiguration = { Status: b.versioning.Status };
    if (b.publicAccessBlock) out.PublicAccessBlockConfiguration = { ...b.publicAccessBlock };
    if (b.tags && b.tags.length > 0) out.Tags = b.tags.map((t) => ({ ...t }));
    return out;
  },
  requiresReplacement: (property) => property === 'BucketName' || property === 'ObjectLockEnabled',
  sample: {
    BucketName: '{{ Name }}',
    BucketEncryption: {
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    },
    VersioningConfiguration: { Status: 'Enabled' },
    PublicAccessBlockConfiguration: {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    },
    Tags: [{ Key: 'app', Value: 'sample' }],
  },
};
