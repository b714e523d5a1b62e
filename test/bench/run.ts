/**
 * Benchmarks (`npm run bench`): the whole loop in the sandbox, on loopback, through real SDK v3 clients.
 * Prints figures; asserts nothing; every loop is bounded.
 *
 *   1. End to end: N security groups drift at once (SSH opened to the world) → time to the first
 *      execution, p50/p95 time to VERIFIED (from the injection), executions per second.
 *   2. Duplicates: the NON_COMPLIANT event of one more drift, delivered D more times at once to the
 *      intake queue → executions started, duplicates absorbed, time to drain.
 *   3. Sandbox API latency: p50/p95 of DescribeSecurityGroups, PutItem and StartExecution.
 *
 * Options: --groups N (10) --duplicates D (100) --samples S (200) --time-scale T (0.01) --timeout SECONDS (120)
 *          --faults FILE (the sandbox's fault/latency rules, e.g. SSM taking 30 s with 30 % throttling)
 */
import { parseArgs } from 'node:util';
import { CreateTableCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeSecurityGroupsCommand } from '@aws-sdk/client-ec2';
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ListExecutionsCommand,
  StartExecutionCommand,
} from '@aws-sdk/client-sfn';
import Table from 'cli-table3';
import { CASES } from '../../sandbox/demo/cases';
import {
  captureNonCompliance,
  deployCase,
  type E2E,
  executionsFor,
  finished,
  intakeDrained,
  sendToIntake,
  sleep,
  startE2E,
  until,
  waitCompliant,
} from '../e2e/support/harness';
import { ms, percentile, timeCalls } from './stats';

const { values: args } = parseArgs({
  options: {
    groups: { type: 'string', default: '10' },
    duplicates: { type: 'string', default: '100' },
    samples: { type: 'string', default: '200' },
    'time-scale': { type: 'string', default: '0.01' },
    timeout: { type: 'string', default: '120' },
    faults: { type: 'string' },
  },
});
const intArg = (name: string, v: string | undefined, min: number, max: number): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`--${name} must be an integer in [${min}, ${max}]`);
  return n;
};
const GROUPS = intArg('groups', args.groups, 1, 200);
const DUPLICATES = intArg('duplicates', args.duplicates, 1, 1000);
const SAMPLES = intArg('samples', args.samples, 10, 5000);
const TIME_SCALE = Number(args['time-scale']);
if (!(TIME_SCALE > 0 && TIME_SCALE <= 1)) throw new Error('--time-scale must be in (0, 1]');
const TIMEOUT_MS = intArg('timeout', args.timeout, 10, 3600) * 1000;

const ssh = CASES.find((c) => c.id === 'ssh-open');
if (!ssh?.rule) throw new Error('the ssh-open demo case is missing');
const sshCase = ssh;
const sshRule = ssh.rule;

const say = (line: string) => process.stderr.write(`${line}\n`);
/** No colours: the tables are copied into docs/operations.md as they are. */
const PLAIN = { head: [], border: [] };

interface EndToEnd {
  groups: number;
  firstExecutionMs: number;
  verifiedMs: number[];
  outcomes: Record<string, number>;
  lastClosedMs: number;
}

async function deployGroups(e: E2E, prefix: string, n: number): Promise<string[]> {
  const ids = await Promise.all(
    Array.from({ length: n }, (_, i) =>
      deployCase(e, sshCase, { stackName: `${prefix}-${String(i).padStart(3, '0')}` }),
    ),
  );
  await Promise.all(ids.map((id) => waitCompliant(e, sshCase, id, TIMEOUT_MS)));
  return ids;
}

async function endToEnd(e: E2E, ids: string[]): Promise<EndToEnd> {
  const byArn = new Map<string, string>();
  const seenAt = new Map<string, number>();
  const closedAt = new Map<string, { at: number; arn: string }>();
  const wanted = new Set(ids);

  const t0 = performance.now();
  await Promise.all(ids.map((id) => sshCase.inject(e.c, id)));
  const deadline = Date.now() + TIMEOUT_MS;
  while (closedAt.size < ids.length && Date.now() < deadline) {
    const list = await e.c.sfn.send(
      new ListExecutionsCommand({ stateMachineArn: e.stack.stateMachineArn, maxResults: 1000 }),
    );
    const now = performance.now();
    for (const x of list.executions ?? []) {
      const arn = x.executionArn;
      if (!arn) continue;
      let resource = byArn.get(arn);
      if (resource === undefined) {
        const d = await e.c.sfn.send(new DescribeExecutionCommand({ executionArn: arn }));
        resource =
          (JSON.parse(d.input ?? '{}') as { event?: { resourceId?: string } }).event?.resourceId ?? '';
        byArn.set(arn, resource);
      }
      if (!wanted.has(resource)) continue;
      if (!seenAt.has(resource)) seenAt.set(resource, now);
      if (x.status !== 'RUNNING' && !closedAt.has(resource)) closedAt.set(resource, { at: now, arn });
    }
    await sleep(25);
  }
  const outcomes: Record<string, number> = {};
  const verifiedMs: number[] = [];
  for (const [, c] of closedAt) {
    const r = await finished(e, c.arn, 1_000);
    const o = r.outcome ?? r.status;
    outcomes[o] = (outcomes[o] ?? 0) + 1;
    if (o === 'VERIFIED') verifiedMs.push(c.at - t0);
  }
  const missing = ids.length - closedAt.size;
  if (missing > 0) outcomes['still running at timeout'] = missing;
  return {
    groups: ids.length,
    firstExecutionMs: Math.min(...[...seenAt.values()].map((t) => t - t0)),
    verifiedMs,
    outcomes,
    lastClosedMs: Math.max(...[...closedAt.values()].map((c) => c.at - t0)),
  };
}

interface Duplicates {
  deliveries: number;
  executions: number;
  absorbedRate: number;
  drainMs: number;
  outcome: string;
}

async function duplicates(e: E2E, groupId: string): Promise<Duplicates> {
  const next = await captureNonCompliance(e, sshRule, groupId, 'bench-capture');
  await sshCase.inject(e.c, groupId);
  const body = await next(TIMEOUT_MS);
  const t = performance.now();
  await Promise.all(Array.from({ length: DUPLICATES }, () => sendToIntake(e, body)));
  await intakeDrained(e, TIMEOUT_MS);
  const drainMs = performance.now() - t;
  const first = await until(
    'the duplicate-test execution',
    TIMEOUT_MS,
    async () => (await executionsFor(e, groupId, sshCase.resourceType))[0],
  );
  const result = await finished(e, first.arn, TIMEOUT_MS);
  await intakeDrained(e, TIMEOUT_MS);
  const runs = (await executionsFor(e, groupId, sshCase.resourceType)).length;
  const deliveries = DUPLICATES + 1; // the rule's own delivery + the replays
  return {
    deliveries,
    executions: runs,
    absorbedRate: (deliveries - runs) / (deliveries - 1),
    drainMs,
    outcome: result.outcome ?? result.status,
  };
}

interface Latency {
  operation: string;
  samples: number[];
}

async function apiLatency(e: E2E, groupId: string): Promise<Latency[]> {
  const table = 'bench-latency';
  await e.c.dynamodb.send(
    new CreateTableCommand({
      TableName: table,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
  const sm = await e.c.sfn.send(
    new CreateStateMachineCommand({
      name: 'bench-latency',
      roleArn: `arn:aws:iam::${e.sb.accountId}:role/bench-latency`,
      definition: JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } }),
    }),
  );
  const smArn = sm.stateMachineArn ?? '';
  return [
    {
      operation: 'EC2 DescribeSecurityGroups',
      samples: await timeCalls(SAMPLES, 10, () =>
        e.c.ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [groupId] })),
      ),
    },
    {
      operation: 'DynamoDB PutItem',
      samples: await timeCalls(SAMPLES, 10, (i) =>
        e.c.dynamodb.send(
          new PutItemCommand({ TableName: table, Item: { pk: { S: `item-${i}` }, n: { N: String(i) } } }),
        ),
      ),
    },
    {
      operation: 'Step Functions StartExecution',
      samples: await timeCalls(SAMPLES, 10, (i) =>
        e.c.sfn.send(
          new StartExecutionCommand({
            stateMachineArn: smArn,
            name: `bench-${i < 0 ? `w${-i}` : i}`,
            input: '{}',
          }),
        ),
      ),
    },
  ];
}

/** Real time, and what it stands for in emulated time (waits, runbook steps, Config delays). */
function withEmulated(realMs: number): string {
  return TIME_SCALE === 1 ? ms(realMs) : `${ms(realMs)} (≈ ${ms(realMs / TIME_SCALE)} emulated)`;
}

async function main(): Promise<void> {
  say(`Starting the sandbox (time scale ${TIME_SCALE}) with the remediation stack installed…`);
  const tStart = performance.now();
  const e = await startE2E({ timeScale: TIME_SCALE, ...(args.faults ? { faults: args.faults } : {}) });
  const startupMs = performance.now() - tStart;
  try {
    say(`Deploying ${GROUPS + 1} security-group stacks and waiting for Config to report them COMPLIANT…`);
    const [dupGroup, ...groups] = await deployGroups(e, 'bench-web', GROUPS + 1);
    if (!dupGroup) throw new Error('no group deployed');

    say(`Injecting drift into ${GROUPS} groups at once…`);
    const e2e = await endToEnd(e, groups);
    say(`Delivering one NON_COMPLIANT event ${DUPLICATES} more times…`);
    const dup = await duplicates(e, dupGroup);
    say(`Timing ${SAMPLES} calls per operation…`);
    const lat = await apiLatency(e, dupGroup);

    const summary = new Table({ head: ['end to end', 'value'], style: PLAIN });
    summary.push(
      ['time scale (real s per emulated s)', String(TIME_SCALE)],
      ['sandbox start + stack install', ms(startupMs)],
      ['drifted security groups', String(e2e.groups)],
      ['faults', args.faults ?? 'none'],
      ['time to first execution', withEmulated(e2e.firstExecutionMs)],
      ['time to VERIFIED p50', withEmulated(percentile(e2e.verifiedMs, 50))],
      ['time to VERIFIED p95', withEmulated(percentile(e2e.verifiedMs, 95))],
      ['executions / second', (e2e.groups / (e2e.lastClosedMs / 1000)).toFixed(2)],
      [
        'outcomes',
        Object.entries(e2e.outcomes)
          .map(([k, v]) => `${k} ${v}`)
          .join(', '),
      ],
    );
    const dupTable = new Table({ head: ['duplicates', 'value'], style: PLAIN });
    dupTable.push(
      ['deliveries of one event', String(dup.deliveries)],
      ['executions started', String(dup.executions)],
      ['duplicates absorbed', `${(dup.absorbedRate * 100).toFixed(1)} %`],
      ['intake drain time', ms(dup.drainMs)],
      ['outcome of the one execution', dup.outcome],
    );
    const latTable = new Table({
      head: ['sandbox API (loopback, SDK v3)', 'n', 'p50', 'p95', 'max'],
      style: PLAIN,
    });
    for (const l of lat) {
      latTable.push([
        l.operation,
        String(l.samples.length),
        ms(percentile(l.samples, 50)),
        ms(percentile(l.samples, 95)),
        ms(Math.max(...l.samples)),
      ]);
    }
    console.log(summary.toString());
    console.log(dupTable.toString());
    console.log(latTable.toString());
  } finally {
    await e.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err instanceof Error ? (err.stack ?? err.message) : err);
    process.exit(1);
  },
);
