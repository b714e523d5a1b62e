/**
 * The IAM decision cache's resource key (sandbox/services/iam/decision-key.ts) checked against
 * iam-simulate itself: whenever two ARNs that differ only in their id get the same key for a policy's
 * Resource/NotResource string, the simulator decides both alike (Allow and Deny, Resource and
 * NotResource); strings that can tell the ids apart keep the whole ARN in the key.
 */
import { runSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import { describe, expect, it } from 'vitest';
import { resourceKey, resourceStrings, typesBlindToId } from '../../../sandbox/services/iam/decision-key';

const ACCOUNT = '111122223333';
// biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, resolved per request
const BY_TAG = 'arn:aws:iam::*:role/path/${aws:PrincipalTag/team}';

/** An action and two of its resources that differ only in their id. */
const PAIRS: Array<[action: string, first: string, second: string]> = [
  [
    'ec2:RevokeSecurityGroupIngress',
    `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/sg-0a1b2c`,
    `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/sg-0fff`,
  ],
  [
    'states:GetExecutionHistory',
    `arn:aws:states:us-east-1:${ACCOUNT}:execution:Machine:exec-1`,
    `arn:aws:states:us-east-1:${ACCOUNT}:execution:Machine:other`,
  ],
  [
    'ssm:GetAutomationExecution',
    `arn:aws:ssm:us-east-1:${ACCOUNT}:automation-execution/0b7f4c1e-aaaa`,
    `arn:aws:ssm:us-east-1:${ACCOUNT}:automation-execution/9c2d-bbbb`,
  ],
  ['s3:GetObject', 'arn:aws:s3:::bucket/a.txt', 'arn:aws:s3:::bucket/b.txt'],
  ['s3:ListBucket', 'arn:aws:s3:::bucket', 'arn:aws:s3:::other'],
  ['iam:GetRole', `arn:aws:iam::${ACCOUNT}:role/path/r1`, `arn:aws:iam::${ACCOUNT}:role/path/x2`],
  ['sqs:SendMessage', `arn:aws:sqs:us-east-1:${ACCOUNT}:q1`, `arn:aws:sqs:us-east-1:${ACCOUNT}:jobs`],
];

/** Resource strings policies write: wildcards at the end, in the middle, literal ARNs, short ARNs. */
const PATTERNS = [
  '*',
  'arn:aws:ec2:*:*:security-group/*',
  'arn:aws:ec2:*:*:*',
  'arn:aws:ec2',
  'arn:aws:ec2:us-east-1:*',
  `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/sg-0a1b2c`,
  'arn:aws:ec2:*:*:security-group/sg-0a*',
  'arn:aws:ec2:*:*:security-group/*:*',
  'arn:aws:*:*:*:*sg-0a*',
  'arn:aws:*:*:*:security-group/*',
  'arn:aws:states:*:*:execution:Machine:*',
  `arn:aws:states:us-east-1:${ACCOUNT}:execution:Machine:exec-1`,
  'arn:aws:states:*:*:execution:Mach*',
  'arn:aws:ssm:*:*:automation-execution/*',
  'arn:aws:ssm:*:*:automation-execution/0b7f*',
  'arn:aws:s3:::bucket/*',
  'arn:aws:s3:::bucket/a*',
  'arn:aws:s3:::*',
  'arn:aws:s3:::bucket',
  'arn:aws:s3:::b*',
  'arn:aws:iam::*:role/path/*',
  'arn:aws:iam::*:role/*',
  `arn:aws:iam::${ACCOUNT}:role/path/r1`,
  'arn:aws:iam::*:role/path/r?',
  BY_TAG,
  'arn:aws:sqs:*:*:*',
  `arn:aws:sqs:us-east-1:${ACCOUNT}:q1`,
  'arn:aws:sqs:*:*:q?',
  'arn:aws:sqs:*:*:q*',
];

type Shape = 'Allow Resource' | 'Deny Resource' | 'Allow NotResource' | 'Deny NotResource';
const SHAPES: Shape[] = ['Allow Resource', 'Deny Resource', 'Allow NotResource', 'Deny NotResource'];

/** A role's policies with `pattern` in one statement of `shape` (a Deny beside an allow-all). */
function policiesFor(action: string, pattern: string, shape: Shape): object[] {
  const [effect, element] = shape.split(' ') as ['Allow' | 'Deny', 'Resource' | 'NotResource'];
  const statement = { Effect: effect, Action: action, [element]: pattern };
  const allowAll = { Effect: 'Allow', Action: '*', Resource: '*' };
  return [{ Version: '2012-10-17', Statement: effect === 'Deny' ? [allowAll, statement] : [statement] }];
}

async function decide(action: string, resource: string, policies: object[]): Promise<string> {
  const simulation: Simulation = {
    request: {
      principal: `arn:aws:iam::${ACCOUNT}:role/caller`,
      action,
      resource: { resource, accountId: ACCOUNT },
      contextVariables: { 'aws:PrincipalTag/team': 'r1' },
    },
    identityPolicies: policies.map((policy, i) => ({ name: `p${i}`, policy })),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
  };
  const r = await runSimulation(simulation, {});
  return r.resultType === 'error' ? `error ${JSON.stringify(r.errors)}` : r.overallResult;
}

describe('IAM decision keys', () => {
  it('every action here has resource types that end in their id (the type cannot depend on it); one that does not is not generalized', async () => {
    for (const [action] of PAIRS) expect(await typesBlindToId(action), action).toBe(true);
    // account:GetAlternateContact acts on `arn:${Partition}:account::${Account}:account` among others.
    expect(await typesBlindToId('account:GetAlternateContact')).toBe(false);
    expect(await typesBlindToId('nosuchservice:Nothing')).toBe(false);
    const arn = `arn:aws:account::${ACCOUNT}:account/o-1/222233334444`;
    expect(resourceKey(arn, ['*'], await typesBlindToId('account:GetAlternateContact'))).toBe(arn);
  });

  it('ARNs sharing a key are decided alike by iam-simulate, for every statement shape', async () => {
    let shared = 0;
    for (const [action, first, second] of PAIRS)
      for (const pattern of PATTERNS) {
        const patterns = resourceStrings(policiesFor(action, pattern, 'Allow Resource'));
        if (resourceKey(first, patterns, true) !== resourceKey(second, patterns, true)) continue;
        shared++;
        for (const shape of SHAPES) {
          const policies = policiesFor(action, pattern, shape);
          const a = await decide(action, first, policies);
          const b = await decide(action, second, policies);
          expect(b, `${action} ${pattern} ${shape}: ${first} ${a}, ${second} ${b}`).toBe(a);
        }
      }
    // The shapes the project's roles write (…/*, *, other services, other ARNs) do share keys.
    expect(shared).toBeGreaterThan(PAIRS.length * 8);
  });

  it('a string that can tell the ids apart keeps the whole ARN in the key (and the simulator does tell them apart)', async () => {
    const cases: Array<[action: string, first: string, second: string, pattern: string]> = [
      [...(PAIRS[0] as [string, string, string]), 'arn:aws:ec2:*:*:security-group/sg-0a*'],
      [
        ...(PAIRS[0] as [string, string, string]),
        `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/sg-0a1b2c`,
      ],
      [...(PAIRS[1] as [string, string, string]), 'arn:aws:states:*:*:execution:Machine:exec*'],
      [...(PAIRS[3] as [string, string, string]), 'arn:aws:s3:::bucket/a*'],
      [...(PAIRS[4] as [string, string, string]), 'arn:aws:s3:::b*'],
      [...(PAIRS[5] as [string, string, string]), BY_TAG],
      [...(PAIRS[6] as [string, string, string]), 'arn:aws:sqs:*:*:q?'],
    ];
    for (const [action, first, second, pattern] of cases) {
      const policies = policiesFor(action, pattern, 'Allow Resource');
      expect(resourceKey(first, resourceStrings(policies), true), pattern).toBe(first);
      expect(await decide(action, first, policies), pattern).toBe('Allowed');
      expect(await decide(action, second, policies), pattern).toBe('ImplicitlyDenied');
    }
  });

  it('keeps the whole ARN for wildcards or variables in the ARN, no id, or unreadable policies', () => {
    const generalizable = `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/sg-1`;
    expect(resourceKey(generalizable, ['*'], true)).not.toBe(generalizable);
    expect(resourceKey(generalizable, ['*'], false)).toBe(generalizable);
    expect(resourceKey(generalizable, undefined, true)).toBe(generalizable);
    for (const arn of [
      '*',
      `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/*`,
      `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/sg-?`,
      `arn:aws:ssm:us-east-1:${ACCOUNT}:automation-definition/doc:$DEFAULT`,
      `arn:aws:ec2:us-east-1:${ACCOUNT}:security-group/`,
      'arn:aws:ec2:us-east-1',
    ])
      expect(resourceKey(arn, ['*'], true)).toBe(arn);
    expect(resourceStrings([{ Statement: [{ Resource: ['a', { b: 1 }] }] }])).toBeUndefined();
    expect(
      resourceStrings([{ Statement: { NotResource: 'x' } }, { Statement: [{ Resource: 'y' }] }]),
    ).toEqual(['x', 'y']);
  });
});
