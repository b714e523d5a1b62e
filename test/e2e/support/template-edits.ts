/**
 * Edits of the synthesized template that take one permission away from one task's role, for the tests
 * showing the sandbox refuse what AWS would: from the role's identity policies, and optionally from the
 * key policies' statements naming the role (CDK grants a secret's readers kms:Decrypt there too); and
 * where in an execution's history the refusal surfaced.
 */
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import type { CfnTemplate } from '../../../sandbox/install/install';

type Statement = { Action?: string | string[]; Principal?: unknown };
type PolicyProps = { Roles?: unknown[]; PolicyDocument?: { Statement?: Statement[] } };

/** Removes `action` from `statements` (dropping statements left with none); how many it was removed from. */
function strip(doc: { Statement?: Statement[] } | undefined, action: string): number {
  if (!doc) return 0;
  let removed = 0;
  const statements = doc.Statement ?? [];
  for (const s of statements) {
    const actions = [s.Action ?? []].flat();
    if (!actions.includes(action)) continue;
    s.Action = actions.filter((a) => a !== action);
    removed++;
  }
  doc.Statement = statements.filter((s) => [s.Action ?? []].flat().length > 0);
  return removed;
}

/** The logical id of the role of the function that runs `task`. */
export function taskRole(template: CfnTemplate, task: string): string {
  const fn = Object.values(template.Resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.['drift-remediation:task'] === task,
  );
  const role = (fn?.Properties?.Role as { 'Fn::GetAtt'?: [string, string] } | undefined)?.['Fn::GetAtt']?.[0];
  if (!role) throw new Error(`no role for the ${task} function`);
  return role;
}

/**
 * The template with `action` removed from the policies of the `task` function's role (and, with
 * `keyPolicies`, from key policy statements whose principal is that role); the role's logical id.
 */
export function withoutPermission(
  template: CfnTemplate,
  task: string,
  action: string,
  opts: { keyPolicies?: boolean } = {},
): string {
  const role = taskRole(template, task);
  let removed = 0;
  for (const r of Object.values(template.Resources)) {
    if (r.Type === 'AWS::IAM::Policy') {
      const props = r.Properties as PolicyProps | undefined;
      if (JSON.stringify(props?.Roles).includes(`"${role}"`)) removed += strip(props?.PolicyDocument, action);
    } else if (r.Type === 'AWS::KMS::Key' && opts.keyPolicies) {
      const doc = r.Properties?.KeyPolicy as { Statement?: Statement[] } | undefined;
      const naming = {
        Statement: (doc?.Statement ?? []).filter((s) =>
          JSON.stringify(s.Principal ?? '').includes(`"${role}"`),
        ),
      };
      removed += strip(naming, action);
      if (doc) doc.Statement = (doc.Statement ?? []).filter((s) => [s.Action ?? []].flat().length > 0);
    }
  }
  if (removed === 0) throw new Error(`the ${task} role has no ${action} to remove`);
  return role;
}

/** The state whose task failed with `text` in its error or cause, and the failure's text. */
export function failedStateOf(
  events: HistoryEvent[],
  text: string,
): { state: string | undefined; error: string } | undefined {
  let entered: string | undefined;
  for (const ev of events) {
    if (ev.stateEnteredEventDetails?.name) entered = ev.stateEnteredEventDetails.name;
    const failure = ev.lambdaFunctionFailedEventDetails ?? ev.taskFailedEventDetails;
    const error = `${failure?.error ?? ''} ${failure?.cause ?? ''}`;
    if (failure && error.includes(text)) return { state: entered, error };
  }
  return undefined;
}
