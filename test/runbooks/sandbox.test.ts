/**
 * Every policy entry with a first-party runbook, proven in the sandbox through real SDK clients, with a
 * scenario derived from the registry and the sandbox (test/runbooks/support/scenarios.ts; no runbook is
 * named for it), followed by deeper per-runbook checks:
 *   1. a resource deployed from a template (CloudFormation CreateStack),
 *   2. drifted through the real service API (as a person in the console would),
 *   3. the runbook run through StartAutomationExecution with parameters built exactly as the workflow
 *      builds them (detect-drift + describe-drift task cores → the policy entry → resolveParameters),
 *   4. Success, and CloudFormation drift detection says IN_SYNC;
 *   5. run again (parameters re-derived, and the first attempt's parameters replayed) → Success and the
 *      resource's state unchanged;
 *   6. a malformed id → InvalidAutomationExecutionParametersException, no automation created, nothing changed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import {
  CloudControlClient,
  GetResourceCommand,
  GetResourceRequestStatusCommand,
  UpdateResourceCommand,
} from '@aws-sdk/client-cloudcontrol';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStackDriftDetectionStatusCommand,
  DescribeStackResourcesCommand,
  DescribeStacksCommand,
  DetectStackDriftCommand,
  DetectStackResourceDriftCommand,
} from '@aws-sdk/client-cloudformation';
import {
  AuthorizeSecurityGroupIngressCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import {
  AttachRolePolicyCommand,
  CreatePolicyVersionCommand,
  CreateRoleCommand,
  DetachRolePolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  GetFunctionConfigurationCommand,
  LambdaClient,
  UpdateFunctionConfigurationCommand,
} from '@aws-sdk/client-lambda';
import {
  DeleteBucketEncryptionCommand,
  GetBucketEncryptionCommand,
  GetBucketVersioningCommand,
  GetPublicAccessBlockCommand,
  PutBucketVersioningCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  type AutomationExecution,
  CreateDocumentCommand,
  DescribeAutomationExecutionsCommand,
  GetAutomationExecutionCommand,
  InvalidAutomationExecutionParametersException,
  SSMClient,
  StartAutomationExecutionCommand,
} from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { allProviders, allServices } from '../../sandbox/services';
import { configIdOf } from '../../sandbox/services/config/discovery';
import { EVALUATORS } from '../../sandbox/services/config/evaluators';
import { ensureRecorder } from '../../sandbox/services/config/recorder';
import { describeDrift } from '../../tasks/describe-drift/core';
import { detectDrift } from '../../tasks/detect-drift/core';
import type { RemediationEvent } from '../../tasks/shared/contracts';
import { resolveParameters } from '../../tasks/shared/parameters';
import { findEntry, loadPolicyFile } from '../../tasks/shared/policy/load';
import { driftedPropertyPaths } from '../../tasks/shared/policy/match';
import { type ResolvedEntry, RUNBOOK_PREFIX } from '../../tasks/shared/policy/schema';
import { withSandbox } from '../sandbox/helpers';
import {
  callApi,
  genericDrift,
  STACK_TYPE,
  SUBJECT,
  sampleTemplate,
  subjectTypeFor,
} from './support/scenarios';

const sb = withSandbox(() => ({ services: allServices(), providers: allProviders(), timeScale: 0.001 }));
const ROLE = 'arn:aws:iam::000000000000:role/drift-remediation-automation';
const ACCOUNT = '000000000000';
const policy = loadPolicyFile('runbooks/policy.yaml');
/** Every first-party runbook file (runbooks/DriftRemediation-*.yaml), installed before the tests. */
const RUNBOOKS = readdirSync('runbooks')
  .filter((f) => f.startsWith(RUNBOOK_PREFIX) && f.endsWith('.yaml'))
  .map((f) => f.replace(/\.yaml$/, ''));

const clients = () => ({
  cc: new CloudControlClient(sb.clientConfig),
  cfn: new CloudFormationClient(sb.clientConfig),
  ec2: new EC2Client(sb.clientConfig),
  s3: new S3Client({ ...sb.clientConfig, forcePathStyle: true }),
  iam: new IAMClient(sb.clientConfig),
  lambda: new LambdaClient(sb.clientConfig),
  ssm: new SSMClient(sb.clientConfig),
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const demoTemplate = (name: string) => readFileSync(`sandbox/demo/templates/${name}`, 'utf8');

beforeAll(async () => {
  const { ssm, iam } = clients();
  // The sandbox enforces IAM: automations run as this role. These tests are about what the runbooks do,
  // so it may do anything; the deployed automation role's least privilege is exercised end to end
  // (test/e2e) and by the permission tests.
  await iam.send(
    new CreateRoleCommand({
      RoleName: ROLE.split('/').pop(),
      AssumeRolePolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { Service: 'ssm.amazonaws.com' }, Action: 'sts:AssumeRole' },
        ],
      }),
    }),
  );
  await iam.send(
    new AttachRolePolicyCommand({
      RoleName: ROLE.split('/').pop(),
      PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
    }),
  );
  for (const name of RUNBOOKS) {
    await ssm.send(
      new CreateDocumentCommand({
        Name: name,
        Content: readFileSync(`runbooks/${name}.yaml`, 'utf8'),
        DocumentType: 'Automation',
        DocumentFormat: 'YAML',
      }),
    );
  }
});

async function deploy(stackName: string, templateBody: string): Promise<Record<string, string>> {
  const { cfn } = clients();
  await cfn.send(
    new CreateStackCommand({
      StackName: stackName,
      TemplateBody: templateBody,
      Capabilities: ['CAPABILITY_NAMED_IAM'],
    }),
  );
  for (let i = 0; i < 500; i++) {
    const s = (await cfn.send(new DescribeStacksCommand({ StackName: stackName }))).Stacks?.[0];
    if (s?.StackStatus === 'CREATE_COMPLETE') {
      return Object.fromEntries((s.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']));
    }
    if (s?.StackStatus && !s.StackStatus.endsWith('IN_PROGRESS'))
      throw new Error(`${stackName}: ${s.StackStatus} ${s.StackStatusReason ?? ''}`);
    await sleep(5);
  }
  throw new Error(`${stackName} never completed`);
}

/** Whole-stack drift detection, as the verification of the workflow would see it. */
async function stackDrift(stackName: string): Promise<string | undefined> {
  const { cfn } = clients();
  const { StackDriftDetectionId } = await cfn.send(new DetectStackDriftCommand({ StackName: stackName }));
  for (let i = 0; i < 500; i++) {
    const r = await cfn.send(new DescribeStackDriftDetectionStatusCommand({ StackDriftDetectionId }));
    if (r.DetectionStatus !== 'DETECTION_IN_PROGRESS') return r.StackDriftStatus;
    await sleep(5);
  }
  throw new Error('drift detection never completed');
}

function event(
  over: Partial<RemediationEvent> & Pick<RemediationEvent, 'resourceType' | 'resourceId'>,
): RemediationEvent {
  return {
    eventId: `evt-${over.resourceId.slice(-12)}`,
    source: 'config',
    awsAccountId: ACCOUNT,
    awsRegion: 'us-east-1',
    complianceType: 'NON_COMPLIANT',
    orderingTimestamp: new Date().toISOString(),
    ...over,
  };
}

interface Start {
  documentName: string;
  parameters: Record<string, string[]>;
}

/** The workflow's way: detect drift, describe it, pick the policy entry, resolve its parameters. */
async function workflowParameters(ev: RemediationEvent): Promise<Start> {
  const { cfn } = clients();
  const deps = { cloudFormation: cfn, now: () => new Date() };
  let drift: Awaited<ReturnType<typeof detectDrift>> | undefined;
  if (ev.resourceType !== 'AWS::CloudFormation::Stack') {
    const detected = await detectDrift({ event: ev }, deps);
    drift =
      detected.mode === 'resource' ? await describeDrift({ event: ev, drift: detected }, deps) : detected;
  }
  const entry = findEntry(policy, ev);
  if (!entry) throw new Error(`no policy entry for ${ev.resourceType} ${ev.configRuleName ?? ''}`);
  return {
    documentName: entry.runbook,
    parameters: resolveParameters(entry.parameters, { event: ev, drift }, ROLE),
  };
}

async function run(start: Start): Promise<AutomationExecution> {
  const { ssm } = clients();
  const { AutomationExecutionId } = await ssm.send(
    new StartAutomationExecutionCommand({ DocumentName: start.documentName, Parameters: start.parameters }),
  );
  for (let i = 0; i < 2000; i++) {
    const e = (await ssm.send(new GetAutomationExecutionCommand({ AutomationExecutionId })))
      .AutomationExecution;
    if (e && ['Success', 'Failed', 'TimedOut', 'Cancelled'].includes(e.AutomationExecutionStatus ?? ''))
      return e;
    await sleep(5);
  }
  throw new Error(`automation ${AutomationExecutionId} did not end`);
}

function expectSuccess(e: AutomationExecution): void {
  expect(
    e.FailureMessage,
    JSON.stringify(e.StepExecutions?.filter((s) => s.StepStatus === 'Failed').map((s) => s.FailureMessage)),
  ).toBeUndefined();
  expect(e.AutomationExecutionStatus).toBe('Success');
}

async function executionCount(): Promise<number> {
  const { ssm } = clients();
  const r = await ssm.send(new DescribeAutomationExecutionsCommand({}));
  return r.AutomationExecutionMetadataList?.length ?? 0;
}

/** A malformed id is refused by StartAutomationExecution itself: no automation, no change. */
async function expectRejected(
  start: Start,
  param: string,
  bad: string,
  state: () => Promise<unknown>,
): Promise<void> {
  const { ssm } = clients();
  const before = await state();
  const count = await executionCount();
  const err = await ssm
    .send(
      new StartAutomationExecutionCommand({
        DocumentName: start.documentName,
        Parameters: { ...start.parameters, [param]: [bad] },
      }),
    )
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(InvalidAutomationExecutionParametersException);
  expect((err as Error).message).toContain(param);
  await sleep(20);
  expect(await executionCount()).toBe(count);
  expect(await state()).toEqual(before);
}

/** Remediate, check IN_SYNC, then run twice more (re-derived and replayed parameters): success, no change. */
async function remediateAndRerun(
  stackName: string,
  ev: RemediationEvent,
  state: () => Promise<unknown>,
  runbook: string,
): Promise<Start> {
  expect(await stackDrift(stackName)).toBe('DRIFTED');
  const first = await workflowParameters(ev);
  expect(first.documentName).toBe(runbook);
  const e0 = await run(first);
  if (process.env.DBG)
    console.log(
      JSON.stringify(
        e0.StepExecutions?.map((s) => [s.StepName, s.StepStatus, s.Outputs, s.FailureMessage]),
        null,
        1,
      ),
    );
  expectSuccess(e0);
  expect(await stackDrift(stackName)).toBe('IN_SYNC');
  const fixed = await state();
  const rederived = await workflowParameters(ev);
  for (const again of [rederived, first]) {
    expectSuccess(await run(again));
    expect(await state()).toEqual(fixed);
  }
  expect(await stackDrift(stackName)).toBe('IN_SYNC');
  return first;
}

const sortJson = <T>(xs: T[]): T[] =>
  [...xs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));

/** Waits for a Cloud Control request to end; throws unless it succeeded. */
async function ccWait(token: string | undefined): Promise<void> {
  const { cc } = clients();
  for (let i = 0; i < 500; i++) {
    const e = (await cc.send(new GetResourceRequestStatusCommand({ RequestToken: token }))).ProgressEvent;
    if (e?.OperationStatus === 'SUCCESS') return;
    if (e?.OperationStatus === 'FAILED') throw new Error(`Cloud Control: ${e.ErrorCode} ${e.StatusMessage}`);
    await sleep(5);
  }
  throw new Error('Cloud Control request did not end');
}

const scenarios = policy.entries
  .filter((e) => e.firstParty)
  .flatMap((entry, i) =>
    entry.resourceTypes.map((type, j) => ({ id: entry.id, type, entry, n: `${i}${j}` })),
  );

/** Drifts the deployed resource the way the entry's events come about; returns the event the workflow gets. */
async function drift(
  entry: ResolvedEntry,
  type: string,
  stackName: string,
  id: string,
): Promise<RemediationEvent> {
  const subjectType = subjectTypeFor(type);
  const rule = entry.configRules[0];
  if (rule) {
    const decl = policy.configRules.find((r) => r.name === rule);
    const evaluator = decl ? EVALUATORS[decl.sourceIdentifier] : undefined;
    if (!evaluator?.violation)
      throw new Error(
        `no \`violation\` for Config rule ${rule} (${decl?.sourceIdentifier}) in sandbox/services/config/evaluators.ts`,
      );
    for (const call of evaluator.violation) await callApi(call, { ResourceId: id }, sb.clientConfig);
    return event({ configRuleName: rule, resourceType: type, resourceId: id });
  }
  const { cc, cfn } = clients();
  const patch = genericDrift(entry, subjectType);
  const r = await cc.send(
    new UpdateResourceCommand({
      TypeName: subjectType,
      Identifier: id,
      PatchDocument: JSON.stringify(patch),
    }),
  );
  await ccWait(r.ProgressEvent?.RequestToken);
  if (type === STACK_TYPE)
    return event({ source: 'manual', complianceType: 'DRIFTED', resourceType: type, resourceId: stackName });
  const detected = await cfn.send(
    new DetectStackResourceDriftCommand({ StackName: stackName, LogicalResourceId: SUBJECT }),
  );
  return event({
    source: 'cloudformation',
    complianceType: 'DRIFTED',
    resourceType: type,
    resourceId: id,
    stackName,
    logicalResourceId: SUBJECT,
    driftedProperties: driftedPropertyPaths(detected.StackResourceDrift?.PropertyDifferences),
  });
}

/** The Config verdict on the resource, for an entry that names a rule. */
async function verdict(entry: ResolvedEntry, id: string): Promise<string | undefined> {
  const decl = policy.configRules.find((r) => r.name === entry.configRules[0]);
  const evaluator = decl ? EVALUATORS[decl.sourceIdentifier] : undefined;
  // Managed rules evaluate what the account's configuration recorder recorded (the one Config-enabled accounts have).
  ensureRecorder(sb.sandbox.context, { defaultRecorder: true });
  // Config's id for the resource (a role's AROA… id; the physical id for most types).
  const configId = configIdOf(sb.sandbox.context, decl?.resourceTypes[0] ?? '', id);
  const v = await evaluator?.evaluate(configId, decl?.inputParameters ?? {}, sb.sandbox.context);
  return v?.compliance;
}

describe('every policy entry in the sandbox (scenario derived from the registry)', () => {
  it.each(scenarios)(
    '$id ($type): drift → its runbook → IN_SYNC; re-runs change nothing; a malformed id is refused',
    async ({ entry, type, n }) => {
      const { cc } = clients();
      const subjectType = subjectTypeFor(type);
      const stackName = `sc${n}-${entry.id}`.slice(0, 40);
      const { Id: id = '' } = await deploy(stackName, sampleTemplate(subjectType, stackName.toLowerCase()));
      const ruleEntry = entry.configRules.length > 0;
      if (ruleEntry) expect(await verdict(entry, id)).toBe('COMPLIANT');
      const ev = await drift(entry, type, stackName, id);
      if (ruleEntry) expect(await verdict(entry, id)).toBe('NON_COMPLIANT');
      expect(findEntry(policy, ev)?.id, 'the drifted resource matches this entry').toBe(entry.id);
      const state = async () =>
        JSON.parse(
          (await cc.send(new GetResourceCommand({ TypeName: subjectType, Identifier: id })))
            .ResourceDescription?.Properties ?? '{}',
        ) as unknown;
      const first = await remediateAndRerun(stackName, ev, state, entry.runbook);
      if (ruleEntry) expect(await verdict(entry, id)).toBe('COMPLIANT');
      const idParameter = Object.entries(entry.parameters).find(
        ([, p]) => 'from' in p && p.from === 'event.resourceId',
      )?.[0];
      expect(idParameter, `${entry.id} fills a parameter from event.resourceId`).toBeDefined();
      await expectRejected(first, idParameter ?? '', 'not an id; rm -rf /', state);
    },
  );
});

describe('runbooks in the sandbox', () => {
  it('DriftRemediation-RevertSecurityGroupIngress: revokes SSH from the world, restores the declared rule, leaves tags alone', async () => {
    const { ec2 } = clients();
    const { GroupId = '' } = await deploy('rb-web', demoTemplate('web-security-group.yaml'));
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId,
        IpPermissions: [
          {
            IpProtocol: 'tcp',
            FromPort: 22,
            ToPort: 22,
            IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'debugging' }],
          },
        ],
      }),
    );
    await ec2.send(
      new RevokeSecurityGroupIngressCommand({
        GroupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 443, ToPort: 443, IpRanges: [{ CidrIp: '10.0.0.0/8' }] },
        ],
      }),
    );
    const state = async () => {
      const g = (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [GroupId] })))
        .SecurityGroups?.[0];
      return {
        ingress: sortJson(g?.IpPermissions ?? []),
        egress: sortJson(g?.IpPermissionsEgress ?? []),
        tags: g?.Tags,
      };
    };
    const ev = event({
      configRuleName: 'restricted-ssh',
      resourceType: 'AWS::EC2::SecurityGroup',
      resourceId: GroupId,
    });
    const first = await remediateAndRerun('rb-web', ev, state, 'DriftRemediation-RevertSecurityGroupIngress');
    expect(first.parameters.RevokeIngress).toHaveLength(1);
    expect(first.parameters.AuthorizeIngress).toHaveLength(1);
    const after = await state();
    expect(after.ingress).toEqual([
      expect.objectContaining({
        IpProtocol: 'tcp',
        FromPort: 443,
        ToPort: 443,
        IpRanges: [{ CidrIp: '10.0.0.0/8', Description: 'HTTPS from the private network' }],
      }),
    ]);
    expect(after.tags).toEqual([{ Key: 'app', Value: 'demo' }]);
    await expectRejected(first, 'GroupId', 'sg-0123;aws ec2 delete-security-group', state);
  });

  it('DriftRemediation-EnableS3BucketEncryption: restores default encryption', async () => {
    const { s3 } = clients();
    const { BucketName = '' } = await deploy('rb-data', demoTemplate('data-bucket.yaml'));
    await s3.send(new DeleteBucketEncryptionCommand({ Bucket: BucketName }));
    const state = async () => {
      const r = await s3
        .send(new GetBucketEncryptionCommand({ Bucket: BucketName }))
        .catch((e: Error) => ({ error: e.name }));
      return 'error' in r ? r : r.ServerSideEncryptionConfiguration;
    };
    const ev = event({
      configRuleName: 's3-bucket-server-side-encryption-enabled',
      resourceType: 'AWS::S3::Bucket',
      resourceId: BucketName,
    });
    const first = await remediateAndRerun('rb-data', ev, state, 'DriftRemediation-EnableS3BucketEncryption');
    expect(await state()).toMatchObject({
      Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    await expectRejected(first, 'BucketName', 'Bad..Bucket', state);
  });

  it('DriftRemediation-EnableS3BucketVersioning: re-enables suspended versioning', async () => {
    const { s3 } = clients();
    const { BucketName = '' } = await deploy(
      'rb-versioned',
      demoTemplate('data-bucket.yaml').replace('drift-demo-data-', 'rb-versioned-'),
    );
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: BucketName,
        VersioningConfiguration: { Status: 'Suspended' },
      }),
    );
    const state = async () => (await s3.send(new GetBucketVersioningCommand({ Bucket: BucketName }))).Status;
    const ev = event({
      configRuleName: 's3-bucket-versioning-enabled',
      resourceType: 'AWS::S3::Bucket',
      resourceId: BucketName,
    });
    const first = await remediateAndRerun(
      'rb-versioned',
      ev,
      state,
      'DriftRemediation-EnableS3BucketVersioning',
    );
    expect(await state()).toBe('Enabled');
    await expectRejected(first, 'BucketName', 'xn--bucket', state);
  });

  it('DriftRemediation-BlockS3PublicAccess: turns every public access block setting back on', async () => {
    const { s3 } = clients();
    const { BucketName = '' } = await deploy(
      'rb-private',
      demoTemplate('data-bucket.yaml').replace('drift-demo-data-', 'rb-private-'),
    );
    await s3.send(
      new PutPublicAccessBlockCommand({
        Bucket: BucketName,
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: false,
          IgnorePublicAcls: false,
          BlockPublicPolicy: false,
          RestrictPublicBuckets: true,
        },
      }),
    );
    const state = async () =>
      (await s3.send(new GetPublicAccessBlockCommand({ Bucket: BucketName }))).PublicAccessBlockConfiguration;
    const ev = event({
      configRuleName: 's3-bucket-level-public-access-prohibited',
      resourceType: 'AWS::S3::Bucket',
      resourceId: BucketName,
    });
    const first = await remediateAndRerun('rb-private', ev, state, 'DriftRemediation-BlockS3PublicAccess');
    expect(await state()).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
    await expectRejected(first, 'BucketName', '192.168.10.1', state);
  });

  it('DriftRemediation-RestoreIamRolePolicies: detaches AdministratorAccess, re-attaches, restores inline policies', async () => {
    const { iam } = clients();
    const template = `AWSTemplateFormatVersion: '2010-09-09'
Resources:
  AppRole:
    Type: AWS::IAM::Role
    Properties:
      RoleName: rb-app-role
      Description: App role
      AssumeRolePolicyDocument:
        Version: '2012-10-17'
        Statement:
          - { Effect: Allow, Principal: { Service: lambda.amazonaws.com }, Action: sts:AssumeRole }
      ManagedPolicyArns:
        - !Sub 'arn:\${AWS::Partition}:iam::aws:policy/ReadOnlyAccess'
      Policies:
        - PolicyName: read-reports
          PolicyDocument:
            Version: '2012-10-17'
            Statement:
              - { Effect: Allow, Action: 's3:GetObject', Resource: 'arn:aws:s3:::reports/*' }
Outputs:
  RoleName:
    Value: !Ref AppRole
`;
    const { RoleName = '' } = await deploy('rb-role', template);
    await iam.send(
      new AttachRolePolicyCommand({ RoleName, PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }),
    );
    await iam.send(
      new DetachRolePolicyCommand({ RoleName, PolicyArn: 'arn:aws:iam::aws:policy/ReadOnlyAccess' }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName,
        PolicyName: 'read-reports',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
        }),
      }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName,
        PolicyName: 'backdoor',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'iam:*', Resource: '*' }],
        }),
      }),
    );
    const state = async () => {
      const attached = (
        await iam.send(new ListAttachedRolePoliciesCommand({ RoleName }))
      ).AttachedPolicies?.map((p) => p.PolicyArn).sort();
      const names = ((await iam.send(new ListRolePoliciesCommand({ RoleName }))).PolicyNames ?? []).sort();
      const docs: Record<string, unknown> = {};
      for (const n of names) {
        const d =
          (await iam.send(new GetRolePolicyCommand({ RoleName, PolicyName: n }))).PolicyDocument ?? '';
        docs[n] = JSON.parse(decodeURIComponent(d));
      }
      return { attached, docs };
    };
    const ev = event({
      source: 'cloudformation',
      complianceType: 'DRIFTED',
      resourceType: 'AWS::IAM::Role',
      resourceId: RoleName,
    });
    const first = await remediateAndRerun('rb-role', ev, state, 'DriftRemediation-RestoreIamRolePolicies');
    expect(first.parameters.DetachPolicyArns).toEqual(['arn:aws:iam::aws:policy/AdministratorAccess']);
    expect(first.parameters.AttachPolicyArns).toEqual(['arn:aws:iam::aws:policy/ReadOnlyAccess']);
    expect(await state()).toEqual({
      attached: ['arn:aws:iam::aws:policy/ReadOnlyAccess'],
      docs: {
        'read-reports': {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::reports/*' }],
        },
      },
    });
    await expectRejected(first, 'RoleName', 'role name with spaces', state);
  });

  it('DriftRemediation-RestoreIamRolePolicies: inline policies of a role that declares none are left alone', async () => {
    const { iam } = clients();
    const { RoleName = '' } = await deploy('rb-reporting', demoTemplate('reporting-role.yaml'));
    await iam.send(
      new AttachRolePolicyCommand({ RoleName, PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess' }),
    );
    await iam.send(
      new PutRolePolicyCommand({
        RoleName,
        PolicyName: 'backdoor',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: 'iam:*', Resource: '*' }],
        }),
      }),
    );
    const state = async () => ({
      attached: (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName }))).AttachedPolicies?.map(
        (p) => p.PolicyArn,
      ).sort(),
      inline: (await iam.send(new ListRolePoliciesCommand({ RoleName }))).PolicyNames,
    });
    const ev = event({
      source: 'cloudformation',
      complianceType: 'DRIFTED',
      resourceType: 'AWS::IAM::Role',
      resourceId: RoleName,
    });
    const first = await remediateAndRerun(
      'rb-reporting',
      ev,
      state,
      'DriftRemediation-RestoreIamRolePolicies',
    );
    expect(first.parameters.InlinePoliciesPatch).toEqual(['[]']);
    expect(await state()).toEqual({
      attached: [
        'arn:aws:iam::aws:policy/AmazonDynamoDBReadOnlyAccess',
        'arn:aws:iam::aws:policy/AmazonEC2ReadOnlyAccess',
      ],
      inline: ['backdoor'],
    });
  });

  it('DriftRemediation-RestoreLambdaConfiguration: restores memory, timeout and the declared environment', async () => {
    const { lambda } = clients();
    const { FunctionName = '' } = await deploy('rb-fn', demoTemplate('thumbnail-function.yaml'));
    await lambda.send(
      new UpdateFunctionConfigurationCommand({
        FunctionName,
        MemorySize: 1024,
        Timeout: 3,
        Environment: { Variables: { SIZE: '1024', DEBUG: 'true' } },
      }),
    );
    const state = async () => {
      const c = await lambda.send(new GetFunctionConfigurationCommand({ FunctionName }));
      return {
        memory: c.MemorySize,
        timeout: c.Timeout,
        env: c.Environment?.Variables,
        runtime: c.Runtime,
        handler: c.Handler,
        role: c.Role,
      };
    };
    const ev = event({
      configRuleName: 'lambda-function-settings-check',
      resourceType: 'AWS::Lambda::Function',
      resourceId: FunctionName,
    });
    const first = await remediateAndRerun('rb-fn', ev, state, 'DriftRemediation-RestoreLambdaConfiguration');
    expect(first.parameters).toMatchObject({
      MemorySize: ['128'],
      Timeout: ['30'],
      RestoreEnvironment: ['true'],
    });
    expect(await state()).toMatchObject({
      memory: 128,
      timeout: 30,
      env: { SIZE: '256' },
      runtime: 'nodejs22.x',
      handler: 'index.handler',
    });
    await expectRejected(
      first,
      'FunctionName',
      'arn:aws:lambda:us-east-1:000000000000:function:other',
      state,
    );
  });

  it('DriftRemediation-RevertStackDrift: a REVERT_DRIFT change set brings the whole stack back, resources kept', async () => {
    const { s3, cfn } = clients();
    const { BucketName = '' } = await deploy(
      'rb-stack',
      demoTemplate('data-bucket.yaml').replace('drift-demo-data-', 'rb-stack-'),
    );
    await s3.send(
      new PutBucketVersioningCommand({
        Bucket: BucketName,
        VersioningConfiguration: { Status: 'Suspended' },
      }),
    );
    await s3.send(new DeleteBucketEncryptionCommand({ Bucket: BucketName }));
    const state = async () => {
      const resources =
        (await cfn.send(new DescribeStackResourcesCommand({ StackName: 'rb-stack' }))).StackResources ?? [];
      const versioning = (await s3.send(new GetBucketVersioningCommand({ Bucket: BucketName }))).Status;
      const encryption = (await s3.send(new GetBucketEncryptionCommand({ Bucket: BucketName })))
        .ServerSideEncryptionConfiguration;
      return { physicalIds: resources.map((r) => r.PhysicalResourceId), versioning, encryption };
    };
    const ev = event({
      source: 'manual',
      complianceType: 'DRIFTED',
      resourceType: 'AWS::CloudFormation::Stack',
      resourceId: 'rb-stack',
    });
    const first = await remediateAndRerun('rb-stack', ev, state, 'DriftRemediation-RevertStackDrift');
    expect(await state()).toMatchObject({ physicalIds: [BucketName], versioning: 'Enabled' });
    await expectRejected(first, 'StackName', 'rb-stack; delete', state);
  });

  it('DriftRemediation-RevertStackDrift: reverts a security group stack in place (the group keeps its id)', async () => {
    const { ec2 } = clients();
    const { GroupId = '' } = await deploy('rb-sg-stack', demoTemplate('web-security-group.yaml'));
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId,
        IpPermissions: [
          { IpProtocol: 'tcp', FromPort: 3389, ToPort: 3389, IpRanges: [{ CidrIp: '0.0.0.0/0' }] },
        ],
      }),
    );
    const state = async () =>
      sortJson(
        (await ec2.send(new DescribeSecurityGroupsCommand({ GroupIds: [GroupId] }))).SecurityGroups?.[0]
          ?.IpPermissions ?? [],
      );
    const ev = event({
      source: 'manual',
      complianceType: 'DRIFTED',
      resourceType: 'AWS::CloudFormation::Stack',
      resourceId: 'rb-sg-stack',
    });
    await remediateAndRerun('rb-sg-stack', ev, state, 'DriftRemediation-RevertStackDrift');
    expect(await state()).toEqual([
      expect.objectContaining({
        FromPort: 443,
        IpRanges: [expect.objectContaining({ CidrIp: '10.0.0.0/8' })],
      }),
    ]);
  });

  it('a runbook that did not fix the resource fails its final verification', async () => {
    const { ec2 } = clients();
    const { GroupId = '' } = await deploy('rb-unfixed', demoTemplate('web-security-group.yaml'));
    await ec2.send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    const ev = event({
      configRuleName: 'restricted-ssh',
      resourceType: 'AWS::EC2::SecurityGroup',
      resourceId: GroupId,
    });
    const start = await workflowParameters(ev);
    const e = await run({ ...start, parameters: { ...start.parameters, RevokeIngress: [] } });
    expect(e.AutomationExecutionStatus).toBe('Failed');
    expect(e.FailureMessage).toMatch(/^Step VerifyGroupInSync .*StackResourceDriftStatus is \["MODIFIED"\]/);
    expect(await stackDrift('rb-unfixed')).toBe('DRIFTED');
  });

  it('DriftRemediation-CloudControlPropertyRevert: patches a managed policy document back through Cloud Control', async () => {
    const { iam } = clients();
    const declared = {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'cloudwatch:GetMetricData', Resource: '*' }],
    };
    const template = `AWSTemplateFormatVersion: '2010-09-09'
Resources:
  MetricsPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      ManagedPolicyName: rb-metrics-read
      PolicyDocument: ${JSON.stringify(declared)}
Outputs:
  PolicyArn:
    Value: !Ref MetricsPolicy
`;
    const { PolicyArn = '' } = await deploy('rb-policy', template);
    await iam.send(
      new CreatePolicyVersionCommand({
        PolicyArn,
        SetAsDefault: true,
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: '*', Resource: '*' }],
        }),
      }),
    );
    const state = async () => {
      const p = (await iam.send(new GetPolicyCommand({ PolicyArn }))).Policy;
      const v = await iam.send(new GetPolicyVersionCommand({ PolicyArn, VersionId: p?.DefaultVersionId }));
      return JSON.parse(decodeURIComponent(v.PolicyVersion?.Document ?? '{}'));
    };
    const ev = event({
      source: 'cloudformation',
      complianceType: 'DRIFTED',
      resourceType: 'AWS::IAM::ManagedPolicy',
      resourceId: PolicyArn,
    });
    const first = await remediateAndRerun(
      'rb-policy',
      ev,
      state,
      'DriftRemediation-CloudControlPropertyRevert',
    );
    expect(JSON.parse(first.parameters.PatchDocument?.[0] ?? '[]')).toEqual([
      { op: 'add', path: '/PolicyDocument', value: declared },
    ]);
    expect(await state()).toEqual(declared);
    await expectRejected(first, 'Identifier', '../../other-policy', state);
  });
});
