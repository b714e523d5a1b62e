/**
 * Drift detection as an asynchronous operation on the sandbox clock (DETECTION_IN_PROGRESS, then
 * DETECTION_COMPLETE), and its "CloudFormation Drift Detection Status Change" event delivered through
 * a real EventBridge rule to an SQS queue, read back with the SDK.
 */
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStacksCommand,
  DetectStackDriftCommand,
} from '@aws-sdk/client-cloudformation';
import { AuthorizeSecurityGroupIngressCommand, EC2Client } from '@aws-sdk/client-ec2';
import { EventBridgeClient, PutRuleCommand, PutTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { cloudFormationService } from '../../../sandbox/services/cloudformation';
import { ec2Service } from '../../../sandbox/services/ec2';
import { eventsService } from '../../../sandbox/services/events';
import { resourceProviders } from '../../../sandbox/services/providers';
import { sqsService } from '../../../sandbox/services/sqs';
import { withSandbox } from '../helpers';

// 0.25: a resource takes 250 ms and a drift detection 500 ms, long enough to observe the in-progress states.
const sb = withSandbox(() => ({
  timeScale: 0.25,
  services: [cloudFormationService(), ec2Service(), eventsService(), sqsService()],
  providers: resourceProviders(),
}));

const TEMPLATE = `Resources:
  Sg:
    Type: AWS::EC2::SecurityGroup
    Properties:
      GroupDescription: ssh-free
      SecurityGroupIngress:
        - { IpProtocol: tcp, FromPort: 443, ToPort: 443, CidrIp: 10.0.0.0/8 }
Outputs:
  GroupId:
    Value: !Ref Sg
`;

describe('CloudFormation drift detection on the sandbox clock', () => {
  it('progresses IN_PROGRESS → COMPLETE and publishes the status-change event to EventBridge rules', async () => {
    const cfn = new CloudFormationClient(sb.clientConfig);
    const sqs = new SQSClient(sb.clientConfig);
    const events = new EventBridgeClient(sb.clientConfig);
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'drift-events' }));
    await events.send(
      new PutRuleCommand({
        Name: 'drift',
        EventPattern: JSON.stringify({
          source: ['aws.cloudformation'],
          'detail-type': ['CloudFormation Drift Detection Status Change'],
          detail: { 'status-details': { 'stack-drift-status': ['DRIFTED'] } },
        }),
      }),
    );
    await events.send(
      new PutTargetsCommand({
        Rule: 'drift',
        Targets: [{ Id: 'q', Arn: `arn:aws:sqs:${sb.sandbox.region}:${sb.sandbox.accountId}:drift-events` }],
      }),
    );

    const { StackId } = await cfn.send(new CreateStackCommand({ StackName: 'ssh', TemplateBody: TEMPLATE }));
    const creating = (await cfn.send(new DescribeStacksCommand({ StackName: 'ssh' }))).Stacks?.[0];
    expect(creating?.StackStatus).toBe('CREATE_IN_PROGRESS');
    let stack = creating;
    while (stack?.StackStatus === 'CREATE_IN_PROGRESS') {
      await new Promise((r) => setTimeout(r, 20));
      stack = (await cfn.send(new DescribeStacksCommand({ StackName: 'ssh' }))).Stacks?.[0];
    }
    expect(stack?.StackStatus).toBe('CREATE_COMPLETE');
    const groupId = stack?.Outputs?.[0]?.OutputValue;
    await new EC2Client(sb.clientConfig).send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: groupId,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );

    const { StackDriftDetectionId } = await cfn.send(new DetectStackDriftCommand({ StackName: 'ssh' }));
    const first = await cfn.send(new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId }));
    expect(first).toMatchObject({ StackId, StackDriftDetectionId, DetectionStatus: 'DETECTION_IN_PROGRESS' });
    expect(first.StackDriftStatus).toBeUndefined();
    expect(first.DriftedStackResourceCount).toBeUndefined();

    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }));
    const body = JSON.parse(received.Messages?.[0]?.Body ?? '{}');
    expect(body).toMatchObject({
      version: '0',
      source: 'aws.cloudformation',
      'detail-type': 'CloudFormation Drift Detection Status Change',
      account: sb.sandbox.accountId,
      region: sb.sandbox.region,
      resources: [StackId],
      detail: {
        'stack-id': StackId,
        'stack-drift-detection-id': StackDriftDetectionId,
        'status-details': { 'stack-drift-status': 'DRIFTED', 'detection-status': 'DETECTION_COMPLETE' },
        'drift-detection-details': { 'drifted-stack-resource-count': 1 },
      },
    });
    const done = await cfn.send(new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId }));
    expect(done).toMatchObject({
      DetectionStatus: 'DETECTION_COMPLETE',
      StackDriftStatus: 'DRIFTED',
      DriftedStackResourceCount: 1,
    });
    // Timestamp is when the detection was initiated (it does not move on completion).
    expect(done.Timestamp).toEqual(first.Timestamp);

    await expect(
      cfn.send(new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId: 'no-such-id' })),
    ).rejects.toMatchObject({
      name: 'ValidationError',
    });
  });
});
