/**
 * The scripted scenario `npm start` runs: a fresh sandbox with the remediation stack installed, four
 * demo stacks, four kinds of drift injected through the real APIs, the executions watched until each
 * records its outcome, the resources checked against their templates, and a summary table.
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
  GetExecutionHistoryCommand,
  ListExecutionsCommand,
  SFNClient,
} from '@aws-sdk/client-sfn';
import Table from 'cli-table3';
import { type DriftSandbox, startDriftSandbox } from '../main';
import { approvalLinks, decideViaForm } from './approve';
import { CASES, type DemoClients, type DriftCase, IN_SCOPE_TAGS, physicalIdOf } from './cases';

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

export async function runDemo(opts: DemoOptions): Promise<boolean> {
  const print = opts.print ?? ((l: string) => console.log(l));
  const t0 = Date.now();
  const deadline = t0 + opts.timeoutSeconds * 1000;
  const elapsed = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`.padStart(6);
  const say = (line: string) => print(`${elapsed()}  ${line}`);

  const port = (await portFree(opts.port)) ? opts.port : 0;
  say(
    `Starting the sandbox on Node ${process.version} (time scale ${opts.timeScale}: one emulated minute takes ${(60 * opts.timeScale).toFixed(1)} s)…`,
  );
  const sb: DriftSandbox = await startDriftSandbox({
    port,
    timeScale: opts.timeScale,
    ...(opts.verbose ? { onLog: (l: string) => print(`          · ${l}`) } : {}),
  });
  try {
    const stack = sb.stack;
    if (!stack) throw new Error('the remediation stack was not installed');
    say(`Sandbox on ${sb.endpoint}; remediation stack installed from the synthesized CDK template`);
    say(
      `  state machine ${stack.stateMachineArn.split(':').pop()}, ${Object.keys(stack.functions).length} task functions`,
    );

    const cfg = {
      endpoint: sb.endpoint,
      region: sb.region,
      credentials: { accessKeyId: 'demo', secretAccessKey: 'demo' },
    };
    const c: DemoClients = {
      cloudFormation: new CloudFormationClient(cfg),
      ec2: new EC2Client(cfg),
      s3: new S3Client({ ...cfg, forcePathStyle: true }),
      iam: new IAMClient(cfg),
      lambda: new LambdaClient(cfg),
    };
    const sfn = new SFNClient(cfg);
    const config = new ConfigServiceClient(cfg);

    say('Deploying the demo stacks…');
    for (const dc of CASES) {
      await c.cloudFormation.send(
        new CreateStackCommand({
          StackName: dc.stackName,
          TemplateBody: readFileSync(join(TEMPLATES, dc.template), 'utf8'),
          Capabilities: ['CAPABILITY_IAM', 'CAPABILITY_NAMED_IAM'],
          Tags: IN_SCOPE_TAGS,
        }),
      );
    }
    const runs: CaseRun[] = [];
    for (const dc of CASES) {
      await until(`${dc.stackName} CREATE_COMPLETE`, deadline, async () => {
        const s = (await c.cloudFormation.send(new DescribeStacksCommand({ StackName: dc.stackName })))
          .Stacks?.[0];
        if (s?.StackStatus?.endsWith('FAILED') || s?.StackStatus?.includes('ROLLBACK')) {
          throw new Error(`${dc.stackName}: ${s.StackStatus} ${s.StackStatusReason ?? ''}`);
        }
        return s?.StackStatus === 'CREATE_COMPLETE' ? true : undefined;
      });
      const resourceId = await physicalIdOf(c, dc);
      runs.push({ dc, resourceId });
      say(`  ${dc.stackName.padEnd(22)} ${dc.resourceType.padEnd(24)} ${resourceId}`);
    }

    // Let Config record the compliant state first, so what follows is a real compliance change.
    for (const r of runs) {
      const rule = r.dc.rule;
      if (!rule) continue;
      await until(`${rule} to evaluate ${r.resourceId}`, deadline, async () => {
        const d = await config.send(
          new GetComplianceDetailsByResourceCommand({
            ResourceType: r.dc.resourceType,
            ResourceId: r.resourceId,
          }),
        );
        const result = d.EvaluationResults?.find(
          (e) => e.EvaluationResultIdentifier?.EvaluationResultQualifier?.ConfigRuleName === rule,
        );
        return result?.ComplianceType === 'COMPLIANT' ? true : undefined;
      });
    }
    say('Config: every demo resource is COMPLIANT');

    // Approval requests arrive as SNS messages; decide them like a person would (or let a person do it).
    const decided = new Set<string>();
    const approvalErrors: string[] = [];
    sb.onMessage((m) => {
      const links = approvalLinks(m.message);
      if (links.length === 0) return;
      const link = links[0] ?? '';
      const key = new URL(link).pathname;
      if (decided.has(key)) return;
      decided.add(key);
      say(`Approval requested: ${m.subject ?? 'remediation'}`);
      for (const l of links) print(`          ${l}`);
      if (!opts.autoApprove) {
        say('  waiting for a person to open the link and decide (run with --yes to approve automatically)');
        return;
      }
      void decideViaForm(link, 'approve', 'approved by the demo')
        .then((r) => say(`  approved through the review page's form (HTTP ${r.status})`))
        .catch((err: unknown) => approvalErrors.push((err as Error).message));
    });

    say('Injecting drift through the service APIs, as a person in the console would:');
    for (const r of runs) {
      await r.dc.inject(c, r.resourceId);
      say(`  ✗ ${r.dc.drift}`);
    }

    say('Watching the remediation executions…');
    const openSince = new Map<string, number>();
    for (;;) {
      const list = await sfn.send(
        new ListExecutionsCommand({ stateMachineArn: stack.stateMachineArn, maxResults: 100 }),
      );
      for (const e of list.executions ?? []) {
        if (!e.executionArn) continue;
        const d = await sfn.send(new DescribeExecutionCommand({ executionArn: e.executionArn }));
        const input = JSON.parse(d.input ?? '{}') as { event?: { resourceId?: string } };
        const run = runs.find((r) => r.resourceId === input.event?.resourceId);
        if (!run) continue;
        if (run.executionArn && run.executionArn !== e.executionArn) {
          // A second execution for the same resource: duplicates should have been absorbed.
          if (!openSince.has(e.executionArn))
            say(`  note: another execution for ${run.resourceId}: ${e.name}`);
          openSince.set(e.executionArn, Date.now());
          continue;
        }
        if (!run.executionArn) {
          run.executionArn = e.executionArn;
          run.startedAt = Date.now();
          say(`  ▶ ${run.dc.id}: execution ${e.name} started`);
        }
        const h = await sfn.send(
          new GetExecutionHistoryCommand({
            executionArn: e.executionArn,
            reverseOrder: true,
            maxResults: 20,
          }),
        );
        const entered = h.events?.find((x) => x.stateEnteredEventDetails?.name)?.stateEnteredEventDetails
          ?.name;
        if (entered && entered !== run.state && d.status === 'RUNNING') {
          run.state = entered;
          say(`    ${run.dc.id}: ${entered}`);
        }
        if (d.status !== 'RUNNING' && run.status !== d.status) {
          run.status = d.status;
          run.endedAt = Date.now();
          const output = JSON.parse(d.output ?? '{}') as {
            outcome?: { outcome?: string };
            runbook?: { attempt?: number };
          };
          run.outcome = output.outcome?.outcome ?? d.error ?? d.status;
          run.attempts = output.runbook?.attempt ?? 0;
          say(`  ■ ${run.dc.id}: ${run.outcome}${d.error && !output.outcome ? ` (${d.cause ?? ''})` : ''}`);
        }
      }
      if (runs.every((r) => r.status)) break;
      if (Date.now() > deadline) {
        say(
          `Timed out after ${opts.timeoutSeconds}s; still open: ${runs
            .filter((r) => !r.status)
            .map((r) => `${r.dc.id} (${r.state ?? 'no execution yet'})`)
            .join(', ')}`,
        );
        break;
      }
      await sleep(150);
    }
    for (const e of approvalErrors) say(`approval error: ${e}`);

    say('Checking every resource against its template…');
    for (const r of runs) {
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
      say(
        `  ${r.restored ? '✗' : '✓'} ${r.dc.stackName}: ${r.restored ?? 'matches its template (drift detection IN_SYNC)'}`,
      );
    }

    const table = new Table({
      head: ['resource', 'drift', 'detected by', 'outcome', 'attempts', 'duration'],
    });
    for (const r of runs) {
      table.push([
        `${r.dc.resourceType.split('::').pop()} ${r.resourceId}`,
        r.dc.drift,
        r.dc.rule ?? 'CloudFormation drift',
        `${r.outcome ?? 'none'}${r.dc.approval ? ' (approved)' : ''}`,
        String(r.attempts ?? 0),
        r.startedAt && r.endedAt ? `${((r.endedAt - r.startedAt) / 1000).toFixed(1)}s` : '—',
      ]);
    }
    print(table.toString());
    const ok = runs.every((r) => r.outcome === 'VERIFIED' && !r.restored);
    say(
      ok
        ? 'All drift remediated and verified.'
        : 'Some cases did not end VERIFIED with the resource restored (see above).',
    );
    return ok;
  } finally {
    // Shutdown waits for in-flight handler calls; never let it hold the demo's result hostage.
    const stopped = await Promise.race([sb.stop().then(() => true), sleep(5000).then(() => false)]);
    if (!stopped) say('(the sandbox took more than 5 s to stop; exiting anyway)');
  }
}
