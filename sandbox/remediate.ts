/**
 * `drift-remediation remediate`: asks the deployed workflow to remediate one resource now, through the
 * stack's manual-start entry (a Lambda Function URL with AuthType AWS_IAM): the request is SigV4-signed
 * with the user's own credentials, so the entry records who asked as the caller's IAM principal, which
 * the approval's four-eyes rule then relies on (docs/security.md). The entry forwards the request to the
 * intake queue. Against the sandbox by default (its emulated URL, `<endpoint>/manual-start/`, signed
 * with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN when set, else as the sandbox's
 * administrator); with `--aws` (or `--profile`) against AWS, the URL from the stack's `ManualStartUrl`
 * output (or `--url`).
 */
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { REGION } from '../tasks/shared/contracts';
import { isValidResourceId } from '../tasks/shared/resource-ids';
import { type SigningCredentials, signedRequest } from './sigv4';

export interface RemediateOptions {
  type: string;
  id: string;
  rule?: string;
  /** The manual-start entry's URL (default: the sandbox's, or the stack's ManualStartUrl output with `aws`). */
  url?: string;
  /** Stack whose ManualStartUrl output names the entry (with `aws`). */
  stack?: string;
  /** Sandbox endpoint (ignored with `aws`). */
  endpoint: string;
  aws?: boolean;
  region?: string;
  profile?: string;
}

const SANDBOX_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** What any SDK client constructor takes to reach the sandbox or AWS (remediate, audit). */
export interface TargetConfig {
  endpoint?: string;
  region?: string;
  profile?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/** Client configuration: the sandbox (dummy credentials), or AWS with the user's credentials. */
export function clientConfig(
  o: Pick<RemediateOptions, 'endpoint' | 'aws' | 'region' | 'profile'>,
): TargetConfig {
  const toAws = o.aws === true || o.profile !== undefined;
  const region =
    o.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? (toAws ? undefined : 'us-east-1');
  if (toAws) return { ...(region ? { region } : {}), ...(o.profile ? { profile: o.profile } : {}) };
  return { endpoint: o.endpoint, region: region ?? 'us-east-1', credentials: SANDBOX_CREDENTIALS };
}

/** Checks the request before anything is sent; throws with a message naming the bad option. */
export function checkRequest(o: RemediateOptions): void {
  if (!/^AWS::[A-Za-z0-9]*::[A-Za-z0-9]+$/.test(o.type))
    throw new Error(`--type ${JSON.stringify(o.type)} is not a resource type like AWS::EC2::SecurityGroup`);
  if (!isValidResourceId(o.type, o.id))
    throw new Error(`--id ${JSON.stringify(o.id)} is not a valid ${o.type} id`);
  if (o.rule !== undefined && !/^[A-Za-z0-9_\-.]{1,128}$/.test(o.rule))
    throw new Error(`--rule ${JSON.stringify(o.rule)} is not a Config rule name`);
  if (o.region !== undefined && !REGION.test(o.region))
    throw new Error(`--region ${o.region} is not a region`);
}

/** The entry's URL: `--url`, else the sandbox's emulated one, else the stack's ManualStartUrl output. */
async function entryUrl(o: RemediateOptions, cfn: CloudFormationClient): Promise<URL> {
  if (o.url) return new URL(o.url);
  const toAws = o.aws === true || o.profile !== undefined;
  if (!toAws) return new URL('/manual-start/', o.endpoint);
  const stack = o.stack ?? 'DriftRemediation';
  const r = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
  const url = r.Stacks?.[0]?.Outputs?.find((x) => x.OutputKey === 'ManualStartUrl')?.OutputValue;
  if (!url)
    throw new Error(`stack ${stack} has no ManualStartUrl output (deploy this version, or pass --url)`);
  return new URL(url);
}

/** The signing credentials: the sandbox's from the environment when set, else the client's (default chain). */
async function signingCredentials(
  o: RemediateOptions,
  cfn: CloudFormationClient,
): Promise<SigningCredentials> {
  const toAws = o.aws === true || o.profile !== undefined;
  const { AWS_ACCESS_KEY_ID: id, AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: token } = process.env;
  if (!toAws && id && secret) return { accessKeyId: id, secretAccessKey: secret, sessionToken: token };
  const c = await cfn.config.credentials();
  return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken };
}

/** Sends the request; returns the event id (intake records the outcome under the resource). */
export async function remediate(
  o: RemediateOptions,
  log: (line: string) => void = console.log,
): Promise<string> {
  checkRequest(o);
  const cfn = new CloudFormationClient(clientConfig(o));
  try {
    const region = await cfn.config.region();
    const url = await entryUrl(o, cfn);
    const body = JSON.stringify({
      resourceType: o.type,
      resourceId: o.id,
      ...(o.rule ? { configRuleName: o.rule } : {}),
    });
    const req = await signedRequest(url, body, await signingCredentials(o, cfn), region);
    const res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body });
    const text = await res.text();
    if (res.status !== 202)
      throw new Error(
        `the manual-start entry refused the request (HTTP ${res.status}): ${text.slice(0, 500)}`,
      );
    const answer = JSON.parse(text) as { eventId: string; requestedBy: string };
    log(
      `requested remediation of ${o.type} ${o.id}${o.rule ? ` (rule ${o.rule})` : ''} as ${answer.requestedBy}: event ${answer.eventId}`,
    );
    return answer.eventId;
  } finally {
    cfn.destroy();
  }
}
