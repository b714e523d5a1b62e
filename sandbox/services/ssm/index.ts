/**
 * SSM (awsJson1.1, target prefix AmazonSSM): Automation documents and the Automation engine.
 *
 * Documents: CreateDocument / GetDocument / DescribeDocument / UpdateDocument /
 * UpdateDocumentDefaultVersion / DeleteDocument / ListDocuments, YAML or JSON content, versioned.
 * Automations: StartAutomationExecution (parameters validated before anything runs; ClientToken:
 * same token + same request → the same execution, different request → IdempotentParameterMismatch),
 * GetAutomationExecution, DescribeAutomationExecutions (Filters), DescribeAutomationStepExecutions,
 * StopAutomationExecution, SendAutomationSignal (aws:pause). An emulated concurrency quota: up to
 * `maxConcurrent` executions run, up to `maxQueued` more wait as Pending, beyond that
 * AutomationExecutionLimitExceededException.
 */
import { createHash, randomUUID } from 'node:crypto';
import { AwsError, type RequestContext, type SandboxContext, type ServiceModule } from '../../core/types';
import type { Signal } from './actions';
import {
  type AutomationDocument,
  describeParameters,
  parseAutomationDocument,
  validateExecutionParameters,
} from './document';
import { type Execution, runExecution, type StepRecord, TERMINAL } from './engine';
import type { CredentialsFor } from './script';
import { isRecord, stringify } from './values';

export interface SsmOptions {
  /** Concurrently running automations (AWS default quota: 100). */
  maxConcurrent?: number;
  /** Automations waiting in the queue (AWS: 1,000). */
  maxQueued?: number;
  /**
   * Credentials of the automation's assumed role for aws:executeScript's boto3 (the sandbox IAM's
   * credentialsFor). Default: the sandbox's dummy credentials.
   */
  credentialsFor?: CredentialsFor;
}

interface DocumentVersion {
  version: string;
  content: string;
  format: 'YAML' | 'JSON';
  doc: AutomationDocument;
  createdDate: Date;
  hash: string;
  versionName?: string;
}

interface StoredDocument {
  name: string;
  documentType: 'Automation';
  versions: DocumentVersion[];
  defaultVersion: string;
  createdDate: Date;
  tags: Array<{ Key: string; Value: string }>;
  owner: string;
}

const DOC_NAME = /^[a-zA-Z0-9_\-.]{3,128}$/;
const CLIENT_TOKEN = /^[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$/;
const EXECUTION_ID = /^[a-fA-F0-9-]{36}$/;

function str(input: Record<string, unknown>, key: string): string | undefined {
  const v = input[key];
  return typeof v === 'string' ? v : undefined;
}

function required(input: Record<string, unknown>, key: string): string {
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

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function ssmService(options: SsmOptions = {}): ServiceModule {
  const maxConcurrent = options.maxConcurrent ?? 100;
  const maxQueued = options.maxQueued ?? 1000;
  const documents = new Map<string, StoredDocument>();
  const executions = new Map<string, Execution>();
  const byToken = new Map<string, { fingerprint: string; executionId: string }>();
  const queue: Array<{ exec: Execution; sandbox: SandboxContext }> = [];
  let running = 0;

  function getDocument(name: string, errorCode = 'InvalidDocument'): StoredDocument {
    const d = documents.get(name);
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

  function pickVersion(
    d: StoredDocument,
    requested: string | undefined,
    notFound = 'InvalidDocumentVersion',
  ): DocumentVersion {
    const wanted =
      requested === undefined || requested === '$DEFAULT'
        ? d.defaultVersion
        : requested === '$LATEST'
          ? String(d.versions.length)
          : requested;
    const v = d.versions.find((x) => x.version === wanted);
    if (!v) throw new AwsError(notFound, `Document ${d.name} has no version ${requested}`);
    return v;
  }

  function description(d: StoredDocument, v: DocumentVersion): Record<string, unknown> {
    return {
      Name: d.name,
      DocumentType: d.documentType,
      DocumentFormat: v.format,
      SchemaVersion: '0.3',
      DocumentVersion: v.version,
      LatestVersion: String(d.versions.length),
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

  function launch(exec: Execution, sandbox: SandboxContext): void {
    running++;
    void runExecution(exec, sandbox, {
      ...(options.credentialsFor ? { credentialsFor: options.credentialsFor } : {}),
    }).finally(() => {
      running--;
      exec.markDone();
      const next = queue.shift();
      if (next) launch(next.exec, next.sandbox);
    });
  }

  function getExecution(id: string | undefined): Execution {
    const e = id ? executions.get(id) : undefined;
    if (!e)
      throw new AwsError(
        'AutomationExecutionNotFoundException',
        `Automation execution ${id ?? ''} not found`,
      );
    return e;
  }

  function stepView(s: StepRecord): Record<string, unknown> {
    return { ...s };
  }

  function executionView(e: Execution): Record<string, unknown> {
    return {
      AutomationExecutionId: e.id,
      DocumentName: e.documentName,
      DocumentVersion: e.documentVersion,
      ExecutionStartTime: e.startTime ?? e.createdTime,
      ...(e.endTime ? { ExecutionEndTime: e.endTime } : {}),
      AutomationExecutionStatus: e.status,
      StepExecutions: e.steps.map(stepView),
      StepExecutionsTruncated: false,
      Parameters: e.parameterStrings,
      Outputs: e.outputs,
      ...(e.failureMessage ? { FailureMessage: e.failureMessage } : {}),
      Mode: 'Auto',
      ExecutedBy: e.executedBy,
      ...(e.currentStepName ? { CurrentStepName: e.currentStepName, CurrentAction: e.currentAction } : {}),
      AutomationType: 'Local',
    };
  }

  function metadataView(e: Execution): Record<string, unknown> {
    return {
      AutomationExecutionId: e.id,
      DocumentName: e.documentName,
      DocumentVersion: e.documentVersion,
      AutomationExecutionStatus: e.status,
      ExecutionStartTime: e.startTime ?? e.createdTime,
      ...(e.endTime ? { ExecutionEndTime: e.endTime } : {}),
      ExecutedBy: e.executedBy,
      Outputs: e.outputs,
      Mode: 'Auto',
      ...(e.failureMessage ? { FailureMessage: e.failureMessage } : {}),
      ...(e.currentStepName ? { CurrentStepName: e.currentStepName, CurrentAction: e.currentAction } : {}),
      AutomationType: 'Local',
    };
  }

  const FILTER_KEYS = new Set([
    'DocumentNamePrefix',
    'ExecutionStatus',
    'ExecutionId',
    'ParentExecutionId',
    'CurrentAction',
    'StartTimeBefore',
    'StartTimeAfter',
    'AutomationType',
    'TagKey',
    'TargetResourceGroup',
    'AutomationSubtype',
    'OpsItemId',
  ]);

  function matchesFilter(e: Execution, key: string, values: string[]): boolean {
    const start = (e.startTime ?? e.createdTime).getTime();
    switch (key) {
      case 'DocumentNamePrefix':
        return values.some((v) => e.documentName.startsWith(v));
      case 'ExecutionStatus':
        return values.includes(e.status);
      case 'ExecutionId':
        return values.includes(e.id);
      case 'CurrentAction':
        return e.currentAction !== undefined && values.includes(e.currentAction);
      case 'StartTimeBefore':
        return values.some((v) => start <= Date.parse(v));
      case 'StartTimeAfter':
        return values.some((v) => start >= Date.parse(v));
      case 'AutomationType':
        return values.includes('Local');
      default:
        return false;
    }
  }

  const operations: ServiceModule['operations'] = {
    CreateDocument(input, ctx) {
      const name = required(input, 'Name');
      const content = required(input, 'Content');
      if (!DOC_NAME.test(name) || /^(aws|amazon|amzn)/i.test(name)) {
        throw new AwsError('ValidationException', `Document name ${name} is not valid`);
      }
      const type = str(input, 'DocumentType') ?? 'Command';
      if (type !== 'Automation') {
        throw new AwsError(
          'InvalidDocumentType',
          `The sandbox supports DocumentType Automation only, got ${type}`,
        );
      }
      if (documents.has(name))
        throw new AwsError('DocumentAlreadyExists', `Document with same name ${name} already exists`);
      const format = formatOf(input, content);
      const doc = parseAutomationDocument(content, format);
      const now = ctx.sandbox.clock.now();
      const versionName = str(input, 'VersionName');
      const tags = Array.isArray(input.Tags) ? (input.Tags as Array<{ Key: string; Value: string }>) : [];
      const d: StoredDocument = {
        name,
        documentType: 'Automation',
        versions: [
          {
            version: '1',
            content,
            format,
            doc,
            createdDate: now,
            hash: sha256(content),
            ...(versionName ? { versionName } : {}),
          },
        ],
        defaultVersion: '1',
        createdDate: now,
        tags,
        owner: ctx.accountId,
      };
      documents.set(name, d);
      ctx.sandbox.log(`ssm document ${name} created`);
      const v = d.versions[0];
      if (!v) throw new AwsError('InternalServerError', 'no version', 500);
      return { DocumentDescription: description(d, v) };
    },

    UpdateDocument(input, ctx) {
      const name = required(input, 'Name');
      const content = required(input, 'Content');
      const d = getDocument(name, 'InvalidDocument');
      const base = str(input, 'DocumentVersion') ?? '$LATEST';
      if (base !== '$LATEST' && base !== String(d.versions.length)) {
        throw new AwsError(
          'InvalidDocumentVersion',
          `Only the latest version (${d.versions.length}) can be updated`,
        );
      }
      const hash = sha256(content);
      if (d.versions.some((v) => v.hash === hash)) {
        throw new AwsError(
          'DuplicateDocumentContent',
          'The content of the association document matches another document.',
        );
      }
      const format = formatOf(input, content);
      const doc = parseAutomationDocument(content, format);
      const versionName = str(input, 'VersionName');
      const v: DocumentVersion = {
        version: String(d.versions.length + 1),
        content,
        format,
        doc,
        createdDate: ctx.sandbox.clock.now(),
        hash,
        ...(versionName ? { versionName } : {}),
      };
      d.versions.push(v);
      return { DocumentDescription: description(d, v) };
    },

    UpdateDocumentDefaultVersion(input) {
      const d = getDocument(required(input, 'Name'));
      const v = pickVersion(d, required(input, 'DocumentVersion'));
      d.defaultVersion = v.version;
      return {
        Description: {
          Name: d.name,
          DefaultVersion: v.version,
          ...(v.versionName ? { DefaultVersionName: v.versionName } : {}),
        },
      };
    },

    GetDocument(input) {
      const d = getDocument(required(input, 'Name'));
      const v = pickVersion(d, str(input, 'DocumentVersion'));
      const wanted = str(input, 'DocumentFormat');
      let content = v.content;
      let format = v.format;
      if (wanted === 'JSON' && v.format === 'YAML') {
        content = JSON.stringify(v.doc, null, 2);
        format = 'JSON';
      }
      return {
        Name: d.name,
        CreatedDate: v.createdDate,
        DocumentVersion: v.version,
        ...(v.versionName ? { VersionName: v.versionName } : {}),
        Status: 'Active',
        Content: content,
        DocumentType: d.documentType,
        DocumentFormat: format,
      };
    },

    DescribeDocument(input) {
      const d = getDocument(required(input, 'Name'));
      return { Document: description(d, pickVersion(d, str(input, 'DocumentVersion'))) };
    },

    DeleteDocument(input) {
      const name = required(input, 'Name');
      getDocument(name);
      const active = [...executions.values()].some((e) => e.documentName === name && !TERMINAL.has(e.status));
      if (active) {
        throw new AwsError('AssociatedInstances', `Document ${name} has automations in progress`);
      }
      documents.delete(name);
      return {};
    },

    ListDocuments(input) {
      const filters = Array.isArray(input.Filters) ? input.Filters : [];
      const list = [...documents.values()].filter((d) =>
        filters.every((f) => {
          if (!isRecord(f) || typeof f.Key !== 'string' || !Array.isArray(f.Values)) return true;
          const values = f.Values.map(String);
          if (f.Key === 'Name') return values.some((v) => d.name.startsWith(v));
          if (f.Key === 'DocumentType') return values.includes(d.documentType);
          if (f.Key === 'Owner') return values.includes('Self');
          return true;
        }),
      );
      return {
        DocumentIdentifiers: list.map((d) => {
          const v = pickVersion(d, undefined);
          return {
            Name: d.name,
            CreatedDate: d.createdDate,
            DocumentType: d.documentType,
            DocumentFormat: v.format,
            DocumentVersion: v.version,
            SchemaVersion: '0.3',
            Tags: d.tags,
          };
        }),
      };
    },

    StartAutomationExecution(input, ctx: RequestContext) {
      const documentName = required(input, 'DocumentName');
      const token = str(input, 'ClientToken');
      if (token !== undefined && !CLIENT_TOKEN.test(token)) {
        throw new AwsError('ValidationException', 'ClientToken must be a UUID');
      }
      const fingerprint = JSON.stringify([
        documentName,
        input.DocumentVersion ?? null,
        input.Parameters ?? {},
        input.Mode ?? 'Auto',
      ]);
      if (token !== undefined) {
        const seen = byToken.get(token.toLowerCase());
        if (seen) {
          if (seen.fingerprint !== fingerprint) {
            throw new AwsError(
              'IdempotentParameterMismatch',
              'ClientToken was used before with a different request',
            );
          }
          return { AutomationExecutionId: seen.executionId };
        }
      }
      const mode = str(input, 'Mode') ?? 'Auto';
      if (mode !== 'Auto')
        throw new AwsError(
          'InvalidAutomationExecutionParametersException',
          `Mode ${mode} is not supported by the sandbox`,
        );
      if (input.Targets !== undefined || input.TargetLocations !== undefined) {
        throw new AwsError(
          'InvalidAutomationExecutionParametersException',
          'Rate-controlled and multi-account automations are not supported by the sandbox',
        );
      }
      const d = getDocument(documentName, 'AutomationDefinitionNotFoundException');
      const v = pickVersion(d, str(input, 'DocumentVersion'), 'AutomationDefinitionVersionNotFoundException');
      const given = isRecord(input.Parameters) ? input.Parameters : undefined;
      const parameters = validateExecutionParameters(v.doc, given);
      if (running >= maxConcurrent && queue.length >= maxQueued) {
        throw new AwsError(
          'AutomationExecutionLimitExceededException',
          `The number of simultaneously running Automation executions exceeded the limit (${maxConcurrent} running, ${maxQueued} queued)`,
        );
      }
      let markDone = (): void => {};
      const done = new Promise<void>((res) => {
        markDone = res;
      });
      const parameterStrings: Record<string, string[]> = {};
      for (const [k, val] of Object.entries(parameters)) {
        const g = given?.[k];
        parameterStrings[k] = Array.isArray(g)
          ? g.map(String)
          : Array.isArray(val)
            ? val.map(stringify)
            : [stringify(val)];
      }
      const exec: Execution = {
        id: randomUUID(),
        documentName,
        documentVersion: v.version,
        doc: v.doc,
        parameters,
        parameterStrings,
        status: 'Pending',
        createdTime: ctx.sandbox.clock.now(),
        steps: [],
        outputs: {},
        executedBy: `arn:aws:sts::${ctx.accountId}:assumed-role/sandbox/sandbox`,
        abort: new AbortController(),
        done,
        markDone,
      };
      executions.set(exec.id, exec);
      if (token !== undefined) byToken.set(token.toLowerCase(), { fingerprint, executionId: exec.id });
      if (running < maxConcurrent) launch(exec, ctx.sandbox);
      else queue.push({ exec, sandbox: ctx.sandbox });
      return { AutomationExecutionId: exec.id };
    },

    GetAutomationExecution(input) {
      const id = required(input, 'AutomationExecutionId');
      if (!EXECUTION_ID.test(id))
        throw new AwsError('ValidationException', 'AutomationExecutionId must be 36 characters');
      return { AutomationExecution: executionView(getExecution(id)) };
    },

    DescribeAutomationExecutions(input) {
      const filters = Array.isArray(input.Filters) ? input.Filters : [];
      const parsed: Array<{ key: string; values: string[] }> = [];
      for (const f of filters) {
        if (!isRecord(f) || typeof f.Key !== 'string' || !FILTER_KEYS.has(f.Key)) {
          throw new AwsError('InvalidFilterKey', `Invalid filter key ${isRecord(f) ? String(f.Key) : ''}`);
        }
        if (!Array.isArray(f.Values) || f.Values.length === 0 || f.Values.length > 10) {
          throw new AwsError('InvalidFilterValue', `Filter ${f.Key} needs 1-10 values`);
        }
        parsed.push({ key: f.Key, values: f.Values.map(String) });
      }
      const all = [...executions.values()]
        .filter((e) => parsed.every((p) => matchesFilter(e, p.key, p.values)))
        .sort((a, b) => (b.startTime ?? b.createdTime).getTime() - (a.startTime ?? a.createdTime).getTime());
      const max = typeof input.MaxResults === 'number' ? Math.min(Math.max(input.MaxResults, 1), 50) : 50;
      const offset = typeof input.NextToken === 'string' ? Number.parseInt(input.NextToken, 10) || 0 : 0;
      const page = all.slice(offset, offset + max);
      return {
        AutomationExecutionMetadataList: page.map(metadataView),
        ...(offset + max < all.length ? { NextToken: String(offset + max) } : {}),
      };
    },

    DescribeAutomationStepExecutions(input) {
      const e = getExecution(required(input, 'AutomationExecutionId'));
      const steps = input.ReverseOrder === true ? [...e.steps].reverse() : e.steps;
      return { StepExecutions: steps.map(stepView) };
    },

    StopAutomationExecution(input, ctx) {
      const e = getExecution(required(input, 'AutomationExecutionId'));
      if (TERMINAL.has(e.status)) {
        throw new AwsError(
          'InvalidAutomationStatusUpdateException',
          `Automation execution ${e.id} is already ${e.status}`,
        );
      }
      const queued = queue.findIndex((q) => q.exec === e);
      if (queued >= 0) {
        queue.splice(queued, 1);
        e.status = 'Cancelled';
        e.endTime = ctx.sandbox.clock.now();
        e.markDone();
        return {};
      }
      e.status = 'Cancelling';
      e.abort.abort();
      return {};
    },

    SendAutomationSignal(input) {
      const e = getExecution(required(input, 'AutomationExecutionId'));
      const type = required(input, 'SignalType');
      if (!['Approve', 'Reject', 'StartStep', 'StopStep', 'Resume', 'Revoke'].includes(type)) {
        throw new AwsError('ValidationException', `Invalid SignalType ${type}`);
      }
      if (TERMINAL.has(e.status))
        throw new AwsError('InvalidAutomationSignalException', `Automation execution ${e.id} has ended`);
      const waiting = e.waiting;
      if (!waiting || !(waiting.accepts as readonly string[]).includes(type)) {
        throw new AwsError(
          'InvalidAutomationSignalException',
          `Automation execution ${e.id} is not waiting for ${type}`,
        );
      }
      waiting.signal(type as Signal);
      return {};
    },
  };

  return {
    serviceName: 'ssm',
    signingName: 'ssm',
    protocol: 'awsJson1_1',
    targetPrefix: 'AmazonSSM',
    operations,
  };
}
