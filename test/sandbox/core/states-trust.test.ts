/**
 * Step Functions takes as a state machine's role only one it can assume: CreateStateMachine needs the role
 * to exist and trust `states.amazonaws.com` (or the regional `states.REGION.amazonaws.com`), with the
 * machine as aws:SourceArn, else AccessDeniedException as AWS words it and no state machine; the caller
 * needs iam:PassRole on it. Real SFNClient against the sandbox.
 */
import { CreateStateMachineCommand, ListStateMachinesCommand, SFNClient } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { allServices } from '../../../sandbox/services';
import { withSandbox } from '../helpers';
import { actingAs, failure, role, trustingRole } from './iam-support';

const sb = withSandbox(() => ({ services: allServices(), region: 'us-east-1' }));
const REFUSED =
  'Neither the global service principal states.amazonaws.com, nor the regional one is authorized to assume the provided role.';
const definition = JSON.stringify({ StartAt: 'Done', States: { Done: { Type: 'Pass', End: true } } });
const create = (name: string, roleArn: string) =>
  new CreateStateMachineCommand({ name, definition, roleArn });

async function machines(sfn: SFNClient): Promise<string[]> {
  return ((await sfn.send(new ListStateMachinesCommand({}))).stateMachines ?? []).map((m) => m.name ?? '');
}

describe('Step Functions state machine roles must trust states.amazonaws.com', () => {
  it('creates with a global or regional trust; refuses a role trusting another service or missing', async () => {
    const sfn = new SFNClient(sb.clientConfig);
    const global = await trustingRole(sb.sandbox, 'sm-global', 'states.amazonaws.com');
    const regional = await trustingRole(sb.sandbox, 'sm-regional', 'states.us-east-1.amazonaws.com');
    const lambdaRole = await trustingRole(sb.sandbox, 'sm-lambda', 'lambda.amazonaws.com');
    await sfn.send(create('global', global));
    await sfn.send(create('regional', regional));
    for (const [name, arn] of [
      ['lambda-role', lambdaRole],
      ['missing-role', 'arn:aws:iam::000000000000:role/no-such-role'],
    ] as const) {
      const f = await failure(sfn.send(create(name, arn)));
      expect(f).toMatchObject({ name: 'AccessDeniedException', message: REFUSED, status: 400 });
    }
    expect((await machines(sfn)).sort()).toEqual(['global', 'regional']);
  });

  it('evaluates the trust with the state machine as aws:SourceArn', async () => {
    const sfn = new SFNClient(sb.clientConfig);
    const arn = await trustingRole(sb.sandbox, 'sm-conditioned', 'states.amazonaws.com');
    await sb.sandbox.context.call('iam', 'UpdateAssumeRolePolicy', {
      RoleName: 'sm-conditioned',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'states.amazonaws.com' },
            Action: 'sts:AssumeRole',
            Condition: {
              ArnLike: { 'aws:SourceArn': 'arn:aws:states:us-east-1:000000000000:stateMachine:ok-*' },
            },
          },
        ],
      }),
    });
    await sfn.send(create('ok-flow', arn));
    expect((await failure(sfn.send(create('other-flow', arn)))).message).toBe(REFUSED);
  });

  it('needs iam:PassRole on the role from a caller that is not the administrator', async () => {
    const smRole = await trustingRole(sb.sandbox, 'sm-passed', 'states.amazonaws.com');
    const allow = { Effect: 'Allow', Action: 'states:CreateStateMachine', Resource: '*' };
    const deployer = await role(sb, 'sfn-deployer', [allow]);
    const denied = await failure(
      new SFNClient(actingAs(sb, deployer, 'deploy')).send(create('no-pass', smRole)),
    );
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain(`iam:PassRole on resource: ${smRole}`);
    expect(await machines(new SFNClient(sb.clientConfig))).not.toContain('no-pass');
  });
});
