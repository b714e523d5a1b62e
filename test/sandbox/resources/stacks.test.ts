/**
 * The resource services with the real CloudFormation module: the demo stacks deploy through the
 * providers, API drift shows in CloudFormation drift detection, and Config's rules (incl. the stack
 * drift check, which drives DetectStackDrift, run on demand for the role's drift) flag each injected drift
 * case with a compliance change.
 */
import { readFileSync } from 'node:fs';
import {
  CloudFormationClient,
  CreateStackCommand,
  DescribeStacksCommand,
  DetectStackResourceDriftCommand,
} from '@aws-sdk/client-cloudformation';
import {
  ConfigServiceClient,
  GetComplianceDetailsByResourceCommand,
  PutConfigRuleCommand,
  StartConfigRulesEvaluationCommand,
} from '@aws-sdk/client-config-service';
import { AuthorizeSecurityGroupIngressCommand, EC2Client } from '@aws-sdk/client-ec2';
import { AttachRolePolicyCommand, IAMClient } from '@aws-sdk/client-iam';
import { LambdaClient, UpdateFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { DeleteBucketEncryptionCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import type { BusEvent } from '../../../sandbox/core/types';
import { CASES } from '../../../sandbox/demo/cases';
import { cloudControlService } from '../../../sandbox/services/cloudcontrol';
import { cloudFormationService } from '../../../sandbox/services/cloudformation';
import { configService } from '../../../sandbox/services/config';
import { ec2Service } from '../../../sandbox/services/ec2';
import { eventsService } from '../../../sandbox/services/events';
import { iamService } from '../../../sandbox/services/iam';
import { lambdaService } from '../../../sandbox/services/lambda';
import { resourceProviders } from '../../../sandbox/services/providers';
import { s3Service } from '../../../sandbox/services/s3';
import { withSandbox } from '../helpers';

const sb = withSandbox(() => ({
  timeScale: 0.01,
  services: [
    ec2Service(),
    s3Service(),
    iamService(),
    lambdaService(),
    cloudControlService(),
    cloudFormationService(),
    eventsService(),
    configService({ evaluationDelaySeconds: 1, evaluationSeconds: 1 }),
  ],
  providers: resourceProviders(),
}));

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = await probe();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const RULES: Array<[string, string, Record<string, string>?]> = [
  ['restricted-ssh', 'INCOMING_SSH_DISABLED'],
  ['s3-bucket-server-side-encryption-enabled', 'S3_BUCKET_SERVER_SIDE_ENCRYPTION_ENABLED'],
  [
    'lambda-function-settings-check',
    'LAMBDA_FUNCTION_SETTINGS_CHECK',
    { runtime: 'nodejs22.x', memorySize: '128', timeout: '30' },
  ],
  ['cloudformation-stack-drift-detection-check', 'CLOUDFORMATION_STACK_DRIFT_DETECTION_CHECK'],
];

describe('demo stacks on the resource providers, with Config watching', () => {
  it('deploys the four demo stacks, then flags every injected drift case', async () => {
    const events: BusEvent[] = [];
    // Observe the bus through a rule-less listener: wrap putEvent of the context.
    const ctx = sb.sandbox.context;
    const original = ctx.putEvent.bind(ctx);
    (ctx as { putEvent: typeof ctx.putEvent }).putEvent = async (e) => {
      events.push({
        version: '0',
        id: '',
        account: '',
        region: '',
        time: '',
        ...e,
        resources: e.resources ?? [],
      } as BusEvent);
      await original(e);
    };

    const cfn = new CloudFormationClient(sb.clientConfig);
    const config = new ConfigServiceClient(sb.clientConfig);
    for (const [name, id, params] of RULES) {
      await config.send(
        new PutConfigRuleCommand({
          ConfigRule: {
            ConfigRuleName: name,
            Source: { Owner: 'AWS', SourceIdentifier: id },
            InputParameters: params ? JSON.stringify(params) : undefined,
          },
        }),
      );
    }
    const ids = new Map<string, string>();
    for (const c of CASES) {
      const body = readFileSync(
        new URL(`../../../sandbox/demo/templates/${c.template}`, import.meta.url),
        'utf8',
      );
      await cfn.send(
        new CreateStackCommand({
          StackName: c.stackName,
          TemplateBody: body,
          Capabilities: ['CAPABILITY_NAMED_IAM'],
        }),
      );
      const out = await until(`${c.stackName} created`, async () => {
        const s = (await cfn.send(new DescribeStacksCommand({ StackName: c.stackName }))).Stacks?.[0];
        if (s?.StackStatus?.endsWith('FAILED') || s?.StackStatus?.startsWith('ROLLBACK'))
          throw new Error(`${c.stackName}: ${s.StackStatus} ${s.StackStatusReason}`);
        return s?.StackStatus === 'CREATE_COMPLETE'
          ? s.Outputs?.find((o) => o.OutputKey === c.output)?.OutputValue
          : undefined;
      });
      ids.set(c.id, out);
    }
    const compliance = async (rule: string, type: string, id: string) => {
      const r = await config.send(
        new GetComplianceDetailsByResourceCommand({ ResourceType: type, ResourceId: id }),
      );
      return r.EvaluationResults?.find(
        (e) => e.EvaluationResultIdentifier?.EvaluationResultQualifier?.ConfigRuleName === rule,
      )?.ComplianceType;
    };
    const sg = ids.get('ssh-open') ?? '';
    const bucket = ids.get('bucket-encryption') ?? '';
    const fn = ids.get('lambda-memory') ?? '';
    const role = ids.get('admin-role') ?? '';
    await until('compliant SG', async () =>
      (await compliance('restricted-ssh', 'AWS::EC2::SecurityGroup', sg)) === 'COMPLIANT' ? true : undefined,
    );
    await until('compliant bucket', async () =>
      (await compliance('s3-bucket-server-side-encryption-enabled', 'AWS::S3::Bucket', bucket)) ===
      'COMPLIANT'
        ? true
        : undefined,
    );
    await until('compliant function', async () =>
      (await compliance('lambda-function-settings-check', 'AWS::Lambda::Function', fn)) === 'COMPLIANT'
        ? true
        : undefined,
    );
    const roleStack =
      (await cfn.send(new DescribeStacksCommand({ StackName: 'drift-demo-reporting' }))).Stacks?.[0]
        ?.StackId ?? '';
    // The rules predate the stacks: the stack's own creation (a configuration change of the stack) triggers
    // the stack drift rule, as in AWS.
    await until('stack in sync', async () =>
      (await compliance(
        'cloudformation-stack-drift-detection-check',
        'AWS::CloudFormation::Stack',
        roleStack,
      )) === 'COMPLIANT'
        ? true
        : undefined,
    );

    // inject the four drift cases through the service APIs
    await new EC2Client(sb.clientConfig).send(
      new AuthorizeSecurityGroupIngressCommand({
        GroupId: sg,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      }),
    );
    await new S3Client({ ...sb.clientConfig, forcePathStyle: true }).send(
      new DeleteBucketEncryptionCommand({ Bucket: bucket }),
    );
    await new LambdaClient(sb.clientConfig).send(
      new UpdateFunctionConfigurationCommand({ FunctionName: fn, MemorySize: 1024 }),
    );
    await new IAMClient(sb.clientConfig).send(
      new AttachRolePolicyCommand({
        RoleName: role,
        PolicyArn: 'arn:aws:iam::aws:policy/AdministratorAccess',
      }),
    );

    const nonCompliant = (rule: string, id: string) =>
      until(`${rule} NON_COMPLIANT event for ${id}`, async () =>
        events.find(
          (e) =>
            e['detail-type'] === 'Config Rules Compliance Change' &&
            e.detail.configRuleName === rule &&
            e.detail.resourceId === id &&
            (e.detail.newEvaluationResult as { complianceType?: string }).complianceType === 'NON_COMPLIANT',
        ),
      );
    await nonCompliant('restricted-ssh', sg);
    await nonCompliant('s3-bucket-server-side-encryption-enabled', bucket);
    await nonCompliant('lambda-function-settings-check', fn);
    // A change to a resource in a stack does not trigger the stack drift rule (AWS runs it on the stack's own
    // changes and periodically): its on-demand evaluation finds the role's drift.
    await until('an accepted StartConfigRulesEvaluation', async () => {
      try {
        await config.send(
          new StartConfigRulesEvaluationCommand({
            ConfigRuleNames: ['cloudformation-stack-drift-detection-check'],
          }),
        );
        return true;
      } catch (err) {
        if ((err as Error).name !== 'LimitExceededException') throw err;
        return undefined;
      }
    });
    await nonCompliant('cloudformation-stack-drift-detection-check', roleStack);
    const driftEvent = await until('a DRIFTED stack drift event', async () =>
      events.find(
        (e) =>
          e['detail-type'] === 'CloudFormation Drift Detection Status Change' &&
          JSON.stringify(e.detail).includes('DRIFTED'),
      ),
    );
    expect(driftEvent.source).toBe('aws.cloudformation');

    // The role's drift as CloudFormation reports it: the attached policy shows up in ManagedPolicyArns.
    const drift = await cfn.send(
      new DetectStackResourceDriftCommand({
        StackName: 'drift-demo-reporting',
        LogicalResourceId: 'ReportingRole',
      }),
    );
    expect(drift.StackResourceDrift?.StackResourceDriftStatus).toBe('MODIFIED');
    expect(JSON.stringify(drift.StackResourceDrift?.PropertyDifferences)).toContain('AdministratorAccess');

    // No detection loop: the number of drift detections settles.
    const count = () =>
      events.filter((e) => e['detail-type'] === 'CloudFormation Drift Detection Status Change').length;
    await new Promise((r) => setTimeout(r, 300));
    const settled = count();
    await new Promise((r) => setTimeout(r, 500));
    expect(count()).toBe(settled);
  });
});
