/**
 * Step Functions over the wire: a real SFNClient against the sandbox. Shapes parse in the SDK (dates,
 * history events) and documented errors arrive as the SDK's typed exceptions.
 */
import {
  CreateStateMachineCommand,
  DescribeExecutionCommand,
  ExecutionAlreadyExists,
  ExecutionDoesNotExist,
  GetExecutionHistoryCommand,
  InvalidName,
  InvalidToken,
  ListExecutionsCommand,
  SendTaskSuccessCommand,
  SFNClient,
  StartExecutionCommand,
  StateMachineDoesNotExist,
} from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { stepFunctionsService } from '../../../sandbox/services/stepfunctions';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({ services: [stepFunctionsService()] }));

const definition = JSON.stringify({
  StartAt: 'Double',
  States: {
    Double: {
      Type: 'Task',
      Resource: 'arn:aws:lambda:us-east-1:000000000000:function:double',
      TimeoutSeconds: 10,
      End: true,
    },
  },
});

describe('Step Functions through the SDK', () => {
  it('creates, starts, describes, lists and returns AWS-format history', async () => {
    sb.sandbox.registerFunction({
      name: 'double',
      arn: 'arn:aws:lambda:us-east-1:000000000000:function:double',
      env: {},
      invoke: async (p) => ({ n: ((p as { n: number }).n ?? 0) * 2 }),
    });
    const sfn = new SFNClient(sb.clientConfig);
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: 'sdk',
        definition,
        roleArn: 'arn:aws:iam::000000000000:role/sm',
      }),
    );
    const started = await sfn.send(
      new StartExecutionCommand({ stateMachineArn, name: 'one', input: '{"n":21}' }),
    );
    expect(started.startDate).toBeInstanceOf(Date);
    let d = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    for (let i = 0; i < 100 && d.status === 'RUNNING'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      d = await sfn.send(new DescribeExecutionCommand({ executionArn: started.executionArn }));
    }
    expect(d).toMatchObject({ status: 'SUCCEEDED', name: 'one', output: '{"n":42}' });
    expect(d.stopDate).toBeInstanceOf(Date);
    const list = await sfn.send(new ListExecutionsCommand({ stateMachineArn }));
    expect(list.executions?.map((e) => [e.name, e.status])).toEqual([['one', 'SUCCEEDED']]);
    const h = await sfn.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));
    expect(h.events?.map((e) => e.type)).toEqual([
      'ExecutionStarted',
      'TaskStateEntered',
      'LambdaFunctionScheduled',
      'LambdaFunctionStarted',
      'LambdaFunctionSucceeded',
      'TaskStateExited',
      'ExecutionSucceeded',
    ]);
    expect(h.events?.[0]?.timestamp).toBeInstanceOf(Date);
    expect(h.events?.[4]?.lambdaFunctionSucceededEventDetails?.output).toBe('{"n":42}');

    // Newest first, in pages of 3 joined by nextToken: the same events reversed.
    const pages: string[] = [];
    let nextToken: string | undefined;
    do {
      const page = await sfn.send(
        new GetExecutionHistoryCommand({
          executionArn: started.executionArn,
          reverseOrder: true,
          maxResults: 3,
          nextToken,
        }),
      );
      expect(page.events?.length).toBeLessThanOrEqual(3);
      pages.push(...(page.events ?? []).map((e) => `${e.id} ${e.type}`));
      nextToken = page.nextToken;
    } while (nextToken);
    expect(pages).toEqual((h.events ?? []).map((e) => `${e.id} ${e.type}`).reverse());

    // includeExecutionData false: no input or output, every other detail kept.
    const bare = await sfn.send(
      new GetExecutionHistoryCommand({ executionArn: started.executionArn, includeExecutionData: false }),
    );
    expect(bare.events?.map((e) => e.type)).toEqual(h.events?.map((e) => e.type));
    expect(bare.events?.[0]?.executionStartedEventDetails).toEqual({
      roleArn: 'arn:aws:iam::000000000000:role/sm',
    });
    expect(bare.events?.[2]?.lambdaFunctionScheduledEventDetails).toEqual({
      resource: 'arn:aws:lambda:us-east-1:000000000000:function:double',
      timeoutInSeconds: 10,
    });
    expect(bare.events?.[4]?.lambdaFunctionSucceededEventDetails).toEqual({});
    expect(bare.events?.[5]?.stateExitedEventDetails).toEqual({ name: 'Double' });
    // …and the full history is still whole after a read without data.
    const again = await sfn.send(new GetExecutionHistoryCommand({ executionArn: started.executionArn }));
    expect(again.events?.[0]?.executionStartedEventDetails?.input).toBe('{"n":21}');
  });

  it('answers documented errors as the SDK typed exceptions', async () => {
    const sfn = new SFNClient(sb.clientConfig);
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: 'errors',
        definition,
        roleArn: 'arn:aws:iam::000000000000:role/sm',
      }),
    );
    await sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'dup', input: '{"n":1}' }));
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'dup', input: '{"n":2}' })),
    ).rejects.toBeInstanceOf(ExecutionAlreadyExists);
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'bad name' })),
    ).rejects.toBeInstanceOf(InvalidName);
    await expect(
      sfn.send(new StartExecutionCommand({ stateMachineArn: `${stateMachineArn}-gone` })),
    ).rejects.toBeInstanceOf(StateMachineDoesNotExist);
    await expect(
      sfn.send(
        new DescribeExecutionCommand({
          executionArn: 'arn:aws:states:us-east-1:000000000000:execution:errors:never',
        }),
      ),
    ).rejects.toBeInstanceOf(ExecutionDoesNotExist);
    await expect(
      sfn.send(new SendTaskSuccessCommand({ taskToken: 'forged', output: '{}' })),
    ).rejects.toBeInstanceOf(InvalidToken);
  });
});
