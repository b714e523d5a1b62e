/**
 * The reviewed AWS-managed runbook table (runbooks/aws-managed.yaml) and the policy check built on it:
 * a policy entry may name a document in the table, with the parameters the table declares; anything
 * else is refused with a message naming the entry, the document and what is wrong.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { PolicyError } from '../../tasks/shared/errors';
import {
  AWS_MANAGED_TABLE_FILE,
  grantsFor,
  loadAwsManagedTable,
  parseAwsManagedTable,
} from '../../tasks/shared/policy/aws-managed';
import { normalizePolicy, parsePolicyText } from '../../tasks/shared/policy/load';

const table = loadAwsManagedTable(`runbooks/${AWS_MANAGED_TABLE_FILE}`);
const shippedPolicy = parsePolicyText(readFileSync('runbooks/policy.yaml', 'utf8')) as {
  remediations: unknown[];
};

/** The shipped policy plus one entry (for a type no shipped entry matches). */
function policyWith(entry: Record<string, unknown>): unknown {
  return { ...shippedPolicy, remediations: [...shippedPolicy.remediations, entry] };
}

const detachEntry = (runbook: string, parameters: Record<string, unknown>) => ({
  id: 'iam-detach',
  match: { configRules: ['iam-policy-no-statements-with-admin-access'], resourceTypes: ['AWS::IAM::Group'] },
  runbook,
  parameters,
});

describe('the AWS-managed runbook table', () => {
  it('holds the documents issue #12 asks for, by their published names', () => {
    expect(Object.keys(table.documents)).toEqual(
      expect.arrayContaining([
        'AWS-DisablePublicAccessForSecurityGroup',
        'AWS-EnableS3BucketEncryption',
        'AWS-ConfigureS3BucketVersioning',
        'AWSConfigRemediation-RemoveUnrestrictedSourceIngressRules',
        'AWSConfigRemediation-DetachIAMPolicy',
      ]),
    );
  });

  it.each(Object.entries(table.documents))('%s grants no mutating action on every resource', (_name, doc) => {
    for (const g of doc.permissions) {
      if (g.resource !== '*') continue;
      for (const a of g.actions) expect(a).toMatch(/:(Describe|List|Get)[A-Z]/);
    }
  });

  it('fills the ARN placeholders for one account and region', () => {
    const doc = table.documents['AWSConfigRemediation-DetachIAMPolicy'];
    if (!doc) throw new Error('missing document');
    const grants = grantsFor(doc, { partition: 'aws', region: 'eu-west-1', account: '111122223333' });
    expect(grants).toContainEqual({
      actions: ['iam:DetachRolePolicy'],
      resource: 'arn:aws:iam::111122223333:role/*',
    });
    for (const g of grants) expect(g.resource).not.toMatch(/[{}]/);
  });

  it('refuses a malformed table: an action that is not service:Action, two target parameters', () => {
    const raw = parseYaml(readFileSync(`runbooks/${AWS_MANAGED_TABLE_FILE}`, 'utf8')) as {
      documents: Record<string, { permissions: Array<{ actions: string[] }>; parameters: object }>;
    };
    const bad = structuredClone(raw);
    const doc = bad.documents['AWS-EnableS3BucketEncryption'];
    if (!doc?.permissions[0]) throw new Error('missing document');
    doc.permissions[0].actions = ['PutEncryptionConfiguration'];
    expect(() => parseAwsManagedTable(bad)).toThrow(/must be an IAM action/);
    const twoTargets = structuredClone(raw);
    const d2 = twoTargets.documents['AWS-EnableS3BucketEncryption'];
    if (!d2) throw new Error('missing document');
    d2.parameters = {
      BucketName: { type: 'String', required: true, target: true },
      SSEAlgorithm: { type: 'String', required: true, target: true },
    };
    expect(() => parseAwsManagedTable(twoTargets)).toThrow(/exactly one parameter target/);
  });
});

describe('policy entries naming AWS-managed runbooks', () => {
  it('accept a document in the table with its required parameters', () => {
    const policy = normalizePolicy(
      policyWith(
        detachEntry('AWSConfigRemediation-DetachIAMPolicy', { IAMResourceId: { from: 'event.resourceId' } }),
      ),
      { awsManaged: table },
    );
    const entry = policy.entries.find((e) => e.id === 'iam-detach');
    expect(entry).toMatchObject({ runbook: 'AWSConfigRemediation-DetachIAMPolicy', firstParty: false });
  });

  it('refuse a document outside the table, listing the supported ones', () => {
    const run = () =>
      normalizePolicy(
        policyWith(detachEntry('AWS-DetachIAMPolicy', { IAMResourceId: { from: 'event.resourceId' } })),
        { awsManaged: table },
      );
    expect(run).toThrow(PolicyError);
    expect(run).toThrow(
      /remediations\[\d+\]\.runbook: AWS-DetachIAMPolicy is not in the reviewed AWS-managed runbook table.*Supported: .*AWSConfigRemediation-DetachIAMPolicy/,
    );
  });

  it('refuse a missing required parameter and one the document does not declare', () => {
    const run = () =>
      normalizePolicy(
        policyWith(
          detachEntry('AWSConfigRemediation-DetachIAMPolicy', { PolicyArn: { from: 'event.resourceId' } }),
        ),
        { awsManaged: table },
      );
    expect(run).toThrow(
      /parameters\.IAMResourceId: AWSConfigRemediation-DetachIAMPolicy requires this parameter/,
    );
    expect(run).toThrow(/parameters\.PolicyArn: AWSConfigRemediation-DetachIAMPolicy has no such parameter/);
  });
});
