/**
 * Config rules the policy declares with `deploy: true`, as AWS managed rules scoped to the resources that
 * carry the policy's scope tag (docs/policy.md), periodic ones at the policy's frequency; the stack-drift rule gets
 * a role that may run drift detection and read the remediated resources.
 */
import { Aws } from 'aws-cdk-lib';
import * as config from 'aws-cdk-lib/aws-config';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type {
  ConfigRuleDecl,
  ExecutionFrequency,
  NormalizedPolicy,
  RuleScope,
} from '../../tasks/shared/policy/schema';
import { ackIam5, allow, NAG_ARN_CONTEXT, stacksArn } from './iam';
import { Concern } from './logical-ids';
import type { Runbooks } from './runbooks';
import { pascal } from './task-function';

function scopeOf(scope: RuleScope): config.RuleScope {
  return config.RuleScope.fromTag(scope.tagKey, scope.tagValue);
}

const DRIFT_CHECK = 'CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK';

const FREQUENCY: Record<ExecutionFrequency, config.MaximumExecutionFrequency> = {
  One_Hour: config.MaximumExecutionFrequency.ONE_HOUR,
  Three_Hours: config.MaximumExecutionFrequency.THREE_HOURS,
  Six_Hours: config.MaximumExecutionFrequency.SIX_HOURS,
  Twelve_Hours: config.MaximumExecutionFrequency.TWELVE_HOURS,
  TwentyFour_Hours: config.MaximumExecutionFrequency.TWENTY_FOUR_HOURS,
};

/**
 * The rule's MaximumExecutionFrequency: the policy's, else, for the stack-drift rule (periodic), AWS's own
 * default of 24 hours written out so the template says how often drift detection runs; other rules none.
 */
function frequencyOf(rule: ConfigRuleDecl): config.MaximumExecutionFrequency | undefined {
  const frequency =
    rule.maximumExecutionFrequency ??
    (rule.sourceIdentifier === DRIFT_CHECK ? 'TwentyFour_Hours' : undefined);
  return frequency ? FREQUENCY[frequency] : undefined;
}

export interface ConfigRulesProps {
  readonly policy: NormalizedPolicy;
  /** Read permissions of the remediated resource types (for the drift-detection role). */
  readonly runbooks: Runbooks;
}

export class ConfigRules extends Concern {
  readonly rules: readonly config.ManagedRule[];
  /** The role CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK runs drift detection as, if that rule is deployed. */
  driftCheckRole: iam.Role | undefined;

  constructor(scope: Construct, id: string, props: ConfigRulesProps) {
    super(scope, id);
    this.rules = props.policy.configRules
      .filter((r) => r.deploy)
      .map((rule) => {
        const inputParameters: Record<string, string> = { ...rule.inputParameters };
        if (rule.sourceIdentifier === DRIFT_CHECK && !inputParameters.cloudformationRoleArn) {
          this.driftCheckRole ??= this.createDriftCheckRole(props.runbooks);
          inputParameters.cloudformationRoleArn = this.driftCheckRole.roleArn;
        }
        const maximumExecutionFrequency = frequencyOf(rule);
        return new config.ManagedRule(this, `ConfigRule${pascal(rule.name)}`, {
          configRuleName: rule.name,
          identifier: rule.sourceIdentifier,
          ...(Object.keys(inputParameters).length ? { inputParameters } : {}),
          ...(maximumExecutionFrequency ? { maximumExecutionFrequency } : {}),
          // By tag, never by type alone: a type-wide scope covers this project's own resources too (its
          // functions would fail LAMBDA_FUNCTION_SETTINGS_CHECK). AWS takes types or a tag, not both.
          ruleScope: scopeOf(rule.scope ?? props.policy.scope),
        });
      });
  }

  private createDriftCheckRole(runbooks: Runbooks): iam.Role {
    const role = new iam.Role(this, 'StackDriftCheckRole', {
      description: 'Lets the CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK Config rule run drift detection',
      assumedBy: new iam.ServicePrincipal('config.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
      }),
    });
    allow(
      role,
      [
        'cloudformation:DetectStackDrift',
        'cloudformation:DescribeStacks',
        'cloudformation:DescribeStackResources',
      ],
      [stacksArn()],
    );
    allow(role, ['cloudformation:DescribeStackDriftDetectionStatus'], ['*']);
    for (const s of runbooks.readStatements()) allow(role, s.actions, s.resources);
    runbooks.acknowledgeResourceRead(role);
    ackIam5(
      role,
      `Resource::${stacksArn(NAG_ARN_CONTEXT)}`,
      'Drift detection reads every stack in this account and region (stack/*/*).',
    );
    ackIam5(
      role,
      'Resource::*',
      'DescribeStackDriftDetectionStatus and the describe calls accept no resource ARN.',
    );
    return role;
  }
}
