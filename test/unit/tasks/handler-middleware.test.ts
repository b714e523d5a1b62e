/**
 * The shared handler shape (tasks/shared/handler.ts: Middy + Powertools middleware), the typed errors'
 * `cause` and transient classification (tasks/shared/errors.ts), and the signing-secret cache
 * (Powertools Parameters with maxAge).
 */
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import 'aws-sdk-client-mock-vitest/extend';
import { ParseError } from '@aws-lambda-powertools/parser';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import * as v from 'valibot';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  clearSigningKeyCache,
  loadSigningKeys,
  SIGNING_SECRET_MAX_AGE_SECONDS,
  signLink,
} from '../../../tasks/shared/approvals/signing';
import {
  awsCall,
  DriftDetectionFailedError,
  InvalidInputError,
  isThrottle,
  isTransient,
  SlotUnavailableError,
  TransientServiceError,
} from '../../../tasks/shared/errors';
import { taskHandler } from '../../../tasks/shared/handler';
import { metrics } from '../../../tasks/shared/metrics';
import { logger } from '../../../tasks/shared/powertools';
import { awsError } from './fixtures/core-tasks';

const Input = v.object({
  stackName: v.pipe(v.string(), v.minLength(1)),
  polls: v.pipe(v.number(), v.safeInteger(), v.minValue(0)),
  mode: v.optional(v.picklist(['stack', 'resource']), 'stack'),
});

const context = {
  functionName: 'drift-remediation-check-drift',
  awsRequestId: 'req-1',
  invokedFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:drift-remediation-check-drift',
  memoryLimitInMB: '256',
  functionVersion: '$LATEST',
  getRemainingTimeInMillis: () => 30_000,
} as unknown as Context;

afterEach(() => {
  vi.restoreAllMocks();
});

describe('taskHandler (Middy + Powertools Logger, Metrics and Parser)', () => {
  it('bad input → InvalidInputError naming every bad field, the parser error as cause; the core never runs', async () => {
    // Prepare
    const core = vi.fn(async () => 'ran');
    const handler = taskHandler('check-drift', Input, core);
    const error = vi.spyOn(logger, 'error');
    // Act
    const err = await handler({ stackName: '', polls: -1, mode: 'both' }, context).catch((e: unknown) => e);
    // Assess
    expect(err).toBeInstanceOf(InvalidInputError);
    const e = err as InvalidInputError;
    expect(e.name).toBe('InvalidInputError');
    expect(e.issues.map((i) => i.split(':')[0])).toEqual(['stackName', 'polls', 'mode']);
    expect(e.message).toMatch(/^check-drift: invalid input: stackName: .+; polls: .+; mode: /);
    expect(e.cause).toBeInstanceOf(ParseError);
    expect(core).not.toHaveBeenCalled();
    expect(error).toHaveBeenCalledWith(
      'task failed',
      expect.objectContaining({ errorName: 'InvalidInputError' }),
    );
  });

  it('bad input never carries a secret: not in the message, not in the cause the Logger writes out', async () => {
    // valibot's issues hold the input they checked (the whole event, token included) and its messages
    // quote the value received.
    const token = `AAAAKgAAAAIAAAAAAAAAA${'x'.repeat(200)}`;
    const WithToken = v.object({
      taskToken: v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/=]{1,100}$/)),
      stackName: v.pipe(v.string(), v.minLength(1)),
    });
    const handler = taskHandler('request-approval', WithToken, async () => 'ran');
    const err = (await handler({ taskToken: token, stackName: '' }, context).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err).toBeInstanceOf(InvalidInputError);
    expect((err as InvalidInputError).issues).toEqual([
      expect.stringMatching(/^taskToken: .+ but received \[redacted\]$/),
      expect.stringMatching(/^stackName: /),
    ]);
    expect(err.cause).toBeInstanceOf(ParseError);
    const chain: unknown[] = [];
    for (let c: unknown = err; c !== undefined; c = c instanceof Error ? c.cause : undefined)
      chain.push(c instanceof Error ? { name: c.name, message: c.message, cause: c.cause } : c);
    expect(JSON.stringify(chain)).not.toContain(token.slice(0, 40));
  });

  it('a non-object event names the root', async () => {
    const handler = taskHandler('check-drift', Input, async () => 'ran');
    await expect(handler('nope')).rejects.toThrow(/check-drift: invalid input: \(root\): /);
  });

  it('good input → the core gets the parsed input (defaults applied) and the Lambda context; returns its result', async () => {
    // Prepare
    const core = vi.fn(async (input: v.InferOutput<typeof Input>) => ({ seen: input.mode }));
    const handler = taskHandler('check-drift', Input, core);
    const info = vi.spyOn(logger, 'info');
    // Act
    const out = await handler({ stackName: 'app', polls: 0 }, context);
    // Assess
    expect(out).toEqual({ seen: 'stack' });
    expect(core).toHaveBeenCalledWith({ stackName: 'app', polls: 0, mode: 'stack' }, context);
    expect(info).toHaveBeenCalledWith('done', { result: { seen: 'stack' } });
  });

  it('without a context (tests, scripts) the core still gets one', async () => {
    const core = vi.fn(async () => 1);
    await taskHandler('check-drift', Input, core)({ stackName: 'app', polls: 1 });
    expect(core).toHaveBeenCalledWith(expect.objectContaining({ stackName: 'app' }), {});
  });

  it('rethrows the core error unchanged: retryable ones at warn, others at error', async () => {
    const warn = vi.spyOn(logger, 'warn');
    const error = vi.spyOn(logger, 'error');
    const transient = new TransientServiceError('DescribeStacks: Throttling');
    const failed = new DriftDetectionFailedError('detection failed');
    const throwing = (e: Error) =>
      taskHandler('check-drift', Input, async () => {
        throw e;
      });
    await expect(throwing(transient)({ stackName: 'a', polls: 0 }, context)).rejects.toBe(transient);
    await expect(throwing(failed)({ stackName: 'a', polls: 0 }, context)).rejects.toBe(failed);
    expect(warn).toHaveBeenCalledWith(
      'task failed',
      expect.objectContaining({ errorName: 'TransientServiceError' }),
    );
    expect(error).toHaveBeenCalledWith(
      'task failed',
      expect.objectContaining({ errorName: 'DriftDetectionFailedError' }),
    );
  });

  it('log lines during the invocation carry the task and the Lambda context; the task key is reset after it', async () => {
    // Prepare
    const lines: Array<Record<string, unknown>> = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(JSON.parse(String(chunk)) as Record<string, unknown>);
      return true;
    });
    const handler = taskHandler('check-drift', Input, async () => {
      // Set here: injectLambdaContext re-applies the configured level (SILENT in tests) on each invocation.
      logger.setLogLevel('INFO');
      logger.info('inside');
      return 1;
    });
    // Act
    try {
      await handler({ stackName: 'a', polls: 0 }, context);
      logger.info('outside');
    } finally {
      logger.setLogLevel('SILENT');
    }
    // Assess
    const inside = lines.find((l) => l.message === 'inside');
    const outside = lines.find((l) => l.message === 'outside');
    expect(inside).toMatchObject({
      task: 'check-drift',
      function_request_id: 'req-1',
      cold_start: expect.any(Boolean),
    });
    expect(outside).toBeDefined();
    expect(outside).not.toHaveProperty('task');
  });

  it('{ use: [logMetrics(metrics)] } (intake, notify) flushes the metrics the core added, also when it fails', async () => {
    const publish = vi.spyOn(metrics, 'publishStoredMetrics').mockImplementation(() => metrics);
    const ok = taskHandler('intake', Input, async () => 1, { use: [logMetrics(metrics)] });
    const failing = taskHandler(
      'intake',
      Input,
      async () => {
        throw new SlotUnavailableError('no slot');
      },
      { use: [logMetrics(metrics)] },
    );
    await ok({ stackName: 'a', polls: 0 }, context);
    await expect(failing({ stackName: 'a', polls: 0 }, context)).rejects.toThrow(SlotUnavailableError);
    expect(publish).toHaveBeenCalledTimes(2);
    publish.mockClear();
    await taskHandler('check-drift', Input, async () => 1)({ stackName: 'a', polls: 0 }, context);
    expect(publish).not.toHaveBeenCalled();
  });

  it('an invocation with no metrics (a dropped duplicate) logs that at DEBUG through the Logger, not on the console', async () => {
    const consoleWarn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const warn = vi.spyOn(logger, 'warn');
    const debug = vi.spyOn(logger, 'debug');
    await taskHandler('intake', Input, async () => 1, { use: [logMetrics(metrics)] })(
      { stackName: 'a', polls: 0 },
      context,
    );
    expect(debug).toHaveBeenCalledWith(expect.stringContaining('No application metrics to publish'));
    expect(warn).not.toHaveBeenCalled();
    expect(consoleWarn).not.toHaveBeenCalled();
  });
});

describe('typed errors keep the original error as cause', () => {
  it('awsCall: a transient SDK error becomes TransientServiceError whose cause is that error', async () => {
    const original = awsError('ThrottlingException', 'Rate exceeded');
    const err = await awsCall('DescribeStacks', () => Promise.reject(original)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientServiceError);
    expect((err as Error).cause).toBe(original);
    expect((err as Error).message).toBe('DescribeStacks: ThrottlingException: Rate exceeded');
  });

  it('awsCall: a non-transient error is rethrown unchanged', async () => {
    const original = awsError('AccessDeniedException', 'no', 400);
    await expect(awsCall('DescribeStacks', () => Promise.reject(original))).rejects.toBe(original);
  });

  it('details stay details; cause is Error.cause', () => {
    const original = new Error('boom');
    const e = new DriftDetectionFailedError('failed', { cause: original, detectionId: 'd-1' });
    expect(e.cause).toBe(original);
    expect(e.details).toEqual({ detectionId: 'd-1' });
    expect('cause' in new DriftDetectionFailedError('no cause')).toBe(false);
  });
});

describe('transient classification (@smithy/service-error-classification)', () => {
  it.each([
    ['ThrottlingException', awsError('ThrottlingException')],
    ['HTTP 429', awsError('SomethingElse', 'slow', 429)],
    ['HTTP 503', awsError('ServiceUnavailable', 'down', 503)],
    ['HTTP 500', awsError('InternalServerError', 'boom', 500)],
    ['TimeoutError', awsError('TimeoutError')],
    ['ECONNRESET', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
    [
      'a wrapper whose cause is throttled',
      new Error('GetParameterError', { cause: awsError('ThrottlingException') }),
    ],
  ])('%s is transient', (_what, err) => {
    expect(isTransient(err)).toBe(true);
  });

  it.each([
    ['AccessDeniedException', awsError('AccessDeniedException')],
    ['ValidationError', awsError('ValidationError')],
    [
      'LimitExceededException (a quota, or an evaluation already running)',
      awsError('LimitExceededException'),
    ],
    ['not an error', 'ThrottlingException'],
    ['null', null],
  ])('%s is not transient', (_what, err) => {
    expect(isTransient(err)).toBe(false);
  });

  it('isThrottle is only the throttling subset', () => {
    expect(isThrottle(awsError('ThrottlingException'))).toBe(true);
    expect(isThrottle(awsError('ServiceUnavailable', 'down', 503))).toBe(false);
  });
});

describe('signing secret (Powertools Parameters, maxAge)', () => {
  const secrets = mockClient(SecretsManagerClient);
  const ARN = 'arn:aws:secretsmanager:eu-west-1:111122223333:secret:signing';
  const claims = { approvalId: 'a-1', approver: 'ops', exp: 2_000_000_000 };

  beforeEach(() => {
    secrets.reset();
    clearSigningKeyCache();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('is read once, reused for maxAge, then read again (a rotated secret reaches warm functions)', async () => {
    // Prepare
    vi.useFakeTimers({ now: new Date('2026-12-01T10:00:00Z'), toFake: ['Date'] });
    const client = new SecretsManagerClient({ region: 'eu-west-1' });
    secrets
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: 'a'.repeat(32) })
      .resolves({ SecretString: 'b'.repeat(32) });
    // Act
    const first = await loadSigningKeys(client, ARN);
    vi.setSystemTime(Date.now() + (SIGNING_SECRET_MAX_AGE_SECONDS - 1) * 1000);
    const cached = await loadSigningKeys(client, ARN);
    vi.setSystemTime(Date.now() + 2000);
    const rotated = await loadSigningKeys(client, ARN);
    // Assess
    expect(secrets).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
    expect(signLink(cached, claims)).toBe(signLink(first, claims));
    expect(signLink(rotated, claims)).not.toBe(signLink(first, claims));
  });

  it('a throttled read is a TransientServiceError keeping the SDK error as the root cause, and is not cached', async () => {
    const client = new SecretsManagerClient({ region: 'eu-west-1' });
    const throttled = awsError('ThrottlingException', 'Rate exceeded');
    secrets
      .on(GetSecretValueCommand)
      .rejectsOnce(throttled)
      .resolves({ SecretString: 'c'.repeat(32) });
    const err = await loadSigningKeys(client, ARN).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TransientServiceError);
    let root: unknown = err;
    while (root instanceof Error && root.cause !== undefined) root = root.cause;
    expect(root).toBe(throttled);
    await expect(loadSigningKeys(client, ARN)).resolves.toBeDefined();
  });
});
