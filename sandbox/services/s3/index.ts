/**
 * S3 (restXml, path-style or `<bucket>.localhost` virtual-host style): bucket lifecycle and the bucket
 * settings drift remediation touches — default encryption, versioning, public access block, tags. The
 * REST codec (route/encode/encodeError) maps HTTP to SDK-shaped operations and back, in S3's XML.
 */
import { XMLBuilder, XMLParser } from 'fast-xml-parser';
import {
  AwsError,
  type RawHttpRequest,
  type RawHttpResponse,
  type RequestContext,
  type ServiceModule,
} from '../../core/types';
import { compact, type Obj, str } from '../state';
import { bucketNamespace, bucketStore, s3Store } from './store';

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/';

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  removeNSPrefix: true,
  isArray: (name) => name === 'Rule' || name === 'Tag',
});

const builder = new XMLBuilder({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  suppressEmptyNode: true,
});

function xmlDoc(root: string, body: Obj): string {
  return `<?xml version="1.0" encoding="UTF-8"?>\n${builder.build({ [root]: { '@_xmlns': NS, ...body } })}`;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function parseBody(req: RawHttpRequest, root: string): Obj {
  const text = req.body.toString('utf8').trim();
  if (text === '') return {};
  let doc: unknown;
  try {
    doc = parser.parse(text, true);
  } catch {
    throw new AwsError(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
      400,
    );
  }
  const top = (doc as Obj)[root];
  if (top === undefined) {
    throw new AwsError(
      'MalformedXML',
      'The XML you provided was not well-formed or did not validate against our published schema',
      400,
    );
  }
  return typeof top === 'object' && top !== null ? (top as Obj) : {};
}

/** The bucket named by the request: virtual-host style `<bucket>.localhost`, else the first path segment. */
function bucketOf(req: RawHttpRequest): { bucket?: string; key: string } {
  const host = (req.headers.host ?? '').split(':')[0] ?? '';
  const vhost = /^(.+)\.(localhost|s3[.-][a-z0-9.-]*)$/i.exec(host);
  const segments = req.path.split('/').filter((s, i) => i > 0 || s !== '');
  if (vhost?.[1] && !vhost[1].startsWith('s3')) {
    return { bucket: vhost[1], key: segments.join('/') };
  }
  const [first, ...rest] = segments;
  return { bucket: first ? decodeURIComponent(first) : undefined, key: rest.join('/') };
}

function route(req: RawHttpRequest): { operation: string; input: Obj } | undefined {
  const { bucket, key } = bucketOf(req);
  const q = req.query;
  const m = req.method.toUpperCase();
  if (!bucket) return m === 'GET' ? { operation: 'ListBuckets', input: {} } : undefined;
  if (key !== '') return undefined; // objects are not emulated
  const input: Obj = { Bucket: bucket };
  if (q.has('encryption')) {
    if (m === 'GET') return { operation: 'GetBucketEncryption', input };
    if (m === 'DELETE') return { operation: 'DeleteBucketEncryption', input };
    if (m === 'PUT') {
      const c = parseBody(req, 'ServerSideEncryptionConfiguration');
      return {
        operation: 'PutBucketEncryption',
        input: { ...input, ServerSideEncryptionConfiguration: { Rules: c.Rule ?? [] } },
      };
    }
    return undefined;
  }
  if (q.has('versioning')) {
    if (m === 'GET') return { operation: 'GetBucketVersioning', input };
    if (m === 'PUT') {
      const c = parseBody(req, 'VersioningConfiguration');
      return {
        operation: 'PutBucketVersioning',
        input: { ...input, VersioningConfiguration: compact({ Status: c.Status, MFADelete: c.MfaDelete }) },
      };
    }
    return undefined;
  }
  if (q.has('publicAccessBlock')) {
    if (m === 'GET') return { operation: 'GetPublicAccessBlock', input };
    if (m === 'DELETE') return { operation: 'DeletePublicAccessBlock', input };
    if (m === 'PUT') {
      return {
        operation: 'PutPublicAccessBlock',
        input: { ...input, PublicAccessBlockConfiguration: parseBody(req, 'PublicAccessBlockConfiguration') },
      };
    }
    return undefined;
  }
  if (q.has('tagging')) {
    if (m === 'GET') return { operation: 'GetBucketTagging', input };
    if (m === 'DELETE') return { operation: 'DeleteBucketTagging', input };
    if (m === 'PUT') {
      const t = parseBody(req, 'Tagging');
      const set = (t.TagSet as Obj | undefined)?.Tag ?? [];
      return { operation: 'PutBucketTagging', input: { ...input, Tagging: { TagSet: set } } };
    }
    return undefined;
  }
  if (q.has('policy')) {
    if (m === 'GET') return { operation: 'GetBucketPolicy', input };
    if (m === 'DELETE') return { operation: 'DeleteBucketPolicy', input };
    if (m === 'PUT')
      return { operation: 'PutBucketPolicy', input: { ...input, Policy: req.body.toString('utf8') } };
    return undefined;
  }
  if (q.has('location')) return m === 'GET' ? { operation: 'GetBucketLocation', input } : undefined;
  if ([...q.keys()].some((k) => k !== 'x-id')) return undefined;
  if (m === 'PUT') {
    const c = parseBody(req, 'CreateBucketConfiguration');
    return {
      operation: 'CreateBucket',
      input: compact({
        ...input,
        CreateBucketConfiguration: c.LocationConstraint
          ? { LocationConstraint: c.LocationConstraint }
          : undefined,
      }),
    };
  }
  if (m === 'HEAD') return { operation: 'HeadBucket', input };
  if (m === 'DELETE') return { operation: 'DeleteBucket', input };
  if (m === 'GET') return { operation: 'ListObjectsV2', input };
  return undefined;
}

function bool(v: unknown): string | undefined {
  return typeof v === 'boolean' ? String(v) : undefined;
}

/** Operations answered 204 No Content. */
const NO_CONTENT = new Set([
  'PutBucketPolicy',
  'DeleteBucketPolicy',
  'DeleteBucket',
  'DeleteBucketEncryption',
  'DeletePublicAccessBlock',
  'DeleteBucketTagging',
]);

function encode(operation: string, output: unknown): RawHttpResponse {
  const o = (output ?? {}) as Obj;
  if (NO_CONTENT.has(operation)) return { status: 204 };
  // GetBucketPolicy's payload is the policy document itself.
  if (operation === 'GetBucketPolicy')
    return { status: 200, headers: { 'content-type': 'application/json' }, body: String(o.Policy ?? '') };
  const xml = (body: string): RawHttpResponse => ({
    status: 200,
    headers: { 'content-type': 'application/xml' },
    body,
  });
  switch (operation) {
    case 'ListBuckets': {
      const buckets = (o.Buckets as Obj[] | undefined) ?? [];
      const owner = (o.Owner as Obj | undefined) ?? {};
      return xml(
        xmlDoc('ListAllMyBucketsResult', {
          Owner: { ID: owner.ID, DisplayName: owner.DisplayName },
          Buckets: {
            Bucket: buckets.map((b) => ({
              Name: b.Name,
              CreationDate: b.CreationDate instanceof Date ? b.CreationDate.toISOString() : b.CreationDate,
              BucketRegion: b.BucketRegion,
            })),
          },
        }),
      );
    }
    case 'CreateBucket':
      return { status: 200, headers: { location: str(o.Location) ?? '/' }, body: '' };
    case 'HeadBucket':
      return { status: 200, headers: { 'x-amz-bucket-region': str(o.BucketRegion) ?? 'us-east-1' } };
    case 'GetBucketLocation':
      return xml(
        `<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="${NS}">${escapeXml(str(o.LocationConstraint) ?? '')}</LocationConstraint>`,
      );
    case 'GetBucketEncryption': {
      const rules = (
        ((o.ServerSideEncryptionConfiguration as Obj | undefined)?.Rules as Obj[] | undefined) ?? []
      ).map((r) => {
        const d = r.ApplyServerSideEncryptionByDefault as Obj | undefined;
        return compact({
          ApplyServerSideEncryptionByDefault: d
            ? compact({ SSEAlgorithm: d.SSEAlgorithm, KMSMasterKeyID: d.KMSMasterKeyID })
            : undefined,
          BucketKeyEnabled: bool(r.BucketKeyEnabled),
        });
      });
      return xml(xmlDoc('ServerSideEncryptionConfiguration', { Rule: rules }));
    }
    case 'GetBucketVersioning':
      return xml(xmlDoc('VersioningConfiguration', compact({ Status: o.Status, MfaDelete: o.MFADelete })));
    case 'GetPublicAccessBlock': {
      const c = (o.PublicAccessBlockConfiguration as Obj | undefined) ?? {};
      return xml(
        xmlDoc('PublicAccessBlockConfiguration', {
          BlockPublicAcls: bool(c.BlockPublicAcls),
          IgnorePublicAcls: bool(c.IgnorePublicAcls),
          BlockPublicPolicy: bool(c.BlockPublicPolicy),
          RestrictPublicBuckets: bool(c.RestrictPublicBuckets),
        }),
      );
    }
    case 'GetBucketTagging':
      return xml(xmlDoc('Tagging', { TagSet: { Tag: (o.TagSet as Obj[] | undefined) ?? [] } }));
    case 'ListObjectsV2':
      return xml(
        xmlDoc('ListBucketResult', {
          Name: o.Name,
          Prefix: '',
          KeyCount: 0,
          MaxKeys: 1000,
          IsTruncated: 'false',
        }),
      );
    default:
      return { status: 200, body: '' };
  }
}

function encodeError(err: AwsError, requestId: string): RawHttpResponse {
  const { bucketName, bucketRegion, endpoint } = err as AwsError & {
    bucketName?: string;
    bucketRegion?: string;
    endpoint?: string;
  };
  // A redirect names the bucket as <Bucket> and where to send it (<Endpoint>, x-amz-bucket-region).
  const where = endpoint
    ? `<Endpoint>${escapeXml(endpoint)}</Endpoint><Bucket>${escapeXml(bucketName ?? '')}</Bucket>`
    : bucketName
      ? `<BucketName>${escapeXml(bucketName)}</BucketName>`
      : '';
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message>` +
    where +
    `<RequestId>${requestId}</RequestId><HostId>${Buffer.from(requestId).toString('base64')}</HostId></Error>`;
  return {
    status: err.statusCode,
    headers: {
      'content-type': 'application/xml',
      'x-amz-request-id': requestId,
      ...(bucketRegion ? { 'x-amz-bucket-region': bucketRegion } : {}),
    },
    body,
  };
}

/** The store holding the request's bucket (its owner's account-region; see bucketStore). */
function at(ctx: RequestContext, input: Obj): ReturnType<typeof s3Store> {
  return bucketStore(ctx.sandbox, str(input.Bucket), ctx.region, ctx.caller !== undefined);
}

/**
 * The bucket policy operations are the owner account's own: S3 answers another account's caller, even
 * one IAM allows, 405 MethodNotAllowed (the emulated services themselves — IAM reading the policy — may).
 */
function ownersOnly(ctx: RequestContext, input: Obj): ReturnType<typeof s3Store> {
  const store = at(ctx, input);
  if (ctx.caller && store.accountId !== ctx.accountId)
    throw new AwsError('MethodNotAllowed', 'The specified method is not allowed against this resource.', 405);
  return store;
}

/** The caller account's buckets in every region (ListBuckets is not regional). */
function listBuckets(ctx: RequestContext): Obj {
  const own = [...bucketNamespace(ctx.sandbox)]
    .filter(([, home]) => home.accountId === ctx.accountId)
    .map(([name, home]) => s3Store(ctx.sandbox.scoped(home.accountId, home.region)).get(name));
  return {
    Buckets: own
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((b) => ({ Name: b.name, CreationDate: b.creationDate, BucketRegion: b.region })),
    Owner: { ID: `${ctx.accountId}owner`, DisplayName: 'sandbox' },
  };
}

/** A bucket in the request's region (LocationConstraint must name it; none means us-east-1). */
function createBucket(input: Obj, ctx: RequestContext): Obj {
  const constraint = str((input.CreateBucketConfiguration as Obj | undefined)?.LocationConstraint);
  if (constraint !== undefined ? constraint !== ctx.region : ctx.region !== 'us-east-1') {
    throw new AwsError(
      'IllegalLocationConstraintException',
      `The ${constraint ?? 'unspecified'} location constraint is incompatible for the region specific endpoint this request was sent to.`,
      400,
    );
  }
  const b = s3Store(ctx.sandbox).create(str(input.Bucket), ctx.region);
  return { Location: `/${b.name}` };
}

/** S3's operations, by name (bucket configuration only: objects are not emulated). */
const operations: ServiceModule['operations'] = {
  ListBuckets: (_input, ctx) => listBuckets(ctx),
  CreateBucket: createBucket,
  HeadBucket: (input, ctx) => {
    const b = at(ctx, input).get(str(input.Bucket));
    return { BucketRegion: b.region };
  },
  DeleteBucket: (input, ctx) => {
    at(ctx, input).delete(str(input.Bucket));
    return {};
  },
  GetBucketLocation: (input, ctx) => {
    // Answered from any region's endpoint, as S3 does: it is how a client finds a bucket's region.
    const b = bucketStore(ctx.sandbox, str(input.Bucket), ctx.region, false).get(str(input.Bucket));
    return { LocationConstraint: b.region === 'us-east-1' ? undefined : b.region };
  },
  ListObjectsV2: (input, ctx) => {
    const b = at(ctx, input).get(str(input.Bucket));
    return { Name: b.name, KeyCount: 0, IsTruncated: false };
  },
  PutBucketEncryption: (input, ctx) => {
    at(ctx, input).putEncryption(str(input.Bucket), input.ServerSideEncryptionConfiguration);
    return {};
  },
  GetBucketEncryption: (input, ctx) => ({
    ServerSideEncryptionConfiguration: { Rules: at(ctx, input).getEncryption(str(input.Bucket)) },
  }),
  DeleteBucketEncryption: (input, ctx) => {
    at(ctx, input).deleteEncryption(str(input.Bucket));
    return {};
  },
  PutBucketVersioning: (input, ctx) => {
    at(ctx, input).putVersioning(str(input.Bucket), input.VersioningConfiguration);
    return {};
  },
  GetBucketVersioning: (input, ctx) => {
    const b = at(ctx, input).get(str(input.Bucket));
    return compact({ Status: b.versioning?.Status, MFADelete: b.versioning?.MFADelete });
  },
  PutPublicAccessBlock: (input, ctx) => {
    at(ctx, input).putPublicAccessBlock(str(input.Bucket), input.PublicAccessBlockConfiguration);
    return {};
  },
  GetPublicAccessBlock: (input, ctx) => ({
    PublicAccessBlockConfiguration: at(ctx, input).getPublicAccessBlock(str(input.Bucket)),
  }),
  DeletePublicAccessBlock: (input, ctx) => {
    at(ctx, input).deletePublicAccessBlock(str(input.Bucket));
    return {};
  },
  PutBucketTagging: (input, ctx) => {
    at(ctx, input).putTagging(str(input.Bucket), input.Tagging);
    return {};
  },
  PutBucketPolicy: (input, ctx) => {
    ownersOnly(ctx, input).putPolicy(str(input.Bucket), str(input.Policy));
    return {};
  },
  GetBucketPolicy: (input, ctx) => ({ Policy: ownersOnly(ctx, input).getPolicy(str(input.Bucket)) }),
  DeleteBucketPolicy: (input, ctx) => {
    ownersOnly(ctx, input).deletePolicy(str(input.Bucket));
    return {};
  },
  GetBucketTagging: (input, ctx) => ({ TagSet: at(ctx, input).getTagging(str(input.Bucket)) }),
  DeleteBucketTagging: (input, ctx) => {
    at(ctx, input).deleteTagging(str(input.Bucket));
    return {};
  },
};

export function s3Service(): ServiceModule {
  return {
    serviceName: 's3',
    signingName: 's3',
    protocol: 'restXml',
    xmlNamespace: NS,
    rest: { route, encode, encodeError },
    // Bucket ARNs name no account: IAM needs the owner to tell a cross-account call (both policies).
    // CreateBucket acts on a bucket to be: the caller's own (a taken name is S3's answer, not IAM's).
    resourceOwner: (operation, input, sandbox) =>
      operation === 'CreateBucket'
        ? undefined
        : bucketNamespace(sandbox).get(str(input.Bucket) ?? '')?.accountId,
    operations,
  };
}
