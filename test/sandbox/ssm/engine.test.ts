/**
 * The SSM module and its Automation engine against a fake SandboxContext: documents, parameter
 * validation before anything runs, ClientToken semantics, the concurrency quota and queue, and each
 * action and step property (outputs, interpolation, branch, loop, sleep, pause/signal, onFailure,
 * isCritical, maxAttempts, timeoutSeconds, isEnd, nextStep, document outputs, unsupported actions).
 */
import { describe, expect, it } from 'vitest';
import { AwsError } from '../../../sandbox/core/types';
import { notificationTime } from '../../../sandbox/services/ssm/engine';
import { awsError, harness } from './fake';

const doc = (steps: string, params = '', outputs = ''): string => `schemaVersion: '0.3'
description: test
parameters:
  Name:
    type: String
    default: world
${params}
mainSteps:
${steps}
${outputs}`;

async function rejects(p: Promise<unknown>): Promise<AwsError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof AwsError) return err;
    throw err;
  }
  throw new Error('expected an AwsError');
}

describe('documents', () => {
  const content = doc(`  - name: Hello
    action: aws:sleep
    inputs: { Duration: PT1S }`);

  it('create, get, describe, list, update (new version), default version, delete', async () => {
    const h = harness();
    const created = await h.op('CreateDocument', {
      Name: 'Doc-1',
      Content: content,
      DocumentType: 'Automation',
      DocumentFormat: 'YAML',
    });
    expect(created.DocumentDescription).toMatchObject({
      Name: 'Doc-1',
      DocumentType: 'Automation',
      DocumentFormat: 'YAML',
      SchemaVersion: '0.3',
      DocumentVersion: '1',
      LatestVersion: '1',
      DefaultVersion: '1',
      Status: 'Active',
      Parameters: [{ Name: 'Name', Type: 'String', DefaultValue: 'world' }],
    });
    expect(await h.op('GetDocument', { Name: 'Doc-1' })).toMatchObject({
      Content: content,
      DocumentVersion: '1',
      DocumentFormat: 'YAML',
    });
    const json = await h.op('GetDocument', { Name: 'Doc-1', DocumentFormat: 'JSON' });
    expect(JSON.parse(String(json.Content)).mainSteps[0].name).toBe('Hello');

    const v2 = content.replace('PT1S', 'PT2S');
    const updated = await h.op('UpdateDocument', { Name: 'Doc-1', Content: v2, DocumentVersion: '$LATEST' });
    expect(updated.DocumentDescription).toMatchObject({
      DocumentVersion: '2',
      LatestVersion: '2',
      DefaultVersion: '1',
    });
    expect((await rejects(h.op('UpdateDocument', { Name: 'Doc-1', Content: v2 }))).code).toBe(
      'DuplicateDocumentContent',
    );
    await h.op('UpdateDocumentDefaultVersion', { Name: 'Doc-1', DocumentVersion: '2' });
    expect(await h.op('DescribeDocument', { Name: 'Doc-1' })).toMatchObject({
      Document: { DocumentVersion: '2', DefaultVersion: '2' },
    });

    const listed = await h.op('ListDocuments', { Filters: [{ Key: 'Name', Values: ['Doc-'] }] });
    expect(listed.DocumentIdentifiers).toEqual([
      expect.objectContaining({ Name: 'Doc-1', DocumentVersion: '2' }),
    ]);
    await h.op('DeleteDocument', { Name: 'Doc-1' });
    expect((await rejects(h.op('GetDocument', { Name: 'Doc-1' }))).code).toBe('InvalidDocument');
  });

  it('JSON content is accepted', async () => {
    const h = harness();
    const json = JSON.stringify({
      schemaVersion: '0.3',
      mainSteps: [{ name: 'S', action: 'aws:sleep', inputs: { Duration: 'PT1S' } }],
    });
    await h.op('CreateDocument', {
      Name: 'Json-1',
      Content: json,
      DocumentType: 'Automation',
      DocumentFormat: 'JSON',
    });
    const id = await h.start('Json-1');
    expect((await h.waitFor(id)).AutomationExecutionStatus).toBe('Success');
  });

  it.each([
    ['duplicate name', 'DocumentAlreadyExists', content, 'Dup-1'],
    ['bad YAML', 'InvalidDocumentContent', 'schemaVersion: [', 'Bad-1'],
    ['wrong schema version', 'InvalidDocumentSchemaVersion', content.replace("'0.3'", "'2.2'"), 'Bad-2'],
    [
      'missing nextStep target',
      'InvalidDocumentContent',
      content.replace('inputs: { Duration: PT1S }', 'inputs: { Duration: PT1S }\n    nextStep: Nope'),
      'Bad-3',
    ],
    ['no steps', 'InvalidDocumentContent', "schemaVersion: '0.3'\nmainSteps: []", 'Bad-4'],
    ['reserved name', 'ValidationException', content, 'AWS-Mine'],
  ])('%s → %s', async (_label, code, text, name) => {
    const h = harness();
    await h.create('Dup-1', content);
    expect((await rejects(h.create(name, text))).code).toBe(code);
  });
});

describe('StartAutomationExecution', () => {
  const steps = `  - name: Call
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: ListBuckets }`;
  const params = `  Count:
    type: Integer
  Flag:
    type: Boolean
    default: false
  Ids:
    type: StringList
    default: []
    allowedPattern: '^sg-[0-9a-f]{8}$'
  Mode:
    type: String
    default: fast
    allowedValues: [fast, slow]
  Rules:
    type: MapList
    default: []
  Tags:
    type: StringMap
    default: {}`;

  it.each([
    ['an unknown parameter', { Count: ['1'], Extra: ['x'] }, /"Extra" is not defined/],
    ['a missing required parameter', {}, /"Count" is required/],
    ['an Integer that is not one', { Count: ['one'] }, /"Count" must be an Integer/],
    ['a Boolean that is not one', { Count: ['1'], Flag: ['yes'] }, /"Flag" must be a Boolean/],
    [
      'a value outside allowedPattern',
      { Count: ['1'], Ids: ['sg-12345678', 'sg-1;rm'] },
      /"Ids" value "sg-1;rm" does not match/,
    ],
    [
      'a value outside allowedValues',
      { Count: ['1'], Mode: ['turbo'] },
      /"Mode" value "turbo" is not one of fast, slow/,
    ],
    ['a MapList of non-objects', { Count: ['1'], Rules: ['[1,2]'] }, /"Rules" must be a MapList/],
    ['a StringMap that is not a map', { Count: ['1'], Tags: ['[]'] }, /"Tags" must be a StringMap/],
    ['two values for a String', { Count: ['1'], Name: ['a', 'b'] }, /takes exactly one value/],
  ])(
    'refuses %s with InvalidAutomationExecutionParametersException, before any call',
    async (_label, parameters, message) => {
      const h = harness();
      await h.create('Params-1', doc(steps, params));
      const err = await rejects(h.start('Params-1', parameters));
      expect(err.code).toBe('InvalidAutomationExecutionParametersException');
      expect(err.message).toMatch(message);
      await new Promise((r) => setTimeout(r, 5));
      expect(h.calls).toEqual([]);
      expect((await h.op('DescribeAutomationExecutions', {})).AutomationExecutionMetadataList).toEqual([]);
    },
  );

  it('allowedPattern with inline flags (?i:…) and (?i), as SSM (Java regex) accepts them, is created and enforced', async () => {
    const h = harness();
    const inlineParams = `  Role:
    type: String
    allowedPattern: '^(?i:arn:aws:iam::\\d{12}:role/)[\\w+=,.@-]+$'
  Env:
    type: String
    default: PROD
    allowedPattern: '(?i)^(prod|dev)$'`;
    await h.create('Inline-1', doc(steps, inlineParams));
    const ok = await h.start('Inline-1', { Role: ['ARN:AWS:IAM::123456789012:role/Admin'], Env: ['dev'] });
    expect((await h.waitFor(ok)).AutomationExecutionStatus).toBe('Success');
    const err = await rejects(h.start('Inline-1', { Role: ['arn:aws:iam::123456789012:user/Admin'] }));
    expect(err.code).toBe('InvalidAutomationExecutionParametersException');
    expect(err.message).toMatch(/"Role" value "arn:aws:iam::123456789012:user\/Admin" does not match/);
    const bad = await rejects(
      h.op('CreateDocument', {
        Name: 'Inline-2',
        DocumentType: 'Automation',
        Content: doc(steps, `  Role:\n    type: String\n    allowedPattern: '^(?i:arn'`),
      }),
    );
    expect(bad.code).toBe('InvalidDocumentContent');
    expect(bad.message).toMatch(/Parameter Role: allowedPattern is not a valid regular expression/);
  });

  it('converts typed parameters and fills defaults', async () => {
    const h = harness();
    await h.create(
      'Params-2',
      doc(
        `  - name: Call
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: Echo, Count: '{{ Count }}', Flag: '{{ Flag }}', Rules: '{{ Rules }}', Tags: '{{ Tags }}', Ids: '{{ Ids }}', Text: 'n={{ Count }} ids={{ Ids }}' }`,
        params,
      ),
    );
    const id = await h.start('Params-2', {
      Count: ['3'],
      Flag: ['true'],
      Rules: ['[{"a":1}]'],
      Tags: ['{"k":"v"}'],
      Ids: ['sg-0123abcd'],
    });
    const e = await h.waitFor(id);
    expect(e.AutomationExecutionStatus).toBe('Success');
    expect(h.calls[0]?.input).toEqual({
      Count: 3,
      Flag: true,
      Rules: [{ a: 1 }],
      Tags: { k: 'v' },
      Ids: ['sg-0123abcd'],
      Text: 'n=3 ids=["sg-0123abcd"]',
    });
    expect(e.Parameters).toMatchObject({ Count: ['3'], Mode: ['fast'], Name: ['world'] });
  });

  it('an unknown document is AutomationDefinitionNotFoundException', async () => {
    const h = harness();
    expect((await rejects(h.start('Nope-1'))).code).toBe('AutomationDefinitionNotFoundException');
    await h.create('Ver-1', doc(steps));
    expect((await rejects(h.start('Ver-1', {}, { DocumentVersion: '7' }))).code).toBe(
      'AutomationDefinitionVersionNotFoundException',
    );
  });

  it('ClientToken: same token and request → the same execution; different request → IdempotentParameterMismatch', async () => {
    const h = harness();
    await h.create('Token-1', doc(steps));
    const token = '0f3c5c20-8a6b-41ee-b9d1-0242ac120002';
    const a = await h.start('Token-1', { Name: ['x'] }, { ClientToken: token });
    const b = await h.start('Token-1', { Name: ['x'] }, { ClientToken: token });
    expect(b).toBe(a);
    expect((await rejects(h.start('Token-1', { Name: ['y'] }, { ClientToken: token }))).code).toBe(
      'IdempotentParameterMismatch',
    );
    expect((await rejects(h.start('Token-1', {}, { ClientToken: 'not-a-uuid' }))).code).toBe(
      'ValidationException',
    );
    await h.waitFor(a);
    expect(h.calls).toHaveLength(1);
    const c = await h.start(
      'Token-1',
      { Name: ['x'] },
      { ClientToken: '0f3c5c20-8a6b-41ee-b9d1-0242ac120003' },
    );
    expect(c).not.toBe(a);
  });

  it('returns at once while the automation runs asynchronously', async () => {
    const h = harness();
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    h.setHandler(async () => {
      await gate;
      return {};
    });
    await h.create('Async-1', doc(steps));
    const id = await h.start('Async-1');
    const running = await h.waitFor(id, ['InProgress']);
    expect(running.CurrentStepName).toBe('Call');
    release();
    expect((await h.waitFor(id)).AutomationExecutionStatus).toBe('Success');
  });

  it('queues beyond the concurrency quota (Pending) and refuses when the queue is full', async () => {
    const h = harness({ maxConcurrent: 1, maxQueued: 1 });
    await h.create('Pause-1', doc(`  - name: Wait\n    action: aws:pause\n    inputs: {}`));
    const first = await h.start('Pause-1');
    await h.waitFor(first, ['Waiting']);
    const second = await h.start('Pause-1');
    expect((await h.get(second)).AutomationExecutionStatus).toBe('Pending');
    const third = await rejects(h.start('Pause-1'));
    expect(third.code).toBe('AutomationExecutionLimitExceededException');
    await h.op('SendAutomationSignal', { AutomationExecutionId: first, SignalType: 'Resume' });
    expect((await h.waitFor(first)).AutomationExecutionStatus).toBe('Success');
    await h.waitFor(second, ['Waiting']);
    await h.op('StopAutomationExecution', { AutomationExecutionId: second, Type: 'Cancel' });
    expect((await h.waitFor(second)).AutomationExecutionStatus).toBe('Cancelled');
  });
});

describe('the engine', () => {
  it('executeAwsApi: selectors with types, whole-value interpolation keeps lists and maps, EXECUTION_ID, document outputs', async () => {
    const h = harness();
    h.setHandler((_s, api) =>
      api === 'DescribeThings'
        ? {
            Things: [{ Id: 'a', Size: '3', On: 'true', Tags: { k: 'v' } }, { Id: 'b' }],
            Count: 2,
            When: new Date('2026-01-01T00:00:00Z'),
          }
        : {},
    );
    await h.create(
      'Api-1',
      doc(
        `  - name: Describe
    action: aws:executeAwsApi
    inputs: { Service: EC2, Api: DescribeThings, Filter: '{{ Name }}' }
    outputs:
      - { Name: Ids, Selector: '$.Things[*].Id', Type: StringList }
      - { Name: First, Selector: '$.Things[0].Id' }
      - { Name: Size, Selector: '$.Things[0].Size', Type: Integer }
      - { Name: On, Selector: '$.Things[0].On', Type: Boolean }
      - { Name: Tags, Selector: '$.Things[0].Tags', Type: StringMap }
      - { Name: Things, Selector: '$.Things', Type: MapList }
      - { Name: When, Selector: '$.When' }
  - name: Use
    action: aws:executeAwsApi
    inputs: { Service: ec2, Api: Use, Ids: '{{ Describe.Ids }}', Tags: '{{ Describe.Tags }}', Size: '{{ Describe.Size }}', Label: 'run {{ automation:EXECUTION_ID }} in {{ global:REGION }}' }`,
        '',
        'outputs: [Describe.Ids, Describe.First]',
      ),
    );
    const id = await h.start('Api-1', { Name: ['thing'] });
    const e = await h.waitFor(id);
    expect(e.AutomationExecutionStatus).toBe('Success');
    expect(h.calls[0]).toEqual({ service: 'ec2', api: 'DescribeThings', input: { Filter: 'thing' } });
    expect(h.calls[1]?.input).toEqual({
      Ids: ['a', 'b'],
      Tags: { k: 'v' },
      Size: 3,
      Label: `run ${id} in us-east-1`,
    });
    expect(e.StepExecutions[0]?.Outputs).toEqual({
      Ids: ['a', 'b'],
      First: ['a'],
      Size: ['3'],
      On: ['true'],
      Tags: ['{"k":"v"}'],
      Things: ['{"Id":"a","Size":"3","On":"true","Tags":{"k":"v"}}', '{"Id":"b"}'],
      When: ['2026-01-01T00:00:00.000Z'],
    });
    expect(e.StepExecutions[0]?.Inputs).toEqual({
      Service: '"EC2"',
      Api: '"DescribeThings"',
      Filter: '"thing"',
    });
    expect(e.Outputs).toEqual({ 'Describe.Ids': ['a', 'b'], 'Describe.First': ['a'] });
  });

  it('an API error fails the step with the AWS error code and message; onFailure Abort ends the execution Failed', async () => {
    const h = harness();
    h.setHandler(() => {
      throw awsError('InvalidGroup.NotFound', "The security group 'sg-1' does not exist");
    });
    await h.create(
      'Err-1',
      doc(`  - name: Describe
    action: aws:executeAwsApi
    inputs: { Service: ec2, Api: DescribeSecurityGroups }
  - name: Never
    action: aws:executeAwsApi
    inputs: { Service: ec2, Api: Never }`),
    );
    const e = await h.waitFor(await h.start('Err-1'));
    expect(e.AutomationExecutionStatus).toBe('Failed');
    expect(e.FailureMessage).toBe(
      "Step Describe (aws:executeAwsApi) failed: An error occurred (InvalidGroup.NotFound) when calling the DescribeSecurityGroups operation: The security group 'sg-1' does not exist",
    );
    expect(e.StepExecutions.map((s) => [s.StepName, s.StepStatus])).toEqual([['Describe', 'Failed']]);
    expect(e.ExecutionEndTime).toBeInstanceOf(Date);
  });

  it('onFailure Continue (not critical) goes on and succeeds; step:Name jumps and the critical failure fails the run', async () => {
    const h = harness();
    h.setHandler((_s, api) => {
      if (api.startsWith('Fail')) throw awsError('Boom', 'boom');
      return {};
    });
    await h.create(
      'OnFail-1',
      doc(`  - name: Soft
    action: aws:executeAwsApi
    onFailure: Continue
    inputs: { Service: s3, Api: FailSoft }
  - name: After
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: After }`),
    );
    const ok = await h.waitFor(await h.start('OnFail-1'));
    expect(ok.AutomationExecutionStatus).toBe('Success');
    expect(ok.StepExecutions.map((s) => [s.StepName, s.StepStatus, s.IsCritical])).toEqual([
      ['Soft', 'Failed', false],
      ['After', 'Success', true],
    ]);

    await h.create(
      'OnFail-2',
      doc(`  - name: Hard
    action: aws:executeAwsApi
    onFailure: step:Cleanup
    inputs: { Service: s3, Api: FailHard }
  - name: Skipped
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: Skipped }
  - name: Cleanup
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: Cleanup }`),
    );
    const failed = await h.waitFor(await h.start('OnFail-2'));
    expect(failed.AutomationExecutionStatus).toBe('Failed');
    expect(failed.FailureMessage).toMatch(/^Step Hard \(aws:executeAwsApi\) failed: .*Boom/);
    expect(failed.StepExecutions.map((s) => s.StepName)).toEqual(['Hard', 'Cleanup']);
  });

  it('maxAttempts retries a failing step', async () => {
    const h = harness();
    let n = 0;
    h.setHandler(() => {
      n++;
      if (n < 3) throw awsError('ConcurrentModificationException', 'try again');
      return {};
    });
    await h.create(
      'Retry-1',
      doc(
        `  - name: Flaky\n    action: aws:executeAwsApi\n    maxAttempts: 3\n    inputs: { Service: s3, Api: X }`,
      ),
    );
    expect((await h.waitFor(await h.start('Retry-1'))).AutomationExecutionStatus).toBe('Success');
    expect(n).toBe(3);
    await h.create(
      'Retry-2',
      doc(
        `  - name: Flaky\n    action: aws:executeAwsApi\n    maxAttempts: 2\n    inputs: { Service: s3, Api: X }`,
      ),
    );
    n = -10;
    expect((await h.waitFor(await h.start('Retry-2'))).AutomationExecutionStatus).toBe('Failed');
  });

  it('throttling and 5xx errors are retried within a call (as boto3 does), with backoff on the clock; other errors are not', async () => {
    const h = harness();
    let n = 0;
    h.setHandler(() => {
      n++;
      if (n <= 3) throw awsError('RequestLimitExceeded', 'Request limit exceeded.');
      return {};
    });
    await h.create(
      'Throttle-1',
      doc(`  - name: Call\n    action: aws:executeAwsApi\n    inputs: { Service: ec2, Api: X }`),
    );
    const ok = await h.waitFor(await h.start('Throttle-1'));
    expect(ok.AutomationExecutionStatus).toBe('Success');
    expect(n).toBe(4);
    expect(h.sleeps.filter((s) => s > 0 && s < 1)).toHaveLength(3);

    h.setHandler(() => {
      throw new AwsError('InternalFailure', 'boom', 500);
    });
    h.calls.length = 0;
    const failed = await h.waitFor(await h.start('Throttle-1'));
    expect(failed.AutomationExecutionStatus).toBe('Failed');
    expect(h.calls).toHaveLength(5);

    h.setHandler(() => {
      throw awsError('AccessDenied', 'no');
    });
    h.calls.length = 0;
    await h.waitFor(await h.start('Throttle-1'));
    expect(h.calls).toHaveLength(1);
  });

  it('aws:branch: operators, And/Or/Not, Default, and no match without Default fails', async () => {
    const h = harness();
    const branchDoc = (choices: string, def = '      Default: Other') =>
      doc(
        `  - name: Decide
    action: aws:branch
    inputs:
      Choices:
${choices}
${def}
  - name: Chosen
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: Chosen }
    isEnd: true
  - name: Other
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: Other }`,
        `  N:\n    type: Integer\n    default: 5\n  L:\n    type: StringList\n    default: [a, b]\n  B:\n    type: Boolean\n    default: true`,
      );
    const cases: Array<[string, string]> = [
      ['StringEquals', `        - { NextStep: Chosen, Variable: '{{ Name }}', StringEquals: world }`],
      ['EqualsIgnoreCase', `        - { NextStep: Chosen, Variable: '{{ Name }}', EqualsIgnoreCase: WORLD }`],
      ['StartsWith', `        - { NextStep: Chosen, Variable: '{{ Name }}', StartsWith: wor }`],
      ['EndsWith', `        - { NextStep: Chosen, Variable: '{{ Name }}', EndsWith: rld }`],
      ['Contains (list)', `        - { NextStep: Chosen, Variable: '{{ L }}', Contains: b }`],
      ['Contains (string)', `        - { NextStep: Chosen, Variable: '{{ Name }}', Contains: orl }`],
      ['NumericEquals', `        - { NextStep: Chosen, Variable: '{{ N }}', NumericEquals: 5 }`],
      ['NumericGreater', `        - { NextStep: Chosen, Variable: '{{ N }}', NumericGreater: 4 }`],
      [
        'NumericLesserOrEquals',
        `        - { NextStep: Chosen, Variable: '{{ N }}', NumericLesserOrEquals: 5 }`,
      ],
      ['BooleanEquals', `        - { NextStep: Chosen, Variable: '{{ B }}', BooleanEquals: true }`],
      [
        'And',
        `        - NextStep: Chosen\n          And:\n            - { Variable: '{{ N }}', NumericEquals: 5 }\n            - { Variable: '{{ Name }}', StringEquals: world }`,
      ],
      [
        'Or',
        `        - NextStep: Chosen\n          Or:\n            - { Variable: '{{ N }}', NumericEquals: 1 }\n            - { Variable: '{{ Name }}', StringEquals: world }`,
      ],
      ['Not', `        - NextStep: Chosen\n          Not: { Variable: '{{ Name }}', StringEquals: mars }`],
    ];
    for (const [i, [label, choice]] of cases.entries()) {
      await h.create(`Branch-${i}`, branchDoc(choice));
      h.calls.length = 0;
      const e = await h.waitFor(await h.start(`Branch-${i}`));
      expect(e.AutomationExecutionStatus, label).toBe('Success');
      expect(
        h.calls.map((c) => c.api),
        label,
      ).toEqual(['Chosen']);
    }
    await h.create(
      'Branch-default',
      branchDoc(`        - { NextStep: Chosen, Variable: '{{ Name }}', StringEquals: mars }`),
    );
    h.calls.length = 0;
    await h.waitFor(await h.start('Branch-default'));
    expect(h.calls.map((c) => c.api)).toEqual(['Other']);
    await h.create(
      'Branch-none',
      branchDoc(`        - { NextStep: Chosen, Variable: '{{ Name }}', StringEquals: mars }`, ''),
    );
    const none = await h.waitFor(await h.start('Branch-none'));
    expect(none.AutomationExecutionStatus).toBe('Failed');
    expect(none.FailureMessage).toMatch(/No branch choice matched/);
  });

  it('nextStep jumps, isEnd stops', async () => {
    const h = harness();
    await h.create(
      'Flow-1',
      doc(`  - name: A
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: A }
    nextStep: C
  - name: B
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: B }
  - name: C
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: C }
    isEnd: true
  - name: D
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: D }`),
    );
    await h.waitFor(await h.start('Flow-1'));
    expect(h.calls.map((c) => c.api)).toEqual(['A', 'C']);
  });

  it('aws:assertAwsResourceProperty passes on a desired value and fails naming the actual one', async () => {
    const h = harness();
    h.setHandler(() => ({ Status: 'Suspended', Rules: [{ Id: 'x' }, { Id: 'y' }] }));
    await h.create(
      'Assert-1',
      doc(`  - name: Check
    action: aws:assertAwsResourceProperty
    inputs: { Service: s3, Api: GetBucketVersioning, Bucket: b, PropertySelector: $.Status, DesiredValues: [Enabled] }`),
    );
    const e = await h.waitFor(await h.start('Assert-1'));
    expect(e.AutomationExecutionStatus).toBe('Failed');
    expect(e.FailureMessage).toContain('Property $.Status is ["Suspended"]; expected one of ["Enabled"]');
    expect(h.calls[0]?.input).toEqual({ Bucket: 'b' });

    await h.create(
      'Assert-2',
      doc(`  - name: Check
    action: aws:assertAwsResourceProperty
    inputs: { Service: s3, Api: Get, PropertySelector: '$.Rules[*].Id', DesiredValues: [x, y] }`),
    );
    expect((await h.waitFor(await h.start('Assert-2'))).AutomationExecutionStatus).toBe('Success');
    await h.create(
      'Assert-3',
      doc(`  - name: Check
    action: aws:assertAwsResourceProperty
    inputs: { Service: s3, Api: Get, PropertySelector: '$.Missing', DesiredValues: [x] }`),
    );
    expect((await h.waitFor(await h.start('Assert-3'))).FailureMessage).toContain('is nothing');
  });

  it('aws:waitForAwsResourceProperty polls on the sandbox clock until the value is desired, and times out', async () => {
    const h = harness();
    let polls = 0;
    h.setHandler(() => {
      polls++;
      return { State: polls >= 3 ? 'ready' : 'pending' };
    });
    await h.create(
      'Wait-1',
      doc(`  - name: Wait
    action: aws:waitForAwsResourceProperty
    inputs: { Service: s3, Api: Get, PropertySelector: $.State, DesiredValues: [ready] }`),
    );
    expect((await h.waitFor(await h.start('Wait-1'))).AutomationExecutionStatus).toBe('Success');
    expect(polls).toBe(3);
    expect(h.sleeps.filter((s) => s === 5)).toHaveLength(2);

    h.setHandler(() => ({ State: 'pending' }));
    await h.create(
      'Wait-2',
      doc(`  - name: Wait
    action: aws:waitForAwsResourceProperty
    timeoutSeconds: 30
    inputs: { Service: s3, Api: Get, PropertySelector: $.State, DesiredValues: [ready] }`),
    );
    const e = await h.waitFor(await h.start('Wait-2'));
    expect(e.AutomationExecutionStatus).toBe('TimedOut');
    expect(e.StepExecutions[0]?.StepStatus).toBe('TimedOut');
    expect(h.sleeps).toContain(30);
  });

  it('aws:sleep sleeps the ISO-8601 duration on the sandbox clock; a bad duration fails', async () => {
    const h = harness();
    await h.create('Sleep-1', doc(`  - name: Nap\n    action: aws:sleep\n    inputs: { Duration: PT1M30S }`));
    expect((await h.waitFor(await h.start('Sleep-1'))).AutomationExecutionStatus).toBe('Success');
    expect(h.sleeps).toEqual([90]);
    await h.create(
      'Sleep-2',
      doc(`  - name: Nap\n    action: aws:sleep\n    inputs: { Duration: 90 seconds }`),
    );
    expect((await h.waitFor(await h.start('Sleep-2'))).FailureMessage).toMatch(/Invalid ISO-8601 duration/);
  });

  it('aws:pause waits for SendAutomationSignal; Reject fails; StopAutomationExecution cancels', async () => {
    const h = harness();
    await h.create(
      'Pause-2',
      doc(`  - name: Hold
    action: aws:pause
    inputs: { Message: waiting }
  - name: Then
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: Then }`),
    );
    const a = await h.start('Pause-2');
    await h.waitFor(a, ['Waiting']);
    expect(h.calls).toEqual([]);
    expect(
      (await rejects(h.op('SendAutomationSignal', { AutomationExecutionId: a, SignalType: 'StartStep' })))
        .code,
    ).toBe('InvalidAutomationSignalException');
    await h.op('SendAutomationSignal', { AutomationExecutionId: a, SignalType: 'Approve' });
    expect((await h.waitFor(a)).AutomationExecutionStatus).toBe('Success');
    expect(h.calls.map((c) => c.api)).toEqual(['Then']);

    const b = await h.start('Pause-2');
    await h.waitFor(b, ['Waiting']);
    await h.op('SendAutomationSignal', { AutomationExecutionId: b, SignalType: 'Reject' });
    expect((await h.waitFor(b)).AutomationExecutionStatus).toBe('Failed');

    const c = await h.start('Pause-2');
    await h.waitFor(c, ['Waiting']);
    await h.op('StopAutomationExecution', { AutomationExecutionId: c, Type: 'Cancel' });
    const stopped = await h.waitFor(c);
    expect(stopped.AutomationExecutionStatus).toBe('Cancelled');
    expect(stopped.StepExecutions[0]?.StepStatus).toBe('Cancelled');
    expect((await rejects(h.op('StopAutomationExecution', { AutomationExecutionId: c }))).code).toBe(
      'InvalidAutomationStatusUpdateException',
    );
    expect(h.calls.map((c) => c.api)).toEqual(['Then']);
  });

  it('aws:approve waits for MinRequiredApprovals Approve signals from distinct approvers; one Reject fails; its timeout ends TimedOut', async () => {
    const h = harness();
    const session = (role: string, name: string) => ({
      arn: `arn:aws:sts::000000000000:assumed-role/${role}/${name}`,
      roleArn: `arn:aws:iam::000000000000:role/${role}`,
    });
    const alice = session('alice', 'laptop');
    const bob = session('bob', 'console');
    const carol = { arn: 'arn:aws:iam::000000000000:user/carol' };
    const mallory = session('mallory', 'x');
    await h.create(
      'Approve-1',
      doc(`  - name: Gate
    action: aws:approve
    timeoutSeconds: 600
    inputs:
      Approvers: [arn:aws:iam::000000000000:role/alice, arn:aws:iam::000000000000:role/bob, carol]
      MinRequiredApprovals: 2
      Message: change the bucket?
  - name: Then
    action: aws:executeAwsApi
    inputs: { Service: s3, Api: Then }`),
    );
    const signal = (id: string, SignalType: string, who?: object, Payload?: object) =>
      h.op(
        'SendAutomationSignal',
        { AutomationExecutionId: id, SignalType, ...(Payload ? { Payload } : {}) },
        who as Parameters<typeof h.op>[2],
      );
    const a = await h.start('Approve-1');
    await h.waitFor(a, ['Waiting']);
    expect((await rejects(signal(a, 'Resume', alice))).code).toBe('InvalidAutomationSignalException');
    for (const stranger of [mallory, undefined]) {
      const refused = await rejects(signal(a, 'Approve', stranger));
      expect(refused.code).toBe('InvalidAutomationSignalException');
      expect(refused.message).toMatch(/is not an approver of this automation step/);
    }
    expect((await rejects(signal(a, 'Reject', mallory))).code).toBe('InvalidAutomationSignalException');
    await signal(a, 'Approve', alice, { Comment: ['looks right'] });
    await signal(a, 'Approve', session('alice', 'phone'));
    expect((await h.get(a)).AutomationExecutionStatus).toBe('Waiting');
    expect(h.calls).toEqual([]);
    await signal(a, 'Approve', carol);
    const approved = await h.waitFor(a);
    expect(approved.AutomationExecutionStatus).toBe('Success');
    expect(approved.StepExecutions[0]?.Outputs?.ApprovalStatus).toEqual(['Approved']);
    const decisions = approved.StepExecutions[0]?.Outputs?.ApproverDecisions ?? [];
    expect(decisions.map((d) => JSON.parse(d))).toEqual([
      expect.objectContaining({ Approver: alice.arn, Decision: 'Approved', Comment: 'looks right' }),
      expect.objectContaining({ Approver: carol.arn, Decision: 'Approved' }),
    ]);
    expect(h.calls.map((c) => c.api)).toEqual(['Then']);

    const b = await h.start('Approve-1');
    await h.waitFor(b, ['Waiting']);
    await signal(b, 'Reject', bob);
    const rejected = await h.waitFor(b);
    expect(rejected.AutomationExecutionStatus).toBe('Failed');
    expect(rejected.FailureMessage).toMatch(
      /Step Gate \(aws:approve\) failed: The approval request was rejected/,
    );

    const c = await h.start('Approve-1');
    const timedOut = await h.waitFor(c);
    expect(timedOut.AutomationExecutionStatus).toBe('TimedOut');
    expect(h.sleeps).toContain(600);
    expect(h.calls.map((x) => x.api)).toEqual(['Then']);
  });

  it('aws:approve with more required approvals than approvers fails the step, naming the input', async () => {
    const h = harness();
    await h.create(
      'Approve-2',
      doc(`  - name: Gate
    action: aws:approve
    inputs: { Approvers: [alice], MinRequiredApprovals: 2 }`),
    );
    const e = await h.waitFor(await h.start('Approve-2'));
    expect(e.AutomationExecutionStatus).toBe('Failed');
    expect(e.FailureMessage).toMatch(
      /MinRequiredApprovals must be an integer from 1 to the number of Approvers/,
    );
  });

  it('aws:loop runs its steps once per iterator (maps kept whole), with parent details; a failing iteration fails the loop', async () => {
    const h = harness();
    h.setHandler((_s, _api, input) => {
      if (JSON.stringify(input).includes('"bad"')) throw awsError('InvalidPermission.NotFound', 'nope');
      return {};
    });
    await h.create(
      'Loop-1',
      doc(
        `  - name: Each
    action: aws:loop
    inputs:
      Iterators: '{{ Rules }}'
      IteratorDataType: StringMap
      Steps:
        - name: Revoke
          action: aws:executeAwsApi
          inputs:
            Service: ec2
            Api: RevokeSecurityGroupIngress
            IpPermissions: ['{{ Each.CurrentIteratorValue }}']`,
        '  Rules:\n    type: MapList',
      ),
    );
    const ok = await h.waitFor(
      await h.start('Loop-1', {
        Rules: ['{"IpProtocol":"tcp","FromPort":22}', '{"IpProtocol":"tcp","FromPort":3389}'],
      }),
    );
    expect(ok.AutomationExecutionStatus).toBe('Success');
    expect(h.calls.map((c) => c.input)).toEqual([
      { IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22 }] },
      { IpPermissions: [{ IpProtocol: 'tcp', FromPort: 3389 }] },
    ]);
    expect(
      ok.StepExecutions.filter((s) => s.StepName === 'Revoke').map((s) => s.ParentStepDetails?.Iteration),
    ).toEqual([0, 1]);

    const empty = await h.waitFor(await h.start('Loop-1', { Rules: ['[]'] }));
    expect(empty.AutomationExecutionStatus).toBe('Success');
    expect(h.calls).toHaveLength(2);

    const bad = await h.waitFor(await h.start('Loop-1', { Rules: ['{"IpProtocol":"bad"}'] }));
    expect(bad.AutomationExecutionStatus).toBe('Failed');
    expect(bad.FailureMessage).toMatch(/Loop iteration 1 failed: .*InvalidPermission\.NotFound/);
  });

  it('an unsupported action fails the execution with a clear message', async () => {
    const h = harness();
    await h.create(
      'Unsupported-1',
      doc(
        `  - name: Command\n    action: aws:runCommand\n    inputs: { DocumentName: AWS-RunShellScript, InstanceIds: [i-1] }`,
      ),
    );
    const e = await h.waitFor(await h.start('Unsupported-1'));
    expect(e.AutomationExecutionStatus).toBe('Failed');
    expect(e.FailureMessage).toMatch(
      /Step Command \(aws:runCommand\) failed: Action aws:runCommand is not supported by the sandbox Automation engine/,
    );
  });

  it('an unresolvable reference fails the step', async () => {
    const h = harness();
    await h.create(
      'Ref-1',
      doc(
        `  - name: A\n    action: aws:executeAwsApi\n    inputs: { Service: s3, Api: A, X: '{{ Nope.Out }}' }`,
      ),
    );
    const e = await h.waitFor(await h.start('Ref-1'));
    expect(e.FailureMessage).toMatch(/Unable to resolve the variable \{\{ Nope\.Out \}\}/);
    expect(h.calls).toEqual([]);
  });
});

describe('DescribeAutomationExecutions', () => {
  it('filters by document name prefix and status; rejects unknown filter keys', async () => {
    const h = harness();
    await h.create('Alpha-1', doc(`  - name: S\n    action: aws:sleep\n    inputs: { Duration: PT1S }`));
    await h.create('Beta-1', doc(`  - name: S\n    action: aws:pause\n    inputs: {}`));
    const a = await h.start('Alpha-1');
    const b = await h.start('Beta-1');
    await h.waitFor(a);
    await h.waitFor(b, ['Waiting']);
    const byPrefix = await h.op('DescribeAutomationExecutions', {
      Filters: [{ Key: 'DocumentNamePrefix', Values: ['Alpha'] }],
    });
    expect(byPrefix.AutomationExecutionMetadataList).toEqual([
      expect.objectContaining({
        AutomationExecutionId: a,
        DocumentName: 'Alpha-1',
        AutomationExecutionStatus: 'Success',
      }),
    ]);
    const waiting = await h.op('DescribeAutomationExecutions', {
      Filters: [{ Key: 'ExecutionStatus', Values: ['Waiting'] }],
    });
    expect(waiting.AutomationExecutionMetadataList).toEqual([
      expect.objectContaining({ AutomationExecutionId: b }),
    ]);
    expect(
      (await rejects(h.op('DescribeAutomationExecutions', { Filters: [{ Key: 'Color', Values: ['x'] }] })))
        .code,
    ).toBe('InvalidFilterKey');
    expect(
      (
        await rejects(
          h.op('GetAutomationExecution', { AutomationExecutionId: '0f3c5c20-8a6b-41ee-b9d1-0242ac120009' }),
        )
      ).code,
    ).toBe('AutomationExecutionNotFoundException');
    await h.op('StopAutomationExecution', { AutomationExecutionId: b });
  });
});

describe('status-change notification times', () => {
  it('writes UTC times as AWS does ("Nov 29, 2024 7:43:23 PM"), the same for every call', () => {
    expect(notificationTime(new Date('2024-11-29T19:43:23Z'))).toBe('Nov 29, 2024 7:43:23 PM');
    expect(notificationTime(new Date('2025-01-05T00:07:09.999Z'))).toBe('Jan 5, 2025 12:07:09 AM');
    expect(notificationTime(new Date('2026-12-31T12:00:00Z'))).toBe('Dec 31, 2026 12:00:00 PM');
  });
});
