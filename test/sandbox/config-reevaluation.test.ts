/**
 * A rule-wide evaluation (StartConfigRulesEvaluation) never shows a change before the change's own
 * evaluation does: a security group fixed just before the request keeps its NON_COMPLIANT result through
 * that evaluation, and the change's own evaluation (`evaluationDelaySeconds` after the fix) turns it
 * COMPLIANT — the one compliance change, so its "Config Rules Compliance Change" event is sent (issue #9:
 * the other way round, the event never came and the workflow's verification waited for its reconciler).
 */
import {
  ConfigServiceClient,
  type EvaluationResult,
  GetComplianceDetailsByResourceCommand,
  PutConfigRuleCommand,
  StartConfigRulesEvaluationCommand,
} from '@aws-sdk/client-config-service';
import {
  AuthorizeSecurityGroupIngressCommand,
  CreateSecurityGroupCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { configService } from '../../sandbox/services/config';
import { ec2Service } from '../../sandbox/services/ec2';
import { iamService } from '../../sandbox/services/iam';
import { withSandbox } from './helpers';

const DELAY = 60;
const RULE = 'reeval-ssh';
const TYPE = 'AWS::EC2::SecurityGroup';

const sb = withSandbox(() => ({
  timeScale: 0.01,
  services: [
    ec2Service(),
    iamService(),
    configService({ evaluationDelaySeconds: DELAY, evaluationSeconds: 1, ruleEvaluationSeconds: 0 }),
  ],
}));

const ssh = { IpProtocol: 'tcp', FromPort: 22, ToPort: 22, CidrIp: '0.0.0.0/0' };

async function latest(config: ConfigServiceClient, id: string): Promise<EvaluationResult | undefined> {
  const r = await config.send(
    new GetComplianceDetailsByResourceCommand({ ResourceType: TYPE, ResourceId: id }),
  );
  return r.EvaluationResults?.find(
    (e) => e.EvaluationResultIdentifier?.EvaluationResultQualifier?.ConfigRuleName === RULE,
  );
}

async function until(what: string, probe: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('Config rule-wide evaluation and a pending change', () => {
  it('leaves a just-fixed resource to its own evaluation, which sends the one compliance change', async () => {
    const ec2 = new EC2Client(sb.clientConfig);
    const config = new ConfigServiceClient(sb.clientConfig);
    const { GroupId = '' } = await ec2.send(
      new CreateSecurityGroupCommand({ GroupName: 'reeval', Description: 'reeval' }),
    );
    await ec2.send(new AuthorizeSecurityGroupIngressCommand({ GroupId, ...ssh }));
    await config.send(
      new PutConfigRuleCommand({
        ConfigRule: {
          ConfigRuleName: RULE,
          Source: { Owner: 'AWS', SourceIdentifier: 'INCOMING_SSH_DISABLED' },
        },
      }),
    );
    await until(
      'NON_COMPLIANT',
      async () => (await latest(config, GroupId))?.ComplianceType === 'NON_COMPLIANT',
    );
    await until('the creation evaluation over', async () => {
      try {
        await config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: [RULE] }));
        return true;
      } catch {
        return false;
      }
    });
    // A minute later (Config allows one request per minute), the fix, and right after it a request.
    await sb.sandbox.clock.sleep(61);
    const fixedAt = sb.sandbox.clock.now().getTime();
    await ec2.send(new RevokeSecurityGroupIngressCommand({ GroupId, ...ssh }));
    await config.send(new StartConfigRulesEvaluationCommand({ ConfigRuleNames: [RULE] }));
    await sb.sandbox.clock.sleep(DELAY / 3); // the rule-wide evaluation (1 s) is long over
    expect((await latest(config, GroupId))?.ComplianceType).toBe('NON_COMPLIANT');

    await until('COMPLIANT', async () => (await latest(config, GroupId))?.ComplianceType === 'COMPLIANT');
    const recorded = (await latest(config, GroupId))?.ResultRecordedTime?.getTime() ?? 0;
    expect(recorded).toBeGreaterThanOrEqual(fixedAt + (DELAY - 1) * 1000);
    const changes = sb.sandbox.logs.filter((l) =>
      l.includes(`${RULE} ${TYPE} ${GroupId} NON_COMPLIANT → COMPLIANT`),
    );
    expect(changes).toHaveLength(1);
  }, 30_000);
});
