/**
 * Manual starts: a `drift-remediation.manual` event whose detail is a RemediationEvent (docs/operations.md,
 * "Starting a remediation by hand"). The manual-start entry (tasks/manual-start/) builds it with the
 * authenticated caller as `requestedBy` and sends it to the intake queue; the intake rule also forwards
 * such events put on the default bus, whose requester is then not authenticated. Intake takes the account
 * and region from the envelope (EventBridge, or the entry, sets them).
 */
import { randomUUID } from 'node:crypto';
import type { RemediationEvent } from './contracts';

export const MANUAL_SOURCE = 'drift-remediation.manual';
export const MANUAL_DETAIL_TYPE = 'Manual Remediation Request';

export interface ManualStart {
  resourceType: string;
  resourceId: string;
  /** The Config rule to remediate against; without one, the entry for CloudFormation drift of the type. */
  configRuleName?: string | undefined;
  requestedBy?: string | undefined;
  accountId: string;
  region: string;
  now: Date;
}

/** The detail of a manual start request (a RemediationEvent; intake validates it like any other). */
export function manualStartEvent(m: ManualStart): RemediationEvent {
  return {
    eventId: `manual-${randomUUID()}`,
    source: 'manual',
    ...(m.configRuleName ? { configRuleName: m.configRuleName } : {}),
    resourceType: m.resourceType,
    resourceId: m.resourceId,
    awsAccountId: m.accountId,
    awsRegion: m.region,
    complianceType: m.configRuleName ? 'NON_COMPLIANT' : 'DRIFTED',
    orderingTimestamp: m.now.toISOString(),
    ...(m.requestedBy ? { requestedBy: m.requestedBy } : {}),
  };
}
