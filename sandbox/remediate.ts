/**
 * `drift-remediation remediate`: asks the deployed workflow to remediate one resource now, by putting a
 * `drift-remediation.manual` event on the default EventBridge bus (the intake rule forwards it to the
 * intake queue). Against the sandbox by default; with `--aws` (or `--profile`) against AWS with the
 * user's own credentials (the SDK's default chain, or the named profile).
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { REGION } from '../tasks/shared/contracts';
import { MANUAL_DETAIL_TYPE, MANUAL_SOURCE, manualStartEvent } from '../tasks/shared/manual-start';
import { isValidResourceId } from '../tasks/shared/resource-ids';

export interface RemediateOptions {
  type: string;
  id: string;
  rule?: string;
  requestedBy?: string;
  /** Sandbox endpoint (ignored with `aws`). */
  endpoint: string;
  aws?: boolean;
  region?: string;
  profile?: string;
}

/** Placeholder account of the detail: EventBridge sets the envelope's account, and intake takes that one. */
const ENVELOPE_ACCOUNT = '000000000000';
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

/** Sends the request; returns the event id (intake records the outcome under the resource). */
export async function remediate(
  o: RemediateOptions,
  log: (line: string) => void = console.log,
): Promise<string> {
  checkRequest(o);
  const client = new EventBridgeClient(clientConfig(o));
  try {
    const region = await client.config.region();
    const detail = manualStartEvent({
      resourceType: o.type,
      resourceId: o.id,
      configRuleName: o.rule,
      requestedBy: o.requestedBy,
      accountId: ENVELOPE_ACCOUNT,
      region,
      now: new Date(),
    });
    const r = await client.send(
      new PutEventsCommand({
        Entries: [{ Source: MANUAL_SOURCE, DetailType: MANUAL_DETAIL_TYPE, Detail: JSON.stringify(detail) }],
      }),
    );
    const failed = r.Entries?.find((x) => x.ErrorCode);
    if ((r.FailedEntryCount ?? 0) > 0 || failed)
      throw new Error(
        `PutEvents refused the request: ${failed?.ErrorCode ?? ''} ${failed?.ErrorMessage ?? ''}`.trim(),
      );
    log(
      `requested remediation of ${o.type} ${o.id}${o.rule ? ` (rule ${o.rule})` : ''}: event ${detail.eventId}`,
    );
    return detail.eventId;
  } finally {
    client.destroy();
  }
}
