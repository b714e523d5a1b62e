import { describe, expect, it } from 'vitest';
import { synth } from './synth';

const { json } = synth();

describe('stack outputs', () => {
  it('gives operators the workflow, the topics, the queues and the tables they need after cdk deploy', () => {
    const outputs =
      (json as { Outputs?: Record<string, { Value: unknown; Description?: string }> }).Outputs ?? {};
    expect(Object.keys(outputs).sort()).toEqual([
      'ApprovalTopicArn',
      'DeadLetterQueueUrl',
      'IntakeQueueUrl',
      'ManualStartUrl',
      'OrderingTableName',
      'OutcomeTopicArn',
      'OutcomesTableName',
      'StateMachineArn',
    ]);
    const refOf = (name: string) => JSON.stringify(outputs[name]?.Value);
    const logicalIdOfType = (type: string, hint: string) =>
      Object.entries(json.Resources).find(([id, r]) => r.Type === type && id.includes(hint))?.[0];
    expect(refOf('ApprovalTopicArn')).toContain(String(logicalIdOfType('AWS::SNS::Topic', 'Approval')));
    expect(refOf('OutcomesTableName')).toContain(String(logicalIdOfType('AWS::DynamoDB::Table', 'Outcomes')));
    expect(refOf('StateMachineArn')).toContain(
      String(logicalIdOfType('AWS::StepFunctions::StateMachine', '')),
    );
    expect(refOf('ManualStartUrl')).toContain(String(logicalIdOfType('AWS::Lambda::Url', 'ManualStart')));
    for (const o of Object.values(outputs)) expect(o.Description).toBeTruthy();
  });
});
