/**
 * The one test that really bundles: esbuild runs locally (no Docker), output is ESM with a createRequire
 * banner and source maps, the plan/intake bundles carry policy.json, and a bundle loads in plain Node.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { STACK_NAME } from '../../infra/app';
import { TASK_METADATA_KEY } from '../../infra/drift-remediation';
import { parsePolicyText } from '../../tasks/shared/policy/load';
import { synth } from './synth';

describe('Lambda bundles', () => {
  it('are ESM with source maps; plan and intake carry the policy; a bundle loads in Node', {
    timeout: 300_000,
  }, () => {
    const { app, json } = synth({ bundle: true, nag: false });
    const outdir = app.synth().directory;
    const assetDir = (task: string): string => {
      const fn = Object.values(json.Resources).find(
        (r) => r.Type === 'AWS::Lambda::Function' && r.Metadata?.[TASK_METADATA_KEY] === task,
      );
      const key = (fn?.Properties?.Code as { S3Key?: unknown } | undefined)?.S3Key;
      if (typeof key !== 'string') throw new Error(`no asset for ${task}`);
      return join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
    };
    const expectedPolicy = parsePolicyText(readFileSync('runbooks/policy.yaml', 'utf8'));
    for (const task of ['plan', 'intake']) {
      const dir = assetDir(task);
      expect(JSON.parse(readFileSync(join(dir, 'policy.json'), 'utf8'))).toEqual(expectedPolicy);
    }
    for (const task of ['check-drift', 'record-outcome']) {
      const dir = assetDir(task);
      expect(existsSync(join(dir, 'policy.json')), task).toBe(false);
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(code.startsWith('import { createRequire'), `${task}: createRequire banner`).toBe(true);
      expect(/sourceMappingURL=index\.mjs\.map\s*$/.test(code), `${task}: linked source map`).toBe(true);
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
    }
    const out = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(join(assetDir('check-drift'), 'index.mjs'))}); console.log(typeof m.handler);`,
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, AWS_REGION: 'us-east-1', POWERTOOLS_TRACE_ENABLED: 'false' },
      },
    );
    expect(out.trim()).toBe('function');
    expect(STACK_NAME).toBe(app.synth().getStackByName(STACK_NAME).stackName);
  });
});
