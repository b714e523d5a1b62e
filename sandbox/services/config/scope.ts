/**
 * A rule's scope as Config applies it: the evaluator's type (a custom rule has none: any type), the
 * Scope's types, its one resource id, and its TagKey (and TagValue) on the resource — its own tags plus
 * its stack's, as CloudFormation propagates stack tags. In AWS the tags are in the configuration item;
 * here they are looked up, once per change or rule-wide evaluation (`ScopeLookups`), not once per rule.
 */
import { cachedRead } from '../../core/changes';
import type { SandboxContext } from '../../core/types';
import { isObj, str } from '../state';
import { EVALUATORS, type Evaluator } from './evaluators';

export const STACK_TYPE = 'AWS::CloudFormation::Stack';

export interface RuleScope {
  ComplianceResourceTypes?: string[];
  ComplianceResourceId?: string;
  TagKey?: string;
  TagValue?: string;
}

/** An evaluator of the type (for a custom rule's resources: their listing and tags). */
export function evaluatorOfType(resourceType: string): Evaluator | undefined {
  return Object.values(EVALUATORS).find((e) => e.resourceType === resourceType);
}

function memo<T>(cache: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let p = cache.get(key);
  if (!p) {
    p = load();
    cache.set(key, p);
  }
  return p;
}

/** The lookups scoping needs while Config handles one change or one rule-wide evaluation, each made once. */
export class ScopeLookups {
  private readonly stacks = new Map<string, Promise<string | undefined>>();
  private readonly tags = new Map<string, Promise<Record<string, string> | undefined>>();

  constructor(private readonly sandbox: SandboxContext) {}

  /** The stack a resource (by physical id) belongs to, if any. */
  stackOf(physicalId: string): Promise<string | undefined> {
    return memo(this.stacks, physicalId, async () => {
      // Cached until CloudFormation's change generation moves (a failed read — not in a stack, or no
      // CloudFormation in this sandbox — answers {}): a rule-wide evaluation asks for every resource.
      const out = await cachedRead(this.sandbox, 'cloudformation', 'DescribeStackResources', {
        PhysicalResourceId: physicalId,
      });
      const first = Array.isArray(out.StackResources) ? out.StackResources[0] : undefined;
      return isObj(first) ? (str(first.StackId) ?? str(first.StackName)) : undefined;
    });
  }

  /** A resource's own tags (undefined once it is gone). */
  tagsOf(evaluator: Evaluator, resourceId: string): Promise<Record<string, string> | undefined> {
    return memo(this.tags, `${evaluator.resourceType}|${resourceId}`, () =>
      evaluator.tags(this.sandbox, resourceId),
    );
  }

  /** The tags Config sees on a resource: its own, plus its stack's. */
  async seen(evaluator: Evaluator, resourceId: string): Promise<Record<string, string>> {
    const own = (await this.tagsOf(evaluator, resourceId)) ?? {};
    if (evaluator.resourceType === STACK_TYPE) return own;
    const stackId = await this.stackOf(evaluator.physicalId?.(this.sandbox, resourceId) ?? resourceId);
    const stacks = EVALUATORS.CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK;
    const stackTags = stackId && stacks ? await this.tagsOf(stacks, stackId) : {};
    return { ...stackTags, ...own };
  }
}

export function ruleTypes(scope: RuleScope | undefined, evaluator: Evaluator | undefined): string[] {
  const scoped = scope?.ComplianceResourceTypes ?? [];
  return scoped.length > 0 ? scoped : evaluator ? [evaluator.resourceType] : [];
}

/** Whether a rule's scope (and its evaluator's type, for a managed rule) covers a resource. */
export async function inScope(
  scope: RuleScope | undefined,
  evaluator: Evaluator | undefined,
  resourceType: string,
  resourceId: string,
  lookups: ScopeLookups,
): Promise<boolean> {
  if (evaluator && evaluator.resourceType !== resourceType) return false;
  const types = ruleTypes(scope, evaluator);
  if ((evaluator || types.length > 0) && !types.includes(resourceType)) return false;
  const only = scope?.ComplianceResourceId;
  if (only && only !== resourceId) return false;
  const key = scope?.TagKey;
  if (!key) return true;
  const tagger = evaluator ?? evaluatorOfType(resourceType);
  if (!tagger) return false;
  const value = (await lookups.seen(tagger, resourceId))[key];
  return value !== undefined && (scope?.TagValue === undefined || scope.TagValue === value);
}
