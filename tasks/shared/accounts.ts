/**
 * Per account-region SDK clients (organization scale, docs/security.md "IAM trust chain"). The central
 * deployment acts on a member account's resource through the member execution role: STS AssumeRole from the
 * task's own role (a credential provider returning the session with its expiration: the SDK client
 * memoizes it and asks again five minutes before it expires). The clients are cached per (client, account, region) with
 * clients.ts `cached()`, so a warm function assumes a member role once per session, not per call. The
 * central account's own resources use the plain clients (its region's, or another region's).
 *
 * Configuration (one value per key, infra sets them): CENTRAL_ACCOUNT_ID (the stack's account) and
 * MEMBER_ROLE_NAME (the policy's organization.memberRoleName; empty: single-account, every client plain).
 */
import { CloudControlClient } from '@aws-sdk/client-cloudcontrol';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { SSMClient } from '@aws-sdk/client-ssm';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { type ClientConfig, cached, withHandlerCache } from './clients';
import { ENV } from './env';
import { DriftRemediationError, isTransient, TransientServiceError } from './errors';

interface SessionCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}
type CredentialProvider = () => Promise<SessionCredentials>;

/** What `clientIn`'s `make` gets: the defaults, the region, and credentials (an identity or a provider). */
export type PlaceClientConfig = Omit<ClientConfig, 'credentials'> & {
  region?: string;
  credentials?: ClientConfig['credentials'] | CredentialProvider;
};

/** Where a resource lives. */
export interface Place {
  awsAccountId: string;
  awsRegion: string;
}

/** The central deployment, as the per-place clients need it. */
export interface AccountsConfig {
  /** The central account (the stack's). */
  centralAccountId: string;
  /** The region the functions run in. */
  centralRegion: string;
  /** The member execution role's name; undefined: single-account (every client is the plain one). */
  memberRoleName?: string | undefined;
  /** ARN partition (aws, aws-cn, aws-us-gov). */
  partition?: string | undefined;
}

/** The role session name the member account's CloudTrail shows for the central tasks' calls. */
export const MEMBER_SESSION_NAME = 'drift-remediation';
/** Sessions last an hour; the SDK refreshes five minutes before the end. */
const SESSION_SECONDS = 3600;

/** The member role could not be assumed (trust policy, missing role, SCP): the case fails with this name. */
export class MemberAccessDeniedError extends DriftRemediationError {
  override readonly name = 'MemberAccessDenied';
  readonly retryable = false;
}

/** The member stack's automation role (SSM runs the runbooks as it): `<memberRoleName>-Automation`, this path. */
export const MEMBER_AUTOMATION_PATH = '/drift-remediation/';
export const MEMBER_AUTOMATION_SUFFIX = '-Automation';

/** The role SSM Automation runs the runbooks as in member `account`. */
export function memberAutomationRoleArn(config: AccountsConfig, account: string): string {
  const name = `${config.memberRoleName ?? ''}${MEMBER_AUTOMATION_SUFFIX}`;
  return `arn:${config.partition ?? 'aws'}:iam::${account}:role${MEMBER_AUTOMATION_PATH}${name}`;
}

/** The member execution role's ARN in `account`. */
export function memberRoleArn(config: AccountsConfig, account: string): string {
  return `arn:${config.partition ?? 'aws'}:iam::${account}:role/${config.memberRoleName ?? ''}`;
}

/** The partition of a region (`cn-north-1` → aws-cn). */
function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** The central deployment from the environment (CENTRAL_ACCOUNT_ID, MEMBER_ROLE_NAME, AWS_REGION). */
export function accountsConfigFromEnv(env: NodeJS.ProcessEnv = process.env): AccountsConfig {
  const centralRegion = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  return {
    centralAccountId: env[ENV.CENTRAL_ACCOUNT_ID] ?? '',
    centralRegion,
    memberRoleName: env[ENV.MEMBER_ROLE_NAME] || undefined,
    partition: partitionOf(centralRegion),
  };
}

/** The central account-region itself, as a place. */
export function centralPlace(config: AccountsConfig = accountsConfigFromEnv()): Place {
  return { awsAccountId: config.centralAccountId, awsRegion: config.centralRegion };
}

/** True when `place` is reached through the member role (another account, organization configured). */
export function isMemberPlace(config: AccountsConfig, place: Place): boolean {
  return config.memberRoleName !== undefined && place.awsAccountId !== config.centralAccountId;
}

/** AssumeRole of the member role, its failures typed (transient → retried; anything else → MemberAccessDenied). */
function memberCredentials(config: AccountsConfig, place: Place, base: ClientConfig): CredentialProvider {
  const roleArn = memberRoleArn(config, place.awsAccountId);
  // STS in the central region, with the task's own credentials (the sandbox's per-invocation ones).
  const sts = new STSClient({ ...base, region: config.centralRegion });
  return async () => {
    try {
      const { Credentials: c } = await sts.send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: MEMBER_SESSION_NAME,
          DurationSeconds: SESSION_SECONDS,
        }),
      );
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('AssumeRole returned no credentials');
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}),
        ...(c.Expiration ? { expiration: c.Expiration } : {}),
      };
    } catch (err) {
      const e = err as Error;
      const message = `cannot assume ${roleArn} for ${place.awsAccountId}/${place.awsRegion}: ${e.name}: ${e.message}`;
      if (isTransient(err)) throw new TransientServiceError(message, { cause: err });
      throw new MemberAccessDeniedError(message, { cause: err, roleArn });
    }
  };
}

/**
 * The client for `place`, built by `make` (e.g. `(c) => new SSMClient(c)`) on first use and cached per
 * (key, account, region): plain in the central account's region, the central credentials in another
 * region, the member role's session in a member account.
 */
export function clientIn<T extends object>(
  config: AccountsConfig,
  key: string,
  place: Place,
  make: (config: PlaceClientConfig) => T,
): T {
  const { awsAccountId: account, awsRegion: region } = place;
  if (!isMemberPlace(config, place)) {
    if (region === config.centralRegion) return cached(key, make);
    return cached(`${key} ${region}`, (c) => make({ ...c, region }));
  }
  return cached(`${key} ${account} ${region}`, (c) =>
    make({ ...c, region, credentials: memberCredentials(config, place, c) }),
  );
}

/** A client for every place (tests, single account), or one per place (`(place) => clientIn(…)`). */
export type PerPlace<T extends object> = T | ((place: Place) => T);

/** The client a `PerPlace` gives for `place`. */
export function forPlace<T extends object>(clients: PerPlace<T>, place: Place): T {
  return typeof clients === 'function' ? clients(place) : clients;
}

// One function per client (as clients.ts), so a bundle holds only the clients its handler calls.
export function cloudFormationIn(place: Place): CloudFormationClient {
  return clientIn(
    accountsConfigFromEnv(),
    'cloudFormation',
    place,
    (c) => new CloudFormationClient(withHandlerCache(c)),
  );
}
export function configIn(place: Place): ConfigServiceClient {
  return clientIn(
    accountsConfigFromEnv(),
    'config',
    place,
    (c) => new ConfigServiceClient(withHandlerCache(c)),
  );
}
export function ssmIn(place: Place): SSMClient {
  return clientIn(accountsConfigFromEnv(), 'ssm', place, (c) => new SSMClient(withHandlerCache(c)));
}
export function cloudControlIn(place: Place): CloudControlClient {
  return clientIn(
    accountsConfigFromEnv(),
    'cloudControl',
    place,
    (c) => new CloudControlClient(withHandlerCache(c)),
  );
}
