/**
 * Runbooks: one SSM Automation document per runbook file, the role they run as (its permissions derived
 * from what the runbooks call, infra/runbook-permissions.ts), and the IAM the tasks need around them:
 * starting the policy's runbooks, watching executions, reading the remediated resources.
 */
import { Aws } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import type { NormalizedPolicy } from '../../tasks/shared/policy/schema';
import {
  type ArnContext,
  type RunbookDocument,
  readPermissions,
  resourcesFor,
  runbookPermissions,
} from '../runbook-permissions';
import { ARN_CONTEXT, ackIam5, allow, NAG_ARN_CONTEXT } from './iam';
import { Concern } from './logical-ids';
import type { TaskFunction } from './task-function';

export interface RunbooksProps {
  /** The first-party runbooks (`loadRunbooks`); each becomes a document named after it. */
  readonly runbooks: readonly RunbookDocument[];
  /** The validated policy: which runbooks it starts and for which resource types. */
  readonly policy: NormalizedPolicy;
}

const EVENT_RESOURCE =
  "The resource comes from each event, so it is unknown at deploy time; scoped to its type's ARN pattern in this account.";

export class Runbooks extends Concern {
  readonly documents: readonly ssm.CfnDocument[];
  /** The AutomationAssumeRole: exactly what the runbooks call, assumable by SSM in this account. */
  readonly automationAssumeRole: iam.Role;
  /** Read actions for the policy's resource types (Cloud Control reads act with the caller's permissions). */
  readonly readActions: readonly string[];
  private readonly props: RunbooksProps;

  constructor(scope: Construct, id: string, props: RunbooksProps) {
    super(scope, id);
    this.props = props;
    this.documents = props.runbooks.map(
      (r) =>
        new ssm.CfnDocument(this, `Runbook${r.name.replace(/[^A-Za-z0-9]/g, '')}`, {
          name: r.name,
          documentType: 'Automation',
          documentFormat: 'YAML',
          updateMethod: 'NewVersion',
          content: r.content,
        }),
    );
    const policyTypes = [...new Set(props.policy.entries.flatMap((e) => e.resourceTypes))].sort();
    this.readActions = [...new Set(policyTypes.flatMap((t) => readPermissions(t)))].sort();
    this.automationAssumeRole = this.createAutomationRole();
  }

  private createAutomationRole(): iam.Role {
    const typesByRunbook: Record<string, string[]> = {};
    for (const e of this.props.policy.entries) {
      typesByRunbook[e.runbook] = [...new Set([...(typesByRunbook[e.runbook] ?? []), ...e.resourceTypes])];
    }
    const role = new iam.Role(this, 'AutomationAssumeRole', {
      description: 'Role the drift-remediation runbooks run as; permissions derived from runbooks/*.yaml',
      assumedBy: new iam.ServicePrincipal('ssm.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    });
    for (const st of runbookPermissions(this.props.runbooks, ARN_CONTEXT, typesByRunbook)) {
      role.addToPolicy(new iam.PolicyStatement({ actions: st.actions, resources: st.resources }));
    }
    const wildcards = runbookPermissions(this.props.runbooks, NAG_ARN_CONTEXT, typesByRunbook)
      .flatMap((st) => st.resources)
      .filter((r) => r.includes('*'));
    for (const r of new Set(wildcards)) {
      ackIam5(
        role,
        `Resource::${r}`,
        r === '*' ? 'Describe/list calls that IAM does not scope to a resource.' : EVENT_RESOURCE,
      );
    }
    return role;
  }

  /** Read access to the policy's resource types (Cloud Control GetResource plus the service reads). */
  grantResourceRead(role: iam.Role): void {
    // Cloud Control GetResource acts with the caller's permissions on the underlying service.
    allow(role, ['cloudformation:GetResource'], ['*']);
    for (const s of scopedStatements(this.readActions, ARN_CONTEXT)) allow(role, s.actions, s.resources);
    this.acknowledgeResourceRead(role);
  }

  /** Acknowledges the wildcard ARNs of grantResourceRead on `role` (its own blanket acks aside). */
  acknowledgeResourceRead(role: iam.Role): void {
    const patterns = scopedStatements(this.readActions, NAG_ARN_CONTEXT).flatMap((s) => s.resources);
    for (const r of new Set(patterns))
      if (r !== '*' && r.includes('*')) ackIam5(role, `Resource::${r}`, EVENT_RESOURCE);
  }

  /** The read actions as statements grouped by the ARNs IAM allows for them. */
  readStatements(ctx: ArnContext = ARN_CONTEXT): { actions: string[]; resources: string[] }[] {
    return scopedStatements(this.readActions, ctx);
  }

  /**
   * StartAutomationExecution on the policy's documents only, PassRole on the automation role only (to
   * SSM); the grantee's function waits for the documents to exist.
   */
  grantStart(fn: TaskFunction): void {
    const names = [...new Set(this.props.policy.entries.map((e) => e.runbook))].sort();
    // First-party documents live in this account; others (AWS-owned) have no account in their ARN.
    const ssmArn = (ctx: ArnContext, kind: string, name: string, suffix = '') => {
      const account = this.props.runbooks.some((r) => r.name === name) ? ctx.account : '';
      return `arn:${ctx.partition}:ssm:${ctx.region}:${account}:${kind}/${name}${suffix}`;
    };
    allow(
      fn.taskRole,
      ['ssm:StartAutomationExecution'],
      names.flatMap((n) => [
        ssmArn(ARN_CONTEXT, 'document', n),
        ssmArn(ARN_CONTEXT, 'automation-definition', n, ':*'),
      ]),
    );
    fn.taskRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['iam:PassRole'],
        resources: [this.automationAssumeRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ssm.amazonaws.com' } },
      }),
    );
    for (const d of this.documents) fn.node.addDependency(d);
    for (const n of names) {
      ackIam5(
        fn.taskRole,
        `Resource::${ssmArn(NAG_ARN_CONTEXT, 'automation-definition', n, ':*')}`,
        `Any version of the ${n} runbook the policy names.`,
      );
    }
  }

  /** Get/StopAutomationExecution on this account's automation executions. */
  grantExecutionControl(role: iam.Role): void {
    const executions = (ctx: ArnContext) =>
      `arn:${ctx.partition}:ssm:${ctx.region}:${ctx.account}:automation-execution/*`;
    allow(role, ['ssm:GetAutomationExecution', 'ssm:StopAutomationExecution'], [executions(ARN_CONTEXT)]);
    ackIam5(
      role,
      `Resource::${executions(NAG_ARN_CONTEXT)}`,
      'Automation executions are created per remediation; their ids are only known at run time.',
    );
  }
}

/** Groups actions by the resource ARNs IAM allows for them. */
function scopedStatements(
  actions: readonly string[],
  ctx: ArnContext,
): { actions: string[]; resources: string[] }[] {
  const byKey = new Map<string, { actions: string[]; resources: string[] }>();
  for (const a of actions) {
    const resources = resourcesFor(a, ctx);
    const key = resources.join('\n');
    const entry = byKey.get(key) ?? { actions: [], resources };
    entry.actions.push(a);
    byKey.set(key, entry);
  }
  return [...byKey.values()];
}
