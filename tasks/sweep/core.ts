/**
 * sweep (scheduled): re-finds NON_COMPLIANT results that no event delivered (lost events, results from
 * before the stack existed) and sends them to the intake queue.
 *
 * Input (SweepInput): the scheduler's payload, `{ configRules?: string[] }` (default: env CONFIG_RULES);
 * other keys are ignored.
 * Output: `{ rules, found, sent, failed, missingRules }`.
 *
 * For each rule: GetComplianceDetailsByConfigRule(ComplianceTypes NON_COMPLIANT), paginated → one
 * `drift-remediation.sweep` envelope per result, whose detail is a RemediationEvent with the evaluation's
 * OrderingTimestamp: a re-find of a result already handled maps to the same execution name (absorbed by
 * intake) — unless that execution ended without VERIFIED: then intake starts the next generation of it
 * (tasks/intake/core.ts, "Sweep generations"), bounded by the entry's loop breaker. SendMessageBatch, 10 per call; entries that fail for a non-sender reason are retried; if any
 * still fail, TransientServiceError (the whole sweep is idempotent, so a retry is safe).
 */
import {
  type ConfigServiceClient,
  type EvaluationResult,
  GetComplianceDetailsByConfigRuleCommand,
} from '@aws-sdk/client-config-service';
import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import * as v from 'valibot';
import type { RemediationEvent } from '../shared/contracts';
import { awsCall, TransientServiceError } from '../shared/errors';
import { executionName } from '../shared/execution-name';
import { logger } from '../shared/powertools';

export const SWEEP_SOURCE = 'drift-remediation.sweep';
export const SWEEP_DETAIL_TYPE = 'Drift Remediation Sweep Finding';
const RuleName = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_\-.]{1,128}$/));

export const SweepInput = v.looseObject({ configRules: v.optional(v.array(RuleName)) });
export type SweepInput = v.InferOutput<typeof SweepInput>;

export interface SweepDeps {
  config: ConfigServiceClient;
  sqs: SQSClient;
  queueUrl: string;
  /** Rules to sweep when the input names none (env CONFIG_RULES). */
  configRules: string[];
  accountId: string;
  region: string;
  now: () => Date;
  /** SendMessageBatch attempts per entry (default 3). */
  maxSendAttempts?: number;
}

export interface SweepResult {
  rules: number;
  found: number;
  sent: number;
  failed: number;
  missingRules: string[];
}

/** Comma/space separated rule names → list (env CONFIG_RULES). */
export function parseRuleList(text: string | undefined): string[] {
  return (text ?? '')
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function toEvent(e: EvaluationResult, deps: SweepDeps): RemediationEvent | undefined {
  const q = e.EvaluationResultIdentifier?.EvaluationResultQualifier;
  const at = e.EvaluationResultIdentifier?.OrderingTimestamp ?? e.ResultRecordedTime;
  if (!q?.ConfigRuleName || !q.ResourceType || !q.ResourceId || !at) return undefined;
  const base = {
    source: 'sweep' as const,
    configRuleName: q.ConfigRuleName,
    resourceType: q.ResourceType,
    resourceId: q.ResourceId,
    awsAccountId: deps.accountId,
    awsRegion: deps.region,
    complianceType: 'NON_COMPLIANT' as const,
    orderingTimestamp: at.toISOString(),
  };
  return { eventId: `sweep-${executionName(base)}`.slice(0, 128), ...base };
}

class Sender {
  private pending: SendMessageBatchRequestEntry[] = [];
  sent = 0;
  failed = 0;
  constructor(private readonly deps: SweepDeps) {}

  async add(event: RemediationEvent): Promise<void> {
    const envelope = {
      version: '0',
      id: event.eventId,
      'detail-type': SWEEP_DETAIL_TYPE,
      source: SWEEP_SOURCE,
      account: this.deps.accountId,
      region: this.deps.region,
      time: this.deps.now().toISOString(),
      resources: [],
      detail: event,
    };
    this.pending.push({ Id: String(this.pending.length), MessageBody: JSON.stringify(envelope) });
    if (this.pending.length === 10) await this.flush();
  }

  async flush(): Promise<void> {
    let batch = this.pending;
    this.pending = [];
    const attempts = this.deps.maxSendAttempts ?? 3;
    for (let attempt = 1; batch.length > 0; attempt++) {
      const current = batch;
      const r = await awsCall('SendMessageBatch', () =>
        this.deps.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.deps.queueUrl, Entries: current })),
      );
      this.sent += r.Successful?.length ?? 0;
      const failures = r.Failed ?? [];
      const retry = failures.filter((f) => !f.SenderFault).map((f) => f.Id);
      const permanent = failures.filter((f) => f.SenderFault);
      for (const f of permanent) logger.error('sweep message rejected', { code: f.Code, message: f.Message });
      this.failed += permanent.length;
      batch = current.filter((e) => retry.includes(e.Id));
      if (batch.length && attempt >= attempts) {
        this.failed += batch.length;
        throw new TransientServiceError(
          `SendMessageBatch: ${batch.length} message(s) still failing after ${attempts} attempts`,
        );
      }
    }
  }
}

export async function sweep(input: SweepInput, deps: SweepDeps): Promise<SweepResult> {
  const rules = input.configRules ?? deps.configRules;
  const sender = new Sender(deps);
  const missingRules: string[] = [];
  let found = 0;
  for (const rule of rules) {
    let token: string | undefined;
    try {
      do {
        const r = await awsCall('GetComplianceDetailsByConfigRule', () =>
          deps.config.send(
            new GetComplianceDetailsByConfigRuleCommand({
              ConfigRuleName: rule,
              ComplianceTypes: ['NON_COMPLIANT'],
              Limit: 100,
              NextToken: token,
            }),
          ),
        );
        for (const e of r.EvaluationResults ?? []) {
          if (e.ComplianceType && e.ComplianceType !== 'NON_COMPLIANT') continue;
          const event = toEvent(e, deps);
          if (!event) continue;
          found++;
          await sender.add(event);
        }
        token = r.NextToken;
      } while (token);
    } catch (err) {
      if (err instanceof Error && err.name === 'NoSuchConfigRuleException') {
        logger.warn('config rule not found; skipped', { rule });
        missingRules.push(rule);
        continue;
      }
      throw err;
    }
  }
  await sender.flush();
  const result = { rules: rules.length, found, sent: sender.sent, failed: sender.failed, missingRules };
  logger.info('sweep done', { ...result });
  return result;
}
