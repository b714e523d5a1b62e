/**
 * Config's resource inventory APIs over what the configuration recorder recorded (recorder.ts):
 * ListDiscoveredResources, BatchGetResourceConfig and GetDiscoveredResourceCounts. A resource the recorder
 * did not record (a type outside its recording group, a read its role was refused, no recorder) is not there.
 */
import { AwsError, type RequestContext } from '../../core/types';
import { isObj, num, type Obj, str, strs } from '../state';
import { CONFIG_RESOURCE_TYPES } from './discovery';
import { allItems, type ConfigurationItem, discovered } from './recorder';

function checkType(type: string | undefined): string {
  if (!type || !CONFIG_RESOURCE_TYPES.has(type)) {
    throw new AwsError(
      'ValidationException',
      `1 validation error detected: Value '${type ?? ''}' at 'resourceType' failed to satisfy constraint: Member must satisfy enum value set`,
    );
  }
  return type;
}

/** ListDiscoveredResources: by type, optionally by ids or by name; ids as Config records them. */
export function listDiscoveredResources(input: Obj, ctx: RequestContext): Obj {
  const type = checkType(str(input.resourceType));
  const ids = strs(input.resourceIds);
  const name = str(input.resourceName);
  if (ids.length > 0 && name)
    throw new AwsError('ValidationException', 'You cannot specify both resource IDs and a resource name.');
  const limit = num(input.limit) ?? 100;
  if (limit < 0 || limit > 100) throw new AwsError('ValidationException', 'limit must be between 0 and 100.');
  const found = discovered(ctx.sandbox, type)
    .filter((d) => (ids.length === 0 || ids.includes(d.resourceId)) && (!name || d.resourceName === name))
    .sort((a, b) => a.resourceId.localeCompare(b.resourceId));
  const start = Number.parseInt(str(input.nextToken) ?? '0', 10) || 0;
  const page = found.slice(start, start + (limit || 100));
  const out: Obj = {
    resourceIdentifiers: page.map((d) => ({
      resourceType: d.resourceType,
      resourceId: d.resourceId,
      resourceName: d.resourceName,
    })),
  };
  if (start + page.length < found.length) out.nextToken = String(start + page.length);
  return out;
}

/** A configuration item as BatchGetResourceConfig returns it. */
function baseItem(i: ConfigurationItem, ctx: RequestContext): Obj {
  return {
    version: '1.3',
    accountId: ctx.accountId,
    configurationItemCaptureTime: i.captureTime,
    configurationItemStatus: i.status,
    configurationStateId: String(i.captureTime.getTime()),
    arn: i.arn,
    resourceType: i.resourceType,
    resourceId: i.resourceId,
    resourceName: i.resourceName,
    awsRegion: ctx.region,
    availabilityZone: 'Not Applicable',
    ...(i.createdAt ? { resourceCreationTime: i.createdAt } : {}),
    configuration: JSON.stringify(i.configuration),
    supplementaryConfiguration: Object.fromEntries(
      Object.entries(i.supplementaryConfiguration).map(([k, v]) => [k, JSON.stringify(v)]),
    ),
  };
}

/** BatchGetResourceConfig: the current configuration item of up to 100 resources. */
export function batchGetResourceConfig(input: Obj, ctx: RequestContext): Obj {
  const keys = Array.isArray(input.resourceKeys) ? input.resourceKeys.filter(isObj) : [];
  if (keys.length === 0 || keys.length > 100)
    throw new AwsError('ValidationException', 'resourceKeys must hold 1 to 100 keys.');
  const items: Obj[] = [];
  for (const k of keys) {
    const type = checkType(str(k.resourceType));
    const d = discovered(ctx.sandbox, type).find((x) => x.resourceId === str(k.resourceId));
    if (d) items.push(baseItem(d, ctx)); // AWS leaves out keys it has no current configuration item for
  }
  return { baseConfigurationItems: items, unprocessedResourceKeys: [] };
}

/** GetDiscoveredResourceCounts: the recorded (existing) resources per type. */
export function getDiscoveredResourceCounts(input: Obj, ctx: RequestContext): Obj {
  const wanted = strs(input.resourceTypes);
  const counts = new Map<string, number>();
  for (const i of allItems(ctx.sandbox)) {
    if (i.status !== 'OK' || (wanted.length > 0 && !wanted.includes(i.resourceType))) continue;
    counts.set(i.resourceType, (counts.get(i.resourceType) ?? 0) + 1);
  }
  const resourceCounts = [...counts]
    .map(([resourceType, count]) => ({ resourceType, count }))
    .sort((a, b) => b.count - a.count);
  return { totalDiscoveredResources: resourceCounts.reduce((n, c) => n + c.count, 0), resourceCounts };
}
