/**
 * The SSM model (moto's "backend"): documents with their versions, automation executions, client
 * tokens and the concurrency queue, plus the lookups and views the operations share.
 */
import { createHash } from 'node:crypto';
import { AwsError, type SandboxContext } from '../../core/types';
import { type AutomationDocument, describeParameters } from './document';
import type { Execution } from './engine';
import type { CredentialsFor } from './script';

export interface SsmOptions {
  /** Concurrently running automations (AWS default quota: 100). */
  maxConcurrent?: number;
  /** Automations waiting in the queue (AWS: 1,000). */
  maxQueued?: number;
  /**
   * Credentials of the automation's assumed role for aws:executeScript's boto3 (the sandbox IAM's
   * credentialsFor). Default: the engine's, a session of the automation's role (see engine.ts callerCredentials).
   */
  credentialsFor?: CredentialsFor;
  /**
   * A folder of AWS-owned documents (`drift-remediation documents pull` writes it): served with Owner
   * Amazon, read-only, as AWS serves its own documents.
   */
  awsDocumentsDir?: string;
}

export interface DocumentVersion {
  version: string;
  content: string;
  format: 'YAML' | 'JSON';
  doc: AutomationDocument;
  createdDate: Date;
  hash: string;
  versionName?: string;
}

export interface StoredDocument {
  name: string;
  documentType: 'Automation';
  versions: DocumentVersion[];
  defaultVersion: string;
  createdDate: Date;
  tags: Array<{ Key: string; Value: string }>;
  /** The account id, or 'Amazon' for AWS-owned documents. */
  owner: string;
}

export const AMAZON_OWNER = 'Amazon';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function latestVersion(d: StoredDocument): string {
  return d.versions.at(-1)?.version ?? d.defaultVersion;
}

export class SsmStore {
  readonly documents = new Map<string, StoredDocument>();
  readonly executions = new Map<string, Execution>();
  readonly byToken = new Map<string, { fingerprint: string; executionId: string }>();
  readonly queue: Array<{ exec: Execution; sandbox: SandboxContext }> = [];
  running = 0;
  readonly maxConcurrent: number;
  readonly maxQueued: number;

  constructor(readonly options: SsmOptions = {}) {
    this.maxConcurrent = options.maxConcurrent ?? 100;
    this.maxQueued = options.maxQueued ?? 1000;
  }

  getDocument(name: string, errorCode = 'InvalidDocument'): StoredDocument {
    const d = this.documents.get(name);
    if (!d) {
      throw new AwsError(
        errorCode,
        errorCode === 'AutomationDefinitionNotFoundException'
          ? `Automation definition not found: ${name}`
          : `Document with name ${name} does not exist.`,
      );
    }
    return d;
  }

  /** A document this account may change (not AWS-owned). */
  ownDocument(name: string): StoredDocument {
    const d = this.getDocument(name);
    if (d.owner === AMAZON_OWNER) {
      throw new AwsError(
        'InvalidDocumentOperation',
        `Document ${name} is owned by Amazon and cannot be changed`,
      );
    }
    return d;
  }

  pickVersion(
    d: StoredDocument,
    requested: string | undefined,
    notFound = 'InvalidDocumentVersion',
  ): DocumentVersion {
    const wanted =
      requested === undefined || requested === '$DEFAULT'
        ? d.defaultVersion
        : requested === '$LATEST'
          ? latestVersion(d)
          : requested;
    const v = d.versions.find((x) => x.version === wanted);
    if (!v) throw new AwsError(notFound, `Document ${d.name} has no version ${requested}`);
    return v;
  }

  getExecution(id: string | undefined): Execution {
    const e = id ? this.executions.get(id) : undefined;
    if (!e)
      throw new AwsError(
        'AutomationExecutionNotFoundException',
        `Automation execution ${id ?? ''} not found`,
      );
    return e;
  }
}

/** DocumentDescription, as CreateDocument / DescribeDocument return it. */
export function description(d: StoredDocument, v: DocumentVersion): Record<string, unknown> {
  return {
    Name: d.name,
    DocumentType: d.documentType,
    DocumentFormat: v.format,
    SchemaVersion: '0.3',
    DocumentVersion: v.version,
    LatestVersion: latestVersion(d),
    DefaultVersion: d.defaultVersion,
    ...(v.versionName ? { VersionName: v.versionName } : {}),
    Status: 'Active',
    Owner: d.owner,
    CreatedDate: v.createdDate,
    Hash: v.hash,
    HashType: 'Sha256',
    Parameters: describeParameters(v.doc),
    PlatformTypes: ['Windows', 'Linux', 'MacOS'],
    Tags: d.tags,
    ...(v.doc.description ? { Description: v.doc.description } : {}),
  };
}
