/**
 * The approver's summary sentence and risk cue (#15): derived from the runbook and the parameters it
 * will run with, and from the drift; no raw null or empty parameter rows on the page.
 */
import { describe, expect, it } from 'vitest';
import { approvalSentence, riskCues } from '../../../tasks/shared/approvals/describe';
import { renderReviewPage } from '../../../tasks/shared/approvals/page';
import type { ApprovalSummary } from '../../../tasks/shared/approvals/record';
import { NOW, pendingItem } from '../../approvals/support/fixtures';

const base = (): ApprovalSummary => pendingItem().summary;

function summary(
  documentName: string,
  parameters: Record<string, string[]>,
  o: Partial<ApprovalSummary> = {},
): ApprovalSummary {
  return { ...base(), ...o, runbook: { documentName, firstParty: true, parameters } };
}

const SSH_WORLD = JSON.stringify({
  IpProtocol: 'tcp',
  FromPort: 22,
  ToPort: 22,
  IpRanges: [{ CidrIp: '0.0.0.0/0' }],
});
const sgDrift = (added: string[]): Partial<ApprovalSummary> => ({
  resourceType: 'AWS::EC2::SecurityGroup',
  resourceId: 'sg-0123456789abcdef0',
  drift: {
    differences: [],
    added: [{ property: 'SecurityGroupIngress', values: added }],
    removed: [],
    truncated: false,
  },
});

describe('approvalSentence', () => {
  it('an admin policy attached to a role: "Detach AdministratorAccess from role …" (the demo case)', () => {
    expect(approvalSentence(base())).toBe('Detach AdministratorAccess from role app-role');
    const both = summary('acme-DriftRemediation-RestoreIamRolePolicies', {
      RoleName: ['drift-demo-reporting'],
      DetachPolicyArns: [
        'arn:aws:iam::aws:policy/AdministratorAccess',
        'arn:aws:iam::aws:policy/IAMFullAccess',
      ],
      AttachPolicyArns: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
    });
    expect(approvalSentence(both)).toBe(
      'Detach AdministratorAccess and IAMFullAccess from role drift-demo-reporting and attach ReadOnlyAccess to role drift-demo-reporting',
    );
  });

  it('security group rules, buckets, stacks, functions, Cloud Control and AWS-managed runbooks', () => {
    const sg = summary(
      'DriftRemediation-RevertSecurityGroupIngress',
      { GroupId: ['sg-0123456789abcdef0'], RevokeIngress: [SSH_WORLD], AuthorizeIngress: [] },
      sgDrift([]),
    );
    expect(approvalSentence(sg)).toBe(
      'Remove the ingress rule tcp port 22 from 0.0.0.0/0 on security group sg-0123456789abcdef0',
    );
    expect(
      approvalSentence(
        summary('DriftRemediation-EnableS3BucketEncryption', {
          BucketName: ['b1'],
          SSEAlgorithm: ['AES256'],
          KMSMasterKeyID: [''],
        }),
      ),
    ).toBe('Turn on default encryption (AES256) for bucket b1');
    expect(approvalSentence(summary('DriftRemediation-BlockS3PublicAccess', { BucketName: ['b1'] }))).toBe(
      'Block all public access to bucket b1',
    );
    expect(approvalSentence(summary('DriftRemediation-RevertStackDrift', { StackName: ['app'] }))).toMatch(
      /^Revert the drifted resources of stack app to its template/,
    );
    expect(
      approvalSentence(
        summary('DriftRemediation-CloudControlPropertyRevert', {
          PatchDocument: [JSON.stringify([{ op: 'replace', path: '/Description', value: 'x' }])],
        }),
      ),
    ).toBe('Set Description of AWS::IAM::Role app-role back to the template values');
    expect(approvalSentence(summary('AWS-DisablePublicAccessForSecurityGroup', { GroupId: ['sg-1'] }))).toBe(
      'Run the SSM Automation runbook AWS-DisablePublicAccessForSecurityGroup on AWS::IAM::Role app-role',
    );
  });
});

describe('riskCues', () => {
  it('an attached managed policy grants privilege; an ingress rule from anywhere opens access', () => {
    expect(riskCues(base())).toEqual([
      {
        kind: 'grants privilege',
        text: 'AdministratorAccess is attached to app-role, and its template does not declare it.',
      },
    ]);
    const open = riskCues({
      ...base(),
      ...sgDrift([JSON.stringify({ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '0.0.0.0/0' })]),
    });
    expect(open).toEqual([
      { kind: 'opens access', text: 'tcp port 22 from 0.0.0.0/0 is open to the whole internet.' },
    ]);
  });

  it('drift that neither grants nor opens anything has no cue', () => {
    const lambda = { ...base(), resourceType: 'AWS::Lambda::Function', resourceId: 'fn' };
    expect(riskCues(lambda)).toEqual([]);
    expect(riskCues({ ...base(), ...sgDrift([]) })).toEqual([]);
  });
});

describe('review page', () => {
  const render = (s: ApprovalSummary) =>
    renderReviewPage({
      summary: s,
      approvalId: 'apr-1',
      approver: 'a@example.com',
      expiresAt: 0,
      now: NOW,
      csrf: 'c',
      action: '?x',
    });

  it('opens with the sentence and the risk cue, before the details', () => {
    const html = render(base());
    const sentence = html.indexOf('Approving will:</strong> Detach AdministratorAccess from role app-role.');
    expect(sentence).toBeGreaterThan(html.indexOf('<h1>'));
    expect(html.indexOf('Risk: this drift grants privilege')).toBeGreaterThan(sentence);
    expect(html.indexOf('Risk: this drift grants privilege')).toBeLessThan(
      html.indexOf('What is out of policy'),
    );
  });

  it('no raw null and no empty parameter rows: blank parameters are named once', () => {
    const s = summary('DriftRemediation-EnableS3BucketEncryption', {
      BucketName: ['b1'],
      KMSMasterKeyID: [''],
      Extra: ['null'],
      Nothing: [],
      Rules: ['[]'],
    });
    const html = render(s);
    expect(html).not.toMatch(/>null</);
    expect(html).not.toMatch(/<dd><\/dd>|<pre><\/pre>/);
    expect(html).toContain('<dt><code>BucketName</code></dt><dd><pre>b1</pre></dd>');
    expect(html).toContain(
      'Passed empty (nothing to do for them): <code>KMSMasterKeyID</code>, <code>Extra</code>, <code>Nothing</code>, <code>Rules</code>.',
    );
  });
});
