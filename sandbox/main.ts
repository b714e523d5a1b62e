/**
 * The sandbox with everything in it: every emulated service, the resource providers, Step Functions on
 * the local ASL engine, and (by default) the remediation stack installed from the synthesized CDK
 * template — the same template `cdk deploy` ships.
 */
import './handler-env';
import { mountConsole } from './console/serve';
import { type Sandbox, type SandboxOptions, startSandbox } from './core/sandbox';
import { type CfnTemplate, type InstalledStack, installRemediationStack } from './install/install';
import { type InstalledMemberStack, installMemberStack, type MemberInstallOptions } from './install/member';
import { type AllServicesOptions, allProviders, allServices } from './services';
import type { ExecutionListener, StepFunctionsService } from './services/stepfunctions';

export interface DriftSandboxOptions extends Omit<SandboxOptions, 'services' | 'providers'> {
  /** Install the remediation stack (default true). */
  install?: boolean;
  /** Policy file the stack is built from (default runbooks/policy.yaml). */
  policyFile?: string;
  /** An already synthesized (or edited) remediation template to install instead of synthesizing one. */
  template?: CfnTemplate;
  /**
   * Options of the emulated services (SSM quotas, Config evaluation times, schedules). Schedules run on
   * the sandbox clock unless `events.runSchedules` is false (the reconciler completes waits whose event
   * was lost, as the deployed stack's schedule does).
   */
  serviceOptions?: AllServicesOptions;
  /** Collects the names of the SDK commands the `/console` page's server sends (tests prove them read-only). */
  consoleCommands?: Set<string>;
  /**
   * Member account-regions to install the member stack into after the central stack (what StackSets does
   * in AWS), each from the same policy file unless it brings its own template (sandbox/install/member.ts).
   */
  members?: readonly Omit<MemberInstallOptions, 'policyFile'>[];
}

export interface DriftSandbox extends Sandbox {
  /** The installed remediation stack, when `install` was not false. */
  readonly stack?: InstalledStack;
  /** The member stacks installed (`members`), in that order. */
  readonly memberStacks: readonly InstalledMemberStack[];
  /** Resolves when the execution has closed. */
  waitForExecution(executionArn: string): Promise<void>;
  /**
   * Tells `listener` of every execution (those there already too) as it starts and once it has closed,
   * in-process: an observer that makes no API calls (the bench's). Returns the unsubscribe function.
   */
  watchExecutions(listener: ExecutionListener): () => void;
}

export async function startDriftSandbox(options: DriftSandboxOptions = {}): Promise<DriftSandbox> {
  const services = allServices({
    ...options.serviceOptions,
    events: { runSchedules: true, ...options.serviceOptions?.events },
  });
  const stepFunctions = services.find((s) => s.serviceName === 'stepfunctions') as
    | StepFunctionsService
    | undefined;
  if (!stepFunctions) throw new Error('allServices() has no Step Functions module');
  const sb = await startSandbox({ ...options, services, providers: allProviders() });
  sb.registerHttpRoute('/_sandbox/outbox', () => ({
    status: 200,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(sb.outbox()),
  }));
  let stack: InstalledStack | undefined;
  const memberStacks: InstalledMemberStack[] = [];
  try {
    if (options.install !== false) {
      stack = await installRemediationStack(sb, {
        ...(options.policyFile ? { policyFile: options.policyFile } : {}),
        ...(options.template ? { template: options.template } : {}),
      });
    }
    for (const m of options.members ?? []) {
      const policy = options.policyFile ? { policyFile: options.policyFile } : {};
      memberStacks.push(await installMemberStack(sb, { ...policy, ...m }));
    }
  } catch (err) {
    await sb.stop();
    throw err;
  }
  mountConsole(sb, stack?.stateMachineArn, options.consoleCommands);
  return Object.assign(sb, {
    ...(stack ? { stack } : {}),
    memberStacks,
    waitForExecution: (arn: string) => stepFunctions.waitForExecution(arn),
    watchExecutions: (listener: ExecutionListener) => stepFunctions.watchExecutions(listener),
  });
}
