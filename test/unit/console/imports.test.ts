/**
 * The console starts with the sandbox (sandbox/main.ts mounts it): its import graph must not reach the CDK
 * (workflows/remediation.ts builds the definition with aws-cdk-lib). esbuild resolves the graph as the page
 * bundle does, packages left external, and the metafile names every module and package it reached.
 */
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

async function importsOf(entry: string): Promise<{ files: string[]; packages: string[] }> {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    packages: 'external',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const outputs = Object.values(r.metafile.outputs);
  return {
    files: Object.keys(r.metafile.inputs),
    packages: outputs.flatMap((o) => o.imports.filter((i) => i.external).map((i) => i.path)),
  };
}

describe('console import graph', () => {
  it.each(['sandbox/console/serve.ts', 'sandbox/console/page/app.ts'])(
    '%s loads no CDK code',
    async (entry) => {
      const { files, packages } = await importsOf(entry);
      expect(files).not.toContain('workflows/remediation.ts');
      expect(packages.filter((p) => p.startsWith('aws-cdk-lib') || p === 'constructs')).toEqual([]);
    },
  );

  it('the fleet view reads the state names from workflows/state-names.ts', async () => {
    expect((await importsOf('sandbox/console/serve.ts')).files).toContain('workflows/state-names.ts');
  });
});
