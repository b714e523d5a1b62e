/**
 * The reviewed permission table of the AWS-managed Automation runbooks the project supports
 * (runbooks/aws-managed.yaml): per document, its parameters and the IAM actions its steps call, with
 * the resource ARN pattern each grant is scoped to. The policy loader checks AWS-managed entries against
 * it (an unknown document or a parameter mismatch fails synth); the automation role is granted exactly
 * these actions (infra/).
 */
import { readFileSync } from 'node:fs';
import * as v from 'valibot';
import { parse as parseYaml } from 'yaml';
import { PolicyError } from '../errors';

/** The table's file name in the runbooks directory (not a runbook: loaders of runbooks/*.yaml skip it). */
export const AWS_MANAGED_TABLE_FILE = 'aws-managed.yaml';

const IamAction = v.pipe(
  v.string(),
  v.regex(/^[a-z0-9-]+:[A-Za-z0-9]+$/, 'must be an IAM action like ec2:DescribeSecurityGroups'),
);
/** `*`, or an ARN with the placeholders {partition}, {region}, {account}. */
const ResourcePattern = v.pipe(
  v.string(),
  v.regex(
    /^(\*|arn:\{partition\}:[a-z0-9-]+:(\{region\})?:(\{account\})?:.+)$/,
    'must be * or arn:{partition}:service:{region}:{account}:…',
  ),
);

const AwsManagedParameter = v.strictObject({
  type: v.picklist(['String', 'StringList', 'Integer', 'Boolean', 'MapList', 'StringMap']),
  required: v.boolean(),
  /** The parameter that names the remediated resource. */
  target: v.optional(v.boolean(), false),
});

const Grant = v.strictObject({
  actions: v.pipe(v.array(IamAction), v.minLength(1)),
  resource: ResourcePattern,
});

const AwsManagedDocument = v.strictObject({
  reference: v.optional(v.pipe(v.string(), v.url())),
  resourceType: v.pipe(v.string(), v.regex(/^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$/)),
  parameters: v.record(v.pipe(v.string(), v.regex(/^[A-Za-z][A-Za-z0-9]*$/)), AwsManagedParameter),
  permissions: v.pipe(v.array(Grant), v.minLength(1)),
});
export type AwsManagedDocument = v.InferOutput<typeof AwsManagedDocument>;

const AwsManagedTableFile = v.strictObject({
  version: v.literal(1),
  documents: v.record(
    v.pipe(v.string(), v.regex(/^(AWS|AWSConfigRemediation|AWSSupport)-[A-Za-z0-9_.-]+$/)),
    AwsManagedDocument,
  ),
});

export interface AwsManagedTable {
  readonly documents: Readonly<Record<string, AwsManagedDocument>>;
}

/** Validates a parsed table. Every target parameter must be required, and exactly one per document. */
export function parseAwsManagedTable(raw: unknown, source = AWS_MANAGED_TABLE_FILE): AwsManagedTable {
  const r = v.safeParse(AwsManagedTableFile, raw);
  if (!r.success) {
    const issues = r.issues.map((i) => `${v.getDotPath(i) ?? '(table)'}: ${i.message}`);
    throw new PolicyError(`invalid AWS-managed runbook table ${source}:\n  ${issues.join('\n  ')}`);
  }
  const problems: string[] = [];
  for (const [name, doc] of Object.entries(r.output.documents)) {
    const targets = Object.entries(doc.parameters).filter(([, p]) => p.target);
    if (targets.length !== 1) problems.push(`${name}: mark exactly one parameter target: true`);
    for (const [p, def] of targets)
      if (!def.required) problems.push(`${name}.${p}: a target parameter is required`);
  }
  if (problems.length) {
    throw new PolicyError(`invalid AWS-managed runbook table ${source}:\n  ${problems.join('\n  ')}`);
  }
  return { documents: r.output.documents };
}

/** Reads and validates the table file. */
export function loadAwsManagedTable(path: string): AwsManagedTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new PolicyError(`cannot read the AWS-managed runbook table ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new PolicyError(`${path}: not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  return parseAwsManagedTable(raw, path);
}

/** Parameters the workflow sets itself; a policy entry never names them. */
const WORKFLOW_PARAMETERS = new Set(['AutomationAssumeRole']);

/**
 * Problems with a policy entry that names an AWS-managed runbook: the document must be in the table,
 * the entry must give every required parameter and no parameter the document does not declare.
 */
export function checkAwsManagedEntry(
  at: string,
  runbook: string,
  parameters: Readonly<Record<string, unknown>>,
  table: AwsManagedTable,
): string[] {
  const doc = table.documents[runbook];
  if (!doc) {
    const known = Object.keys(table.documents).sort().join(', ');
    return [
      `${at}.runbook: ${runbook} is not in the reviewed AWS-managed runbook table (runbooks/${AWS_MANAGED_TABLE_FILE}), so the automation role would have no permissions for it. Supported: ${known}`,
    ];
  }
  const problems: string[] = [];
  for (const [name, def] of Object.entries(doc.parameters)) {
    if (def.required && !(name in parameters) && !WORKFLOW_PARAMETERS.has(name)) {
      problems.push(`${at}.parameters.${name}: ${runbook} requires this parameter`);
    }
  }
  for (const name of Object.keys(parameters)) {
    if (!(name in doc.parameters)) {
      problems.push(
        `${at}.parameters.${name}: ${runbook} has no such parameter (it takes ${Object.keys(doc.parameters).join(', ')})`,
      );
    }
  }
  return problems;
}

/** The grants of one document with the placeholders filled in. */
export function grantsFor(
  doc: AwsManagedDocument,
  where: { partition: string; region: string; account: string },
): Array<{ actions: string[]; resource: string }> {
  return doc.permissions.map((g) => ({
    actions: [...g.actions],
    resource: g.resource
      .replaceAll('{partition}', where.partition)
      .replaceAll('{region}', where.region)
      .replaceAll('{account}', where.account),
  }));
}
