/**
 * Does a resource still exist, and what are its tags? Cloud Control GetResource for every type,
 * except CloudFormation stacks (DescribeStacks, which accepts the stack name Config reports).
 * Used by plan (exception tag) and confirm-compliance (existence).
 */

import { type CloudControlClient, GetResourceCommand } from '@aws-sdk/client-cloudcontrol';
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { awsCall, isStackMissing } from './errors';

export interface ResourceLookupDeps {
  cloudControl: CloudControlClient;
  cloudFormation: CloudFormationClient;
}

export interface ResourceState {
  exists: boolean;
  /** Tag key → value (empty when the resource has none or does not exist). */
  tags: Record<string, string>;
}

const STACK_TYPE = 'AWS::CloudFormation::Stack';

function errName(err: unknown): string {
  return err instanceof Error ? err.name : '';
}

export { isStackMissing };

/** Tags from a Cloud Control Properties document: `[{Key, Value}]` (most types) or `{key: value}`. */
export function tagsOf(properties: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!properties || typeof properties !== 'object') return out;
  const tags = (properties as Record<string, unknown>).Tags;
  if (Array.isArray(tags)) {
    for (const t of tags) {
      if (t && typeof t === 'object') {
        const { Key, Value } = t as { Key?: unknown; Value?: unknown };
        if (typeof Key === 'string') out[Key] = typeof Value === 'string' ? Value : String(Value ?? '');
      }
    }
  } else if (tags && typeof tags === 'object') {
    for (const [k, v] of Object.entries(tags)) out[k] = typeof v === 'string' ? v : String(v);
  }
  return out;
}

/**
 * Looks the resource up. Not found → `{ exists: false }`. Transient failures → TransientServiceError;
 * every other failure is rethrown unchanged (the caller decides: plan fails closed, confirm-compliance
 * may tolerate an unsupported type).
 */
export async function lookupResource(
  deps: ResourceLookupDeps,
  resourceType: string,
  resourceId: string,
): Promise<ResourceState> {
  if (resourceType === STACK_TYPE) {
    try {
      const r = await awsCall('DescribeStacks', () =>
        deps.cloudFormation.send(new DescribeStacksCommand({ StackName: resourceId })),
      );
      const stack = r.Stacks?.[0];
      if (!stack || stack.StackStatus === 'DELETE_COMPLETE') return { exists: false, tags: {} };
      const tags: Record<string, string> = {};
      for (const t of stack.Tags ?? []) if (t.Key) tags[t.Key] = t.Value ?? '';
      return { exists: true, tags };
    } catch (err) {
      if (isStackMissing(err)) return { exists: false, tags: {} };
      throw err;
    }
  }
  try {
    const r = await awsCall('GetResource', () =>
      deps.cloudControl.send(new GetResourceCommand({ TypeName: resourceType, Identifier: resourceId })),
    );
    let props: unknown = {};
    const text = r.ResourceDescription?.Properties;
    if (text) {
      try {
        props = JSON.parse(text);
      } catch {
        props = {};
      }
    }
    return { exists: true, tags: tagsOf(props) };
  } catch (err) {
    if (errName(err) === 'ResourceNotFoundException') return { exists: false, tags: {} };
    throw err;
  }
}
