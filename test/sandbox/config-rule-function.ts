/**
 * A first-party custom Config rule function, written as one would for AWS: "no security group opens
 * `port`/tcp to 0.0.0.0/0". It reads Config's event (invokingEvent, resultToken, eventLeftScope), judges
 * the configuration item, and reports with PutEvaluations through a real SDK v3 client signed with the
 * function's own credentials (what Lambda gives its execution role). A ScheduledNotification (periodic
 * run) reports on the account. Every invocation is kept in `seen` for the tests.
 */
import { ConfigServiceClient, PutEvaluationsCommand } from '@aws-sdk/client-config-service';

export interface ConfigRuleEvent {
  version: string;
  invokingEvent: string;
  ruleParameters: string;
  resultToken: string;
  eventLeftScope: boolean;
  executionRoleArn: string;
  configRuleArn: string;
  configRuleName: string;
  configRuleId: string;
  accountId: string;
}

interface ConfigurationItem {
  resourceType: string;
  resourceId: string;
  configurationItemStatus: string;
  configurationItemCaptureTime: string;
  configuration: {
    ipPermissions?: Array<{ ipProtocol?: string; fromPort?: number; toPort?: number; ipRanges?: string[] }>;
  } | null;
}

interface InvokingEvent {
  messageType: string;
  configurationItem?: ConfigurationItem;
  notificationCreationTime: string;
}

export interface ClientSettings {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

function opensToTheWorld(item: ConfigurationItem, port: number): boolean {
  return (item.configuration?.ipPermissions ?? []).some(
    (p) =>
      (p.ipProtocol === '-1' ||
        (p.ipProtocol === 'tcp' && (p.fromPort ?? 0) <= port && port <= (p.toPort ?? 0))) &&
      (p.ipRanges ?? []).includes('0.0.0.0/0'),
  );
}

/** The rule's handler: `settings` stand for the function's environment (endpoint, role credentials). */
export function worldOpenPortRule(settings: ClientSettings, seen: ConfigRuleEvent[]) {
  const config = new ConfigServiceClient({ ...settings, maxAttempts: 1 });
  return async (event: ConfigRuleEvent): Promise<void> => {
    seen.push(event);
    const invoking = JSON.parse(event.invokingEvent) as InvokingEvent;
    const port = Number((JSON.parse(event.ruleParameters) as { port?: string }).port ?? '8080');
    const item = invoking.configurationItem;
    if (invoking.messageType === 'ScheduledNotification' || !item) {
      await config.send(
        new PutEvaluationsCommand({
          ResultToken: event.resultToken,
          Evaluations: [
            {
              ComplianceResourceType: 'AWS::::Account',
              ComplianceResourceId: event.accountId,
              ComplianceType: 'COMPLIANT',
              OrderingTimestamp: new Date(invoking.notificationCreationTime),
            },
          ],
        }),
      );
      return;
    }
    const gone = item.configurationItemStatus === 'ResourceDeleted' || event.eventLeftScope;
    const open = !gone && opensToTheWorld(item, port);
    await config.send(
      new PutEvaluationsCommand({
        ResultToken: event.resultToken,
        Evaluations: [
          {
            ComplianceResourceType: item.resourceType,
            ComplianceResourceId: item.resourceId,
            ComplianceType: gone ? 'NOT_APPLICABLE' : open ? 'NON_COMPLIANT' : 'COMPLIANT',
            ...(open ? { Annotation: `Port ${port}/tcp is open to 0.0.0.0/0.` } : {}),
            OrderingTimestamp: new Date(item.configurationItemCaptureTime),
          },
        ],
      }),
    );
  };
}
