/**
 * Which policy entry handles an event. Deterministic, and documented in docs/policy.md ("How an event
 * finds its entry"):
 *
 * - A Config event (it names a rule) matches the entry that names its rule and resource type.
 * - A CloudFormation drift event (no rule) matches among the entries with `cloudFormationDrift: true`
 *   for its type: the entry whose `match.properties` cover every drifted property path of the event
 *   (most specific wins), else the entry for the type that names no properties, else none.
 *
 * The loader refuses every policy in which two entries could match one event (checkOverlaps), so at
 * most one entry of each kind can match and the order of entries in the file never decides anything.
 */
import type { ResolvedEntry } from './schema';
import { type EventPlace, entryAdmits, type ScopedPolicy, scopesMeet } from './scope';

/** What matching looks at in an event. */
export interface MatchableEvent {
  configRuleName?: string | undefined;
  resourceType: string;
  /** Dotted drifted property paths (CloudFormation drift events); absent or empty: not known. */
  driftedProperties?: readonly string[] | undefined;
  /** Where the resource lives: entries scoped to accounts / OUs / regions match only there. */
  awsAccountId?: string | undefined;
  awsRegion?: string | undefined;
}

/** The entries a policy holds, as matching sees them. */
export interface MatchablePolicy extends ScopedPolicy {
  entries: readonly ResolvedEntry[];
}

/** At most this many paths travel with an event; beyond it they are folded to top-level names. */
export const MAX_DRIFTED_PROPERTIES = 64;
const MAX_DEPTH = 4;

/** `path` is `prefix` or lies under it (`SecurityGroupEgress.CidrIp` under `SecurityGroupEgress`). */
export function isUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}.`);
}

/** True when every drifted path lies under one of the entry's properties (and there is at least one). */
export function coversDrift(entry: Pick<ResolvedEntry, 'properties'>, drifted: readonly string[]): boolean {
  return drifted.length > 0 && drifted.every((p) => entry.properties.some((q) => isUnder(p, q)));
}

/**
 * CloudFormation PropertyDifferences → dotted property paths: `/SecurityGroupEgress/1/CidrIp` →
 * `SecurityGroupEgress.CidrIp` (list indices dropped, at most four names deep), de-duplicated and sorted.
 * More than MAX_DRIFTED_PROPERTIES distinct paths are folded to their top-level names: coarser paths can
 * only make a property-scoped entry match less often, never wrongly.
 */
export function driftedPropertyPaths(
  differences: ReadonlyArray<{ PropertyPath?: string | undefined }> | undefined,
): string[] {
  const paths = new Set<string>();
  for (const d of differences ?? []) {
    const names = (d.PropertyPath ?? '')
      .split('/')
      .filter((s) => s !== '' && !/^\d+$/.test(s) && /^[A-Za-z0-9]+$/.test(s))
      .slice(0, MAX_DEPTH);
    if (names.length > 0) paths.add(names.join('.'));
  }
  let out = [...paths].sort();
  if (out.length > MAX_DRIFTED_PROPERTIES) out = [...new Set(out.map((p) => p.split('.')[0] ?? p))].sort();
  return out.slice(0, MAX_DRIFTED_PROPERTIES);
}

/** The entry for an event (see the file comment), or undefined. */
export function findEntry(policy: MatchablePolicy, event: MatchableEvent): ResolvedEntry | undefined {
  const { configRuleName, resourceType, awsAccountId, awsRegion } = event;
  const place: EventPlace | undefined =
    awsAccountId !== undefined && awsRegion !== undefined ? { awsAccountId, awsRegion } : undefined;
  const entries = place ? policy.entries.filter((e) => entryAdmits(policy, e, place)) : policy.entries;
  if (configRuleName) {
    return entries.find(
      (e) => e.configRules.includes(configRuleName) && e.resourceTypes.includes(resourceType),
    );
  }
  const candidates = entries.filter((e) => e.cloudFormationDrift && e.resourceTypes.includes(resourceType));
  const drifted = event.driftedProperties ?? [];
  return (
    candidates.find((e) => e.properties.length > 0 && coversDrift(e, drifted)) ??
    candidates.find((e) => e.properties.length === 0)
  );
}

/**
 * Every way two entries could match one event, as loader problems: the same (rule, type) pair; two
 * type-wide drift entries for one type; two property-scoped drift entries for one type whose paths
 * overlap (one equal to or under the other), since one drift could be covered by both. Entries whose
 * account / OU / region scopes cannot meet (policy/scope.ts) never clash.
 */
export function checkOverlaps(entries: readonly ResolvedEntry[], policy: ScopedPolicy = {}): string[] {
  const problems: string[] = [];
  const claims = new Map<string, ResolvedEntry[]>();
  const meet = (a: ResolvedEntry, b: ResolvedEntry) => a.id !== b.id && scopesMeet(policy, a, b);
  const claim = (key: string, e: ResolvedEntry) => {
    const seen = claims.get(key) ?? [];
    const other = seen.find((o) => meet(o, e));
    if (other) problems.push(`policy.remediations: ${key} is matched by both ${other.id} and ${e.id}`);
    claims.set(key, [...seen, e]);
  };
  const scoped = new Map<string, Array<{ e: ResolvedEntry; id: string; path: string }>>();
  for (const e of entries) {
    for (const r of e.configRules) for (const t of e.resourceTypes) claim(`rule ${r} / ${t}`, e);
    if (!e.cloudFormationDrift) continue;
    for (const t of e.resourceTypes) {
      if (e.properties.length === 0) {
        claim(`drift / ${t}`, e);
        continue;
      }
      const seen = scoped.get(t) ?? [];
      for (const path of e.properties) {
        const clash = seen.find((s) => meet(s.e, e) && (isUnder(path, s.path) || isUnder(s.path, path)));
        if (clash) {
          problems.push(
            `policy.remediations: drift of ${path} on ${t} is matched by both ${clash.id} (${clash.path}) and ${e.id} (${path}); make their properties disjoint`,
          );
        }
        seen.push({ e, id: e.id, path });
      }
      scoped.set(t, seen);
    }
  }
  return problems;
}
