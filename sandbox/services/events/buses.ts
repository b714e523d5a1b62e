/**
 * Cross-account EventBridge: the default bus's resource policy (PutPermission / RemovePermission /
 * DescribeEventBus) and delivery to another account's bus. A rule whose target is an event bus ARN of
 * another account delivers only if that bus's policy admits the rule's account — by account, `*` with an
 * `aws:PrincipalOrgID` condition evaluated against the organization model, or any condition iam-simulate
 * evaluates; otherwise the delivery fails (a failed invocation, logged) and nothing reaches the bus. The
 * event keeps its source account and region, as AWS forwards it.
 */
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { organizationKeys } from '../../core/organization';
import type { SandboxContext } from '../../core/types';
import { AwsError } from '../../core/types';

export interface PolicyStatement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Action?: unknown;
  Resource?: unknown;
  Condition?: unknown;
}
export interface BusPolicy {
  Version: string;
  Statement: PolicyStatement[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

export const busArn = (sandbox: SandboxContext, name = 'default'): string =>
  `arn:aws:events:${sandbox.region}:${sandbox.accountId}:event-bus/${name}`;

/** PutPermission: a whole `Policy`, or one statement for a principal (an account id or `*`). */
export function putPermission(
  sandbox: SandboxContext,
  current: BusPolicy | undefined,
  input: Record<string, unknown>,
): BusPolicy {
  const text = str(input.Policy);
  if (text) {
    try {
      const parsed = JSON.parse(text) as BusPolicy;
      if (!Array.isArray(parsed.Statement)) throw new Error('no Statement');
      return parsed;
    } catch {
      throw new AwsError('ValidationException', 'Policy is not a valid policy document.');
    }
  }
  const sid = str(input.StatementId);
  const principal = str(input.Principal);
  if (!sid || !principal)
    throw new AwsError('ValidationException', 'StatementId and Principal are required without Policy.');
  if (principal !== '*' && !/^\d{12}$/.test(principal))
    throw new AwsError('ValidationException', `Principal ${principal} is not an account id or *.`);
  const c = input.Condition as { Type?: unknown; Key?: unknown; Value?: unknown } | undefined;
  if (principal === '*' && !c)
    throw new AwsError('ValidationException', 'A Condition is required when Principal is *.');
  const statement: PolicyStatement = {
    Sid: sid,
    Effect: 'Allow',
    Principal: principal === '*' ? '*' : { AWS: `arn:aws:iam::${principal}:root` },
    Action: str(input.Action) ?? 'events:PutEvents',
    Resource: busArn(sandbox),
    ...(c ? { Condition: { [String(c.Type)]: { [String(c.Key)]: String(c.Value) } } } : {}),
  };
  const others = (current?.Statement ?? []).filter((s) => s.Sid !== sid);
  return { Version: '2012-10-17', Statement: [...others, statement] };
}

export function removePermission(
  current: BusPolicy | undefined,
  input: Record<string, unknown>,
): BusPolicy | undefined {
  if (input.RemoveAllPermissions === true) return undefined;
  const sid = str(input.StatementId);
  if (!current?.Statement.some((s) => s.Sid === sid))
    throw new AwsError(
      'ResourceNotFoundException',
      `Statement with the provided id ${sid ?? ''} does not exist.`,
    );
  const rest = current.Statement.filter((s) => s.Sid !== sid);
  return rest.length > 0 ? { ...current, Statement: rest } : undefined;
}

/**
 * Whether a bus's policy lets `senderAccount` put events on it (its own account always may). The sender's
 * organization keys (`aws:PrincipalOrgID`, `aws:PrincipalOrgPaths`) are known only when the rule's target
 * has a role (`viaRole`): AWS requires a RoleArn for a bus that grants an organization rather than the account.
 */
export async function busAdmits(
  target: SandboxContext,
  policy: BusPolicy | undefined,
  senderAccount: string,
  viaRole = false,
): Promise<boolean> {
  if (senderAccount === target.accountId) return true;
  if (!policy) return false;
  const r = await runSimulation(
    {
      request: {
        principal: `arn:aws:iam::${senderAccount}:root`,
        action: 'events:PutEvents',
        resource: { resource: busArn(target), accountId: target.accountId },
        contextVariables: {
          'aws:PrincipalAccount': senderAccount,
          'aws:SecureTransport': 'true',
          ...(viaRole ? organizationKeys(target, senderAccount) : {}),
        },
      },
      identityPolicies: [
        {
          name: 'sender',
          policy: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }] },
        },
      ],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: policy,
    },
    {},
  );
  return r.resultType === 'single' && r.overallResult === 'Allowed';
}

/** The account, region and name of an event bus ARN. */
export function parseBusArn(arn: string): { account: string; region: string; name: string } | undefined {
  const m = /^arn:aws[a-z-]*:events:([a-z0-9-]+):(\d{12}):event-bus\/([.\-_A-Za-z0-9/]+)$/.exec(arn);
  return m ? { region: m[1] ?? '', account: m[2] ?? '', name: m[3] ?? '' } : undefined;
}
