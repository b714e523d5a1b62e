/**
 * The reviewed permission table of the AWS-managed Automation runbooks the project supports
 * (runbooks/aws-managed.yaml): per document, its parameters and the IAM actions its steps call, with
 * the resource ARN pattern each grant is scoped to. The policy loader checks AWS-managed entries against
 * it (an unknown document or a parameter mismatch fails synth); the automation role is granted exactly
 * these actions (infra/).
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { PolicyError } from '../errors';
import * as z from '../zod';

/** The table's file name in the runbooks directory (not a runbook: loaders of runbooks/*.yaml skip it). */
export const AWS_MANAGED_TABLE_FILE = 'aws-managed.yaml';

const IamAction = z
  .string()
  .check(z.regex(/^[a-z0-9-]+:[A-Za-z0-9]+$/, 'must be an IAM action like ec2:DescribeSecurityGroups'));
/** `*`, or an ARN with the placeholders {partition}, {region}, {account}. */
const ResourcePattern = z
  .string()
  .check(
    z.regex(
      /^(\*|arn:\{partition\}:[a-z0-9-]+:(\{region\})?:(\{account\})?:.+)$/,
      'must be * or arn:{partition}:service:{region}:{account}:…',
    ),
  );

const AwsManagedParameter = z.strictObject({
  type: z.enum(['String', 'StringList', 'Integer', 'Boolean', 'MapList', 'StringMap']),
  required: z.boolean(),
  /** The parameter that names the remediated resource. */
  target: z._default(z.boolean(), false),
});

const Grant = z.strictObject({
  actions: z.array(IamAction).check(z.minLength(1)),
  resource: ResourcePattern,
});

const AwsManagedDocument = z.strictObject({
  reference: z.optional(z.url()),
  resourceType: z.string().check(z.regex(/^AWS::[A-Za-z0-9]+::[A-Za-z0-9]+$/)),
  parameters: z.record(z.string().check(z.regex(/^[A-Za-z][A-Za-z0-9]*$/)), AwsManagedParameter),
  permissions: z.array(Grant).check(z.minLength(1)),
});
export type AwsManagedDocument = z.infer<typeof AwsManagedDocument>;

const AwsManagedTableFile = z.strictObject({
  version: z.literal(1),
  documents: z.record(
    z.string().check(z.regex(/^(AWS|AWSConfigRemediation|AWSSupport)-[A-Za-z0-9_.-]+$/)),
    AwsManagedDocument,
  ),
});

export interface AwsManagedTable {
  readonly documents: Readonly<Record<string, AwsManagedDocument>>;
}

/** Validates a parsed table. Every target parameter must be required, and exactly one per document. */
export function parseAwsManagedTable(raw: unknown, source = AWS_MANAGED_TABLE_FILE): AwsManagedTable {
  const r = AwsManagedTableFile.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(table)'}: ${i.message}`);
    throw new PolicyError(`invalid AWS-managed runbook table ${source}:\n  ${issues.join('\n  ')}`);
  }
  const problems: string[] = [];
  for (const [name, doc] of Object.entries(r.data.documents)) {
    const targets = Object.entries(doc.parameters).filter(([, p]) => p.target);
    if (targets.length !== 1) problems.push(`${name}: mark exactly one parameter target: true`);
    for (const [p, def] of targets)
      if (!def.required) problems.push(`${name}.${p}: a target parameter is required`);
  }
  if (problems.length) {
    throw new PolicyError(`invalid AWS-managed runbook table ${source}:\n  ${problems.join('\n  ')}`);
  }
  return { documents: r.data.documents };
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
