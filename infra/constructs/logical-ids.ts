/**
 * Logical IDs that survive the split into concern constructs. CloudFormation replaces a resource whose
 * logical ID changes — a new KMS key and tables, a failed deploy for named resources (documents, Config
 * rules, the state machine) and for a second SQS event source mapping on the same queue. So the concern
 * constructs (Storage, Intake, … — each a `Concern`) are left out of the logical IDs of what they hold: every resource keeps
 * the ID it had when it sat directly under DriftRemediation.
 */
import { createHash } from 'node:crypto';
import { AspectPriority, Aspects, CfnElement, type IAspect, Names, Stack } from 'aws-cdk-lib';
import { Construct, type IConstruct } from 'constructs';

const transparent = new WeakSet<IConstruct>();

/**
 * A construct of one concern whose own id is left out of the logical IDs of everything under it (once
 * `keepStableLogicalIds` runs on an ancestor): its resources keep the IDs they had before the split.
 */
export class Concern extends Construct {
  constructor(scope: Construct, id: string) {
    super(scope, id);
    transparent.add(this);
  }
}

/** The logical ID `element` gets: CDK's naming scheme over its path without transparent constructs. */
export function stableLogicalId(element: CfnElement): string {
  const scopes = element.node.scopes;
  const stackIndex = scopes.indexOf(element.stack);
  return makeUniqueId(stableComponents(scopes.slice(stackIndex + 1)));
}

/** `Names.nodeUniqueId` without transparent constructs (CDK embeds it in some ids, e.g. `SqsEventSource:<queue>`). */
export function stableUniqueId(construct: IConstruct): string {
  return makeUniqueId(stableComponents(construct.node.scopes.slice(1)));
}

function stableComponents(scopes: readonly IConstruct[]): string[] {
  return scopes.filter((s) => !transparent.has(s)).map((s) => s.node.id);
}

/**
 * Overrides, under `root`, every logical ID that differs from its stable form; ids that embed another
 * construct's unique id (event source mappings) get that id's stable form too.
 */
export function keepStableLogicalIds(root: IConstruct): void {
  Aspects.of(root).add(new StableLogicalIds(root), { priority: AspectPriority.MUTATING });
}

class StableLogicalIds implements IAspect {
  private uniqueIds: Map<string, string> | undefined;
  constructor(private readonly root: IConstruct) {}

  visit(node: IConstruct): void {
    if (!CfnElement.isCfnElement(node)) return;
    const renamed = node.node.scopes.slice(node.node.scopes.indexOf(node.stack) + 1).map((s) => {
      if (transparent.has(s)) return undefined;
      let id = s.node.id;
      for (const [current, stable] of this.embeddedIds()) id = id.replace(current, stable);
      return id;
    });
    const id = makeUniqueId(renamed.filter((c): c is string => c !== undefined));
    if (id !== Stack.of(node).getLogicalId(node)) node.overrideLogicalId(id);
  }

  /** Unique ids (current → stable) of the constructs under transparent ones. */
  private embeddedIds(): Map<string, string> {
    this.uniqueIds ??= new Map(
      this.root.node
        .findAll()
        .filter((c) => c.node.scopes.some((s) => transparent.has(s)))
        .map((c) => [Names.nodeUniqueId(c.node), stableUniqueId(c)] as const)
        .filter(([current, stable]) => current !== stable),
    );
    return this.uniqueIds;
  }
}

// CDK's makeUniqueId (aws-cdk-lib/core/lib/private/uniqueid.ts, not exported): human part + 8-char path hash.
// test/infra/logical-ids.test.ts checks it against CDK's own ids.
function makeUniqueId(components: string[]): string {
  const parts = components.filter((c) => c !== 'Default');
  const alnum = (s: string) => s.replace(/[^A-Za-z0-9]/g, '');
  if (parts.length === 1 && alnum(parts[0] ?? '').length <= 255) return alnum(parts[0] ?? '');
  const hash = createHash('md5').update(parts.join('/')).digest('hex').slice(0, 8).toUpperCase();
  const human: string[] = [];
  for (const p of parts) if (human.length === 0 || !human[human.length - 1]?.endsWith(p)) human.push(p);
  return (
    human
      .filter((p) => p !== 'Resource')
      .map(alnum)
      .join('')
      .slice(0, 240) + hash
  );
}
