/**
 * IAM's decision cache (sandbox/services/iam/enforce.ts, decision-key.ts) through real SDK clients: a
 * decision taken for one security group answers for the next group its role's policies cannot tell apart
 * (no new simulation), and nothing it cached outlives what it depended on — a deny added, a policy
 * removed, a tag changed after a cached allow refuse the next call; a deny naming one group keeps every
 * group's decision its own; a tag condition is decided with each group's own tags.
 */
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  CreateTagsCommand,
  EC2Client,
} from '@aws-sdk/client-ec2';
import { DeleteRolePolicyCommand, IAMClient, PutRolePolicyCommand } from '@aws-sdk/client-iam';
import { describe, expect, it } from 'vitest';
import { ec2Service } from '../../../sandbox/services/ec2';
import { iamService } from '../../../sandbox/services/iam';
import { decisionStats } from '../../../sandbox/services/iam/enforce';
import { withSandbox } from '../helpers';
import { actingAs, failure, policy, role } from './iam-support';

const sb = withSandbox(() => ({ services: [iamService(), ec2Service()] }));
const ALLOW_INGRESS = {
  Effect: 'Allow',
  Action: 'ec2:AuthorizeSecurityGroupIngress',
  Resource: 'arn:aws:ec2:*:*:security-group/*',
};

/** A new security group (made by the administrator), tagged `tags`; its id. */
async function group(name: string, tags: Record<string, string> = {}): Promise<string> {
  const Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
  const { GroupId } = await new EC2Client(sb.clientConfig).send(
    new CreateSecurityGroupCommand({
      GroupName: name,
      Description: name,
      ...(Tags.length > 0 ? { TagSpecifications: [{ ResourceType: 'security-group', Tags }] } : {}),
    }),
  );
  return String(GroupId);
}

let port = 1000;
/** Opens one more port of `groupId` as `roleArn`'s session. */
function open(roleArn: string, groupId: string): Promise<unknown> {
  port++;
  return new EC2Client(actingAs(sb, roleArn, 'cache')).send(
    new AuthorizeSecurityGroupIngressCommand({
      GroupId: groupId,
      IpProtocol: 'tcp',
      FromPort: port,
      ToPort: port,
      CidrIp: '10.0.0.0/8',
    }),
  );
}

const simulations = () => decisionStats(sb.sandbox.context).simulations;

describe('IAM decision cache', () => {
  it('a second group the policies cannot tell apart is decided from the first one’s cached allow', async () => {
    const roleArn = await role(sb, 'cache-hit', [ALLOW_INGRESS]);
    const [a, b, c] = [await group('hit-a'), await group('hit-b'), await group('hit-c')];
    await open(roleArn, a);
    const after = simulations();
    await open(roleArn, b);
    await open(roleArn, c);
    expect(simulations()).toBe(after);
  });

  it('a deny added, or the allowing policy removed, after a cached allow refuses the next group', async () => {
    const roleArn = await role(sb, 'cache-revoked', [ALLOW_INGRESS]);
    const [a, b, c] = [await group('rev-a'), await group('rev-b'), await group('rev-c')];
    await open(roleArn, a);
    const iam = new IAMClient(sb.clientConfig);
    const deny = { ...ALLOW_INGRESS, Effect: 'Deny' };
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: 'cache-revoked',
        PolicyName: 'deny',
        PolicyDocument: policy(deny),
      }),
    );
    const denied = await failure(open(roleArn, b));
    expect(denied.name).toBe('UnauthorizedOperation');
    expect(denied.message).toContain('ec2:AuthorizeSecurityGroupIngress');
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'cache-revoked', PolicyName: 'deny' }));
    await open(roleArn, b);
    await iam.send(new DeleteRolePolicyCommand({ RoleName: 'cache-revoked', PolicyName: 'inline' }));
    expect((await failure(open(roleArn, c))).name).toBe('UnauthorizedOperation');
  });

  it('a deny naming one group refuses that group only, whatever the others’ decisions cached', async () => {
    const roleArn = await role(sb, 'cache-one-denied', [ALLOW_INGRESS]);
    const [a, b, c] = [await group('one-a'), await group('one-b'), await group('one-c')];
    await open(roleArn, a);
    const deny = { ...ALLOW_INGRESS, Effect: 'Deny', Resource: `arn:aws:ec2:*:*:security-group/${b}` };
    await new IAMClient(sb.clientConfig).send(
      new PutRolePolicyCommand({
        RoleName: 'cache-one-denied',
        PolicyName: 'deny',
        PolicyDocument: policy(deny),
      }),
    );
    await open(roleArn, a);
    const denied = await failure(open(roleArn, b));
    expect(denied.message).toContain(`security-group/${b}`);
    expect(denied.message).toContain('explicit deny');
    await open(roleArn, c);
  });

  it('a tag condition is decided with each group’s own tags, and again when a tag changes after a cached allow', async () => {
    const roleArn = await role(sb, 'cache-tags', [
      { ...ALLOW_INGRESS, Condition: { StringEquals: { 'aws:ResourceTag/env': 'dev' } } },
    ]);
    const dev = await group('tag-dev', { env: 'dev' });
    const prod = await group('tag-prod', { env: 'prod' });
    const untagged = await group('tag-none');
    await open(roleArn, dev);
    expect((await failure(open(roleArn, prod))).name).toBe('UnauthorizedOperation');
    expect((await failure(open(roleArn, untagged))).name).toBe('UnauthorizedOperation');
    await new EC2Client(sb.clientConfig).send(
      new CreateTagsCommand({ Resources: [dev], Tags: [{ Key: 'env', Value: 'prod' }] }),
    );
    expect((await failure(open(roleArn, dev))).name).toBe('UnauthorizedOperation');
    await new EC2Client(sb.clientConfig).send(
      new CreateTagsCommand({ Resources: [prod], Tags: [{ Key: 'env', Value: 'dev' }] }),
    );
    await open(roleArn, prod);
  });
});
