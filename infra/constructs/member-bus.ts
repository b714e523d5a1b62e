/**
 * OrganizationBus (central): the event bus the member stacks forward to. Its resource policy admits
 * PutEvents only from principals of the organization (aws:PrincipalOrgID); one rule moves what arrives
 * onto this account's default bus, where the intake, fast-path and callback rules already listen — so a
 * member's Config result, stack drift, CloudTrail call or automation status takes the same path as the
 * central account's own (intake then checks the account against the policy: tasks/shared/policy/scope.ts).
 */
import { Aws } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { Concern } from './logical-ids';

/** The organization bus's name (after the deployment's name prefix). */
export const ORGANIZATION_BUS_NAME = 'drift-remediation-organization';

export interface OrganizationBusProps {
  readonly organizationId: string;
  readonly namePrefix?: string;
}

export class OrganizationBus extends Concern {
  readonly bus: events.EventBus;

  constructor(scope: Construct, id: string, props: OrganizationBusProps) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', {
      eventBusName: `${props.namePrefix ?? ''}${ORGANIZATION_BUS_NAME}`,
      description: 'drift-remediation: events forwarded by the member stacks of the organization',
    });
    this.bus.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'OrganizationMembersOnly',
        principals: [new iam.AnyPrincipal()],
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
        conditions: { StringEquals: { 'aws:PrincipalOrgID': props.organizationId } },
      }),
    );
    const defaultBus = events.EventBus.fromEventBusName(this, 'DefaultBus', 'default');
    const role = new iam.Role(this, 'ToDefaultBusRole', {
      description: 'drift-remediation: moves member events onto the default bus',
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    });
    new events.Rule(this, 'ToDefaultBus', {
      eventBus: this.bus,
      description: 'drift-remediation: member events onto the default bus (intake, fast path, callbacks)',
      eventPattern: { source: events.Match.prefix('aws.') },
      targets: [new targets.EventBus(defaultBus, { role })],
    });
  }
}
