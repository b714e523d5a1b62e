/**
 * Deterministic Step Functions execution names. The same (account, region, rule or 'cloudformation',
 * resource type, resource id, orderingTimestamp, sweep generation) always maps to the same name, so a
 * redelivered SQS message, a duplicate EventBridge event or a sweep re-find of an event already handled is
 * absorbed by StartExecution (ExecutionAlreadyExists) instead of starting a second remediation.
 *
 * Format: `<rule-or-cfn, ≤16>-<type name, ≤12>-<account, 12>-<region, short, ≤8>-<sha256 hex, 26>`: at
 * most 78 characters of [A-Za-z0-9_-] (Step Functions allows 80; this character set also keeps CloudWatch
 * logging happy). The region is shortened as AWS abbreviates it (`us-west-2` → `usw2`, `ap-southeast-1` →
 * `apse1`); the hash covers the full one.
 */
import { createHash } from 'node:crypto';
import type { RemediationEvent } from './contracts';

export const EXECUTION_NAME_MAX = 80;
const HASH_CHARS = 26;

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

const DIRECTIONS: ReadonlyArray<[RegExp, string]> = [
  [/northeast/g, 'ne'],
  [/southeast/g, 'se'],
  [/northwest/g, 'nw'],
  [/southwest/g, 'sw'],
  [/north/g, 'n'],
  [/south/g, 's'],
  [/east/g, 'e'],
  [/west/g, 'w'],
  [/central/g, 'c'],
];

/** `us-west-2` → `usw2`, `ap-southeast-1` → `apse1`, `eu-central-1` → `euc1` (at most 8 characters). */
export function shortRegion(region: string): string {
  let s = region.toLowerCase();
  for (const [from, to] of DIRECTIONS) s = s.replace(from, to);
  return readable(s.replace(/-/g, ''), 8);
}

export function executionName(
  event: Pick<
    RemediationEvent,
    'awsAccountId' | 'awsRegion' | 'configRuleName' | 'resourceType' | 'resourceId' | 'orderingTimestamp'
  > & {
    generation?: number | undefined;
  },
): string {
  const rule = ruleOrSource(event);
  const parts = [
    event.awsAccountId,
    event.awsRegion,
    rule,
    event.resourceType,
    event.resourceId,
    canonicalTimestamp(event.orderingTimestamp),
  ];
  if (event.generation) parts.push(`generation ${event.generation}`);
  const hash = createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, HASH_CHARS);
  const typeName = event.resourceType.split('::').pop() ?? event.resourceType;
  const place = `${readable(event.awsAccountId, 12)}-${shortRegion(event.awsRegion)}`;
  return `${readable(rule, 16)}-${readable(typeName, 12)}-${place}-${hash}`;
}

/** True for a string Step Functions accepts as an execution name (and CloudWatch logging too). */
export function isValidExecutionName(name: string): boolean {
  return name.length >= 1 && name.length <= EXECUTION_NAME_MAX && /^[A-Za-z0-9_-]+$/.test(name);
}
