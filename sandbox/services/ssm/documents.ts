/**
 * SSM document operations: CreateDocument / UpdateDocument / UpdateDocumentDefaultVersion /
 * GetDocument / DescribeDocument / DeleteDocument / ListDocuments over the SsmStore, and the AWS-owned
 * documents folder (Owner Amazon, read-only) that `drift-remediation documents pull` fills.
 * Names beginning with aws, amazon or amzn are reserved for AWS at CreateDocument, as in AWS.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AwsError, type RequestContext } from '../../core/types';
import { parseAutomationDocument } from './document';
import { TERMINAL } from './engine';
import {
  AMAZON_OWNER,
  type DocumentVersion,
  description,
  type SsmStore,
  type StoredDocument,
  sha256,
} from './store';
import { isRecord } from './values';

const DOC_NAME = /^[a-zA-Z0-9_\-.]{3,128}$/;
/** Prefixes AWS reserves for its own documents (case-insensitive). */
export const RESERVED_DOCUMENT_PREFIX = /^(aws|amazon|amzn)/i;

export function str(input: Record<string, unknown>, key: string): string | undefined {
  const v = input[key];
  return typeof v === 'string' ? v : undefined;
}

export function required(input: Record<string, unknown>, key: string): string {
  const v = str(input, key);
  if (v === undefined || v === '')
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value at '${key}' failed to satisfy constraint: Member must not be null`,
    );
  return v;
}

function formatOf(input: Record<string, unknown>, content: string): 'YAML' | 'JSON' {
  const f = str(input, 'DocumentFormat');
  if (f === 'JSON' || f === 'YAML') return f;
  if (f === 'TEXT') throw new AwsError('InvalidDocumentContent', 'Automation documents must be JSON or YAML');
  if (f !== undefined) throw new AwsError('ValidationException', `Invalid DocumentFormat ${f}`);
  return content.trimStart().startsWith('{') ? 'JSON' : 'YAML';
}

function checkNewName(name: string): void {
  if (!DOC_NAME.test(name)) {
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value '${name}' at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_\\-.]{3,128}$`,
    );
  }
  if (RESERVED_DOCUMENT_PREFIX.test(name)) {
    throw new AwsError(
      'ValidationException',
      `Invalid document name ${name}: document names can't begin with aws, amazon or amzn (reserved by AWS for its own documents)`,
    );
  }
}

function version(
  n: number,
  content: string,
  format: 'YAML' | 'JSON',
  createdDate: Date,
  versionName?: string,
): DocumentVersion {
  return {
    version: String(n),
    content,
    format,
    doc: parseAutomationDocument(content, format),
    createdDate,
    hash: sha256(content),
    ...(versionName ? { versionName } : {}),
  };
}

function createDocument(store: SsmStore, input: Record<string, unknown>, ctx: RequestContext) {
  const name = required(input, 'Name');
  const content = required(input, 'Content');
  checkNewName(name);
  const type = str(input, 'DocumentType') ?? 'Command';
  if (type !== 'Automation') {
    throw new AwsError(
      'InvalidDocumentType',
      `The sandbox supports DocumentType Automation only, got ${type}`,
    );
  }
  if (store.documents.has(name))
    throw new AwsError('DocumentAlreadyExists', `Document with same name ${name} already exists`);
  const now = ctx.sandbox.clock.now();
  const v = version(1, content, formatOf(input, content), now, str(input, 'VersionName'));
  const d: StoredDocument = {
    name,
    documentType: 'Automation',
    versions: [v],
    defaultVersion: '1',
    createdDate: now,
    tags: Array.isArray(input.Tags) ? (input.Tags as Array<{ Key: string; Value: string }>) : [],
    owner: ctx.accountId,
  };
  store.documents.set(name, d);
  ctx.sandbox.log(`ssm document ${name} created`);
  return { DocumentDescription: description(d, v) };
}

function updateDocument(store: SsmStore, input: Record<string, unknown>, ctx: RequestContext) {
  const name = required(input, 'Name');
  const content = required(input, 'Content');
  const d = store.ownDocument(name);
  const base = str(input, 'DocumentVersion') ?? '$LATEST';
  if (base !== '$LATEST' && base !== String(d.versions.length)) {
    throw new AwsError(
      'InvalidDocumentVersion',
      `Only the latest version (${d.versions.length}) can be updated`,
    );
  }
  if (d.versions.some((v) => v.hash === sha256(content))) {
    throw new AwsError(
      'DuplicateDocumentContent',
      'The content of the association document matches another document.',
    );
  }
  const now = ctx.sandbox.clock.now();
  const v = version(d.versions.length + 1, content, formatOf(input, content), now, str(input, 'VersionName'));
  d.versions.push(v);
  return { DocumentDescription: description(d, v) };
}

function updateDefaultVersion(store: SsmStore, input: Record<string, unknown>) {
  const d = store.ownDocument(required(input, 'Name'));
  const v = store.pickVersion(d, required(input, 'DocumentVersion'));
  d.defaultVersion = v.version;
  return {
    Description: {
      Name: d.name,
      DefaultVersion: v.version,
      ...(v.versionName ? { DefaultVersionName: v.versionName } : {}),
    },
  };
}

function getDocument(store: SsmStore, input: Record<string, unknown>) {
  const d = store.getDocument(required(input, 'Name'));
  const v = store.pickVersion(d, str(input, 'DocumentVersion'));
  const asJson = str(input, 'DocumentFormat') === 'JSON' && v.format === 'YAML';
  return {
    Name: d.name,
    CreatedDate: v.createdDate,
    DocumentVersion: v.version,
    ...(v.versionName ? { VersionName: v.versionName } : {}),
    Status: 'Active',
    Content: asJson ? JSON.stringify(v.doc, null, 2) : v.content,
    DocumentType: d.documentType,
    DocumentFormat: asJson ? 'JSON' : v.format,
  };
}

function deleteDocument(store: SsmStore, input: Record<string, unknown>) {
  const name = required(input, 'Name');
  store.ownDocument(name);
  const active = [...store.executions.values()].some(
    (e) => e.documentName === name && !TERMINAL.has(e.status),
  );
  if (active) throw new AwsError('AssociatedInstances', `Document ${name} has automations in progress`);
  store.documents.delete(name);
  return {};
}

/** ListDocuments' Owner filter: Self (this account), Amazon, Public, All / Private. */
function ownerMatches(d: StoredDocument, values: string[]): boolean {
  const amazon = d.owner === AMAZON_OWNER;
  return values.some(
    (v) => v === 'All' || (v === 'Amazon' ? amazon : v === 'Self' || v === 'Private' ? !amazon : false),
  );
}

function listDocuments(store: SsmStore, input: Record<string, unknown>) {
  const filters = Array.isArray(input.Filters) ? input.Filters : [];
  const list = [...store.documents.values()].filter((d) =>
    filters.every((f) => {
      if (!isRecord(f) || typeof f.Key !== 'string' || !Array.isArray(f.Values)) return true;
      const values = f.Values.map(String);
      if (f.Key === 'Name') return values.some((v) => d.name.startsWith(v));
      if (f.Key === 'DocumentType') return values.includes(d.documentType);
      if (f.Key === 'Owner') return ownerMatches(d, values);
      return true;
    }),
  );
  return {
    DocumentIdentifiers: list.map((d) => {
      const v = store.pickVersion(d, undefined);
      return {
        Name: d.name,
        Owner: d.owner,
        CreatedDate: d.createdDate,
        DocumentType: d.documentType,
        DocumentFormat: v.format,
        DocumentVersion: v.version,
        SchemaVersion: '0.3',
        Tags: d.tags,
      };
    }),
  };
}

/** The document operations, by API name. */
export function documentOperations(store: SsmStore) {
  return {
    CreateDocument: (i: Record<string, unknown>, c: RequestContext) => createDocument(store, i, c),
    UpdateDocument: (i: Record<string, unknown>, c: RequestContext) => updateDocument(store, i, c),
    UpdateDocumentDefaultVersion: (i: Record<string, unknown>) => updateDefaultVersion(store, i),
    GetDocument: (i: Record<string, unknown>) => getDocument(store, i),
    DescribeDocument: (i: Record<string, unknown>) => {
      const d = store.getDocument(required(i, 'Name'));
      return { Document: description(d, store.pickVersion(d, str(i, 'DocumentVersion'))) };
    },
    DeleteDocument: (i: Record<string, unknown>) => deleteDocument(store, i),
    ListDocuments: (i: Record<string, unknown>) => listDocuments(store, i),
  };
}

/**
 * One pulled AWS-owned document: what `documents pull` stores (GetDocument's answer plus
 * DescribeDocument's metadata). Only Name and Content are required.
 */
export interface AwsDocumentFile {
  Name: string;
  Content: string;
  DocumentFormat?: 'YAML' | 'JSON';
  DocumentType?: string;
  DocumentVersion?: string;
  VersionName?: string;
  CreatedDate?: string;
}

function readAwsDocument(file: string): AwsDocumentFile {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`AWS document file ${file}: not JSON (${(err as Error).message})`, { cause: err });
  }
  if (!isRecord(raw) || typeof raw.Name !== 'string' || typeof raw.Content !== 'string') {
    throw new Error(`AWS document file ${file}: needs Name and Content (as documents pull writes them)`);
  }
  if (raw.DocumentType !== undefined && raw.DocumentType !== 'Automation') {
    throw new Error(
      `AWS document file ${file}: ${raw.Name} is a ${String(raw.DocumentType)} document; the sandbox serves Automation documents`,
    );
  }
  return raw as unknown as AwsDocumentFile;
}

/**
 * Loads every `*.json` of an AWS-documents folder into the store as AWS-owned (Owner Amazon). A bad
 * file stops the load with its name; nothing is half-loaded into a running sandbox.
 */
export function loadAwsDocuments(store: SsmStore, dir: string, now: Date = new Date()): string[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const loaded = files.map((f) => {
    const file = readAwsDocument(join(dir, f));
    const format = file.DocumentFormat ?? (file.Content.trimStart().startsWith('{') ? 'JSON' : 'YAML');
    let v: DocumentVersion;
    try {
      v = version(
        1,
        file.Content,
        format,
        file.CreatedDate ? new Date(file.CreatedDate) : now,
        file.VersionName,
      );
    } catch (err) {
      throw new Error(`AWS document file ${join(dir, f)}: ${(err as Error).message}`, { cause: err });
    }
    if (file.DocumentVersion) v.version = file.DocumentVersion;
    const d: StoredDocument = {
      name: file.Name,
      documentType: 'Automation',
      versions: [v],
      defaultVersion: v.version,
      createdDate: v.createdDate,
      tags: [],
      owner: AMAZON_OWNER,
    };
    return d;
  });
  for (const d of loaded) store.documents.set(d.name, d);
  return loaded.map((d) => d.name);
}
