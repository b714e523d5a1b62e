/**
 * Per-resource-type identifier checks. Every id is checked here before it reaches a runbook or a
 * mutating call, so a crafted Config/EventBridge payload cannot steer a runbook at something else.
 * The runbooks' `allowedPattern`s are the second line of defence and must accept no more than these.
 */
import { InvalidResourceIdError } from './errors';

/** How ids of one resource type look: the only place these rules are written. */
export interface ResourceIdRule {
  pattern: RegExp;
  /** Ids the pattern alone would accept but the type forbids. */
  refuse?: readonly RegExp[];
  /** Well-formed ids (the runbook lint checks each runbook's allowedPattern accepts them). */
  examples: readonly string[];
}

const STACK_ID: ResourceIdRule = {
  pattern:
    /^(arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack\/)?[A-Za-z][A-Za-z0-9-]{0,127}(\/[0-9a-f-]{36})?$/,
  examples: [
    'drift-demo-web',
    'arn:aws:cloudformation:us-east-1:000000000000:stack/web/0f3c5c20-8a6b-11ee-b9d1-0242ac120002',
  ],
};

/** Per type; a type not listed is checked against GENERIC_RESOURCE_ID. */
export const RESOURCE_ID_RULES: Readonly<Record<string, ResourceIdRule>> = {
  'AWS::EC2::SecurityGroup': {
    pattern: /^sg-[0-9a-f]{8}([0-9a-f]{9})?$/,
    examples: ['sg-0123abcd', 'sg-0123456789abcdef0'],
  },
  // S3 bucket naming rules (general purpose buckets): 3-63, lowercase, digits, dots, hyphens.
  'AWS::S3::Bucket': {
    pattern: /^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
    refuse: [/\.\./, /^\d+\.\d+\.\d+\.\d+$/],
    examples: ['drift-demo-data-000000000000', 'logs.example.com', 'abc'],
  },
  'AWS::IAM::Role': {
    pattern: /^[\w+=,.@-]{1,64}$/,
    examples: ['drift-demo-reporting', 'Role_With+Chars=,.@-'],
  },
  'AWS::IAM::Policy': { pattern: /^[\w+=,.@-]{1,128}$/, examples: ['reports-read'] },
  'AWS::IAM::ManagedPolicy': {
    pattern: /^(arn:aws[a-z-]*:iam::\d{12}:policy\/([\w+=,.@-]+\/)*)?[\w+=,.@-]{1,128}$/,
    examples: ['arn:aws:iam::000000000000:policy/demo', 'metrics-read'],
  },
  'AWS::Lambda::Function': {
    pattern: /^[a-zA-Z0-9-_]{1,64}$/,
    examples: ['drift-demo-thumbnail', 'fn_1'],
  },
  'AWS::CloudFormation::Stack': STACK_ID,
};

/** Generic fallback for types without a specific rule (Cloud Control primary identifiers). */
export const GENERIC_RESOURCE_ID: ResourceIdRule = {
  pattern: /^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,1023}$/,
  examples: ['arn:aws:iam::000000000000:policy/demo', 'sg-0123abcd', 'my-table'],
};

/**
 * Policy parameter sources (`from:` paths) that always carry an id of one type, whatever the entry's
 * type; `event.resourceId` carries an id of the entry's own types.
 */
export const ID_SOURCE_TYPES: Readonly<Record<string, string>> = {
  'event.stackName': 'AWS::CloudFormation::Stack',
  'drift.stackName': 'AWS::CloudFormation::Stack',
};

/** The id rule for a type (the generic fallback when it has none of its own). */
export function resourceIdRule(resourceType: string): ResourceIdRule {
  return RESOURCE_ID_RULES[resourceType] ?? GENERIC_RESOURCE_ID;
}

/** True when `id` is a well-formed identifier for `resourceType`. */
export function isValidResourceId(resourceType: string, id: string): boolean {
  const rule = resourceIdRule(resourceType);
  return rule.pattern.test(id) && !(rule.refuse ?? []).some((r) => r.test(id));
}

/** Throws InvalidResourceIdError unless `id` is well-formed for `resourceType`. */
export function assertResourceId(resourceType: string, id: string): void {
  if (!isValidResourceId(resourceType, id)) {
    throw new InvalidResourceIdError(
      `resource id ${JSON.stringify(id.slice(0, 80))} is not a valid ${resourceType} id`,
      {
        resourceType,
      },
    );
  }
}
