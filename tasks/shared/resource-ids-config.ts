/**
 * Resource ids as AWS Config records them (the event contract accepts every Config resource type: the
 * SDK's published ResourceType enum and `AWS::::Account`, test/unit/config-ids.test.ts).
 *
 * IAM unique ids. AWS Config records IAM roles by their unique id (`AROA…`), users by `AIDA…` (and
 * customer managed policies by `ANPA…`, which Config also uses as the policy's resource id everywhere,
 * so those are not translated). Runbooks, CloudFormation and IAM's own APIs name roles and users by
 * name, so intake resolves a unique id to the name before anything else, through Config's
 * ListDiscoveredResources (the id ↔ name mapping Config keeps), and keeps the unique id for Config reads.
 */
import {
  type ConfigServiceClient,
  ListDiscoveredResourcesCommand,
  type ResourceType,
} from '@aws-sdk/client-config-service';
import { awsCall } from './errors';

/** Resource types whose Config resource id is a unique id, with its prefix. */
export const UNIQUE_ID_PREFIXES: Readonly<Record<string, string>> = {
  'AWS::IAM::Role': 'AROA',
  'AWS::IAM::User': 'AIDA',
};

/** True when `id` is a unique id of the type's kind (`AROA` + 17 or more upper-case letters and digits). */
export function isUniqueId(resourceType: string, id: string): boolean {
  const prefix = UNIQUE_ID_PREFIXES[resourceType];
  return prefix !== undefined && new RegExp(`^${prefix}[A-Z0-9]{12,124}$`).test(id);
}

/** The name of the role or user with this unique id, or undefined when Config knows none. */
export async function nameOfUniqueId(
  config: ConfigServiceClient,
  resourceType: string,
  id: string,
): Promise<string | undefined> {
  const r = await awsCall('ListDiscoveredResources', () =>
    config.send(
      new ListDiscoveredResourcesCommand({
        resourceType: resourceType as ResourceType,
        resourceIds: [id],
        includeDeletedResources: false,
      }),
    ),
  );
  return r.resourceIdentifiers?.find((x) => x.resourceId === id)?.resourceName;
}
