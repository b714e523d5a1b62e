/**
 * Member: what one member account-region holds so the central deployment can remediate there
 * (docs/security.md "IAM trust chain", docs/operations.md "Deploying to an organization").
 *
 * - `ForwardToCentral`: an EventBridge rule on the default bus forwarding the Config compliance changes of
 *   the policy's rules, CloudFormation drift results, SSM automation status changes (the runbook waits) and
 *   the CloudTrail fast-path calls (the same derivation as the central FastPath) to the central
 *   organization bus, through a role that may only PutEvents there.
 * - the member execution role (`memberRoleName`, fixed so the central tasks can name it): assumable only by
 *   the central stack's roles (aws:PrincipalArn) of the organization (aws:PrincipalOrgID); reads the
 *   policy's resource types, runs drift detection, reads compliance, starts and watches the policy's
 *   runbooks and passes only the automation role to SSM. It cannot change a resource itself.
 * - the runbooks (`Runbooks`): the documents and the AutomationAssumeRole SSM runs them as, named
 *   `<memberRoleName>-Automation`, derived from the runbooks and scoped exactly as in the central account.
 * - the policy's `deploy: true` Config rules (`ConfigRules`, the same registry and construct as the central
 *   stack's), unless `deployConfigRules` is false (a member whose rules come from elsewhere, e.g. a
 *   conformance pack: the rule names must still match the policy's).
 */
import { Aws } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { CLOUDTRAIL_DETAIL_TYPE, fastPathCalls } from '../../tasks/fast-path/calls';
import { MEMBER_AUTOMATION_SUFFIX } from '../../tasks/shared/accounts';
import type { AwsManagedTable } from '../../tasks/shared/policy/aws-managed';
import type { NormalizedPolicy } from '../../tasks/shared/policy/schema';
import { TERMINAL_STATUSES } from '../../tasks/shared/runbook-status';
import { AUTOMATION_STATUS_CHANGE, COMPLIANCE_CHANGE } from '../../tasks/wait-callback/core';
import type { RunbookDocument } from '../runbook-permissions';
import { ConfigRules } from './config-rules';
import { ackIam5, allow, stacksArn } from './iam';
import { Concern } from './logical-ids';
import { Runbooks } from './runbooks';

export interface MemberProps {
  readonly policy: NormalizedPolicy;
  readonly runbooks: readonly RunbookDocument[];
  readonly namePrefix?: string;
  readonly awsManaged?: AwsManagedTable;
  /** The central account (a StackSet parameter). */
  readonly centralAccountId: string;
  /** The central stack's name: only its roles (`<name>-…`) may assume the member role. */
  readonly centralStackName: string;
  /** The organization id (aws:PrincipalOrgID of the trust). */
  readonly organizationId: string;
  /** The central organization bus's ARN. */
  readonly centralBusArn: string;
  /** The member execution role's name (the policy's organization.memberRoleName). */
  readonly memberRoleName: string;
  /** Deploy the policy's `deploy: true` Config rules in the member (default true). */
  readonly deployConfigRules?: boolean;
}

/** The events a member forwards (sources and detail types), one pattern each. */
export function forwardedPatterns(policy: NormalizedPolicy): events.EventPattern[] {
  const rules = [...new Set(policy.entries.flatMap((e) => e.configRules))].sort();
  const patterns: events.EventPattern[] = [
    {
      source: ['aws.cloudformation'],
      detailType: ['CloudFormation Drift Detection Status Change'],
      detail: { 'status-details': { 'stack-drift-status': ['DRIFTED'] } },
    },
    {
      source: ['aws.ssm'],
      detailType: [AUTOMATION_STATUS_CHANGE],
      detail: { Status: [...TERMINAL_STATUSES] },
    },
  ];
  if (rules.length) {
    patterns.unshift({
      source: ['aws.config'],
      detailType: [COMPLIANCE_CHANGE],
      detail: { messageType: ['ComplianceChangeNotification'], configRuleName: rules },
    });
  }
  const calls = fastPathCalls(policy);
  if (policy.fastPath?.enabled !== false && calls.eventNames.length > 0) {
    patterns.push({
      source: calls.sources,
      detailType: [CLOUDTRAIL_DETAIL_TYPE],
      detail: { eventSource: calls.eventSources, eventName: calls.eventNames },
    });
  }
  return patterns;
}

export class Member extends Concern {
  readonly executionRole: iam.Role;
  readonly runbooks: Runbooks;
  readonly configRules: ConfigRules | undefined;

  constructor(scope: Construct, id: string, props: MemberProps) {
    super(scope, id);
    this.runbooks = new Runbooks(this, 'Runbooks', {
      runbooks: props.runbooks,
      policy: props.policy,
      namePrefix: props.namePrefix ?? '',
      ...(props.awsManaged ? { awsManaged: props.awsManaged } : {}),
      automationRoleName: `${props.memberRoleName}${MEMBER_AUTOMATION_SUFFIX}`,
    });
    this.executionRole = this.createExecutionRole(props);
    this.configRules =
      props.deployConfigRules === false
        ? undefined
        : new ConfigRules(this, 'ConfigRules', { policy: props.policy, runbooks: this.runbooks });
    this.forwardEvents(props);
    this.runbooks.protectOwnResources();
  }

  private createExecutionRole(props: MemberProps): iam.Role {
    const centralRoles = `arn:${Aws.PARTITION}:iam::${props.centralAccountId}:role/${props.centralStackName}-*`;
    const role = new iam.Role(this, 'ExecutionRole', {
      roleName: props.memberRoleName,
      description:
        'drift-remediation: the central tasks read, detect drift and start runbooks here as this role',
      assumedBy: new iam.AccountPrincipal(props.centralAccountId).withConditions({
        ArnLike: { 'aws:PrincipalArn': centralRoles },
        StringEquals: { 'aws:PrincipalOrgID': props.organizationId },
      }),
    });
    this.runbooks.grantResourceRead(role);
    allow(
      role,
      [
        'cloudformation:DetectStackDrift',
        'cloudformation:DetectStackResourceDrift',
        'cloudformation:DescribeStackResourceDrifts',
        'cloudformation:DescribeStackResources',
        'cloudformation:DescribeStacks',
      ],
      [stacksArn()],
    );
    // Drift detection reads every resource of the stack with the caller's permissions.
    for (const s of this.runbooks.readStatements()) allow(role, s.actions, s.resources);
    allow(role, ['cloudformation:DescribeStackDriftDetectionStatus'], ['*']);
    allow(
      role,
      [
        'config:GetComplianceDetailsByResource',
        'config:GetComplianceDetailsByConfigRule',
        'config:StartConfigRulesEvaluation',
        'config:ListDiscoveredResources',
      ],
      ['*'],
    );
    const executions = `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:automation-execution/*`;
    allow(role, ['ssm:GetAutomationExecution', 'ssm:StopAutomationExecution'], [executions]);
    const names = [...new Set(props.policy.entries.map((e) => e.runbook))].sort();
    const own = new Set(props.runbooks.map((r) => this.runbooks.documentName(r.name)));
    const doc = (kind: string, n: string, suffix = '') =>
      `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${own.has(n) ? Aws.ACCOUNT_ID : ''}:${kind}/${n}${suffix}`;
    allow(
      role,
      ['ssm:StartAutomationExecution'],
      names.flatMap((n) => [doc('document', n), doc('automation-definition', n, ':*')]),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.runbooks.automationAssumeRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ssm.amazonaws.com' } },
      }),
    );
    this.acknowledge(role);
    return role;
  }

  private acknowledge(role: iam.Role): void {
    const why =
      'Compliance reads, Config evaluation and drift-detection status take no resource ARN; automation executions are created per run; documents carry a version suffix.';
    for (const f of [
      'Resource::*',
      'Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:automation-execution/*',
      `Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/*`,
    ])
      ackIam5(role, f, why);
    for (const n of this.runbooks.documents.map((d) => d.name ?? '')) {
      ackIam5(
        role,
        `Resource::arn:<AWS::Partition>:ssm:<AWS::Region>:<AWS::AccountId>:automation-definition/${n}:*`,
        why,
      );
    }
  }

  private forwardEvents(props: MemberProps): void {
    const bus = events.EventBus.fromEventBusArn(this, 'CentralBus', props.centralBusArn);
    const role = new iam.Role(this, 'ForwardRole', {
      description: 'drift-remediation: EventBridge puts the forwarded events on the central bus',
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    });
    forwardedPatterns(props.policy).forEach((eventPattern, i) => {
      new events.Rule(this, `ForwardToCentral${i}`, {
        description: 'drift-remediation: forward to the central organization bus',
        eventPattern,
        targets: [new targets.EventBus(bus, { role })],
      });
    });
  }
}
