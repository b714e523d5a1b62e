/** Small IAM helpers shared by the task grants: one statement, stack ARNs, nag-format ARNs. */
import { Aws, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import type { ArnContext } from '../runbook-permissions';

/** Tokens for ARNs in the template. */
export const ARN_CONTEXT: ArnContext = {
  partition: Aws.PARTITION,
  region: Aws.REGION,
  account: Aws.ACCOUNT_ID,
};
/** The same ARNs as cdk-nag prints them in finding ids (`Resource::arn:<AWS::Partition>:…`). */
export const NAG_ARN_CONTEXT: ArnContext = {
  partition: '<AWS::Partition>',
  region: '<AWS::Region>',
  account: '<AWS::AccountId>',
};

/** Every stack in this account and region. */
export function stacksArn(ctx: ArnContext = ARN_CONTEXT): string {
  return `arn:${ctx.partition}:cloudformation:${ctx.region}:${ctx.account}:stack/*/*`;
}

/** Adds one Allow statement to the role's policy. */
export function allow(role: iam.Role, actions: string[], resources: string[]): void {
  role.addToPolicy(new iam.PolicyStatement({ actions, resources }));
}

/** Acknowledges one AwsSolutions-IAM5 finding (`Resource::…` or `Action::…`) on `scope` with its reason. */
export function ackIam5(scope: IConstruct, finding: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-IAM5[${finding}]`, reason });
}

/** Grants actions on every stack (drift detection/reads on the stack named by each event), acknowledged. */
export function allowOnStacks(role: iam.Role, actions: string[]): void {
  allow(role, actions, [stacksArn()]);
  ackIam5(
    role,
    `Resource::${stacksArn(NAG_ARN_CONTEXT)}`,
    'Drift detection and drift reads on the stack named by each event (any stack in this account and region).',
  );
}
