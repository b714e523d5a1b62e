/**
 * Shared pieces of the benchmarks: the operation-time profile (faults + Config timing), the bench
 * policy (the shipped policy with the blast-radius breaker raised), fleets of security groups, and
 * reading what happened back from the sandbox (executions, histories, outcomes, automations).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateStackCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import { GetComplianceDetailsByConfigRuleCommand } from '@aws-sdk/client-config-service';
import { GetExecutionHistoryCommand, type HistoryEvent } from '@aws-sdk/client-sfn';
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { type AutomationExecutionMetadata, DescribeAutomationExecutionsCommand } from '@aws-sdk/client-ssm';
import { parse, stringify } from 'yaml';
import type { FaultConfig } from '../../sandbox/core/faults';
import { loadFaultConfig } from '../../sandbox/core/faults';
import { CASES, IN_SCOPE_TAGS } from '../../sandbox/demo/cases';
import type { AllServicesOptions } from '../../sandbox/services';
import { type E2E, scanAll, subscribeToEvents, until } from '../e2e/support/harness';

const ssh = CASES.find((c) => c.id === 'ssh-open');
if (!ssh?.rule) throw new Error('the ssh-open demo case is missing');
export const sshCase = ssh;
export const SSH_RULE = ssh.rule;

export const say = (line: string) => process.stderr.write(`${line}\n`);

/**
 * How long each operation takes, in emulated seconds: drift detection (DetectStackResourceDrift),
 * the security-group runbook (its revoke step waits runbook − drift seconds, then its last step runs
 * drift detection), and Config (a changed resource is evaluated `configSeconds` after the change; a
 * requested evaluation takes as long).
 */
export interface Profile {
  driftSeconds: number;
  runbookSeconds: number;
  configSeconds: number;
}

export const PROFILE: Profile = { driftSeconds: 5, runbookSeconds: 30, configSeconds: 60 };

/** The profile as sandbox options: fault latencies (merged over `extraFaults`, a --faults file) and Config timing. */
export function profileSandbox(
  p: Profile,
  extraFaults?: string,
): { faults: FaultConfig; serviceOptions: AllServicesOptions } {
  const base: FaultConfig = extraFaults ? loadFaultConfig(extraFaults) : { rules: {} };
  return {
    faults: {
      ...base,
      rules: {
        ...base.rules,
        'cloudformation:DetectStackResourceDrift': { latencySeconds: p.driftSeconds },
        'ec2:RevokeSecurityGroupIngress': { latencySeconds: p.runbookSeconds - p.driftSeconds },
      },
    },
    serviceOptions: {
      config: { evaluationDelaySeconds: p.configSeconds, ruleEvaluationSeconds: p.configSeconds },
    },
  };
}

export interface BenchPolicy {
  perRunbook: number;
  global: number;
  /** Remediations the blast-radius breaker allows per window. */
  blastRadius: number;
  /** concurrency.maxQueueSeconds (emulated seconds; default: the shipped policy's). */
  maxQueueSeconds?: number;
  /** verification.timeoutSeconds (emulated seconds; default: the shipped policy's). */
  verificationTimeoutSeconds?: number;
}

/** The shipped policy (runbooks/policy.yaml) with the bench's caps and breaker, written to a temp file. */
export function writeBenchPolicy(p: BenchPolicy): string {
  const doc = parse(readFileSync('runbooks/policy.yaml', 'utf8')) as {
    defaults: Record<string, Record<string, unknown>>;
  };
  doc.defaults.concurrency = { ...doc.defaults.concurrency, perRunbook: p.perRunbook, global: p.global };
  doc.defaults.blastRadius = { ...doc.defaults.blastRadius, maxRemediations: p.blastRadius };
  if (p.maxQueueSeconds !== undefined)
    doc.defaults.concurrency = { ...doc.defaults.concurrency, maxQueueSeconds: p.maxQueueSeconds };
  if (p.verificationTimeoutSeconds !== undefined)
    doc.defaults.verification = {
      ...doc.defaults.verification,
      timeoutSeconds: p.verificationTimeoutSeconds,
    };
  const file = join(mkdtempSync(join(tmpdir(), 'drift-bench-')), 'policy.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

/** Runs `fn` over `items`, at most `limit` at a time. */
export async function pool<T, R>(items: readonly T[], limit: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= items.length) return;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

function fleetTemplate(groups: number): string {
  const resources: Record<string, unknown> = {};
  for (let i = 0; i < groups; i++) {
    resources[`Web${String(i).padStart(3, '0')}`] = {
      Type: 'AWS::EC2::SecurityGroup',
      Properties: {
        GroupDescription: `bench web tier ${i}`,
        SecurityGroupIngress: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, CidrIp: '10.0.0.0/8', Description: 'HTTPS' },
        ],
      },
    };
  }
  return JSON.stringify({ AWSTemplateFormatVersion: '2010-09-09', Resources: resources });
}

/**
 * Deploys `n` security groups in stacks of up to `perStack` and returns their ids. With `waitCompliant`
 * it also waits until Config has reported every one COMPLIANT (so a later drift is a change).
 */
export async function deployFleet(
  e: E2E,
  prefix: string,
  n: number,
  opts: { perStack?: number; waitCompliant?: boolean; timeoutMs: number },
): Promise<string[]> {
  const perStack = opts.perStack ?? 50;
  const stacks = Array.from({ length: Math.ceil(n / perStack) }, (_, i) => ({
    name: `${prefix}-${String(i).padStart(3, '0')}`,
    groups: Math.min(perStack, n - i * perStack),
  }));
  const cf = e.c.cloudFormation;
  const ids = await pool(stacks, 4, async (s) => {
    await cf.send(
      new CreateStackCommand({
        StackName: s.name,
        TemplateBody: fleetTemplate(s.groups),
        Tags: IN_SCOPE_TAGS,
      }),
    );
    await until(
      `${s.name} CREATE_COMPLETE`,
      opts.timeoutMs,
      async () => {
        const st = (await cf.send(new DescribeStacksCommand({ StackName: s.name }))).Stacks?.[0]?.StackStatus;
        if (st?.endsWith('FAILED') || st?.includes('ROLLBACK')) throw new Error(`${s.name}: ${st}`);
        return st === 'CREATE_COMPLETE' ? true : undefined;
      },
      100,
    );
    const r = await cf.send(new DescribeStackResourcesCommand({ StackName: s.name }));
    return (r.StackResources ?? []).flatMap((x) => (x.PhysicalResourceId ? [x.PhysicalResourceId] : []));
  });
  const all = ids.flat();
  if (opts.waitCompliant) {
    const wanted = new Set(all);
    await until(
      `Config to report ${n} groups COMPLIANT`,
      opts.timeoutMs,
      async () => ((await compliantUnder(e, SSH_RULE, wanted)) >= wanted.size ? true : undefined),
      250,
    );
  }
  return all;
}

/** How many of `ids` Config reports COMPLIANT under `rule`. */
async function compliantUnder(e: E2E, rule: string, ids: ReadonlySet<string>): Promise<number> {
  let count = 0;
  let token: string | undefined;
  do {
    const r = await e.c.config.send(
      new GetComplianceDetailsByConfigRuleCommand({
        ConfigRuleName: rule,
        ComplianceTypes: ['COMPLIANT'],
        Limit: 100,
        NextToken: token,
      }),
    );
    for (const x of r.EvaluationResults ?? []) {
      const id = x.EvaluationResultIdentifier?.EvaluationResultQualifier?.ResourceId;
      if (id && ids.has(id)) count++;
    }
    token = r.NextToken;
  } while (token);
  return count;
}

/** Opens SSH to the world on every group (the drift), `limit` calls at a time. */
export async function injectDrift(e: E2E, ids: readonly string[], limit = 50): Promise<void> {
  await pool(ids, limit, (id) => sshCase.inject(e.c, id));
}

export interface TrackedExecution {
  arn: string;
  resourceId: string;
  status: string;
  startDate?: Date;
  stopDate?: Date;
  /** Outcome in the execution's output ($.outcome.outcome), when it closed with one. */
  outcome?: string;
}

/**
 * Follows the executions of the remediation state machine for `ids` until every one of those resources
 * has a closed execution and none is running, or the deadline passes. Returns every execution seen for
 * them and the real time (performance.now) the last one closed.
 *
 * It watches the Step Functions module in-process (DriftSandbox.watchExecutions) rather than listing and
 * describing executions through the API: an observer that polled ListExecutions every 250-2000 ms and
 * described each execution twice cost the emulator's event loop as much as several sandbox operations per
 * remediation, and its polling period blurred the moment the last execution closed.
 */
export async function trackExecutions(
  e: E2E,
  ids: readonly string[],
  deadline: number,
  onProgress?: (closed: number, running: number) => void,
): Promise<{ executions: TrackedExecution[]; lastClosedAt: number; timedOut: boolean }> {
  const wanted = new Set(ids);
  const byArn = new Map<string, TrackedExecution>();
  const closedResources = new Set<string>();
  let running = 0;
  let lastClosedAt = performance.now();
  let settle: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    settle = resolve;
  });
  const finished = () => running === 0 && closedResources.size >= wanted.size;
  const stop = e.sb.watchExecutions((change, d) => {
    if (d.stateMachineArn !== e.stack.stateMachineArn) return;
    let t = byArn.get(d.executionArn);
    if (!t) {
      const resourceId = (JSON.parse(d.input) as { event?: { resourceId?: string } }).event?.resourceId ?? '';
      if (!wanted.has(resourceId)) return;
      t = { arn: d.executionArn, resourceId, status: 'RUNNING' };
      byArn.set(d.executionArn, t);
      running++;
    }
    if (change === 'closed' && t.status === 'RUNNING') {
      Object.assign(t, closedInfo(d));
      running--;
      closedResources.add(t.resourceId);
      lastClosedAt = performance.now();
      if (finished()) settle();
    }
  });
  const progress = onProgress
    ? setInterval(() => onProgress(closedResources.size, running), 10_000)
    : undefined;
  const timer = setTimeout(settle, Math.max(0, deadline - Date.now()));
  try {
    if (!finished()) await done;
    return { executions: [...byArn.values()], lastClosedAt, timedOut: !finished() };
  } finally {
    stop();
    clearTimeout(timer);
    clearInterval(progress);
  }
}

function closedInfo(d: {
  status?: string;
  startDate?: Date;
  stopDate?: Date;
  output?: string;
}): Partial<TrackedExecution> {
  const output = JSON.parse(d.output ?? '{}') as { outcome?: { outcome?: string } };
  return {
    status: d.status ?? 'UNKNOWN',
    ...(d.startDate ? { startDate: d.startDate } : {}),
    ...(d.stopDate ? { stopDate: d.stopDate } : {}),
    ...(output.outcome?.outcome ? { outcome: output.outcome.outcome } : {}),
  };
}

/** Every history event of an execution. */
export async function history(e: E2E, arn: string): Promise<HistoryEvent[]> {
  const out: HistoryEvent[] = [];
  let token: string | undefined;
  do {
    const page = await e.c.sfn.send(
      new GetExecutionHistoryCommand({ executionArn: arn, maxResults: 1000, nextToken: token }),
    );
    out.push(...(page.events ?? []));
    token = page.nextToken;
  } while (token);
  return out;
}

/**
 * The outcome recorded per resource id among `ids` (OUTCOMES table): the latest one an execution recorded,
 * else the latest one intake recorded. Intake's rows lose to an execution's because intake also records
 * SKIPPED for a NON_COMPLIANT result that arrives after a remediation (still running, out of order) — later
 * than, and not instead of, its outcome.
 */
export async function recordedOutcomes(e: E2E, ids: readonly string[]): Promise<Map<string, string>> {
  const wanted = new Set(ids);
  const latest = new Map<string, { rank: string; outcome: string }>();
  for (const item of await scanAll(e, e.env('OUTCOMES_TABLE'))) {
    const key = String(item.resourceKey ?? '');
    const id = key.slice(key.lastIndexOf('/') + 1);
    if (!wanted.has(id)) continue;
    const rank = `${item.recordedBy === 'intake' ? 0 : 1}#${String(item.sk ?? '')}`;
    const prev = latest.get(id);
    if (!prev || rank > prev.rank) latest.set(id, { rank, outcome: String(item.outcome ?? 'UNKNOWN') });
  }
  return new Map([...latest].map(([id, v]) => [id, v.outcome]));
}

/** Every SSM Automation execution the sandbox knows (metadata: document, status, start and end). */
export async function automations(e: E2E): Promise<AutomationExecutionMetadata[]> {
  const out: AutomationExecutionMetadata[] = [];
  let token: string | undefined;
  do {
    const page = await e.c.ssm.send(
      new DescribeAutomationExecutionsCommand({ MaxResults: 50, NextToken: token }),
    );
    out.push(...(page.AutomationExecutionMetadataList ?? []));
    token = page.NextToken;
  } while (token);
  return out;
}

/** The most automations running at once (sweep over start/end times; a running one ends at `now`). */
export function peakConcurrent(list: readonly AutomationExecutionMetadata[], now: Date): number {
  const points: Array<[number, number]> = [];
  for (const a of list) {
    if (!a.ExecutionStartTime) continue;
    points.push([a.ExecutionStartTime.getTime(), 1]);
    points.push([(a.ExecutionEndTime ?? now).getTime(), -1]);
  }
  // Ends before starts at the same instant: a slot handed on is not two holders.
  points.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0;
  let peak = 0;
  for (const [, d] of points) {
    cur += d;
    peak = Math.max(peak, cur);
  }
  return peak;
}

/**
 * Counts invocations of one installed task function (e.g. acquire-slot) and the distinct executions
 * that made them (from the payload's `execution.name`, when the payload has one).
 */
export function countInvocations(e: E2E, task: string): { calls: () => number; executions: () => number } {
  const name = e.stack.functions[task];
  const fn = name ? e.sb.functions.get(name) : undefined;
  if (!fn) throw new Error(`no installed function for task ${task}`);
  let calls = 0;
  const executions = new Set<string>();
  const original = fn.invoke.bind(fn);
  fn.invoke = (payload: unknown) => {
    calls++;
    const ex = executionNameIn(payload);
    if (ex) executions.add(ex);
    return original(payload);
  };
  return { calls: () => calls, executions: () => executions.size };
}

function executionNameIn(payload: unknown, depth = 0): string | undefined {
  if (!payload || typeof payload !== 'object' || depth > 3) return undefined;
  const p = payload as Record<string, unknown>;
  const ex = p.execution;
  if (ex && typeof ex === 'object') {
    const n = (ex as Record<string, unknown>).name ?? (ex as Record<string, unknown>).id;
    if (typeof n === 'string') return n;
  }
  for (const v of Object.values(p)) {
    const found = executionNameIn(v, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/**
 * Subscribes (an EventBridge rule of the benchmark's own with an SQS target, as any subscriber would)
 * to the COMPLIANT "Config Rules Compliance Change" events of `rule`; the returned function drains the
 * queue and gives, per resource id, the latest change's resultRecordedTime (ms, emulated clock).
 */
export async function captureCompliant(
  e: E2E,
  rule: string,
  name: string,
): Promise<() => Promise<Map<string, number>>> {
  const queueUrl = await subscribeToEvents(e, name, {
    source: ['aws.config'],
    'detail-type': ['Config Rules Compliance Change'],
    detail: { configRuleName: [rule], newEvaluationResult: { complianceType: ['COMPLIANT'] } },
  });
  const seen = new Map<string, number>();
  return async () => {
    for (let i = 0; i < 10_000; i++) {
      const r = await e.c.sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
      );
      const msgs = r.Messages ?? [];
      if (msgs.length === 0) break;
      for (const m of msgs) {
        const detail = (JSON.parse(m.Body ?? '{}') as { detail?: ComplianceDetail }).detail;
        const at = Date.parse(detail?.newEvaluationResult?.resultRecordedTime ?? '');
        const id = detail?.resourceId;
        if (id && Number.isFinite(at)) seen.set(id, Math.max(at, seen.get(id) ?? 0));
        await e.c.sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
      }
    }
    return seen;
  };
}

interface ComplianceDetail {
  resourceId?: string;
  newEvaluationResult?: { resultRecordedTime?: string };
}

export const seconds = (ms: number) => Math.round(ms) / 1000;
