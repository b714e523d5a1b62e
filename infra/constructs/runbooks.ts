/**
 * Runbooks: one SSM Automation document per runbook file, the role they run as (its permissions derived
 * from what the runbooks call, infra/runbook-permissions.ts), and the IAM the tasks need around them:
 * starting the policy's runbooks, watching executions, reading the remediated resources.
 */
import { Aws, CfnResource, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import {
  AWS_MANAGED_TABLE_FILE,
  type AwsManagedTable,
  grantsFor,
} from '../../tasks/shared/policy/aws-managed';
import type { NormalizedPolicy } from '../../tasks/shared/policy/schema';
import {
  type ArnContext,
  type DerivedStatement,
  type RunbookDocument,
  readPermissions,
  resourcesFor,
  runbookPermissions,
} from '../runbook-permissions';
import { scopeStatements } from '../runbook-scope';
import { ARN_CONTEXT, ackIam5, allow, NAG_ARN_CONTEXT } from './iam';
import { Concern } from './logical-ids';
import type { TaskFunction } from './task-function';

export interface RunbooksProps {
  /** The first-party runbooks (`loadRunbooks`); each becomes a document named after it. */
  readonly runbooks: readonly RunbookDocument[];
  /** The validated policy: which runbooks it starts and for which resource types. */
  readonly policy: NormalizedPolicy;
  /** The reviewed permission table of the AWS-managed runbooks a policy entry may name. */
  readonly awsManaged?: AwsManagedTable;
  /**
   * Prefix of the documents' names (`${namePrefix}${runbook}`): the policy passed in already names them so
   * (withNamePrefix); the runbook files keep their unprefixed names.
   * @default ''
   */
  readonly namePrefix?: string;
  /**
   * A fixed name for the AutomationAssumeRole (the member stack's, which the central start-runbook names
   * in StartAutomationExecution: tasks/shared/accounts.ts `memberAutomationRoleArn`).
   * @default a generated name
   */
  readonly automationRoleName?: string;
}

/** IAM path of the automation role and its boundary. */
export const AUTOMATION_PATH = '/drift-remediation/';

/** This account's automation executions (the trust's aws:SourceArn, the tasks' Get/Stop). */
function automationExecutions(ctx: ArnContext): string {
  return `arn:${ctx.partition}:ssm:${ctx.region}:${ctx.account}:automation-execution/*`;
}

/** Why a wildcard ARN of the automation role is acceptable. */
function wildcardReason(arn: string): string {
  if (arn === '*')
    return 'Describe calls and Cloud Control requests, which IAM does not scope to a resource (Cloud Control acts with the scoped service permissions).';
  return "Scoped by the policy's runbookScope: a tag condition or a declared name pattern (docs/security.md); the resource comes from each event.";
}

/** Own resource types whose ARN the runbooks are denied, and how to reference it. */
const OWN_ARN: Readonly<Record<string, (r: CfnResource) => string>> = {
  'AWS::IAM::Role': (r) => Token.asString(r.getAtt('Arn')),
  'AWS::IAM::ManagedPolicy': (r) => r.ref,
  'AWS::Lambda::Function': (r) => Token.asString(r.getAtt('Arn')),
  'AWS::DynamoDB::Table': (r) => Token.asString(r.getAtt('Arn')),
  'AWS::KMS::Key': (r) => Token.asString(r.getAtt('Arn')),
  'AWS::StepFunctions::StateMachine': (r) => r.ref,
};

/** The stack's resources of the OWN_ARN types, with their ARNs. */
function ownResources(stack: Stack): { type: string; resource: CfnResource; arn: string }[] {
  return stack.node
    .findAll()
    .filter((c): c is CfnResource => CfnResource.isCfnResource(c) && c.cfnResourceType in OWN_ARN)
    .map((resource) => ({
      type: resource.cfnResourceType,
      resource,
      arn: (OWN_ARN[resource.cfnResourceType] as (r: CfnResource) => string)(resource),
    }));
}

const EVENT_RESOURCE =
  "The resource comes from each event, so it is unknown at deploy time; scoped to its type's ARN pattern in this account.";

export class Runbooks extends Concern {
  readonly documents: readonly ssm.CfnDocument[];
  /** The AutomationAssumeRole: exactly what the runbooks call, assumable by SSM in this account. */
  readonly automationAssumeRole: iam.Role;
  /** Read actions for the policy's resource types (Cloud Control reads act with the caller's permissions). */
  readonly readActions: readonly string[];
  /**
   * Read actions for drift detection of whole in-scope stacks: the policy's types plus the policy's
   * `runbookScope.stackResourceTypes` (CloudFormation reads every resource with the caller's permissions).
   */
  readonly stackReadActions: readonly string[];
  private readonly props: RunbooksProps;
  private readonly namePrefix: string;

  constructor(scope: Construct, id: string, props: RunbooksProps) {
    super(scope, id);
    this.props = props;
    this.namePrefix = props.namePrefix ?? '';
    this.documents = props.runbooks.map(
      (r) =>
        new ssm.CfnDocument(this, `Runbook${r.name.replace(/[^A-Za-z0-9]/g, '')}`, {
          name: this.documentName(r.name),
          documentType: 'Automation',
          documentFormat: 'YAML',
          updateMethod: 'NewVersion',
          content: r.content,
        }),
    );
    const policyTypes = [...new Set(props.policy.entries.flatMap((e) => e.resourceTypes))].sort();
    this.readActions = [...new Set(policyTypes.flatMap((t) => readPermissions(t)))].sort();
    const stackTypes = [...new Set([...policyTypes, ...props.policy.runbookScope.stackResourceTypes])];
    this.stackReadActions = [...new Set(stackTypes.flatMap((t) => readPermissions(t)))].sort();
    this.automationAssumeRole = this.createAutomationRole();
  }

  /** The deployed name of the first-party runbook file `name`. */
  documentName(name: string): string {
    return `${this.namePrefix}${name}`;
  }

  private createAutomationRole(): iam.Role {
    // Keyed by runbook file name (the policy names first-party documents with the prefix).
    const typesByRunbook: Record<string, string[]> = {};
    for (const e of this.props.policy.entries) {
      const file = e.firstParty ? e.runbook.slice(this.namePrefix.length) : e.runbook;
      typesByRunbook[file] = [...new Set([...(typesByRunbook[file] ?? []), ...e.resourceTypes])];
    }
    const role = new iam.Role(this, 'AutomationAssumeRole', {
      description: 'Role the drift-remediation runbooks run as; permissions derived from runbooks/*.yaml',
      // A path of its own: the permissions boundary denies changes under it without naming the role.
      path: AUTOMATION_PATH,
      ...(this.props.automationRoleName ? { roleName: this.props.automationRoleName } : {}),
      assumedBy: new iam.ServicePrincipal('ssm.amazonaws.com', {
        conditions: {
          StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
          ArnLike: { 'aws:SourceArn': automationExecutions(ARN_CONTEXT) },
        },
      }),
    });
    const scoped = (ctx: ArnContext) =>
      scopeStatements(
        [...runbookPermissions(this.props.runbooks, ctx, typesByRunbook), ...this.awsManagedGrants(ctx)],
        this.props.policy.runbookScope,
        ctx,
      );
    for (const st of scoped(ARN_CONTEXT)) {
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: st.actions,
          resources: st.resources,
          ...(st.conditions ? { conditions: st.conditions } : {}),
        }),
      );
    }
    const wildcards = scoped(NAG_ARN_CONTEXT)
      .flatMap((st) => st.resources)
      .filter((r) => r.includes('*'));
    for (const r of new Set(wildcards)) ackIam5(role, `Resource::${r}`, wildcardReason(r));
    return role;
  }

  /**
   * What the AWS-managed runbooks the policy names call, from the reviewed table (runbooks/aws-managed.yaml);
   * a document outside it fails synth, since the role would have no permissions for it.
   */
  private awsManagedGrants(ctx: ArnContext): DerivedStatement[] {
    const names = [...new Set(this.props.policy.entries.filter((e) => !e.firstParty).map((e) => e.runbook))];
    return names.sort().flatMap((name) => {
      const doc = this.props.awsManaged?.documents[name];
      if (!doc) {
        throw new Error(
          `the policy names the AWS-managed runbook ${name}, which is not in the reviewed permission table (runbooks/${AWS_MANAGED_TABLE_FILE}): the automation role would have no permissions for it`,
        );
      }
      return grantsFor(doc, ctx).map((g) => ({ actions: g.actions, resources: [g.resource] }));
    });
  }

  /**
   * The never-touch rule, once every resource of the stack exists: an explicit Deny of everything on
   * the stack's own roles, policies, functions, tables, key, state machine and the stack itself (and on whatever CloudFormation tags with this stack's name), plus a permissions
   * boundary that caps the role at the runbooks' actions and repeats the Deny without naming resources
   * that depend on the role.
   */
  protectOwnResources(): void {
    const stack = Stack.of(this);
    const role = this.automationAssumeRole;
    const own = ownResources(stack);
    const ownStack = `arn:${Aws.PARTITION}:cloudformation:${Aws.REGION}:${Aws.ACCOUNT_ID}:stack/${Aws.STACK_NAME}/*`;
    const tagged = { StringEquals: { 'aws:ResourceTag/aws:cloudformation:stack-name': Aws.STACK_NAME } };
    const deny = (resources: string[], conditions?: Record<string, Record<string, string>>) =>
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        actions: ['*'],
        resources,
        ...(conditions ? { conditions } : {}),
      });
    // Managed policies of their own (attached through their Roles property, so they may name the role),
    // IAM's and the rest apart: one with every ARN would pass the 6,144-character managed policy limit.
    const isIam = (r: { type: string }) => r.type.startsWith('AWS::IAM::');
    new iam.ManagedPolicy(this, 'AutomationDenyOwnResources', {
      description: "The drift-remediation runbooks never touch their own stack's roles and policies",
      roles: [role],
      statements: [deny(own.filter(isIam).map((r) => r.arn)), deny(['*'], tagged)],
    });
    new iam.ManagedPolicy(this, 'AutomationDenyOwnServices', {
      description:
        "The drift-remediation runbooks never touch their own stack's functions, tables, key, state machine",
      roles: [role],
      statements: [deny([...own.filter((r) => !isIam(r)).map((r) => r.arn), ownStack])],
    });
    const allowed = new Set<string>();
    for (const st of this.roleStatements()) for (const a of st.Action) allowed.add(a);
    const boundaryResources = own
      .filter((r) => r.type === 'AWS::IAM::Role' && r.resource !== role.node.defaultChild)
      .map((r) => r.arn);
    const boundary = new iam.ManagedPolicy(this, 'AutomationBoundary', {
      description: 'Permissions boundary of the drift-remediation AutomationAssumeRole',
      path: AUTOMATION_PATH,
      statements: [
        new iam.PolicyStatement({ actions: [...allowed].sort(), resources: ['*'] }),
        deny([
          ...boundaryResources,
          ownStack,
          `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role${AUTOMATION_PATH}*`,
          `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:policy${AUTOMATION_PATH}*`,
        ]),
        deny(['*'], tagged),
      ],
    });
    iam.PermissionsBoundary.of(role).apply(boundary);
    ackIam5(
      boundary,
      'Resource::*',
      "A permissions boundary caps the actions; the role's own policy scopes them to in-scope resources.",
    );
    for (const a of allowed) {
      if (a.includes('*')) ackIam5(boundary, `Action::${a}`, 'Mirrors the role policy.');
    }
  }

  /** The Allow statements of the automation role's policy, as rendered. */
  private roleStatements(): { Action: string[] }[] {
    const doc = this.automationAssumeRole.node.tryFindChild('DefaultPolicy') as iam.Policy | undefined;
    const json = doc?.document.toJSON() as { Statement?: { Effect: string; Action: string | string[] }[] };
    return (json?.Statement ?? [])
      .filter((s) => s.Effect === 'Allow')
      .map((s) => ({ Action: Array.isArray(s.Action) ? s.Action : [s.Action] }));
  }

  /** Read access to the policy's resource types (Cloud Control GetResource plus the service reads). */
  grantResourceRead(role: iam.Role): void {
    // Cloud Control GetResource acts with the caller's permissions on the underlying service.
    allow(role, ['cloudformation:GetResource'], ['*']);
    for (const s of scopedStatements(this.readActions, ARN_CONTEXT)) allow(role, s.actions, s.resources);
    this.acknowledgeResourceRead(role);
  }

  /** Acknowledges the wildcard ARNs of grantResourceRead and readStatements on `role` (its own blanket acks aside). */
  acknowledgeResourceRead(role: iam.Role): void {
    const patterns = scopedStatements(this.stackReadActions, NAG_ARN_CONTEXT).flatMap((s) => s.resources);
    for (const r of new Set(patterns))
      if (r !== '*' && r.includes('*')) ackIam5(role, `Resource::${r}`, EVENT_RESOURCE);
  }

  /** The stack-drift read actions (stackReadActions) as statements grouped by the ARNs IAM allows for them. */
  readStatements(ctx: ArnContext = ARN_CONTEXT): { actions: string[]; resources: string[] }[] {
    return scopedStatements(this.stackReadActions, ctx);
  }

  /**
   * StartAutomationExecution on the policy's documents only, PassRole on the automation role only (to
   * SSM); the grantee's function waits for the documents to exist.
   */
  grantStart(fn: TaskFunction): void {
    const names = [...new Set(this.props.policy.entries.map((e) => e.runbook))].sort();
    // First-party documents live in this account; others (AWS-owned) have no account in their ARN.
    const ssmArn = (ctx: ArnContext, kind: string, name: string, suffix = '') => {
      const account = this.props.runbooks.some((r) => this.documentName(r.name) === name) ? ctx.account : '';
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
    allow(
      role,
      ['ssm:GetAutomationExecution', 'ssm:StopAutomationExecution'],
      [automationExecutions(ARN_CONTEXT)],
    );
    ackIam5(
      role,
      `Resource::${automationExecutions(NAG_ARN_CONTEXT)}`,
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
