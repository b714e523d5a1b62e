/**
 * The member stack: one per member account-region, deployed with CloudFormation StackSets
 * (service-managed, to OUs; docs/operations.md "Deploying to an organization"). The central account, the
 * organization and the central bus's region are StackSet parameters, so one template serves every member.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Aws, CfnParameter, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AWS_MANAGED_TABLE_FILE, loadAwsManagedTable } from '../tasks/shared/policy/aws-managed';
import { loadPolicyFile } from '../tasks/shared/policy/load';
import { withNamePrefix } from '../tasks/shared/policy/prefix';
import { DEFAULT_MEMBER_ROLE_NAME } from '../tasks/shared/policy/schema';
import { Member } from './constructs/member';
import { ORGANIZATION_BUS_NAME } from './constructs/member-bus';
import { REPO_ROOT } from './constructs/task-function';
import { loadRunbooks } from './runbook-permissions';

export interface MemberStackProps extends StackProps {
  readonly policyFile?: string;
  readonly runbooksDir?: string;
  readonly namePrefix?: string;
  /** The central stack's name (its roles are `<name>-…`). */
  readonly centralStackName: string;
  /** Deploy the policy's `deploy: true` Config rules in every member (default true). */
  readonly deployConfigRules?: boolean;
}

export class DriftRemediationMemberStack extends Stack {
  readonly member: Member;
  constructor(scope: Construct, id: string, props: MemberStackProps) {
    super(scope, id, props);
    const policyFile = resolve(props.policyFile ?? join(REPO_ROOT, 'runbooks/policy.yaml'));
    const runbooksDir = resolve(props.runbooksDir ?? join(REPO_ROOT, 'runbooks'));
    const namePrefix = props.namePrefix ?? '';
    const runbooks = loadRunbooks(runbooksDir);
    const tableFile = [runbooksDir, join(REPO_ROOT, 'runbooks')]
      .map((d) => join(d, AWS_MANAGED_TABLE_FILE))
      .find((f) => existsSync(f));
    const awsManaged = tableFile ? loadAwsManagedTable(tableFile) : undefined;
    const knownRunbooks = runbooks.map((r) => r.name);
    const loaded = loadPolicyFile(policyFile, { knownRunbooks, ...(awsManaged ? { awsManaged } : {}) });
    const policy = withNamePrefix(loaded, namePrefix);
    const param = (name: string, description: string, pattern: string, def?: string) =>
      new CfnParameter(this, name, {
        type: 'String',
        description,
        allowedPattern: pattern,
        ...(def ? { default: def } : {}),
      }).valueAsString;
    const centralAccountId = param('CentralAccountId', 'The central drift-remediation account', '^\\d{12}$');
    const organizationId = param(
      'OrganizationId',
      'The organization id (o-…)',
      '^o-[a-z0-9]{10,32}$',
      policy.organization?.id,
    );
    const centralRegion = param('CentralRegion', 'The central deployment region', '^[a-z]{2}(-[a-z]+)+-\\d$');
    const centralBusArn = `arn:${Aws.PARTITION}:events:${centralRegion}:${centralAccountId}:event-bus/${namePrefix}${ORGANIZATION_BUS_NAME}`;
    this.member = new Member(this, 'Member', {
      policy,
      runbooks,
      namePrefix,
      ...(awsManaged ? { awsManaged } : {}),
      centralAccountId,
      centralStackName: props.centralStackName,
      organizationId,
      centralBusArn,
      memberRoleName: policy.organization?.memberRoleName ?? DEFAULT_MEMBER_ROLE_NAME,
      ...(props.deployConfigRules === false ? { deployConfigRules: false } : {}),
    });
  }
}
