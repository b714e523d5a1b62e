/**
 * CloudFormation provider for AWS::S3::Bucket: BucketName, BucketEncryption
 * (ServerSideEncryptionConfiguration [{ServerSideEncryptionByDefault, BucketKeyEnabled}]),
 * VersioningConfiguration, PublicAccessBlockConfiguration, Tags — in template shape.
 */
import type { ProviderContext, ResourceProvider } from '../../core/types';
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

/** The S3 call CloudFormation's handler makes (for CloudTrail). */
function report(ctx: ProviderContext, operation: string, input: Obj): void {
  ctx.recordCall?.('s3', operation, input, {});
}

function apply(ctx: ProviderContext, name: string, props: Obj, previous: Obj | undefined): void {
  const store = s3Store(ctx.sandbox);
  const Bucket = name;
  if (props.BucketEncryption !== undefined || previous?.BucketEncryption !== undefined) {
    // Removing the property returns the bucket to S3's default (SSE-S3).
    const Rules =
      props.BucketEncryption !== undefined
        ? rulesFromTemplate(props.BucketEncryption)
        : [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' }, BucketKeyEnabled: false }];
    store.putEncryption(name, { Rules });
    report(ctx, 'PutBucketEncryption', { Bucket, ServerSideEncryptionConfiguration: { Rules } });
  }
  const versioning = isObj(props.VersioningConfiguration)
    ? props.VersioningConfiguration.Status
    : previous?.VersioningConfiguration !== undefined && store.get(name).versioning?.Status === 'Enabled'
      ? 'Suspended'
      : undefined;
  if (versioning !== undefined) {
    store.putVersioning(name, { Status: versioning });
    report(ctx, 'PutBucketVersioning', { Bucket, VersioningConfiguration: { Status: versioning } });
  }
  if (isObj(props.PublicAccessBlockConfiguration)) {
    store.putPublicAccessBlock(name, props.PublicAccessBlockConfiguration);
    report(ctx, 'PutPublicAccessBlock', {
      Bucket,
      PublicAccessBlockConfiguration: props.PublicAccessBlockConfiguration,
    });
  } else if (previous?.PublicAccessBlockConfiguration !== undefined) {
    store.deletePublicAccessBlock(name);
    report(ctx, 'DeletePublicAccessBlock', { Bucket });
  }
  const tags = tagsFrom(props.Tags);
  if (tags.length > 0) {
    store.putTagging(name, { TagSet: tags });
    report(ctx, 'PutBucketTagging', { Bucket, Tagging: { TagSet: tags } });
  } else if (previous?.Tags !== undefined || (store.get(name).tags?.length ?? 0) > 0) {
    store.deleteTagging(name);
    report(ctx, 'DeleteBucketTagging', { Bucket });
  }
}

export const bucketProvider: ResourceProvider = {
  type: 'AWS::S3::Bucket',
  async create(logicalId, props, ctx) {
    const store = s3Store(ctx.sandbox);
    const name = str(props.BucketName) ?? physicalName(ctx.stackName, logicalId, 63, true);
    const b = store.create(name, ctx.region);
    report(ctx, 'CreateBucket', { Bucket: name });
    try {
      apply(ctx, name, props, undefined);
    } catch (err) {
      store.delete(name);
      throw err;
    }
    return { physicalId: b.name, attributes: attributes(b) };
  },
  async update(physicalId, props, previous, ctx) {
    const b = s3Store(ctx.sandbox).get(physicalId);
    apply(ctx, physicalId, props, previous);
    return { physicalId, attributes: attributes(b) };
  },
  async delete(physicalId, ctx) {
    const store = s3Store(ctx.sandbox);
    if (!store.buckets.has(physicalId)) return;
    store.delete(physicalId);
    report(ctx, 'DeleteBucket', { Bucket: physicalId });
  },
  async read(physicalId, ctx) {
    const b = s3Store(ctx.sandbox).buckets.get(physicalId);
    if (!b) return undefined;
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
