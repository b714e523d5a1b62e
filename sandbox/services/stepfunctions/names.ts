/** Step Functions name and ARN rules (the parts StartExecution/CreateStateMachine validate). */
import { AwsError } from '../../core/types';

// AWS: 1-80 chars; no white space, < > { } [ ] ? * " # % \ ^ | ~ ` $ & , ; : / or control characters.
const INVALID_NAME_CHARS = /[\s<>{}[\]?*"#%\\^|~`$&,;:/]/;

function hasControlChar(name: string): boolean {
  for (const ch of name) {
    const c = ch.codePointAt(0) ?? 0;
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return true;
  }
  return false;
}

export function assertValidName(name: string, what = 'execution'): void {
  if (name.length < 1 || name.length > 80 || INVALID_NAME_CHARS.test(name) || hasControlChar(name)) {
    throw new AwsError(
      'InvalidName',
      `Invalid Name: '${name}' (${what} names are 1-80 characters without whitespace or special characters)`,
    );
  }
}

export function stateMachineArn(region: string, accountId: string, name: string): string {
  return `arn:aws:states:${region}:${accountId}:stateMachine:${name}`;
}

export function executionArn(
  region: string,
  accountId: string,
  stateMachineName: string,
  name: string,
): string {
  return `arn:aws:states:${region}:${accountId}:execution:${stateMachineName}:${name}`;
}

/** Parses an execution ARN into its state machine name and execution name. */
export function parseExecutionArn(arn: string): { stateMachineName: string; name: string } | undefined {
  const m = /^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:execution:([^:]+):([^:]+)$/.exec(arn);
  return m?.[1] && m[2] ? { stateMachineName: m[1], name: m[2] } : undefined;
}
