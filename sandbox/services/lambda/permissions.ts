/**
 * A function's resource-based policy (AddPermission / GetPolicy / RemovePermission, CloudFormation's
 * AWS::Lambda::Permission): statements granting a service or account `lambda:InvokeFunction` (or another
 * lambda action), optionally only for a source ARN or account, as Lambda writes them. IAM evaluates the
 * policy with the caller's identity policies, and EventBridge invokes a function target only where it
 * admits `events.amazonaws.com` for the rule. Kept per account-region by function ARN, for functions of
 * the Lambda API and the in-process task functions alike.
 */
import { AwsError, type SandboxContext } from '../../core/types';
import { type Obj, stateOf, str } from '../state';

type Statement = Obj & { Sid: string };

const notFound = (): AwsError =>
  new AwsError('ResourceNotFoundException', 'The resource you requested does not exist.', 404);

/** The function's unqualified ARN in this account-region, from a name, partial ARN or ARN. */
export function functionArnOf(sandbox: SandboxContext, nameOrArn: string): string {
  if (nameOrArn.startsWith('arn:')) return nameOrArn.split(':').slice(0, 7).join(':');
  const name = nameOrArn.split(':')[0] ?? nameOrArn;
  return `arn:aws:lambda:${sandbox.region}:${sandbox.accountId}:function:${name}`;
}

/** The principal element Lambda writes: a service, an account (root ARN) or an ARN. */
function principalOf(principal: string): Obj {
  if (principal === '*') return { AWS: '*' };
  if (principal.endsWith('.amazonaws.com')) return { Service: principal };
  if (/^\d{12}$/.test(principal)) return { AWS: `arn:aws:iam::${principal}:root` };
  return { AWS: principal };
}

function statementOf(functionArn: string, input: Obj): Statement {
  const sid = str(input.StatementId);
  const action = str(input.Action);
  const principal = str(input.Principal);
  if (!action || !principal)
    throw new AwsError('ValidationException', 'Action and Principal are required.', 400);
  if (!sid || !/^[a-zA-Z0-9_-]{1,100}$/.test(sid))
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value '${sid ?? ''}' at 'statementId' failed to satisfy constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+) and length at most 100`,
      400,
    );
  const condition: Obj = {};
  const sourceArn = str(input.SourceArn);
  const sourceAccount = str(input.SourceAccount);
  if (sourceArn) condition.ArnLike = { 'AWS:SourceArn': sourceArn };
  if (sourceAccount) condition.StringEquals = { 'AWS:SourceAccount': sourceAccount };
  return {
    Sid: sid,
    Effect: 'Allow',
    Principal: principalOf(principal),
    Action: action.includes(':') ? action : `lambda:${action}`,
    Resource: functionArn,
    ...(Object.keys(condition).length > 0 ? { Condition: condition } : {}),
  };
}

export class LambdaPermissions {
  private readonly policies = new Map<string, Statement[]>();

  add(functionArn: string, input: Obj): Statement {
    const statement = statementOf(functionArn, input);
    const list = this.policies.get(functionArn) ?? [];
    if (list.some((s) => s.Sid === statement.Sid))
      throw new AwsError(
        'ResourceConflictException',
        `The statement id (${statement.Sid}) provided already exists. Please provide a new statement id, or remove the existing statement.`,
        409,
      );
    this.policies.set(functionArn, [...list, statement]);
    return statement;
  }

  remove(functionArn: string, sid: string | undefined): void {
    const list = this.policies.get(functionArn) ?? [];
    if (!list.some((s) => s.Sid === sid))
      throw new AwsError(
        'ResourceNotFoundException',
        `Statement ${sid ?? ''} is not found in resource policy.`,
        404,
      );
    this.policies.set(
      functionArn,
      list.filter((s) => s.Sid !== sid),
    );
  }

  /** The policy document (JSON text), or undefined when the function has no statements. */
  policy(functionArn: string): string | undefined {
    const list = this.policies.get(functionArn) ?? [];
    if (list.length === 0) return undefined;
    return JSON.stringify({ Version: '2012-10-17', Id: 'default', Statement: list });
  }

  /** GetPolicy's answer (ResourceNotFoundException without statements). */
  get(functionArn: string): string {
    const text = this.policy(functionArn);
    if (!text) throw notFound();
    return text;
  }
}

export function lambdaPermissions(sandbox: SandboxContext): LambdaPermissions {
  return stateOf(sandbox, 'lambda-permissions', () => new LambdaPermissions());
}
