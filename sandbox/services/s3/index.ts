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
import { s3Store } from './store';

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
  const bucket = (err as AwsError & { bucketName?: string }).bucketName;
  const body =
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${escapeXml(err.code)}</Code><Message>${escapeXml(err.message)}</Message>` +
    (bucket ? `<BucketName>${escapeXml(bucket)}</BucketName>` : '') +
    `<RequestId>${requestId}</RequestId><HostId>${Buffer.from(requestId).toString('base64')}</HostId></Error>`;
  return {
    status: err.statusCode,
    headers: { 'content-type': 'application/xml', 'x-amz-request-id': requestId },
    body,
  };
}

function listBuckets(ctx: RequestContext): Obj {
  return {
    Buckets: [...s3Store(ctx.sandbox).buckets.values()]
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

export function s3Service(): ServiceModule {
  return {
    serviceName: 's3',
    signingName: 's3',
    protocol: 'restXml',
    xmlNamespace: NS,
    rest: { route, encode, encodeError },
    operations: {
      ListBuckets: (_input, ctx) => listBuckets(ctx),
      CreateBucket: createBucket,
      HeadBucket: (input, ctx) => {
        const b = s3Store(ctx.sandbox).get(str(input.Bucket));
        return { BucketRegion: b.region };
      },
      DeleteBucket: (input, ctx) => {
        s3Store(ctx.sandbox).delete(str(input.Bucket));
        return {};
      },
      GetBucketLocation: (input, ctx) => {
        const b = s3Store(ctx.sandbox).get(str(input.Bucket));
        return { LocationConstraint: b.region === 'us-east-1' ? undefined : b.region };
      },
      ListObjectsV2: (input, ctx) => {
        const b = s3Store(ctx.sandbox).get(str(input.Bucket));
        return { Name: b.name, KeyCount: 0, IsTruncated: false };
      },
      PutBucketEncryption: (input, ctx) => {
        s3Store(ctx.sandbox).putEncryption(str(input.Bucket), input.ServerSideEncryptionConfiguration);
        return {};
      },
      GetBucketEncryption: (input, ctx) => ({
        ServerSideEncryptionConfiguration: { Rules: s3Store(ctx.sandbox).getEncryption(str(input.Bucket)) },
      }),
      DeleteBucketEncryption: (input, ctx) => {
        s3Store(ctx.sandbox).deleteEncryption(str(input.Bucket));
        return {};
      },
      PutBucketVersioning: (input, ctx) => {
        s3Store(ctx.sandbox).putVersioning(str(input.Bucket), input.VersioningConfiguration);
        return {};
      },
      GetBucketVersioning: (input, ctx) => {
        const b = s3Store(ctx.sandbox).get(str(input.Bucket));
        return compact({ Status: b.versioning?.Status, MFADelete: b.versioning?.MFADelete });
      },
      PutPublicAccessBlock: (input, ctx) => {
        s3Store(ctx.sandbox).putPublicAccessBlock(str(input.Bucket), input.PublicAccessBlockConfiguration);
        return {};
      },
      GetPublicAccessBlock: (input, ctx) => ({
        PublicAccessBlockConfiguration: s3Store(ctx.sandbox).getPublicAccessBlock(str(input.Bucket)),
      }),
      DeletePublicAccessBlock: (input, ctx) => {
        s3Store(ctx.sandbox).deletePublicAccessBlock(str(input.Bucket));
        return {};
      },
      PutBucketTagging: (input, ctx) => {
        s3Store(ctx.sandbox).putTagging(str(input.Bucket), input.Tagging);
        return {};
      },
      PutBucketPolicy: (input, ctx) => {
        s3Store(ctx.sandbox).putPolicy(str(input.Bucket), str(input.Policy));
        return {};
      },
      GetBucketPolicy: (input, ctx) => ({ Policy: s3Store(ctx.sandbox).getPolicy(str(input.Bucket)) }),
      DeleteBucketPolicy: (input, ctx) => {
        s3Store(ctx.sandbox).deletePolicy(str(input.Bucket));
        return {};
      },
      GetBucketTagging: (input, ctx) => ({ TagSet: s3Store(ctx.sandbox).getTagging(str(input.Bucket)) }),
      DeleteBucketTagging: (input, ctx) => {
        s3Store(ctx.sandbox).deleteTagging(str(input.Bucket));
        return {};
      },
    },
  };
}
