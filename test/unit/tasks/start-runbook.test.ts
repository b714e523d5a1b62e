import 'aws-sdk-client-mock-vitest/extend';
import {
  AutomationDefinitionNotFoundException,
  AutomationExecutionLimitExceededException,
  IdempotentParameterMismatch,
  InvalidAutomationExecutionParametersException,
  SSMClient,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { type AwsClientStub, mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  InvalidInputError,
  InvalidResourceIdError,
  RunbookStartRejectedError,
  RunbookStartThrottledError,
} from '../../../tasks/shared/errors';
import {
  clientTokenFor,
  StartRunbookInput,
  startAutomation as startRunbook,
} from '../../../tasks/start-runbook/core';
import { handler } from '../../../tasks/start-runbook/handler';
import { awsError, DOC, drift, EXEC_ARN, event, execution, plan } from './fixtures/late-stages';

const ROLE = 'arn:aws:iam::123456789012:role/DriftRemediationAutomation';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ssm = new SSMClient({ region: 'eu-west-1' });
let mock: AwsClientStub<SSMClient>;
beforeAll(() => {
  // Class-level: covers the client the test passes and the one the handler creates.
  mock = mockClient(SSMClient);
});
beforeEach(() => mock.reset());
afterAll(() => mock.restore());

const deps = { ssm, automationAssumeRoleArn: ROLE };
const input = (over: Partial<Parameters<typeof startRunbook>[0]> = {}) => ({
  event: event(),
  plan: plan(),
  drift: drift(),
  execution: execution(),
  ...over,
});

describe('start-runbook', () => {
  it('starts the runbook with resolved parameters, the automation role and an execution-derived ClientToken', async () => {
    mock.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: 'auto-1' });
    const out = await startRunbook(input(), deps);
    expect(out).toEqual({
      attempt: 1,
      automationExecutionId: 'auto-1',
      documentName: DOC,
      status: 'Pending',
      phase: 'running',
      waitSeconds: 60,
    });
    expect(mock).toHaveReceivedCommandExactlyOnceWith(StartAutomationExecutionCommand, {
      DocumentName: DOC,
      Parameters: {
        GroupId: ['sg-0123456789abcdef0'],
        RevokeIngress: [
          JSON.stringify([{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '0.0.0.0/0' }]),
        ],
        AutomationAssumeRole: [ROLE],
      },
      ClientToken: clientTokenFor(EXEC_ARN, 1),
    });
  });

  it('numbers attempts from the previous runbook state, each with its own token', async () => {
    mock.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: 'auto-2' });
    const previous = {
      attempt: 1,
      automationExecutionId: 'auto-1',
      phase: 'failed' as const,
      retryable: true,
      waitSeconds: 60,
    };
    const out = await startRunbook(input({ runbook: previous }), deps);
    expect(out.attempt).toBe(2);
    expect(mock).toHaveReceivedCommandWith(StartAutomationExecutionCommand, {
      ClientToken: clientTokenFor(EXEC_ARN, 2),
    });
    expect(clientTokenFor(EXEC_ARN, 2)).not.toBe(clientTokenFor(EXEC_ARN, 1));
  });

  it('is idempotent: a retried invocation of the same attempt sends the same ClientToken', async () => {
    mock.on(StartAutomationExecutionCommand).resolves({ AutomationExecutionId: 'auto-1' });
    await startRunbook(input(), deps);
    await startRunbook(input(), deps);
    const tokens = mock.commandCalls(StartAutomationExecutionCommand).map((c) => c.args[0].input.ClientToken);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toBe(tokens[1]);
    expect(tokens[0]).toMatch(UUID);
  });

  it('derives a UUID-shaped token that differs per execution and attempt', () => {
    const a = clientTokenFor(EXEC_ARN, 1);
    expect(a).toMatch(UUID);
    expect(a.charAt(14)).toBe('5');
    expect('89ab').toContain(a.charAt(19));
    expect(clientTokenFor(`${EXEC_ARN}x`, 1)).not.toBe(a);
    expect(clientTokenFor(EXEC_ARN, 1)).toBe(a);
  });

  it.each([
    ['sg-../../etc', 'path characters'],
    ['sg-0123456789abcdef0; aws iam delete-role', 'shell characters'],
    ['i-0123456789abcdef0', 'an id of another type'],
  ])('refuses a resource id with %s (%s) before any call', async (resourceId) => {
    await expect(startRunbook(input({ event: event({ resourceId }) }), deps)).rejects.toBeInstanceOf(
      InvalidResourceIdError,
    );
    expect(mock).not.toHaveReceivedCommand(StartAutomationExecutionCommand);
  });

  it('refuses a plan that does not remediate, or has no attempts left, with InvalidInputError and no call', async () => {
    await expect(startRunbook(input({ plan: plan({ decision: 'escalate' }) }), deps)).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    const { runbook: _omit, ...noRunbook } = plan();
    await expect(startRunbook(input({ plan: noRunbook }), deps)).rejects.toBeInstanceOf(InvalidInputError);
    const last = { attempt: 3, phase: 'failed' as const, waitSeconds: 1 };
    await expect(startRunbook(input({ runbook: last }), deps)).rejects.toThrow(
      /attempt 4 > plan.attempts.max 3/,
    );
    expect(mock).not.toHaveReceivedCommand(StartAutomationExecutionCommand);
  });

  it('refuses parameters that cannot be resolved (InvalidInputError naming them) and starts nothing', async () => {
    const p = plan();
    const strict = {
      ...p,
      runbook: {
        documentName: DOC,
        firstParty: true,
        parameters: { Rules: { from: 'drift.added.Missing', as: 'json' as const } },
      },
    };
    await expect(startRunbook(input({ plan: strict }), deps)).rejects.toThrow(
      /Rules \(from drift\.added\.Missing\)/,
    );
    expect(mock).not.toHaveReceivedCommand(StartAutomationExecutionCommand);
  });

  it('refuses to start without an automation role', async () => {
    await expect(startRunbook(input(), { ssm, automationAssumeRoleArn: '' })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    expect(mock).not.toHaveReceivedCommand(StartAutomationExecutionCommand);
  });

  it.each([
    ['ThrottlingException', awsError('ThrottlingException')],
    [
      'AutomationExecutionLimitExceededException',
      new AutomationExecutionLimitExceededException({ message: 'limit', $metadata: {} }),
    ],
    ['InternalServerError (5xx)', awsError('InternalServerError', 500)],
    ['an unnamed 503', awsError('UnknownError', 503)],
  ])('maps %s to RunbookStartThrottledError (retried by the workflow)', async (_label, error) => {
    mock.on(StartAutomationExecutionCommand).rejects(error);
    const err = await startRunbook(input(), deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunbookStartThrottledError);
    expect((err as RunbookStartThrottledError).name).toBe('RunbookStartThrottledError');
    expect((err as RunbookStartThrottledError).retryable).toBe(true);
  });

  it.each([
    [
      'AutomationDefinitionNotFoundException',
      new AutomationDefinitionNotFoundException({ message: 'no doc', $metadata: {} }),
    ],
    [
      'InvalidAutomationExecutionParametersException',
      new InvalidAutomationExecutionParametersException({ message: 'bad', $metadata: {} }),
    ],
    ['IdempotentParameterMismatch', new IdempotentParameterMismatch({ message: 'mismatch', $metadata: {} })],
    ['AccessDeniedException', awsError('AccessDeniedException')],
  ])('maps %s to RunbookStartRejectedError (not retried)', async (label, error) => {
    mock.on(StartAutomationExecutionCommand).rejects(error);
    const err = await startRunbook(input(), deps).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RunbookStartRejectedError);
    expect((err as RunbookStartRejectedError).retryable).toBe(false);
    expect((err as Error).message).toContain(label);
  });

  it('treats a response without an execution id as a rejection', async () => {
    mock.on(StartAutomationExecutionCommand).resolves({});
    await expect(startRunbook(input(), deps)).rejects.toBeInstanceOf(RunbookStartRejectedError);
  });
});

describe('start-runbook handler', () => {
  beforeEach(() => {
    process.env.AUTOMATION_ASSUME_ROLE_ARN = ROLE;
    process.env.WAITS_TABLE = 'waits';
  });
  afterEach(() => {
    delete process.env.AUTOMATION_ASSUME_ROLE_ARN;
    delete process.env.WAITS_TABLE;
  });

  // The workflow's payload: the whole state, and the execution from the context object beside it.
  const { execution: _beside, ...state } = input();
  const wrap = (st: Record<string, unknown>) => ({ taskToken: 'token-1', state: st, execution: execution() });

  it('takes the whole state with the execution beside it (the context object’s, never a state key)', () => {
    const forged = execution({ id: `${EXEC_ARN}-forged`, name: 'forged' });
    const parsed = v.parse(StartRunbookInput, wrap({ ...state, execution: forged }));
    expect(parsed).toEqual({ taskToken: 'token-1', ...input() });
    expect(() => v.parse(StartRunbookInput, { taskToken: 'token-1', state })).toThrow();
  });

  it('rejects malformed input with InvalidInputError naming the field and starts nothing', async () => {
    const err = await handler(
      wrap({ ...state, event: { ...event(), resourceType: 'EC2 SecurityGroup' } }),
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as Error).message).toMatch(/event\.resourceType/);
    await expect(
      handler(wrap({ ...state, plan: { ...plan(), attempts: { max: 9, retryAfterSeconds: 1 } } })),
    ).rejects.toThrow(/plan\.attempts\.max/);
    await expect(handler({ state, execution: execution() })).rejects.toThrow(/taskToken/);
    await expect(handler({ taskToken: 'token-1', state })).rejects.toThrow(/execution/);
    expect(mock).not.toHaveReceivedCommand(StartAutomationExecutionCommand);
  });
});
