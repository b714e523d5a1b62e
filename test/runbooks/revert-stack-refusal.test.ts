/**
 * DriftRemediation-RevertStackDrift's safety rule, with CloudFormation scripted behind a fake
 * SandboxContext (the sandbox's REVERT_DRIFT never proposes a replacement for the supported types):
 * a change set that would replace or remove anything is deleted, never executed, and the automation
 * fails naming exactly those resources; a change set that failed for another reason fails the run too.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AwsError } from '../../sandbox/core/types';
import { harness } from '../sandbox/ssm/fake';

const NAME = 'DriftRemediation-RevertStackDrift';
const ROLE = 'arn:aws:iam::000000000000:role/automation';
const CS_ARN = 'arn:aws:cloudformation:us-east-1:000000000000:changeSet/DriftRevert-x/1';

function scriptedCloudFormation(changeSet: Record<string, unknown>, driftStatus = 'IN_SYNC') {
  return (service: string, api: string): unknown => {
    if (service !== 'cloudformation') throw new AwsError('UnknownServiceException', service);
    switch (api) {
      case 'DescribeStacks':
        return { Stacks: [{ StackName: 'app', StackStatus: 'UPDATE_COMPLETE' }] };
      case 'CreateChangeSet':
        return { Id: CS_ARN, StackId: 'arn:aws:cloudformation:us-east-1:000000000000:stack/app/1' };
      case 'DescribeChangeSet':
        return { ChangeSetId: CS_ARN, ...changeSet };
      case 'DeleteChangeSet':
      case 'ExecuteChangeSet':
        return {};
      case 'DetectStackDrift':
        return { StackDriftDetectionId: 'd-1' };
      case 'DescribeStackDriftDetectionStatus':
        return {
          StackDriftDetectionId: 'd-1',
          DetectionStatus: 'DETECTION_COMPLETE',
          StackDriftStatus: driftStatus,
        };
      default:
        throw new AwsError('InvalidAction', `${api} not scripted`);
    }
  };
}

async function runWith(changeSet: Record<string, unknown>, driftStatus?: string) {
  const h = harness();
  h.setHandler(scriptedCloudFormation(changeSet, driftStatus));
  await h.create(NAME, readFileSync(`runbooks/${NAME}.yaml`, 'utf8'));
  const e = await h.waitFor(await h.start(NAME, { AutomationAssumeRole: [ROLE], StackName: ['app'] }));
  return { e, apis: h.calls.map((c) => c.api), calls: h.calls };
}

const change = (LogicalResourceId: string, Action: string, Replacement?: string) => ({
  Type: 'Resource',
  ResourceChange: {
    Action,
    LogicalResourceId,
    ResourceType: 'AWS::X::Y',
    ...(Replacement ? { Replacement } : {}),
  },
});

describe(`${NAME} refuses replacements and removals`, () => {
  it('fails with the list, deletes the change set and never executes it', async () => {
    const { e, apis, calls } = await runWith({
      Status: 'CREATE_COMPLETE',
      Changes: [
        change('Database', 'Modify', 'True'),
        change('Queue', 'Remove'),
        change('Cache', 'Modify', 'Conditional'),
        change('WebSg', 'Modify', 'False'),
      ],
    });
    expect(e.AutomationExecutionStatus).toBe('Failed');
    expect(e.FailureMessage).toContain('["Database","Queue","Cache"]');
    expect(e.FailureMessage).not.toContain('WebSg');
    expect(apis).not.toContain('ExecuteChangeSet');
    expect(apis).toContain('DeleteChangeSet');
    const created = calls.find((c) => c.api === 'CreateChangeSet')?.input;
    expect(created).toMatchObject({
      StackName: 'app',
      DeploymentMode: 'REVERT_DRIFT',
      UsePreviousTemplate: true,
      ChangeSetType: 'UPDATE',
    });
    expect(String(created?.ChangeSetName)).toBe(`DriftRevert-${e.AutomationExecutionId}`);
  });

  it('executes a change set of in-place modifications only', async () => {
    const { e, apis } = await runWith({
      Status: 'CREATE_COMPLETE',
      Changes: [change('WebSg', 'Modify', 'False')],
    });
    expect(e.AutomationExecutionStatus).toBe('Success');
    expect(apis).toContain('ExecuteChangeSet');
    expect(apis).not.toContain('DeleteChangeSet');
  });

  it('a change set with no changes is deleted and the run succeeds (nothing to revert)', async () => {
    const { e, apis } = await runWith({
      Status: 'FAILED',
      StatusReason:
        "The submitted information didn't contain changes. Submit different information to create a change set.",
      Changes: [],
    });
    expect(e.AutomationExecutionStatus).toBe('Success');
    expect(apis).toContain('DeleteChangeSet');
    expect(apis).not.toContain('ExecuteChangeSet');
  });

  it('a change set that failed for another reason fails the run, without executing', async () => {
    const { e, apis } = await runWith({
      Status: 'FAILED',
      StatusReason: 'Template error: unresolved resource dependency',
      Changes: [],
    });
    expect(e.AutomationExecutionStatus).toBe('Failed');
    expect(e.FailureMessage).toContain('Template error');
    expect(apis).not.toContain('ExecuteChangeSet');
  });

  it('a stack that is still DRIFTED afterwards fails the final verification', async () => {
    const { e } = await runWith(
      { Status: 'CREATE_COMPLETE', Changes: [change('WebSg', 'Modify', 'False')] },
      'DRIFTED',
    );
    expect(e.AutomationExecutionStatus).toBe('Failed');
    expect(e.FailureMessage).toMatch(/VerifyStackInSync.*DRIFTED/);
  });
});
