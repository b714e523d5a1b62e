/**
 * DescribeStackResources by PhysicalResourceId is authorized by AWS on the stack the resource is in (the
 * sandbox now resolves it the same way, sandbox/services/iam/actions.ts), not on `*`: the roles whose
 * code looks a resource's stack up that way must be allowed it on an application stack's ARN, decided
 * by IAM policy simulation of the synthesized template.
 */
import { describe, expect, it } from 'vitest';
import { TASK_METADATA_KEY } from '../../infra/drift-remediation';
import { ACCOUNT, decide, REGION, rolePolicies } from './simulation-support';
import { synth } from './synth';

const { json } = synth({ nag: false });
type Resource = { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> };
const resources = json.Resources as Record<string, Resource>;
const APP_STACK = `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/app/0a1b2c3d-0000-4000-8000-000000000001`;

function taskRole(task: string) {
  const fn = Object.values(resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[TASK_METADATA_KEY] === task,
  );
  const role = fn?.Properties?.Role as { 'Fn::GetAtt': [string, string] } | undefined;
  if (!role) throw new Error(`no role for task ${task}`);
  return rolePolicies(json, role['Fn::GetAtt'][0]);
}

describe('stack lookups by physical id', () => {
  // tasks/detect-drift/core.ts and tasks/fast-path/check.ts: DescribeStackResources({ PhysicalResourceId }).
  it.each(['detect-drift', 'fast-path'])(
    '%s may look up the stack of any application resource',
    async (task) => {
      const role = taskRole(task);
      expect(
        await decide(role, { action: 'cloudformation:DescribeStackResources', resource: APP_STACK }),
      ).toBe('Allowed');
      // …and only read it: the stack ARN does not open changes.
      expect(await decide(role, { action: 'cloudformation:UpdateStack', resource: APP_STACK })).not.toBe(
        'Allowed',
      );
    },
  );
});
