/**
 * The synthesized stack's security-relevant resources (bundling skipped; see bundling.test.ts for the
 * real bundles): cdk-nag, IAM, encryption, event patterns, functions, environment, runbooks.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { ALL_TASKS, BUNDLED_POLICY_FILE, TASK_ENV, TASK_METADATA_KEY } from '../../infra/drift-remediation';
import { loadRunbooks, runbookPermissions } from '../../infra/runbook-permissions';
import { ENV } from '../../tasks/shared/env';
import { loadPolicyFile } from '../../tasks/shared/policy/load';
import { RUNBOOK_PREFIX } from '../../tasks/shared/policy/schema';
import { synth } from './synth';

type Resource = { Type: string; Properties: Record<string, unknown>; Metadata?: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const { template, json } = synth();
const resources = json.Resources as Record<string, Resource>;
const res = (id: string): Resource => {
  const r = resources[id];
  if (!r) throw new Error(`no resource ${id}`);
  return r;
};
const ofType = (type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const policy = loadPolicyFile('runbooks/policy.yaml');
const runbookFiles = readdirSync('runbooks').filter(
  (f) => f.startsWith(RUNBOOK_PREFIX) && f.endsWith('.yaml'),
);
const asList = <T>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

function functionId(task: string): string {
  const e = ofType('AWS::Lambda::Function').find(([, r]) => r.Metadata?.[TASK_METADATA_KEY] === task);
  if (!e) throw new Error(`no function for ${task}`);
  return e[0];
}
function roleIdOf(task: string): string {
  const role = (res(functionId(task)).Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
  return role;
}
/** Every statement attached to a role (inline policies of AWS::IAM::Policy resources naming it). */
function statementsOf(roleId: string): Statement[] {
  return ofType('AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
function allStatements(): [string, Statement][] {
  return ofType('AWS::IAM::Policy').flatMap(([id, p]) =>
    (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement.map((s): [string, Statement] => [
      id,
      s,
    ]),
  );
}
function actionsOf(roleId: string): Set<string> {
  return new Set(statementsOf(roleId).flatMap((s) => asList(s.Action)));
}

describe('cdk-nag AwsSolutions', () => {
  it('synthesizes with zero unacknowledged findings (synth fails on any)', () => {
    expect(() => synth()).not.toThrow();
  });

  it('an unacknowledged finding does fail synth (the check is live)', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Probe');
    new iam.Role(stack, 'Wide', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }).addToPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['*'] }),
    );
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow(/AwsSolutions-IAM5|Validation failed/);
  });
});

describe('IAM', () => {
  it('no statement allows a wildcard action', () => {
    for (const [id, s] of allStatements()) {
      if (s.Effect !== 'Allow') continue;
      for (const a of asList(s.Action)) {
        expect(a, id).not.toBe('*');
        expect(a, id).not.toMatch(/:\*$/);
      }
    }
  });

  it('iam:PassRole: only start-runbook, only the AutomationAssumeRole, only to SSM', () => {
    const pass = allStatements().filter(([, s]) => asList(s.Action).includes('iam:PassRole'));
    expect(pass).toHaveLength(1);
    const [policyId, s] = pass[0] as [string, Statement];
    expect((res(policyId).Properties.Roles as { Ref: string }[]).map((r) => r.Ref)).toEqual([
      roleIdOf('start-runbook'),
    ]);
    expect(asList(s.Action)).toEqual(['iam:PassRole']);
    const automationRole = ofType('AWS::IAM::Role').find(([id]) => id.includes('AutomationAssumeRole'))?.[0];
    expect(s.Resource).toEqual({ 'Fn::GetAtt': [automationRole, 'Arn'] });
    expect(s.Condition).toEqual({ StringEquals: { 'iam:PassedToService': 'ssm.amazonaws.com' } });
  });

  it('ssm:StartAutomationExecution: only start-runbook, only the policy’s runbooks', () => {
    const start = allStatements().filter(([, s]) =>
      asList(s.Action).includes('ssm:StartAutomationExecution'),
    );
    expect(start).toHaveLength(1);
    const [policyId, s] = start[0] as [string, Statement];
    expect((res(policyId).Properties.Roles as { Ref: string }[]).map((r) => r.Ref)).toEqual([
      roleIdOf('start-runbook'),
    ]);
    const text = JSON.stringify(s.Resource);
    expect(asList(s.Resource)).not.toContain('*');
    const names = [...new Set(policy.entries.map((e) => e.runbook))];
    expect(asList(s.Resource)).toHaveLength(names.length * 2);
    for (const n of names) {
      expect(text).toContain(`:document/${n}"`);
      expect(text).toContain(`:automation-definition/${n}:*"`);
    }
  });

  it('the AutomationAssumeRole is assumable by SSM only and allows exactly what the runbooks call', () => {
    const [roleId, role] = ofType('AWS::IAM::Role').find(([id]) => id.includes('AutomationAssumeRole')) as [
      string,
      Resource,
    ];
    expect(role.Properties.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: 'ssm.amazonaws.com' },
          Condition: {
            StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            ArnLike: {
              'aws:SourceArn': {
                'Fn::Join': [
                  '',
                  [
                    'arn:',
                    { Ref: 'AWS::Partition' },
                    ':ssm:',
                    { Ref: 'AWS::Region' },
                    ':',
                    { Ref: 'AWS::AccountId' },
                    ':automation-execution/*',
                  ],
                ],
              },
            },
          },
        },
      ],
    });
    const typesByRunbook: Record<string, string[]> = {};
    for (const e of policy.entries)
      typesByRunbook[e.runbook] = [...(typesByRunbook[e.runbook] ?? []), ...e.resourceTypes];
    const derived = runbookPermissions(
      loadRunbooks('runbooks'),
      { partition: 'aws', region: 'r', account: 'a' },
      typesByRunbook,
    );
    expect(actionsOf(roleId)).toEqual(new Set(derived.flatMap((d) => d.actions)));
    const actions = actionsOf(roleId);
    // Spot checks of the derivation: API names mapped to IAM names, Cloud Control + its handler's permissions.
    for (const a of [
      'ec2:RevokeSecurityGroupIngress',
      's3:PutEncryptionConfiguration',
      's3:PutBucketPublicAccessBlock',
      'cloudformation:UpdateResource',
      'iam:PutRolePolicy',
      'lambda:UpdateFunctionConfiguration',
    ])
      expect(actions, a).toContain(a);
    for (const a of [
      's3:PutBucketEncryption',
      'cloudcontrol:UpdateResource',
      'iam:CreateRole',
      'iam:PassRole',
    ])
      expect(actions, a).not.toContain(a);
    // Mutating EC2 calls are scoped to security groups of this account.
    const revoke = statementsOf(roleId).find((s) =>
      asList(s.Action).includes('ec2:RevokeSecurityGroupIngress'),
    );
    expect(JSON.stringify(revoke?.Resource)).toContain(':security-group/*');
  });

  it('the approval endpoint can answer task tokens (Resource *, the only form IAM honours), and starts nothing', () => {
    const actions = actionsOf(roleIdOf('approval-endpoint'));
    expect(actions).toContain('states:SendTaskSuccess');
    expect(actions).toContain('states:SendTaskFailure');
    expect(actions).not.toContain('states:StartExecution');
    const s = statementsOf(roleIdOf('approval-endpoint')).find((x) =>
      asList(x.Action).includes('states:SendTaskSuccess'),
    );
    expect(s?.Resource).toBe('*');
  });

  it('only the intake role may start executions; the manual-start entry only sends to the intake queue', () => {
    // Every identity policy in the stack that grants StartExecution (any resource): intake's role alone.
    const starters = ofType('AWS::IAM::Policy')
      .filter(([, p]) =>
        asList((p.Properties.PolicyDocument as { Statement: Statement[] }).Statement).some((st) =>
          asList(st.Action).some((a) => a === 'states:StartExecution' || a === 'states:*' || a === '*'),
        ),
      )
      .flatMap(([, p]) => asList(p.Properties.Roles as unknown[]).map((r) => JSON.stringify(r)));
    expect(starters).toEqual([JSON.stringify({ Ref: roleIdOf('intake') })]);
    const entry = actionsOf(roleIdOf('manual-start'));
    expect(entry).toContain('sqs:SendMessage');
    expect(entry).toContain('secretsmanager:GetSecretValue');
    expect(entry).not.toContain('states:StartExecution');
    expect(entry).not.toContain('events:PutEvents');
  });

  it('the manual-start entry is a Function URL with AuthType AWS_IAM that no resource policy opens', () => {
    const fnId = Object.entries(resources).find(
      ([, r]) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[TASK_METADATA_KEY] === 'manual-start',
    )?.[0];
    expect(fnId).toBeDefined();
    const urls = ofType('AWS::Lambda::Url').filter(
      ([, r]) =>
        JSON.stringify(r.Properties?.TargetFunctionArn) === JSON.stringify({ 'Fn::GetAtt': [fnId, 'Arn'] }),
    );
    expect(urls.map(([, r]) => r.Properties?.AuthType)).toEqual(['AWS_IAM']);
    const permissions = ofType('AWS::Lambda::Permission').filter(([, r]) =>
      JSON.stringify(r.Properties?.FunctionName).includes(String(fnId)),
    );
    expect(permissions).toEqual([]);
    expect((json as { Outputs?: Record<string, unknown> }).Outputs?.ManualStartUrl).toBeDefined();
  });

  it('least privilege per task: each role has its task’s actions and not the others’', () => {
    const has = (task: string, action: string) => actionsOf(roleIdOf(task)).has(action);
    expect(has('intake', 'states:StartExecution')).toBe(true);
    expect(has('plan', 'states:StartExecution')).toBe(false);
    expect(has('wait-callback', 'ssm:GetAutomationExecution')).toBe(true);
    expect(has('wait-callback', 'ssm:StartAutomationExecution')).toBe(false);
    expect(has('await-compliance', 'config:StartConfigRulesEvaluation')).toBe(true);
    expect(has('wait-callback', 'config:StartConfigRulesEvaluation')).toBe(false);
    expect(has('sweep', 'sqs:SendMessage')).toBe(true);
    expect(has('record-outcome', 'sns:Publish')).toBe(true);
    expect(has('check-drift', 'sns:Publish')).toBe(false);
    expect(has('request-approval', 'secretsmanager:GetSecretValue')).toBe(true);
    expect(has('record-outcome', 'secretsmanager:GetSecretValue')).toBe(false);
    for (const task of ALL_TASKS) {
      if (task !== 'start-runbook') expect(has(task, 'iam:PassRole'), task).toBe(false);
    }
  });

  it('plan reads and writes the ordering table with exactly BatchGetItem (break-glass), GetItem and UpdateItem', () => {
    const dynamo = statementsOf(roleIdOf('plan')).filter((s) =>
      asList(s.Action).some((a) => a.startsWith('dynamodb:')),
    );
    const ordering = dynamo.filter((s) => JSON.stringify(s.Resource).includes('Ordering'));
    expect(ordering.flatMap((s) => asList(s.Action)).sort()).toEqual([
      'dynamodb:BatchGetItem',
      'dynamodb:GetItem',
      'dynamodb:UpdateItem',
    ]);
    // BatchGetItem on that table only, no wildcard.
    for (const s of dynamo.filter((x) => asList(x.Action).includes('dynamodb:BatchGetItem')))
      expect(JSON.stringify(s.Resource)).not.toMatch(/"\*"|Outcomes/);
  });
});

describe('encryption', () => {
  it('tables: KMS (customer managed), PITR, TTL on expiresAt, on-demand', () => {
    const tables = ofType('AWS::DynamoDB::Table');
    expect(tables).toHaveLength(6);
    template.allResourcesProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
    });
    const keys = tables.map(([, t]) => JSON.stringify(t.Properties.KeySchema)).sort();
    expect(keys).toEqual(
      [
        [{ AttributeName: 'approvalId', KeyType: 'HASH' }],
        [{ AttributeName: 'key', KeyType: 'HASH' }],
        [{ AttributeName: 'lockId', KeyType: 'HASH' }],
        [
          { AttributeName: 'resourceKey', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        [
          { AttributeName: 'target', KeyType: 'HASH' },
          { AttributeName: 'waiter', KeyType: 'RANGE' },
        ],
        [
          { AttributeName: 'queue', KeyType: 'HASH' },
          { AttributeName: 'waiter', KeyType: 'RANGE' },
        ],
      ]
        .map((k) => JSON.stringify(k))
        .sort(),
    );
  });

  it('queues and topics: KMS, TLS only; the key rotates', () => {
    template.resourceCountIs('AWS::SQS::Queue', 4); // intake, notifications, and their DLQs
    template.allResourcesProperties('AWS::SQS::Queue', { KmsMasterKeyId: Match.anyValue() });
    template.resourceCountIs('AWS::SNS::Topic', 3);
    template.allResourcesProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    for (const [, qp] of ofType('AWS::SQS::QueuePolicy')) {
      const st = (qp.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
      expect(st).toContainEqual(
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
      );
    }
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      KmsKeyId: Match.anyValue(),
      GenerateSecretString: Match.objectLike({ PasswordLength: 64 }),
    });
  });

  it('the intake queue accepts EventBridge deliveries from this account only', () => {
    const [, qp] = ofType('AWS::SQS::QueuePolicy').find(([, p]) =>
      JSON.stringify(p.Properties.Queues).includes('IntakeQueue'),
    ) as [string, Resource];
    const st = (qp.Properties.PolicyDocument as { Statement: Statement[] }).Statement;
    expect(st).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Principal: { Service: 'events.amazonaws.com' },
        Condition: { StringNotEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      }),
    );
  });
});

describe('events, queue, schedules', () => {
  it('Config rule: NON_COMPLIANT compliance changes of exactly the policy’s rules', () => {
    const rules = [...new Set(policy.entries.flatMap((e) => e.configRules))].sort();
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.config'],
        'detail-type': ['Config Rules Compliance Change'],
        detail: {
          messageType: ['ComplianceChangeNotification'],
          configRuleName: rules,
          newEvaluationResult: { complianceType: ['NON_COMPLIANT', 'COMPLIANT'] },
        },
      },
    });
  });

  it('CloudFormation: DRIFTED drift-detection status changes', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.cloudformation'],
        'detail-type': ['CloudFormation Drift Detection Status Change'],
        detail: { 'status-details': { 'stack-drift-status': ['DRIFTED'] } },
      },
    });
  });

  it('both rules target the intake queue (with a DLQ); the queue redrives to the DLQ; intake reports partial failures', () => {
    for (const [id, r] of ofType('AWS::Events::Rule')) {
      if (!id.includes('Intake') && !/ConfigComplianceRule|StackDriftRule/.test(id)) continue;
      const targets = r.Properties.Targets as { Arn: unknown; DeadLetterConfig?: unknown }[];
      expect(targets).toHaveLength(1);
      expect(JSON.stringify(targets[0]?.Arn)).toContain('IntakeQueue');
      expect(JSON.stringify(targets[0]?.DeadLetterConfig)).toContain('IntakeDeadLetterQueue');
    }
    template.hasResourceProperties('AWS::SQS::Queue', {
      RedrivePolicy: { deadLetterTargetArn: Match.anyValue(), maxReceiveCount: 5 },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: functionId('intake') },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('schedules invoke sweep and reap-leases', () => {
    const schedules = ofType('AWS::Scheduler::Schedule');
    expect(schedules).toHaveLength(2);
    const targets = schedules
      .map(([, s]) => JSON.stringify((s.Properties.Target as { Arn: unknown }).Arn))
      .sort();
    expect(targets.join()).toContain(functionId('sweep'));
    expect(targets.join()).toContain(functionId('reap-leases'));
  });
});

describe('functions', () => {
  it('one function per task: Node 22, arm64, X-Ray, task metadata', () => {
    const fns = ofType('AWS::Lambda::Function');
    expect(fns.map(([, f]) => f.Metadata?.[TASK_METADATA_KEY]).sort()).toEqual([...ALL_TASKS].sort());
    for (const [id, f] of fns) {
      expect(f.Properties.Runtime, id).toBe('nodejs22.x');
      expect(f.Properties.Architectures, id).toEqual(['arm64']);
      expect(f.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      expect(f.Properties.Handler, id).toBe('index.handler');
    }
  });

  it('every environment variable key has the same value on every function', () => {
    const values = new Map<string, Set<string>>();
    for (const [, f] of ofType('AWS::Lambda::Function')) {
      const vars = ((f.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)
        ?.Variables ?? {}) as Record<string, unknown>;
      for (const [k, v] of Object.entries(vars)) {
        const set = values.get(k) ?? new Set<string>();
        set.add(JSON.stringify(v));
        values.set(k, set);
      }
    }
    expect(values.size).toBeGreaterThan(10);
    for (const [k, set] of values) expect([...set], k).toHaveLength(1);
  });

  it('each function gets the env keys its handler reads (and POLICY_FILE points at the bundled policy)', () => {
    for (const task of ALL_TASKS) {
      const vars = (res(functionId(task)).Properties.Environment as { Variables: Record<string, unknown> })
        .Variables;
      for (const k of TASK_ENV[task]) expect(vars, `${task} ${k}`).toHaveProperty([k]);
    }
    const plan = (res(functionId('plan')).Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;
    expect(plan[ENV.POLICY_FILE]).toBe(BUNDLED_POLICY_FILE);
  });

  it('the approval endpoint is a Function URL without IAM auth (links are HMAC-signed)', () => {
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'NONE',
      TargetFunctionArn: { 'Fn::GetAtt': [functionId('approval-endpoint'), 'Arn'] },
    });
  });
});

describe('state machine, runbooks, rules, alarms', () => {
  it('Standard, X-Ray on, logs at ERROR without execution data', () => {
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ERROR', IncludeExecutionData: false }),
    });
  });

  it('one SSM Automation document per runbook file, named after it, updated as new versions', () => {
    const docs = ofType('AWS::SSM::Document');
    expect(docs.map(([, d]) => d.Properties.Name).sort()).toEqual(
      runbookFiles.map((f) => basename(f, '.yaml')).sort(),
    );
    for (const [, d] of docs) {
      expect(d.Properties).toMatchObject({
        DocumentType: 'Automation',
        DocumentFormat: 'YAML',
        UpdateMethod: 'NewVersion',
      });
      expect((d.Properties.Content as { schemaVersion: string }).schemaVersion).toBe('0.3');
    }
  });

  it('Config rules with deploy: true are created (the stack-drift rule with its drift-detection role)', () => {
    const deployed = policy.configRules.filter((r) => r.deploy);
    const rules = ofType('AWS::Config::ConfigRule');
    expect(rules.map(([, r]) => r.Properties.ConfigRuleName).sort()).toEqual(
      deployed.map((r) => r.name).sort(),
    );
    const drift = rules.find(
      ([, r]) =>
        (r.Properties.Source as { SourceIdentifier: string }).SourceIdentifier ===
        'CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK',
    );
    expect(drift).toBeDefined();
    expect(JSON.stringify(drift?.[1].Properties.InputParameters)).toContain('cloudformationRoleArn');
  });

  it('alarms on failed executions, DLQ depth and failed remediations; a dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 4);
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ExecutionsFailed',
      Namespace: 'AWS/States',
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        {
          Name: 'QueueName',
          Value: { 'Fn::GetAtt': [Match.stringLikeRegexp('IntakeDeadLetterQueue'), 'QueueName'] },
        },
      ],
    });
    const remediation = ofType('AWS::CloudWatch::Alarm').find(([, a]) =>
      JSON.stringify(a.Properties.Metrics ?? '').includes('RemediationOutcome'),
    );
    expect(remediation).toBeDefined();
    for (const [, a] of ofType('AWS::CloudWatch::Alarm'))
      expect(JSON.stringify(a.Properties.AlarmActions)).toContain('AlarmTopic');
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});

describe('policy validation at synth', () => {
  it('an invalid policy fails synth with a message naming the field', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(
      file,
      'version: 1\ndefaults:\n  approval: { mode: sometimes, approvers: [], ttlSeconds: 60 }\n  concurrency: { perRunbook: 1, global: 1 }\n  attempts: { max: 1, retryAfterSeconds: 1 }\n  loopBreaker: { windowSeconds: 60, maxRemediations: 1 }\n  blastRadius: { windowSeconds: 60, maxRemediations: 1 }\n  verification: { timeoutSeconds: 60, intervalSeconds: 10 }\nremediations: []\n',
    );
    expect(() => synth({ remediation: { policyFile: file }, nag: false })).toThrow(
      /defaults\.approval\.mode/,
    );
  });

  it('a policy entry naming an AWS-managed runbook outside the reviewed table fails synth, naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'policy-'));
    const file = join(dir, 'policy.yaml');
    const shipped = readFileSync('runbooks/policy.yaml', 'utf8');
    // The shipped policy plus one entry for a document the table does not hold.
    writeFileSync(
      file,
      `${shipped}\n  - id: iam-detach\n    match: { configRules: [iam-policy-no-statements-with-admin-access], resourceTypes: [AWS::IAM::Group] }\n    runbook: AWS-DetachIAMPolicy\n    parameters:\n      IAMResourceId: { from: event.resourceId }\n`,
    );
    expect(() => synth({ remediation: { policyFile: file }, nag: false })).toThrow(
      /remediations\[\d+\]\.runbook: AWS-DetachIAMPolicy is not in the reviewed AWS-managed runbook table.*AWSConfigRemediation-DetachIAMPolicy/,
    );
  });
});
