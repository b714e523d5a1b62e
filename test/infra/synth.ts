/** Synthesizes the stack once per test file, with bundling skipped (fast) unless asked. */
import type { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp, STACK_NAME } from '../../infra/app';
import type { DriftRemediationProps } from '../../infra/drift-remediation';
import type { CfnTemplate } from '../../workflows/local';

export interface Synthesized {
  app: App;
  template: Template;
  json: CfnTemplate;
}

export function synth(
  opts: { bundle?: boolean; remediation?: DriftRemediationProps; nag?: boolean } = {},
): Synthesized {
  const { app } = buildApp({
    context: { 'aws:cdk:bundling-stacks': opts.bundle ? [STACK_NAME] : [] },
    ...(opts.remediation ? { remediation: opts.remediation } : {}),
    ...(opts.nag === undefined ? {} : { nag: opts.nag }),
  });
  const assembly = app.synth();
  const json = assembly.getStackByName(STACK_NAME).template as CfnTemplate;
  return { app, template: Template.fromJSON(json as unknown as Record<string, unknown>), json };
}
