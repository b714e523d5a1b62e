/**
 * A function's execution role, as Lambda checks it at CreateFunction and UpdateFunctionConfiguration
 * (through the API and as CloudFormation's handler): the caller passes the role (iam:PassRole, with
 * `iam:PassedToService` lambda.amazonaws.com) and the role must exist and trust `lambda.amazonaws.com`, else
 * InvalidParameterValueException "The role defined for the function cannot be assumed by Lambda." (HTTP 400),
 * nothing created or changed. Not checked without an IAM module (then there are no roles).
 */
import { isRoleArn, type Principal, passRole } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import { AwsError, type SandboxContext } from '../../core/types';
import { serviceAssumeRefusal } from '../sts';

/** Why Lambda would refuse `roleArn` as a function's execution role (AWS's message), or undefined. */
export async function executionRoleRefusal(
  sandbox: SandboxContext,
  roleArn: string,
): Promise<string | undefined> {
  const why = await serviceAssumeRefusal(sandbox, roleArn, 'lambda.amazonaws.com');
  if (!why) return undefined;
  sandbox.log(`lambda: execution role refused: ${why}`);
  return 'The role defined for the function cannot be assumed by Lambda.';
}

/**
 * Checks the `Role` of a CreateFunction / UpdateFunctionConfiguration request (a malformed ARN is left to
 * the request's validation): `caller` needs iam:PassRole on it and Lambda must be able to assume it.
 */
export async function requireExecutionRole(
  sandbox: SandboxContext,
  caller: Principal | undefined,
  role: unknown,
  region: string,
): Promise<void> {
  if (!isRoleArn(role)) return;
  const lambda = serviceModule(sandbox, 'lambda');
  if (lambda) await passRole(sandbox, caller, lambda, role, 'lambda', region);
  const refusal = await executionRoleRefusal(sandbox, role);
  if (refusal) throw new AwsError('InvalidParameterValueException', refusal, 400);
}
