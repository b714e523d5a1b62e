/**
 * A function's execution role, as Lambda checks it at CreateFunction and UpdateFunctionConfiguration
 * (through the API and as CloudFormation's handler): the caller passes the role (iam:PassRole, with
 * `iam:PassedToService` lambda.amazonaws.com) and the role must exist and trust `lambda.amazonaws.com`, else
 * InvalidParameterValueException "The role defined for the function cannot be assumed by Lambda." (HTTP 400),
 * nothing created or changed. Not checked without an IAM module (then there are no roles).
 *
 * Lambda assumes the role as a service does (the IAM User Guide's cross-service confused deputy prevention,
 * which Lambda's developer guide points to for execution roles): with the function's account as
 * `aws:SourceAccount` and the function's (unqualified) ARN as `aws:SourceArn`, so a trust policy conditioned on
 * them admits Lambda only for that account or function.
 */
import { isRoleArn, type Principal, passRole } from '../../core/authz';
import { serviceModule } from '../../core/sandbox';
import { AwsError, type SandboxContext } from '../../core/types';
import { serviceAssumeRefusal } from '../sts';

/** The context Lambda's AssumeRole of `functionArn`'s execution role carries. */
export function lambdaSourceContext(functionArn: string): Record<string, string> {
  return { 'aws:SourceAccount': functionArn.split(':')[4] ?? '', 'aws:SourceArn': functionArn };
}

/**
 * Why Lambda would refuse `roleArn` as the execution role of the function `functionArn` (AWS's message), or
 * undefined.
 */
export async function executionRoleRefusal(
  sandbox: SandboxContext,
  roleArn: string,
  functionArn: string,
): Promise<string | undefined> {
  const context = lambdaSourceContext(functionArn);
  const why = await serviceAssumeRefusal(sandbox, roleArn, 'lambda.amazonaws.com', context);
  if (!why) return undefined;
  sandbox.log(`lambda: execution role of ${functionArn} refused: ${why}`);
  return 'The role defined for the function cannot be assumed by Lambda.';
}

/**
 * Checks the `Role` of a CreateFunction / UpdateFunctionConfiguration request for the function
 * `functionArn` (a malformed ARN is left to the request's validation): `caller` needs iam:PassRole on it and
 * Lambda must be able to assume it for that function.
 */
export async function requireExecutionRole(
  sandbox: SandboxContext,
  caller: Principal | undefined,
  role: unknown,
  functionArn: string,
  region: string,
): Promise<void> {
  if (!isRoleArn(role)) return;
  const lambda = serviceModule(sandbox, 'lambda');
  if (lambda) await passRole(sandbox, caller, lambda, role, 'lambda', region);
  const refusal = await executionRoleRefusal(sandbox, role, functionArn);
  if (refusal) throw new AwsError('InvalidParameterValueException', refusal, 400);
}
