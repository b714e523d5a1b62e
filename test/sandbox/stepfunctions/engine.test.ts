import { describe, expect, it } from 'vitest';
import type { Clock, RequestContext, SandboxContext } from '../../../sandbox/core/types';
import { AwsError } from '../../../sandbox/core/types';
import { stepFunctionsService } from '../../../sandbox/services/stepfunctions';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

function fakeSandbox(functions: Record<string, (payload: unknown) => Promise<unknown>>, timeScale = 0.001) {
  const events: unknown[] = [];
  const clock: Clock = {
    timeScale,
    now: () => new Date(),
    sleep: (s) => new Promise((r) => setTimeout(r, s * 1000 * timeScale)),
  };
  const sandbox: SandboxContext = {
    region: REGION,
    accountId: ACCOUNT,
    get home() {
      return sandbox;
    },
    scoped: () => sandbox,
    clock,
    putEvent: async (e: unknown) => {
      events.push(e);
    },
    call: async () => ({}),
    providers: new Map(),
    recordChange: () => {},
    onChange: () => () => {},
    log: () => {},
    invokeFunction: async (nameOrArn: string, payload: unknown) => {
      const name = nameOrArn.split(':').pop() ?? nameOrArn;
      const fn = functions[name];
      if (!fn) throw Object.assign(new Error(`no function ${name}`), { name: 'ResourceNotFoundException' });
      return fn(payload);
    },
  };
  return { sandbox, events };
}

function ctxFor(sandbox: SandboxContext, operation: string): RequestContext {
  return { service: 'states', operation, region: REGION, accountId: ACCOUNT, requestId: 'r', sandbox };
}

const fnArn = (n: string) => `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${n}`;

const definition = {
  StartAt: 'Compute wait',
  States: {
    'Compute wait': {
      Type: 'Task',
      Resource: fnArn('compute'),
      ResultPath: '$.poll',
      TimeoutSeconds: 10,
      Next: 'Wait a while',
    },
    'Wait a while': { Type: 'Wait', SecondsPath: '$.poll.waitSeconds', Next: 'Ask a human' },
    'Ask a human': {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
      Parameters: {
        FunctionName: fnArn('ask'),
        Payload: { 'taskToken.$': '$$.Task.Token', 'who.$': '$.who' },
      },
      TimeoutSecondsPath: '$.ttl',
      ResultPath: '$.answer',
      Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'Expired' }],
      End: true,
    },
    Expired: { Type: 'Fail', Error: 'Expired', Cause: 'nobody answered' },
  },
};

async function setup(ttl = 5) {
  const asked: Array<{ taskToken: string; who: string }> = [];
  const { sandbox, events } = fakeSandbox({
    compute: async () => ({ waitSeconds: 30 }),
    ask: async (p) => {
      asked.push(p as { taskToken: string; who: string });
      return {};
    },
  });
  const sfn = stepFunctionsService();
  const op = (name: string, input: Record<string, unknown>) =>
    sfn.operations[name]?.(input, ctxFor(sandbox, name));
  const { stateMachineArn } = (await op('CreateStateMachine', {
    name: 'remediation',
    definition: JSON.stringify(definition),
    roleArn: `arn:aws:iam::${ACCOUNT}:role/sm`,
  })) as { stateMachineArn: string };
  const input = JSON.stringify({ who: 'alice', ttl });
  const waitForAsk = async () => {
    for (let i = 0; i < 200 && asked.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
    const a = asked[0];
    if (!a) throw new Error('the approval function was never invoked');
    return a;
  };
  return { sfn, op, stateMachineArn, input, asked, waitForAsk, events };
}

describe('sandbox Step Functions', () => {
  it('runs Wait states on the time scale and resolves a waitForTaskToken task from SendTaskSuccess', async () => {
    const { sfn, op, stateMachineArn, input, waitForAsk, events } = await setup();
    const t0 = Date.now();
    const { executionArn } = (await op('StartExecution', { stateMachineArn, name: 'run-1', input })) as {
      executionArn: string;
    };
    expect(executionArn).toBe(`arn:aws:states:${REGION}:${ACCOUNT}:execution:remediation:run-1`);
    const ask = await waitForAsk();
    // 30 emulated seconds at 0.001 → 30 ms, not 30 s.
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(ask.who).toBe('alice');
    expect(ask.taskToken.length).toBeGreaterThan(100);
    const running = (await op('DescribeExecution', { executionArn })) as { status: string };
    expect(running.status).toBe('RUNNING');
    await op('SendTaskSuccess', { taskToken: ask.taskToken, output: JSON.stringify({ ok: true }) });
    await sfn.waitForExecution(executionArn);
    const done = (await op('DescribeExecution', { executionArn })) as { status: string; output: string };
    expect(done.status).toBe('SUCCEEDED');
    expect(JSON.parse(done.output)).toMatchObject({
      who: 'alice',
      poll: { waitSeconds: 30 },
      answer: { ok: true },
    });
    // The token is single-use.
    expect(() => op('SendTaskSuccess', { taskToken: ask.taskToken, output: '{}' })).toThrow(
      expect.objectContaining({ code: 'TaskDoesNotExist' }),
    );
    expect(events).toContainEqual(
      expect.objectContaining({ 'detail-type': 'Step Functions Execution Status Change' }),
    );
  });

  it('tells a watcher of executions starting and closing, replaying those already there', async () => {
    const { sfn, op, stateMachineArn, input, waitForAsk, asked } = await setup();
    const first = (await op('StartExecution', { stateMachineArn, name: 'w-1', input })) as {
      executionArn: string;
    };
    const ask = await waitForAsk();
    await op('SendTaskSuccess', { taskToken: ask.taskToken, output: '{}' });
    await sfn.waitForExecution(first.executionArn);
    const seen: Array<[string, string, string]> = [];
    const stop = sfn.watchExecutions((change, d) => seen.push([change, d.name, d.status]));
    // The closed execution is replayed as started, then closed, with DescribeExecution's fields.
    expect(seen).toEqual([
      ['started', 'w-1', 'SUCCEEDED'],
      ['closed', 'w-1', 'SUCCEEDED'],
    ]);
    const second = (await op('StartExecution', { stateMachineArn, name: 'w-2', input })) as {
      executionArn: string;
    };
    expect(seen[2]).toEqual(['started', 'w-2', 'RUNNING']);
    for (let i = 0; i < 200 && asked.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
    await op('SendTaskFailure', { taskToken: asked[1]?.taskToken, error: 'No' });
    await sfn.waitForExecution(second.executionArn);
    expect(seen[3]).toEqual(['closed', 'w-2', 'FAILED']);
    stop();
    await op('StartExecution', { stateMachineArn, name: 'w-3', input });
    expect(seen).toHaveLength(4);
  });

  it('writes history in AWS event types and fails the task from SendTaskFailure', async () => {
    const { sfn, op, stateMachineArn, input, waitForAsk } = await setup();
    const { executionArn } = (await op('StartExecution', { stateMachineArn, name: 'run-2', input })) as {
      executionArn: string;
    };
    const ask = await waitForAsk();
    await op('SendTaskFailure', {
      taskToken: ask.taskToken,
      error: 'ApprovalRejected',
      cause: '{"by":"bob"}',
    });
    await sfn.waitForExecution(executionArn);
    const d = (await op('DescribeExecution', { executionArn })) as {
      status: string;
      error: string;
      cause: string;
    };
    expect(d).toMatchObject({ status: 'FAILED', error: 'ApprovalRejected', cause: '{"by":"bob"}' });
    const h = (await op('GetExecutionHistory', { executionArn, maxResults: 1000 })) as {
      events: Array<{ type: string; id: number; previousEventId: number }>;
    };
    const types = h.events.map((e) => e.type);
    expect(types[0]).toBe('ExecutionStarted');
    expect(types).toEqual(
      expect.arrayContaining([
        'TaskStateEntered',
        'LambdaFunctionScheduled',
        'LambdaFunctionSucceeded',
        'WaitStateEntered',
        'TaskScheduled',
        'TaskFailed',
      ]),
    );
    expect(types.at(-1)).toBe('ExecutionFailed');
    h.events.forEach((e, i) => {
      expect(e.id).toBe(i + 1);
      expect(e.previousEventId).toBe(i);
    });
  });

  it('times out a waitForTaskToken task and answers a late SendTaskSuccess with TaskTimedOut', async () => {
    const { sfn, op, stateMachineArn, waitForAsk } = await setup();
    const { executionArn } = (await op('StartExecution', {
      stateMachineArn,
      name: 'run-3',
      input: JSON.stringify({ who: 'carol', ttl: 1 }),
    })) as { executionArn: string };
    const ask = await waitForAsk();
    await sfn.waitForExecution(executionArn);
    const d = (await op('DescribeExecution', { executionArn })) as { status: string; error: string };
    expect(d).toMatchObject({ status: 'FAILED', error: 'Expired' });
    expect(() => op('SendTaskSuccess', { taskToken: ask.taskToken, output: '{}' })).toThrow(
      expect.objectContaining({ code: 'TaskTimedOut' }),
    );
  });

  it('reads TimeoutSecondsPath from a state a ResultSelector replaced (no ResultPath)', async () => {
    const asked: unknown[] = [];
    const { sandbox } = fakeSandbox({
      plan: async () => ({ plan: { ttl: 1, extra: 'dropped' }, noise: true }),
      ask: async (p) => {
        asked.push(p);
        return {};
      },
    });
    const sfn = stepFunctionsService();
    const op = (name: string, input: Record<string, unknown>) =>
      sfn.operations[name]?.(input, ctxFor(sandbox, name));
    const def = {
      StartAt: 'Plan',
      States: {
        Plan: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke',
          Parameters: { FunctionName: fnArn('plan'), Payload: {} },
          ResultSelector: { 'ttl.$': '$.Payload.plan.ttl', fixed: { 'who.$': '$.Payload.noise' } },
          Next: 'Ask',
        },
        Ask: {
          Type: 'Task',
          Resource: 'arn:aws:states:::lambda:invoke.waitForTaskToken',
          Parameters: {
            FunctionName: fnArn('ask'),
            Payload: { 'taskToken.$': '$$.Task.Token', 'ttl.$': '$.ttl' },
          },
          TimeoutSecondsPath: '$.ttl',
          Catch: [{ ErrorEquals: ['States.Timeout'], ResultPath: '$.error', Next: 'Expired' }],
          End: true,
        },
        Expired: { Type: 'Fail', Error: 'Expired', Cause: 'nobody answered' },
      },
    };
    const { stateMachineArn } = (await op('CreateStateMachine', {
      name: 'selected',
      definition: JSON.stringify(def),
      roleArn: `arn:aws:iam::${ACCOUNT}:role/sm`,
    })) as { stateMachineArn: string };
    const { executionArn } = (await op('StartExecution', { stateMachineArn, name: 'sel', input: '{}' })) as {
      executionArn: string;
    };
    await sfn.waitForExecution(executionArn);
    const d = (await op('DescribeExecution', { executionArn })) as { status: string; error?: string };
    expect(d).toMatchObject({ status: 'FAILED', error: 'Expired' });
    expect(asked).toEqual([expect.objectContaining({ ttl: 1 })]);
  });

  it('applies execution-name idempotency: same name + input while running is absorbed, otherwise ExecutionAlreadyExists', async () => {
    const { sfn, op, stateMachineArn, input, waitForAsk } = await setup();
    const first = (await op('StartExecution', { stateMachineArn, name: 'dup', input })) as {
      executionArn: string;
    };
    const again = (await op('StartExecution', { stateMachineArn, name: 'dup', input })) as {
      executionArn: string;
    };
    expect(again.executionArn).toBe(first.executionArn);
    expect(() =>
      op('StartExecution', { stateMachineArn, name: 'dup', input: '{"who":"mallory","ttl":5}' }),
    ).toThrow(expect.objectContaining({ code: 'ExecutionAlreadyExists' }));
    const list = (await op('ListExecutions', { stateMachineArn })) as { executions: unknown[] };
    expect(list.executions).toHaveLength(1);
    const ask = await waitForAsk();
    await op('StopExecution', { executionArn: first.executionArn });
    await sfn.waitForExecution(first.executionArn);
    expect(
      ((await op('DescribeExecution', { executionArn: first.executionArn })) as { status: string }).status,
    ).toBe('ABORTED');
    expect(() => op('SendTaskSuccess', { taskToken: ask.taskToken, output: '{}' })).toThrow(AwsError);
    // A closed execution's name cannot be reused, even with the same input.
    expect(() => op('StartExecution', { stateMachineArn, name: 'dup', input })).toThrow(
      expect.objectContaining({ code: 'ExecutionAlreadyExists' }),
    );
  });

  it('rejects invalid names, inputs and unknown executions with AWS error codes', async () => {
    const { op, stateMachineArn } = await setup();
    expect(() => op('StartExecution', { stateMachineArn, name: 'has space', input: '{}' })).toThrow(
      expect.objectContaining({ code: 'InvalidName' }),
    );
    expect(() => op('StartExecution', { stateMachineArn, name: 'x'.repeat(81), input: '{}' })).toThrow(
      expect.objectContaining({ code: 'InvalidName' }),
    );
    expect(() => op('StartExecution', { stateMachineArn, name: 'ok', input: '{not json' })).toThrow(
      expect.objectContaining({ code: 'InvalidExecutionInput' }),
    );
    expect(() => op('StartExecution', { stateMachineArn: `${stateMachineArn}-nope`, input: '{}' })).toThrow(
      expect.objectContaining({ code: 'StateMachineDoesNotExist' }),
    );
    expect(() =>
      op('DescribeExecution', {
        executionArn: 'arn:aws:states:us-east-1:000000000000:execution:remediation:none',
      }),
    ).toThrow(expect.objectContaining({ code: 'ExecutionDoesNotExist' }));
    expect(() => op('SendTaskSuccess', { taskToken: 'forged', output: '{}' })).toThrow(
      expect.objectContaining({ code: 'InvalidToken' }),
    );
  });
});

describe('sandbox Step Functions context object', () => {
  it('provides $$.State.EnteredTime as the time the state is entered', async () => {
    const { sandbox } = fakeSandbox({});
    const sfn = stepFunctionsService();
    const op = (name: string, input: Record<string, unknown>) =>
      sfn.operations[name]?.(input, ctxFor(sandbox, name));
    const def = {
      StartAt: 'Stamp',
      States: {
        Stamp: {
          Type: 'Pass',
          Parameters: { 'at.$': '$$.State.EnteredTime', 'name.$': '$$.Execution.Name' },
          End: true,
        },
      },
    };
    const { stateMachineArn } = (await op('CreateStateMachine', {
      name: 'ctx',
      definition: JSON.stringify(def),
      roleArn: 'r',
    })) as {
      stateMachineArn: string;
    };
    const before = Date.now();
    const { executionArn } = (await op('StartExecution', {
      stateMachineArn,
      name: 'stamp',
      input: '{}',
    })) as { executionArn: string };
    await sfn.waitForExecution(executionArn);
    const d = (await op('DescribeExecution', { executionArn })) as { status: string; output: string };
    expect(d.status).toBe('SUCCEEDED');
    const out = JSON.parse(d.output) as { at: string; name: string };
    expect(out.name).toBe('stamp');
    expect(Date.parse(out.at)).toBeGreaterThanOrEqual(before - 1000);
  });
});
