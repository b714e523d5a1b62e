/**
 * Deterministic Step Functions execution names. The same (rule or 'cloudformation', resource type,
 * resource id, orderingTimestamp, sweep generation) always maps to the same name, so a redelivered SQS message, a
 * duplicate EventBridge event or a sweep re-find of an event already handled is absorbed by
 * StartExecution (ExecutionAlreadyExists) instead of starting a second remediation.
 *
 * Format: `<rule-or-cfn, ≤20>-<type name, ≤16>-<sha256 hex, 40>`: at most 78 characters of [A-Za-z0-9_-]
 * (Step Functions allows 80; this character set also keeps CloudWatch logging happy).
 */
import { createHash } from 'node:crypto';
import type { RemediationEvent } from './contracts';

export const EXECUTION_NAME_MAX = 80;
const HASH_CHARS = 40;

/** Canonical ISO form, so `…:00Z` and `…:00.000Z` (or `+00:00`) name the same execution. */
export function canonicalTimestamp(ts: string): string {
  const ms = Date.parse(ts);
  if (Number.isNaN(ms)) throw new RangeError(`not a timestamp: ${ts}`);
  return new Date(ms).toISOString();
}

function readable(text: string, max: number): string {
  const s = text
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .replace(/^-|-$/g, '');
  return s.slice(0, max).replace(/-$/, '') || 'x';
}

/** The rule name, or 'cloudformation' for drift events that carry no Config rule. */
export function ruleOrSource(event: Pick<RemediationEvent, 'configRuleName'>): string {
  return event.configRuleName ?? 'cloudformation';
}

export function executionName(
  event: Pick<RemediationEvent, 'configRuleName' | 'resourceType' | 'resourceId' | 'orderingTimestamp'> & {
    generation?: number | undefined;
  },
): string {
  const rule = ruleOrSource(event);
  const parts = [rule, event.resourceType, event.resourceId, canonicalTimestamp(event.orderingTimestamp)];
  // Generation 0 (absent) keeps the names of before generations existed.
  if (event.generation) parts.push(`generation ${event.generation}`);
  const hash = createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, HASH_CHARS);
  const typeName = event.resourceType.split('::').pop() ?? event.resourceType;
  return `${readable(rule, 20)}-${readable(typeName, 16)}-${hash}`;
}

/** True for a string Step Functions accepts as an execution name (and CloudWatch logging too). */
export function isValidExecutionName(name: string): boolean {
  return name.length >= 1 && name.length <= EXECUTION_NAME_MAX && /^[A-Za-z0-9_-]+$/.test(name);
}
