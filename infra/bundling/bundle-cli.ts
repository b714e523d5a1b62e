/**
 * `tsx infra/bundling/bundle-cli.ts <task> <outDir> [policy.json]`: one task's Lambda bundle
 * (task-bundle.ts). TaskFunction's asset runs it from `cdk synth` (local bundling, no Docker).
 */
import { bundleTaskInto } from './task-bundle';

const [task, outDir, policyJsonPath] = process.argv.slice(2);
if (!task || !outDir) {
  console.error('usage: bundle-cli.ts <task> <outDir> [policy.json]');
  process.exit(2);
}
await bundleTaskInto(task, outDir, policyJsonPath ? { policyJsonPath } : {});
