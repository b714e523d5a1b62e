/**
 * `drift-remediation audit`: answers "what happened to this resource / under this rule / in this account /
 * since when" from the OUTCOMES table's audit indexes (tasks/shared/outcomes.ts auditQueries): Query
 * only, never Scan. Against the sandbox by default; with `--aws` / `--profile` against AWS with the
 * user's own credentials (dynamodb:Query on the table and its indexes; DescribeStacks to find it).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, paginateQuery } from '@aws-sdk/lib-dynamodb';
import Table from 'cli-table3';
import * as v from 'valibot';
import { AuditOutcome } from '../tasks/shared/contracts';
import { type AuditFilter, auditQueries } from '../tasks/shared/outcomes';
import { clientConfig } from './remediate';

export interface AuditOptions {
  resource?: string;
  rule?: string;
  account?: string;
  outcome?: string;
  /** `7d`, `12h`, `30m` back from now, or an ISO date/time. */
  since: string;
  json?: boolean;
  /** Outcomes table name (default: the stack's OutcomesTableName output, or the one table named *OutcomesTable*). */
  table?: string;
  /** Stack whose OutcomesTableName output names the table (with --aws). */
  stack: string;
  endpoint: string;
  aws?: boolean;
  region?: string;
  profile?: string;
}

/** `7d` / `12h` / `30m` / an ISO date → ISO time; throws a message naming --since otherwise. */
export function sinceTime(value: string, now: Date): string {
  const rel = /^(\d{1,4})([dhm])$/.exec(value.trim());
  if (rel) {
    const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[rel[2] as 'd' | 'h' | 'm'];
    return new Date(now.getTime() - Number(rel[1]) * unit).toISOString();
  }
  const t = Date.parse(value);
  if (/^\d{4}-\d{2}-\d{2}/.test(value) && !Number.isNaN(t)) return new Date(t).toISOString();
  throw new Error(`--since ${JSON.stringify(value)} is not like 7d, 12h, 30m or 2026-12-01`);
}

/** The filter the options ask for; bad values are refused before anything is sent. */
export function auditFilter(o: AuditOptions, now: Date): AuditFilter {
  if (o.outcome !== undefined && !v.safeParse(AuditOutcome, o.outcome).success)
    throw new Error(`--outcome ${o.outcome} is not one of ${AuditOutcome.options.join(', ')}`);
  if (o.account !== undefined && !/^\d{12}$/.test(o.account))
    throw new Error(`--account ${o.account} is not a 12-digit account id`);
  return {
    resourceId: o.resource,
    ruleName: o.rule,
    accountId: o.account,
    outcome: o.outcome as AuditOutcome | undefined,
    since: sinceTime(o.since, now),
    until: now.toISOString(),
  };
}

async function tableName(o: AuditOptions, ddb: DynamoDBClient): Promise<string> {
  if (o.table) return o.table;
  if (o.aws === true || o.profile !== undefined) {
    const cfn = new CloudFormationClient(clientConfig(o));
    try {
      const r = await cfn.send(new DescribeStacksCommand({ StackName: o.stack }));
      const out = r.Stacks?.[0]?.Outputs?.find((x) => x.OutputKey === 'OutcomesTableName')?.OutputValue;
      if (out) return out;
    } finally {
      cfn.destroy();
    }
  }
  const names: string[] = [];
  let start: string | undefined;
  do {
    const r = await ddb.send(new ListTablesCommand({ ExclusiveStartTableName: start }));
    names.push(...(r.TableNames ?? []).filter((n) => /OutcomesTable/.test(n)));
    start = r.LastEvaluatedTableName;
  } while (start);
  if (names.length !== 1)
    throw new Error(
      names.length
        ? `several outcome tables (${names.join(', ')}): name one with --table`
        : 'no outcome table found (is the stack installed? name it with --table)',
    );
  return names[0] as string;
}

/** Runs the audit Query (or, with no key, one per day of the time index); newest first. */
export async function auditItems(o: AuditOptions, now = new Date()): Promise<Record<string, unknown>[]> {
  const filter = auditFilter(o, now);
  const ddb = new DynamoDBClient(clientConfig(o));
  try {
    const doc = DynamoDBDocumentClient.from(ddb);
    const items: Record<string, unknown>[] = [];
    for (const input of auditQueries(await tableName(o, ddb), filter))
      for await (const page of paginateQuery({ client: doc }, input)) items.push(...(page.Items ?? []));
    return items;
  } finally {
    ddb.destroy();
  }
}

const text = (v: unknown) => (typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v));

/** The resource without its `account/region/` prefix (shown in its own column); other keys as they are. */
function resourceOf(i: Record<string, unknown>): string {
  const key = text(i.resourceKey);
  const prefix = `${text(i.accountId)}/${text(i.region)}/`;
  return i.accountId && i.region && key.startsWith(prefix) ? key.slice(prefix.length) : key;
}

export async function audit(o: AuditOptions, log: (line: string) => void = console.log): Promise<void> {
  const items = await auditItems(o);
  if (o.json) {
    log(JSON.stringify(items, null, 2));
    return;
  }
  if (!items.length) {
    log('(no outcomes match)');
    return;
  }
  const table = new Table({
    head: ['recorded', 'outcome', 'account / region', 'resource', 'rule', 'execution', 'reason'],
  });
  for (const i of items)
    table.push([
      text(i.recordedAt),
      text(i.outcome),
      `${text(i.accountId)} ${text(i.region)}`.trim(),
      resourceOf(i),
      text(i.ruleName),
      text(i.executionName),
      text(i.reason).slice(0, 80),
    ]);
  log(table.toString());
  log(`${items.length} outcome${items.length === 1 ? '' : 's'}`);
}
