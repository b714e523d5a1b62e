/**
 * The scripted scenario `npm start` runs: a fresh sandbox with the remediation stack installed in the
 * central account (111111111111, us-east-1) and the member stack in a member (222222222222, us-west-2),
 * five demo stacks (four central, one in the member), five drifts injected through the real APIs (and,
 * for the drift only CloudFormation drift detection finds, a detection run as an operator would), the
 * executions watched until each records its outcome, the resources checked against their templates, and a
 * summary table with each case's account and region.
 * Returns true only if every case ended VERIFIED with its resource restored.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStacksCommand,
  DetectStackDriftCommand,
} from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient, GetComplianceDetailsByResourceCommand } from '@aws-sdk/client-config-service';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import {
  DescribeExecutionCommand,
  type DescribeExecutionCommandOutput,
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import Table from 'cli-table3';
import { type DriftSandbox, startDriftSandbox } from '../main';
import { approvalLinks, decideViaForm } from './approve';
import {
  DEMO_CASES,
  type DemoClients,
  type DriftCase,
  IN_SCOPE_TAGS,
  physicalIdOf,
  surfaceDrift,
} from './cases';
import { ORGANIZATION, organizationSandboxOptions } from './organization';

export interface DemoOptions {
  port: number;
  timeScale: number;
  timeoutSeconds: number;
  /** Decide approvals through the review page's form; otherwise a person clicks the printed links. */
  autoApprove: boolean;
  verbose: boolean;
  /** Where lines go (default stdout). */
  print?: (line: string) => void;
}

interface CaseRun {
  dc: DriftCase;
  /** The clients of the case's account-region. */
  at: Clients;
  resourceId: string;
  executionArn?: string;
  status?: string;
  state?: string;
  outcome?: string;
  attempts?: number;
  startedAt?: number;
  endedAt?: number;
  restored?: string | null;
}

const TEMPLATES = join(dirname(fileURLToPath(import.meta.url)), 'templates');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function portFree(port: number): Promise<boolean> {
  if (port === 0) return true;
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function until<T>(
  what: string,
  deadline: number,
  probe: () => Promise<T | undefined>,
  everyMs = 100,
): Promise<T> {
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** The clients of one account-region. */
interface Clients {
  accountId: string;
  region: string;
  c: DemoClients;
  config: ConfigServiceClient;
}

/** `111111111111 us-east-1`: the summary's account column. */
const where = (at: Clients) => `${at.accountId} ${at.region}`;

/** What every step of the demo shares. */
interface Demo {
  opts: DemoOptions;
  print: (line: string) => void;
  /** A line prefixed with the time since the start. */
  say: (line: string) => void;
  deadline: number;
  sb: DriftSandbox;
  stateMachineArn: string;
  sfn: SFNClient;
  central: Clients;
  /** The member account's administrator, in the member region. */
  member: Clients;
}

/** Clients of `accountId` in `region` (a 12-digit access key is that account's administrator in the sandbox). */
function clientsAt(sb: DriftSandbox, accountId: string, region: string): Clients {
  const cfg = {
    endpoint: sb.endpoint,
    region,
    credentials: { accessKeyId: accountId, secretAccessKey: 'demo' },
  };
  return {
    accountId,
    region,
    c: {
      cloudFormation: new CloudFormationClient(cfg),
      ec2: new EC2Client(cfg),
      s3: new S3Client({ ...cfg, forcePathStyle: true }),
      iam: new IAMClient(cfg),
      lambda: new LambdaClient(cfg),
    },
    config: new ConfigServiceClient(cfg),
  };
}

function clientsFor(sb: DriftSandbox): Pick<Demo, 'sfn' | 'central' | 'member'> {
  const central = clientsAt(sb, sb.accountId, sb.region);
  const { accountId, region } = ORGANIZATION.member;
  return {
    sfn: new SFNClient({
      endpoint: sb.endpoint,
      region: sb.region,
      credentials: { accessKeyId: sb.accountId, secretAccessKey: 'demo' },
    }),
    central,
    member: clientsAt(sb, accountId, region),
  };
}

/** Creates the demo stacks and waits for each to complete; one run per case, with its resource's id. */
async function deployStacks(d: Demo): Promise<CaseRun[]> {
  d.say('Deploying the demo stacks…');
  const at = (dc: DriftCase) => (dc.inMember ? d.member : d.central);
  for (const dc of DEMO_CASES) {
    await at(dc).c.cloudFormation.send(
      new CreateStackCommand({
        StackName: dc.stackName,
        TemplateBody: readFileSync(join(TEMPLATES, dc.template), 'utf8'),
        Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'],
        Tags: IN_SCOPE_TAGS,
      }),
    );
  }
  const runs: CaseRun[] = [];
  for (const dc of DEMO_CASES) {
    const { c } = at(dc);
    await until(`${dc.stackName} CREATE_COMPLETE`, d.deadline, async () => {
      const s = (await c.cloudFormation.send(new DescribeStacksCommand({ StackName: dc.stackName })))
        .Stacks?.[0];
      if (s?.StackStatus?.endsWith('FAILED') || s?.StackStatus?.includes('ROLLBACK')) {
        throw new Error(`${dc.stackName}: ${s.StackStatus} ${s.StackStatusReason ?? ''}`);
      }
      return s?.StackStatus === 'CREATE_COMPLETE' ? true : undefined;
    });
    const resourceId = await physicalIdOf(c, dc);
    runs.push({ dc, at: at(dc), resourceId });
    d.say(
      `  ${dc.stackName.padEnd(22)} ${dc.resourceType.padEnd(24)} ${resourceId.padEnd(24)} ${where(at(dc))}`,
    );
  }
  return runs;
}

/** Lets Config record the compliant state first, so what follows is a real compliance change. */
async function waitCompliant(d: Demo, runs: readonly CaseRun[]): Promise<void> {
  for (const r of runs) {
    const rule = r.dc.rule;
    if (!rule) continue;
    await until(`${rule} to evaluate ${r.resourceId}`, d.deadline, async () => {
      const details = await r.at.config.send(
        new GetComplianceDetailsByResourceCommand({
          ResourceType: r.dc.resourceType,
          ResourceId: r.resourceId,
        }),
      );
      const result = details.EvaluationResults?.find(
        (e) => e.EvaluationResultIdentifier?.EvaluationResultQualifier?.ConfigRuleName === rule,
      );
      return result?.ComplianceType === 'COMPLIANT' ? true : undefined;
    });
  }
  d.say('Config: every demo resource is COMPLIANT');
}

/**
 * Approval requests arrive as SNS messages; decides them like a person would (or lets a person do it).
 * Returns the errors of the automatic decisions, filled in as they happen.
 */
function watchApprovals(d: Demo): string[] {
  const decided = new Set<string>();
  const errors: string[] = [];
  d.sb.onMessage((m) => {
    const links = approvalLinks(m.message);
    const link = links[0];
    if (!link) return;
    const key = new URL(link).pathname;
    if (decided.has(key)) return;
    decided.add(key);
    d.say(`Approval requested: ${m.subject ?? 'remediation'}`);
    for (const l of links) d.print(`          ${l}`);
    if (!d.opts.autoApprove) {
      d.say('  waiting for a person to open the link and decide (run with --yes to approve automatically)');
      return;
    }
    void decideViaForm(link, 'approve', 'approved by the demo')
      .then((r) => d.say(`  approved through the review page's form (HTTP ${r.status})`))
      .catch((err: unknown) => errors.push((err as Error).message));
  });
  return errors;
}

/** Prints the state the execution is in now, and its outcome once it has ended. */
async function followExecution(
  d: Demo,
  run: CaseRun,
  executionArn: string,
  desc: DescribeExecutionCommandOutput,
): Promise<void> {
  const h = await d.sfn.send(
    new GetExecutionHistoryCommand({ executionArn, reverseOrder: true, maxResults: 20 }),
  );
  const entered = h.events?.find((x) => x.stateEnteredEventDetails?.name)?.stateEnteredEventDetails?.name;
  if (entered && entered !== run.state && desc.status === 'RUNNING') {
    run.state = entered;
    d.say(`    ${run.dc.id}: ${entered}`);
  }
  if (desc.status !== 'RUNNING' && run.status !== desc.status) {
    run.status = desc.status;
    run.endedAt = Date.now();
    const output = JSON.parse(desc.output ?? '{}') as {
      outcome?: { outcome?: string };
      runbook?: { attempt?: number };
    };
    run.outcome = output.outcome?.outcome ?? desc.error ?? desc.status;
    run.attempts = output.runbook?.attempt ?? 0;
    d.say(`  ■ ${run.dc.id}: ${run.outcome}${desc.error && !output.outcome ? ` (${desc.cause ?? ''})` : ''}`);
  }
}

/** One look at every execution: which case it belongs to, and how far it got. */
async function pollExecutions(d: Demo, runs: CaseRun[], others: Set<string>): Promise<void> {
  const list = await d.sfn.send(
    new ListExecutionsCommand({ stateMachineArn: d.stateMachineArn, maxResults: 100 }),
  );
  for (const e of list.executions ?? []) {
    if (!e.executionArn) continue;
    const desc = await d.sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
    const input = JSON.parse(desc.input ?? '{}') as { event?: { resourceId?: string } };
    const run = runs.find((r) => r.resourceId === input.event?.resourceId);
    if (!run) continue;
    if (run.executionArn && run.executionArn !== e.executionArn) {
      // A second execution for the same resource: duplicates should have been absorbed.
      if (!others.has(e.executionArn)) d.say(`  note: another execution for ${run.resourceId}: ${e.name}`);
      others.add(e.executionArn);
      continue;
    }
    if (!run.executionArn) {
      run.executionArn = e.executionArn;
      run.startedAt = Date.now();
      d.say(`  ▶ ${run.dc.id}: execution ${e.name} started`);
    }
    await followExecution(d, run, e.executionArn, desc);
  }
}

/** Polls until every case's execution has ended, or the deadline. */
async function watchExecutions(d: Demo, runs: CaseRun[]): Promise<void> {
  d.say('Watching the remediation executions…');
  const others = new Set<string>();
  for (;;) {
    await pollExecutions(d, runs, others);
    if (runs.every((r) => r.status)) return;
    if (Date.now() > d.deadline) {
      const open = runs.filter((r) => !r.status).map((r) => `${r.dc.id} (${r.state ?? 'no execution yet'})`);
      d.say(`Timed out after ${d.opts.timeoutSeconds}s; still open: ${open.join(', ')}`);
      return;
    }
    await sleep(150);
  }
}

/** Each resource against its template: the case's own check, then CloudFormation drift detection. */
async function checkRestored(d: Demo, runs: CaseRun[]): Promise<void> {
  d.say('Checking every resource against its template…');
  for (const r of runs) {
    const { c } = r.at;
    r.restored = await r.dc.stillWrong(c, r.resourceId);
    const id = (await c.cloudFormation.send(new DetectStackDriftCommand({ StackName: r.dc.stackName })))
      .StackDriftDetectionId;
    const drift = await until(`drift detection on ${r.dc.stackName}`, Date.now() + 20_000, async () => {
      const s = await c.cloudFormation.send(
        new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId: id }),
      );
      return s.DetectionStatus === 'DETECTION_IN_PROGRESS' ? undefined : s.StackDriftStatus;
    });
    if (!r.restored && drift !== 'IN_SYNC') r.restored = `stack drift status ${drift}`;
    d.say(
      `  ${r.restored ? '✗' : '✓'} ${r.dc.stackName}: ${r.restored ?? 'matches its template (drift detection IN_SYNC)'}`,
    );
  }
}

/** The summary table; true when every case ended VERIFIED with its resource restored. */
function summarize(d: Demo, runs: readonly CaseRun[]): boolean {
  const table = new Table({
    head: ['account', 'resource', 'drift', 'detected by', 'outcome', 'attempts', 'duration'],
  });
  for (const r of runs) {
    table.push([
      where(r.at),
      `${r.dc.resourceType.split('::').pop()} ${r.resourceId}`,
      r.dc.drift,
      r.dc.rule ?? 'CloudFormation drift',
      `${r.outcome ?? 'none'}${r.dc.approval ? ' (approved)' : ''}`,
      String(r.attempts ?? 0),
      r.startedAt && r.endedAt ? `${((r.endedAt - r.startedAt) / 1000).toFixed(1)}s` : '—',
    ]);
  }
  d.print(table.toString());
  const ok = runs.every((r) => r.outcome === 'VERIFIED' && !r.restored);
  d.say(
    ok
      ? 'All drift remediated and verified.'
      : 'Some cases did not end VERIFIED with the resource restored (see above).',
  );
  return ok;
}

/** The scenario, once the sandbox runs: deploy, wait for Config, inject, watch, check, summarize. */
async function runScenario(d: Demo): Promise<boolean> {
  const runs = await deployStacks(d);
  await waitCompliant(d, runs);
  const approvalErrors = watchApprovals(d);
  d.say('Injecting drift through the service APIs, as a person in the console would:');
  for (const r of runs) {
    await r.dc.inject(r.at.c, r.resourceId);
    d.say(`  ✗ ${r.dc.drift}`);
  }
  for (const r of runs) {
    if (await surfaceDrift(r.at.c, r.dc))
      d.say(
        `  ↻ drift detection on ${r.dc.stackName}, as an operator would (Config's stack rule runs periodically)`,
      );
  }
  await watchExecutions(d, runs);
  for (const e of approvalErrors) d.say(`approval error: ${e}`);
  await checkRestored(d, runs);
  return summarize(d, runs);
}

export async function runDemo(opts: DemoOptions): Promise<boolean> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const t0 = Date.now();
  const say = (line: string) => print(`${`${((Date.now() - t0) / 1000).toFixed(1)}s`.padStart(6)}  ${line}`);
  const port = (await portFree(opts.port)) ? opts.port : 0;
  say(
    `Starting the sandbox on Node ${process.version} (time scale ${opts.timeScale}: one emulated minute takes ${(60 * opts.timeScale).toFixed(1)} s)…`,
  );
  const sb: DriftSandbox = await startDriftSandbox({
    port,
    timeScale: opts.timeScale,
    // Central 111111111111 (us-east-1) and its organization; the member stack in 222222222222 (us-west-2).
    ...organizationSandboxOptions(),
    ...(opts.verbose ? { onLog: (l: string) => print(`          · ${l}`) } : {}),
  });
  try {
    const stack = sb.stack;
    if (!stack) throw new Error('the remediation stack was not installed');
    say(`Sandbox on ${sb.endpoint}; remediation stack installed from the synthesized CDK template`);
    say(
      `  state machine ${stack.stateMachineArn.split(':').pop()}, ${Object.keys(stack.functions).length} task functions, central account ${sb.accountId} ${sb.region}`,
    );
    for (const m of sb.memberStacks)
      say(`  member stack ${m.stackName} installed in ${m.accountId} ${m.region} (as StackSets would)`);
    const deadline = t0 + opts.timeoutSeconds * 1000;
    return await runScenario({
      opts,
      print,
      say,
      deadline,
      sb,
      stateMachineArn: stack.stateMachineArn,
      ...clientsFor(sb),
    });
  } finally {
    // Shutdown waits for in-flight handler calls; never let it hold the demo's result hostage.
    const stopped = await Promise.race([sb.stop().then(() => true), sleep(5000).then(() => false)]);
    if (!stopped) say('(the sandbox took more than 5 s to stop; exiting anyway)');
  }
}
