/**
 * The workflow's outcome names as plain data, with no validation library: contracts.ts builds its `Outcome`
 * schema from them, and the ops console's page (a browser bundle) lists them in its filter.
 */
export const OUTCOME_NAMES = [
  'VERIFIED',
  'SKIPPED',
  'ESCALATED',
  'REJECTED',
  'EXPIRED',
  'FAILED',
  'NOT_VERIFIED',
  /** Plan mode: what would run (runbook, resolved parameters, diff) is recorded; nothing is changed. */
  'PLANNED',
] as const;
export type OutcomeName = (typeof OUTCOME_NAMES)[number];

/** What the OUTCOMES table (and the console) can show: the workflow's outcomes plus ABORTED (abort-cleanup). */
export const AUDIT_OUTCOME_NAMES = [...OUTCOME_NAMES, 'ABORTED'] as const;
