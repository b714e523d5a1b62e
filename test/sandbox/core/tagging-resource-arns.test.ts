/**
 * Calls AWS authorizes on a resource although their input names it indirectly: Lambda's ListTags /
 * TagResource / UntagResource on the function ARN in `Resource`, SSM's AddTagsToResource /
 * RemoveTagsFromResource / ListTagsForResource on the ARN `ResourceType` + `ResourceId` name, and
 * CloudFormation's DescribeStackResources by `PhysicalResourceId` on the stack the resource is in. A role
 * scoped to one resource is refused the other (naming its ARN) and nothing changes; before, these were
 * evaluated against `*`, which any resource-scoped grant allowed. Real SDK v3 clients.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackResourcesCommand,
} from '@aws-sdk/client-cloudformation';
import {
  CreateFunctionCommand,
  LambdaClient,
  ListTagsCommand,
  TagResourceCommand,
} from '@aws-sdk/client-lambda';
import {
  AddTagsToResourceCommand,
  CreateDocumentCommand,
  ListTagsForResourceCommand,
  RemoveTagsFromResourceCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import { allServices } from '../../../sandbox/services';
import { resourceProviders } from '../../../sandbox/services/providers';
import { withSandbox } from '../helpers';
import { actingAs, failure, role } from './iam-support';
import { settle } from './stack-support';

const sb = withSandbox(() => ({ timeScale: 0.01, services: allServices(), providers: resourceProviders() }));
const ACCOUNT = '000000000000';
const REGION = 'us-east-1';
const fnArn = (name: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;
const docArn = (name: string) => `arn:aws:ssm:${REGION}:${ACCOUNT}:document/${name}`;

async function createFunction(name: string): Promise<void> {
  const execution = `arn:aws:iam::${ACCOUNT}:role/tagging-fn-role`;
  await new LambdaClient(sb.clientConfig).send(
    new CreateFunctionCommand({
      FunctionName: name,
      Runtime: 'nodejs22.x',
      Handler: 'index.handler',
      Role: execution,
      Code: { ZipFile: new TextEncoder().encode('export const handler = async () => 1;') },
    }),
  );
}

async function createDocument(name: string): Promise<void> {
  const content = {
    schemaVersion: '0.3',
    mainSteps: [{ name: 's', action: 'aws:sleep', inputs: { Duration: 'PT1S' } }],
  };
  await new SSMClient(sb.clientConfig).send(
    new CreateDocumentCommand({ Name: name, DocumentType: 'Automation', Content: JSON.stringify(content) }),
  );
}

describe('resource ARNs of tagging calls and lookups by physical id', () => {
  it('Lambda ListTags / TagResource: on the function the Resource ARN names', async () => {
    await role(sb, 'tagging-fn-role');
    await createFunction('tag-mine');
    await createFunction('tag-other');
    const scoped = await role(sb, 'lambda-tagger', [
      { Effect: 'Allow', Action: ['lambda:ListTags', 'lambda:TagResource'], Resource: fnArn('tag-mine') },
    ]);
    const lambda = new LambdaClient(actingAs(sb, scoped, 'tagger'));
    const admin = new LambdaClient(sb.clientConfig);

    const tag = new TagResourceCommand({ Resource: fnArn('tag-other'), Tags: { team: 'x' } });
    const denied = await failure(lambda.send(tag));
    expect(denied.name).toBe('AccessDeniedException');
    expect(denied.message).toContain(`lambda:TagResource on resource: ${fnArn('tag-other')}`);
    expect((await admin.send(new ListTagsCommand({ Resource: fnArn('tag-other') }))).Tags).toEqual({});
    const listed = await failure(lambda.send(new ListTagsCommand({ Resource: fnArn('tag-other') })));
    expect(listed.message).toContain(`lambda:ListTags on resource: ${fnArn('tag-other')}`);

    await lambda.send(new TagResourceCommand({ Resource: fnArn('tag-mine'), Tags: { team: 'x' } }));
    expect((await lambda.send(new ListTagsCommand({ Resource: fnArn('tag-mine') }))).Tags).toEqual({
      team: 'x',
    });
  });

  it('SSM AddTagsToResource / ListTagsForResource: on the document ResourceType + ResourceId name', async () => {
    await createDocument('Tag-Mine');
    await createDocument('Tag-Other');
    const scoped = await role(sb, 'ssm-tagger', [
      {
        Effect: 'Allow',
        Action: ['ssm:AddTagsToResource', 'ssm:RemoveTagsFromResource', 'ssm:ListTagsForResource'],
        Resource: docArn('Tag-Mine'),
      },
    ]);
    const ssm = new SSMClient(actingAs(sb, scoped, 'tagger'));
    const admin = new SSMClient(sb.clientConfig);
    const other = { ResourceType: 'Document' as const, ResourceId: 'Tag-Other' };

    const denied = await failure(
      ssm.send(new AddTagsToResourceCommand({ ...other, Tags: [{ Key: 'team', Value: 'x' }] })),
    );
    expect(denied).toMatchObject({ name: 'AccessDeniedException', status: 400 });
    expect(denied.message).toContain(`ssm:AddTagsToResource on resource: ${docArn('Tag-Other')}`);
    expect((await admin.send(new ListTagsForResourceCommand(other))).TagList).toEqual([]);

    const mine = { ResourceType: 'Document' as const, ResourceId: 'Tag-Mine' };
    await ssm.send(
      new AddTagsToResourceCommand({
        ...mine,
        Tags: [
          { Key: 'team', Value: 'x' },
          { Key: 'tier', Value: '1' },
        ],
      }),
    );
    await ssm.send(new AddTagsToResourceCommand({ ...mine, Tags: [{ Key: 'team', Value: 'y' }] }));
    await ssm.send(new RemoveTagsFromResourceCommand({ ...mine, TagKeys: ['tier'] }));
    expect((await ssm.send(new ListTagsForResourceCommand(mine))).TagList).toEqual([
      { Key: 'team', Value: 'y' },
    ]);
  });

  it('SSM tagging refuses a resource type the sandbox does not keep, a missing document and a bad tag', async () => {
    const admin = new SSMClient(sb.clientConfig);
    const tags = [{ Key: 'team', Value: 'x' }];
    const param = await failure(
      admin.send(new AddTagsToResourceCommand({ ResourceType: 'Parameter', ResourceId: '/p', Tags: tags })),
    );
    expect(param.name).toBe('InvalidResourceType');
    const missing = await failure(
      admin.send(new AddTagsToResourceCommand({ ResourceType: 'Document', ResourceId: 'Nope', Tags: tags })),
    );
    expect(missing.name).toBe('InvalidResourceId');
    await createDocument('Tag-Bad');
    const bad = await failure(
      admin.send(
        new AddTagsToResourceCommand({
          ResourceType: 'Document',
          ResourceId: 'Tag-Bad',
          Tags: [{ Key: '', Value: 'x' }],
        }),
      ),
    );
    expect(bad.name).toBe('ValidationException');
    const many = Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' }));
    const tooMany = await failure(
      admin.send(
        new AddTagsToResourceCommand({ ResourceType: 'Document', ResourceId: 'Tag-Bad', Tags: many }),
      ),
    );
    expect(tooMany.name).toBe('TooManyTagsError');
    expect(
      (await admin.send(new ListTagsForResourceCommand({ ResourceType: 'Document', ResourceId: 'Tag-Bad' })))
        .TagList,
    ).toEqual([]);
  });

  it('CloudFormation DescribeStackResources by PhysicalResourceId: on the stack that resource is in', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const template = (d: string) =>
      `Resources:\n  Sg:\n    Type: AWS::EC2::SecurityGroup\n    Properties:\n      GroupDescription: ${d}\n`;
    const stackIds: Record<string, string> = {};
    for (const name of ['phys-mine', 'phys-other']) {
      const out = await cfn.send(new CreateStackCommand({ StackName: name, TemplateBody: template(name) }));
      stackIds[name] = String(out.StackId);
      expect(await settle(cfn, name)).toBe('CREATE_COMPLETE');
    }
    const groupOf = async (stack: string) =>
      String(
        (await cfn.send(new DescribeStackResourcesCommand({ StackName: stack }))).StackResources?.[0]
          ?.PhysicalResourceId,
      );
    const [mine, other] = [await groupOf('phys-mine'), await groupOf('phys-other')];
    const scoped = await role(sb, 'stack-reader', [
      {
        Effect: 'Allow',
        Action: 'cloudformation:DescribeStackResources',
        Resource: `arn:aws:cloudformation:${REGION}:${ACCOUNT}:stack/phys-mine/*`,
      },
    ]);
    const reader = new CloudFormationClient(actingAs(sb, scoped, 'reader'));

    const denied = await failure(
      reader.send(new DescribeStackResourcesCommand({ PhysicalResourceId: other })),
    );
    expect(denied).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(denied.message).toContain(
      `cloudformation:DescribeStackResources on resource: ${stackIds['phys-other']}`,
    );
    const found = await reader.send(new DescribeStackResourcesCommand({ PhysicalResourceId: mine }));
    expect(found.StackResources?.[0]?.StackId).toBe(stackIds['phys-mine']);
  });
});
