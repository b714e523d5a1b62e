/**
 * The central tasks' way into member accounts (docs/security.md "IAM trust chain"): the tasks that read,
 * detect drift on, or remediate a resource get CENTRAL_ACCOUNT_ID and MEMBER_ROLE_NAME, and — when the
 * policy has an organization section — sts:AssumeRole on exactly the member execution role of each member
 * account the policy lists (no wildcard account). Single-account policies grant nothing.
 */
import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { ENV } from '../../tasks/shared/env';
import type { NormalizedPolicy } from '../../tasks/shared/policy/schema';
import type { TaskFunction } from './task-function';
import type { TaskName } from './tasks';

/** The tasks that act where the event's resource lives (tasks/shared/accounts.ts clients). */
export const MEMBER_TASKS = [
  'intake',
  'fast-path',
  'plan',
  'confirm-compliance',
  'detect-drift',
  'check-drift',
  'describe-drift',
  'start-runbook',
  'recheck-drift',
  'await-compliance',
  // A member's automation status and compliance, read where they live; a stuck automation stopped there.
  'wait-callback',
  'reconcile-waits',
  'abort-cleanup',
] as const satisfies readonly TaskName[];

/** The member execution role ARNs of the policy's members (empty without an organization section). */
export function memberRoleArns(policy: NormalizedPolicy): string[] {
  const org = policy.organization;
  if (!org) return [];
  return org.members.map((m) => `arn:${Aws.PARTITION}:iam::${m.account}:role/${org.memberRoleName}`);
}

/** Environment and AssumeRole rights of MEMBER_TASKS. */
export function grantMemberAccess(
  functions: Readonly<Record<TaskName, TaskFunction>>,
  policy: NormalizedPolicy,
): void {
  const roles = memberRoleArns(policy);
  for (const task of MEMBER_TASKS) {
    const fn = functions[task];
    fn.addEnvironment(ENV.CENTRAL_ACCOUNT_ID, Aws.ACCOUNT_ID);
    fn.addEnvironment(ENV.MEMBER_ROLE_NAME, policy.organization?.memberRoleName ?? '');
    if (roles.length === 0) continue;
    fn.taskRole.addToPrincipalPolicy(
      new iam.PolicyStatement({ sid: 'AssumeMemberRole', actions: ['sts:AssumeRole'], resources: roles }),
    );
  }
}
