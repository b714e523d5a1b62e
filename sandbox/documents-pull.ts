/**
 * `drift-remediation documents pull NAME…`: copies AWS-owned Automation documents from the user's own
 * account (GetDocument + DescribeDocument with the SDK's default credential chain, or --profile /
 * --region) into a local folder, one JSON file per document, which `sandbox serve --aws-documents DIR`
 * serves as AWS-owned (Owner Amazon). The project ships no AWS document text; each user pulls their own.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  DescribeDocumentCommand,
  GetDocumentCommand,
  SSMClient,
  type SSMClientConfig,
} from '@aws-sdk/client-ssm';
import type { AwsDocumentFile } from './services/ssm/documents';

/** SSM's document name pattern: also keeps file names inside the folder. */
const DOC_NAME = /^[a-zA-Z0-9_\-.]{3,128}$/;

export interface PullOptions {
  /** Folder to write (created when missing). */
  dir: string;
  region?: string;
  profile?: string;
  /** Pull from this endpoint (e.g. a running sandbox) instead of AWS. */
  endpoint?: string;
}

export class DocumentPullError extends Error {
  override readonly name = 'DocumentPullError';
}

function clientConfig(o: PullOptions): SSMClientConfig {
  return {
    ...(o.region ? { region: o.region } : {}),
    ...(o.profile ? { profile: o.profile } : {}),
    ...(o.endpoint
      ? {
          endpoint: o.endpoint,
          region: o.region ?? 'us-east-1',
          credentials: { accessKeyId: 'sandbox', secretAccessKey: 'sandbox' },
        }
      : {}),
  };
}

/** One document as the folder stores it; refuses documents that are not AWS-owned Automation ones. */
export async function fetchAwsDocument(
  client: SSMClient,
  name: string,
): Promise<AwsDocumentFile & { Owner: string }> {
  if (!DOC_NAME.test(name)) throw new DocumentPullError(`${name} is not a document name`);
  const described = (await client.send(new DescribeDocumentCommand({ Name: name }))).Document;
  if (described?.Owner !== 'Amazon') {
    throw new DocumentPullError(
      `${name} is owned by ${described?.Owner ?? 'nobody'}, not Amazon: only AWS-owned documents are pulled`,
    );
  }
  if (described.DocumentType !== 'Automation') {
    throw new DocumentPullError(
      `${name} is a ${described.DocumentType ?? 'unknown'} document; the sandbox runs Automation documents`,
    );
  }
  const got = await client.send(new GetDocumentCommand({ Name: name }));
  if (got.Content === undefined) throw new DocumentPullError(`${name}: GetDocument returned no content`);
  return {
    Name: name,
    Owner: described.Owner,
    DocumentType: 'Automation',
    ...(got.DocumentFormat === 'JSON' || got.DocumentFormat === 'YAML'
      ? { DocumentFormat: got.DocumentFormat }
      : {}),
    ...(got.DocumentVersion ? { DocumentVersion: got.DocumentVersion } : {}),
    ...(got.VersionName ? { VersionName: got.VersionName } : {}),
    ...(got.CreatedDate ? { CreatedDate: got.CreatedDate.toISOString() } : {}),
    Content: got.Content,
  };
}

/** Pulls every name (all or nothing per name: a failure names the document) and returns the files written. */
export async function pullDocuments(names: readonly string[], o: PullOptions): Promise<string[]> {
  if (names.length === 0) throw new DocumentPullError('name at least one document');
  const client = new SSMClient(clientConfig(o));
  const dir = resolve(o.dir);
  const docs = [];
  for (const name of names) docs.push(await fetchAwsDocument(client, name));
  mkdirSync(dir, { recursive: true });
  return docs.map((d) => {
    const file = join(dir, `${d.Name}.json`);
    writeFileSync(file, `${JSON.stringify(d, null, 2)}\n`);
    return file;
  });
}
