/**
 * Synthesizes the remediation stack in-process — the same CDK app `cdk synth` runs (infra/app.ts) —
 * with asset bundling skipped (the sandbox runs the handlers from source). Cached per policy file:
 * synthesis costs a few seconds and its result does not change within a process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CfnTemplate } from '../services/cloudformation/template';

export interface SynthResult {
  template: CfnTemplate;
  stackName: string;
  /** The member stack of the same app (infra/member-stack.ts), for sandbox member accounts. */
  member: { template: CfnTemplate; stackName: string };
}

const cache = new Map<string, Promise<SynthResult>>();

export function synthesizeRemediationTemplate(opts: { policyFile: string }): Promise<SynthResult> {
  let p = cache.get(opts.policyFile);
  if (!p) {
    p = synth(opts.policyFile);
    cache.set(opts.policyFile, p);
    p.catch(() => cache.delete(opts.policyFile));
  }
  return p;
}

async function synth(policyFile: string): Promise<SynthResult> {
  const { buildApp } = await import('../../infra/app');
  const outdir = mkdtempSync(join(tmpdir(), 'drift-remediation-synth-'));
  // CDK's built-in CloudFormation validator (WASM) costs seconds per synth; `cdk synth` and the infra
  // tests run it, the sandbox does not need to run it again.
  const validation = process.env.CDK_VALIDATION;
  process.env.CDK_VALIDATION = 'false';
  try {
    // cdk-nag validates but does not change the template; skip it here to save seconds.
    const { app, stack, member } = buildApp({
      outdir,
      context: { 'aws:cdk:bundling-stacks': [] },
      remediation: { policyFile },
      nag: false,
    });
    const assembly = app.synth();
    const templateOf = (name: string) => assembly.getStackByName(name).template as CfnTemplate;
    return {
      template: templateOf(stack.stackName),
      stackName: stack.stackName,
      member: { template: templateOf(member.stackName), stackName: member.stackName },
    };
  } finally {
    if (validation === undefined) delete process.env.CDK_VALIDATION;
    else process.env.CDK_VALIDATION = validation;
    rmSync(outdir, { recursive: true, force: true });
  }
}
