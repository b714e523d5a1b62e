/**
 * Installs the member stack (infra/member-stack.ts, what StackSets deploys to every member account-region)
 * into one account-region of the sandbox, from the same synthesized CDK app as the central stack: its
 * execution role and automation role go into that account's IAM, its runbooks into SSM, its Config rules
 * into that account-region's Config, and its forwarding rules onto that account-region's default bus,
 * targeting the central account's bus (the organization bus, which the sandbox folds into the central
 * default bus: install.ts ON_DEFAULT_BUS). The StackSet parameters are the central account and region and
 * the organization id, as an operator gives them (docs/operations.md "Deploying to an organization").
 *
 * The template's AWS::Lambda::Permission statements are applied to their functions in the member
 * account-region as the central installer applies them (Lambda's AddPermission), so EventBridge reaches
 * a member function only where its policy admits the rule. The function must exist there (registered with
 * the sandbox, `Sandbox.registerFunction`). The member template (infra/constructs/member.ts) holds no
 * Lambda function, event source mapping or function URL — its remediation work runs in the central
 * account's task functions, which assume its ExecutionRole, and its Config rules are managed ones — so
 * a template that holds one (task functions, and the mappings and URLs only task functions use) is
 * refused before anything is created in the account rather than installed half-wired
 * (test/sandbox/core/member-lambda-permission.test.ts checks the synthesized template has none).
 */
import { resolve as resolvePath } from 'node:path';
import type { Sandbox } from '../core/sandbox';
import { resolveParameters } from '../services/cloudformation/template';
import {
  addPermissions,
  type CfnTemplate,
  createResources,
  finder,
  type InstalledResource,
  newInstall,
} from './install';
import { synthesizeRemediationTemplate } from './synth';

/** Types only the central stack's task functions need; the member template has none. */
const MEMBER_REFUSED = ['AWS::Lambda::Function', 'AWS::Lambda::EventSourceMapping', 'AWS::Lambda::Url'];

export interface MemberInstallOptions {
  /** The member account (12 digits) and region the stack goes into. */
  accountId: string;
  region: string;
  /** The policy the app is synthesized from (default runbooks/policy.yaml); ignored with `template`. */
  policyFile?: string;
  /** A member template to install instead of the synthesized one (e.g. one with its trust edited). */
  template?: CfnTemplate;
  /** StackSet parameters; CentralAccountId / CentralRegion default to the sandbox's home account-region. */
  parameters?: Record<string, string>;
}

export interface InstalledMemberStack {
  stackName: string;
  accountId: string;
  region: string;
  resources: Map<string, InstalledResource>;
  template: CfnTemplate;
  find(type: string, hint?: string): InstalledResource | undefined;
}

export async function installMemberStack(
  sb: Sandbox,
  opts: MemberInstallOptions,
): Promise<InstalledMemberStack> {
  const { template, stackName } = opts.template
    ? { template: opts.template, stackName: 'DriftRemediationMember' }
    : (
        await synthesizeRemediationTemplate({
          policyFile: resolvePath(opts.policyFile ?? 'runbooks/policy.yaml'),
        })
      ).member;
  const given = { CentralAccountId: sb.accountId, CentralRegion: sb.region, ...opts.parameters };
  // The StackSet parameters, checked as CloudFormation checks them; CDK's BootstrapVersion (an SSM
  // parameter only its bootstrap rule reads) keeps its declaration, as the central install does.
  const declared = Object.entries(template.Parameters ?? {});
  const ssmTyped = declared.filter(([, p]) => p.Type.startsWith('AWS::SSM::Parameter::Value<'));
  const { values } = await resolveParameters(
    { ...template, Parameters: Object.fromEntries(declared.filter((d) => !ssmTyped.includes(d))) },
    Object.entries(given).map(([ParameterKey, ParameterValue]) => ({ ParameterKey, ParameterValue })),
  );
  const parameters = { ...Object.fromEntries(ssmTyped), ...values };
  const unsupported = Object.entries(template.Resources).filter(([, r]) => MEMBER_REFUSED.includes(r.Type));
  if (unsupported.length > 0)
    throw new Error(
      `install: a member stack holds no task functions, event source mappings or function URLs (${unsupported.map(([id, r]) => `${id}: ${r.Type}`).join(', ')})`,
    );
  const i = newInstall(sb, sb.context.scoped(opts.accountId, opts.region), stackName);
  await createResources(i, template, parameters);
  await addPermissions(i);
  return {
    stackName,
    accountId: opts.accountId,
    region: opts.region,
    resources: i.resources,
    template,
    find: finder(i.resources),
  };
}
