/**
 * The state machine's state names as plain data (no CDK, no validation library): workflows/remediation.ts
 * builds the definition with them, and the ops console (sandbox/console, started with the sandbox) reads
 * executions by them without loading aws-cdk-lib.
 */
import type { OutcomeName } from '../tasks/shared/outcome-names';

/** Every state's name. */
export const STATES = {
  plan: 'Plan remediation',
  confirm: 'Confirm non-compliance',
  /** After Confirm: the plan's decision and the confirmation in one Choice (remediate / skip / escalate). */
  stillNonCompliant: 'Remediate, skip or escalate?',
  detectDrift: 'Detect drift',
  waitDriftDetection: 'Wait for drift detection',
  checkDrift: 'Check drift detection',
  describeDrift: 'Describe drift',
  /** After Describe drift: still detecting → wait; template violates the rule → ESCALATED; plan mode → PLANNED; approval; or on. */
  afterDrift: 'Drift described: escalate, approve or remediate?',
  requestApproval: 'Request approval',
  notifyApprovers: 'Notify approvers',
  acquireSlot: 'Acquire remediation slot',
  leaveQueue: 'Leave slot queue',
  startRunbook: 'Start runbook',
  runbookFinished: 'Runbook finished?',
  waitRunbookRetry: 'Wait before retrying runbook',
  recheckDrift: 'Re-check drift',
  driftResolved: 'Drift resolved?',
  waitRecheck: 'Wait before re-checking drift',
  awaitCompliance: 'Wait for compliance',
  releaseAfterFailure: 'Release remediation slot after failure',
  succeeded: 'Remediation succeeded',
  notSucceeded: 'Remediation did not succeed',
  outcomeNotRecorded: 'Outcome could not be recorded',
} as const;

/** The Task state that records each outcome (record-outcome with the outcome in its payload). */
export const OUTCOME_STATES: Readonly<Record<OutcomeName, string>> = {
  VERIFIED: 'Outcome: VERIFIED',
  SKIPPED: 'Outcome: SKIPPED',
  ESCALATED: 'Outcome: ESCALATED',
  REJECTED: 'Outcome: REJECTED',
  EXPIRED: 'Outcome: EXPIRED',
  FAILED: 'Outcome: FAILED',
  NOT_VERIFIED: 'Outcome: NOT_VERIFIED',
  PLANNED: 'Outcome: PLANNED',
};

/**
 * The Record tasks of Plan remediation's own failures (its Catches). Only there is the state still the
 * execution's input, whose keys other than `event` a StartExecution caller chose: these record the event
 * and the error alone (docs/security.md "What a StartExecution caller can influence").
 */
export const PLAN_FAILURE_STATES = {
  ESCALATED: 'Outcome: ESCALATED (Plan failed)',
  FAILED: 'Outcome: FAILED (Plan failed)',
} as const satisfies Partial<Record<OutcomeName, string>>;
export type PlanFailureOutcome = keyof typeof PLAN_FAILURE_STATES;
