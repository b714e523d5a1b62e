/** Environment variables. Every function gets the same value for the same key (infra/ guarantees it). */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const v = env[name];
  if (!v) throw new Error(`environment variable ${name} is not set`);
  return v;
}

export function intEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n))
    throw new Error(`environment variable ${name} must be an integer, got ${JSON.stringify(v)}`);
  return n;
}

/**
 * The env var names the stack sets (one place, so infra/ and tasks/ cannot drift apart). An enum, not an
 * object: esbuild inlines each `ENV.X` as its string in the task bundles, so no bundle carries the whole
 * table of names (~790 bytes each; docs/operations.md "Bundles"). Each member's value is its name.
 */
export enum ENV {
  LEASES_TABLE = 'LEASES_TABLE',
  /** Executions waiting for a remediation slot, FIFO per runbook (tasks/shared/leases-queue.ts). */
  SLOT_QUEUE_TABLE = 'SLOT_QUEUE_TABLE',
  APPROVALS_TABLE = 'APPROVALS_TABLE',
  OUTCOMES_TABLE = 'OUTCOMES_TABLE',
  ORDERING_TABLE = 'ORDERING_TABLE',
  /** Executions waiting for a runbook or a compliance result by task token (tasks/shared/waits.ts). */
  WAITS_TABLE = 'WAITS_TABLE',
  STATE_MACHINE_ARN = 'STATE_MACHINE_ARN',
  APPROVAL_TOPIC_ARN = 'APPROVAL_TOPIC_ARN',
  OUTCOME_TOPIC_ARN = 'OUTCOME_TOPIC_ARN',
  APPROVAL_BASE_URL = 'APPROVAL_BASE_URL',
  SIGNING_SECRET_ARN = 'SIGNING_SECRET_ARN',
  AUTOMATION_ASSUME_ROLE_ARN = 'AUTOMATION_ASSUME_ROLE_ARN',
  /** Path of the normalized policy JSON (bundled next to the handler). */
  POLICY_FILE = 'POLICY_FILE',
  /** Prefix of the Config rules the stack deploys (tasks/shared/policy/prefix.ts); empty: none. */
  NAME_PREFIX = 'NAME_PREFIX',
  /** Comma-separated Config rule names from the policy (sweep). */
  CONFIG_RULES = 'CONFIG_RULES',
  /** Prefix of first-party runbook document names (runbooks/*.yaml are deployed as `${prefix}${Name}`). */
  RUNBOOK_PREFIX = 'RUNBOOK_PREFIX',
  /** URL of the intake SQS queue (sweep sends its findings there). */
  INTAKE_QUEUE_URL = 'INTAKE_QUEUE_URL',
  /** Comma-separated names of the remediation's own roles, whose calls the CloudTrail fast path never fights. */
  FAST_PATH_OWN_ROLES = 'FAST_PATH_OWN_ROLES',
  /** The central (deploying) account: its resources use the plain clients (tasks/shared/accounts.ts). */
  CENTRAL_ACCOUNT_ID = 'CENTRAL_ACCOUNT_ID',
  /** The member execution role's name (policy organization.memberRoleName); empty: single account. */
  MEMBER_ROLE_NAME = 'MEMBER_ROLE_NAME',
  /** URL of the notifications queue (Record outcome and Abort cleanup put notifications there). */
  NOTIFY_QUEUE_URL = 'NOTIFY_QUEUE_URL',
  /** Comma-separated outcomes some notification channel hears (the policy's `notifications`); empty: none. */
  NOTIFY_OUTCOMES = 'NOTIFY_OUTCOMES',
}
