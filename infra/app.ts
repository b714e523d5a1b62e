/**
 * The CDK app: the central stack with the DriftRemediation construct and the member stack
 * (infra/member-stack.ts, deployed to member accounts with StackSets), checked by cdk-nag (AwsSolutions).
 * Environment-agnostic, so `npx cdk synth` works offline without credentials. The policy file can be
 * switched with `-c policyFile=path`, the account-level name prefix set with `-c namePrefix=…`.
 */
import { App, CfnOutput, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { DriftRemediation, type DriftRemediationProps } from './drift-remediation';
import { DriftRemediationMemberStack } from './member-stack';

export class DriftRemediationStack extends Stack {
  readonly remediation: DriftRemediation;
  constructor(
    scope: Construct,
    id: string,
    props: StackProps & { remediation?: DriftRemediationProps } = {},
  ) {
    super(scope, id, props);
    this.remediation = new DriftRemediation(this, 'DriftRemediation', props.remediation);
    const r = this.remediation;
    // What operators need after `cdk deploy` (docs/operations.md).
    const outputs: Record<string, [string, string]> = {
      StateMachineArn: [
        r.workflow.stateMachine.stateMachineArn,
        'the remediation workflow (Step Functions console)',
      ],
      ApprovalTopicArn: [
        r.approvals.topic.topicArn,
        'subscribe approvers here (filter on the approver attribute)',
      ],
      OutcomeTopicArn: [r.workflow.outcomeTopic.topicArn, 'outcomes that need a human'],
      ManualStartUrl: [
        r.manualStart.url.url,
        'drift-remediation remediate signs its request to this URL (IAM: lambda:InvokeFunctionUrl)',
      ],
      IntakeQueueUrl: [r.intake.queue.queueUrl, 'events waiting for intake'],
      DeadLetterQueueUrl: [r.intake.deadLetterQueue.queueUrl, 'events intake could not process (alarmed)'],
      OutcomesTableName: [r.storage.tables.outcomes.tableName, 'the audit trail: one item per outcome'],
      OrderingTableName: [r.storage.tables.ordering.tableName, 'ordering marks and break-glass items'],
    };
    for (const [id, [value, description]] of Object.entries(outputs))
      new CfnOutput(this, id, { value, description });
  }
}

export interface BuildAppOptions {
  /** CDK context (e.g. `{ 'aws:cdk:bundling-stacks': [] }` to skip bundling in tests). */
  context?: Record<string, unknown>;
  remediation?: DriftRemediationProps;
  /** Add cdk-nag AwsSolutions checks (default true). */
  nag?: boolean;
  outdir?: string;
}

export const STACK_NAME = 'DriftRemediation';
/** The member stack (one per member account-region, deployed with StackSets). */
export const MEMBER_STACK_NAME = 'DriftRemediationMember';

export function buildApp(opts: BuildAppOptions = {}): {
  app: App;
  stack: DriftRemediationStack;
  member: DriftRemediationMemberStack;
} {
  const app = new App({
    ...(opts.context ? { context: opts.context } : {}),
    ...(opts.outdir ? { outdir: opts.outdir } : {}),
  });
  const policyFile = app.node.tryGetContext('policyFile') as string | undefined;
  const alarmEmail = app.node.tryGetContext('alarmEmail') as string | undefined;
  const namePrefix = app.node.tryGetContext('namePrefix') as string | undefined;
  // `-c memberConfigRules=false`: the member stacks leave the Config rules to something else.
  const memberConfigRules = String(app.node.tryGetContext('memberConfigRules') ?? 'true') !== 'false';
  const stack = new DriftRemediationStack(app, STACK_NAME, {
    description:
      'drift-remediation: Config/CloudFormation drift -> Step Functions -> SSM Automation, verified',
    remediation: {
      ...(policyFile ? { policyFile } : {}),
      ...(alarmEmail ? { alarmEmail } : {}),
      ...(namePrefix ? { namePrefix } : {}),
      ...opts.remediation,
    },
  });
  const member = new DriftRemediationMemberStack(app, MEMBER_STACK_NAME, {
    description:
      'drift-remediation member: forwards drift events to the central account, runs its runbooks here',
    centralStackName: STACK_NAME,
    deployConfigRules: memberConfigRules,
    ...(policyFile ? { policyFile } : {}),
    ...(namePrefix ? { namePrefix } : {}),
    ...(opts.remediation?.policyFile ? { policyFile: opts.remediation.policyFile } : {}),
    ...(opts.remediation?.runbooksDir ? { runbooksDir: opts.remediation.runbooksDir } : {}),
    ...(opts.remediation?.namePrefix ? { namePrefix: opts.remediation.namePrefix } : {}),
  });
  if (opts.nag !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, member };
}

const isMain = import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('infra/app.ts');
if (isMain) buildApp().app.synth();
