/**
 * IAM set-up shared by the sandbox's access-denied tests (KMS, S3 bucket policies, queue/topic policies,
 * Cloud Control): a policy document, a role with inline statements, client settings acting as that role,
 * and what a refused call threw.
 */
import { CreateRoleCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { credentialsFor } from '../../../sandbox/core/authz';
import type { Sandbox } from '../../../sandbox/core/sandbox';
import type { SandboxHandle } from '../helpers';

/** A policy document with these statements. */
export const policy = (...Statement: object[]): string =>
  JSON.stringify({ Version: '2012-10-17', Statement });

/**
 * Creates a role that `service` may assume, with `statements` as its inline policy (none: a role with no
 * identity permissions at all), in `account` (its administrator creates it; default: the sandbox's own);
 * returns its ARN.
 */
export async function role(
  sb: SandboxHandle,
  name: string,
  statements: object[] = [],
  service = 'lambda.amazonaws.com',
  account?: string,
): Promise<string> {
  const iam = new IAMClient(
    account
      ? { ...sb.clientConfig, credentials: { accessKeyId: account, secretAccessKey: 'x' } }
      : sb.clientConfig,
  );
  const trust = policy({ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' });
  const r = await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust }));
  if (statements.length > 0)
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: name,
        PolicyName: 'inline',
        PolicyDocument: policy(...statements),
      }),
    );
  return String(r.Role?.Arn);
}

/** SDK client settings for a session of `roleArn` (spread into any client constructor). */
export function actingAs(sb: SandboxHandle, roleArn: string, session: string) {
  return { ...sb.clientConfig, credentials: credentialsFor(sb.sandbox.context, roleArn, session) };
}

export interface Failure {
  name: string;
  message: string;
  status?: number;
  /** The awsQuery error code (e.g. SQS's `x-amzn-query-error`), as the SDK keeps it. */
  code?: string;
}

/** What the call threw; fails the test if it succeeded. */
export async function failure(p: Promise<unknown>): Promise<Failure> {
  try {
    await p;
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number }; Code?: string };
    return { name: e.name, message: e.message, status: e.$metadata?.httpStatusCode, code: e.Code };
  }
  throw new Error('expected the call to be denied');
}

/**
 * The ARN of role `name` in the sandbox's account, created (by its administrator, with no permissions)
 * trusting `service` if it does not exist yet (no IAM module: just the ARN): services refuse a role they
 * cannot assume.
 */
export async function trustingRole(
  sandbox: Sandbox,
  name: string,
  service = 'lambda.amazonaws.com',
): Promise<string> {
  const arn = `arn:aws:iam::${sandbox.accountId}:role/${name}`;
  if (!sandbox.services.has('iam')) return arn;
  const trust = {
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { Service: service }, Action: 'sts:AssumeRole' }],
  };
  await sandbox.context
    .call('iam', 'CreateRole', { RoleName: name, AssumeRolePolicyDocument: JSON.stringify(trust) })
    .catch((err: unknown) => {
      if (!(err instanceof Error && err.name === 'EntityAlreadyExists')) throw err;
    });
  return arn;
}
