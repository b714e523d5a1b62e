/**
 * Per-resource-type identifier checks. Every id is checked here before it reaches a runbook or a
 * mutating call, so a crafted Config/EventBridge payload cannot steer a runbook at something else.
 * The runbooks' `allowedPattern`s are the second line of defence and must accept no more than these.
 */
import { InvalidResourceIdError } from './errors';

export const RESOURCE_ID_PATTERNS: Readonly<Record<string, RegExp>> = {
  'AWS::EC2::SecurityGroup': /^sg-[0-9a-f]{8}([0-9a-f]{9})?$/,
  // S3 bucket naming rules (general purpose buckets): 3-63, lowercase, digits, dots, hyphens.
  'AWS::S3::Bucket': /^(?!xn--)(?!.*-s3alias$)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
  'AWS::IAM::Role': /^[\w+=,.@-]{1,64}$/,
  'AWS::IAM::Policy': /^[\w+=,.@-]{1,128}$/,
  'AWS::IAM::ManagedPolicy': /^(arn:aws[a-z-]*:iam::\d{12}:policy\/([\w+=,.@-]+\/)*)?[\w+=,.@-]{1,128}$/,
  'AWS::Lambda::Function': /^[a-zA-Z0-9-_]{1,64}$/,
  'AWS::CloudFormation::Stack':
    /^(arn:aws[a-z-]*:cloudformation:[a-z0-9-]+:\d{12}:stack\/)?[A-Za-z][A-Za-z0-9-]{0,127}(\/[0-9a-f-]{36})?$/,
};

/** Generic fallback for types without a specific rule (Cloud Control primary identifiers). */
const GENERIC_ID = /^[A-Za-z0-9][A-Za-z0-9_.:/=+@-]{0,1023}$/;

/** True when `id` is a well-formed identifier for `resourceType`. */
export function isValidResourceId(resourceType: string, id: string): boolean {
  const pattern = RESOURCE_ID_PATTERNS[resourceType] ?? GENERIC_ID;
  if (resourceType === 'AWS::S3::Bucket' && (/\.\./.test(id) || /^\d+\.\d+\.\d+\.\d+$/.test(id)))
    return false;
  return pattern.test(id);
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
