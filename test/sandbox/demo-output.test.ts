/**
 * `npm start` as a user runs it: the real CLI's `demo` in its own process, with no Powertools variables in
 * its environment (vitest sets POWERTOOLS_LOG_LEVEL=SILENT for the tests; a user's shell does not). The
 * handlers run in the sandbox's process at WARN (sandbox/handler-env.ts), so the demo's output is its own
 * lines and table only: no JSON log line from a task's Logger or Metrics, however the sandbox's modules
 * happen to be imported.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

function userEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('POWERTOOLS_')) delete env[key];
  return env;
}

/** Lines that are a JSON object: what Powertools Logger and Metrics write to stdout. */
function jsonLines(output: string): string[] {
  return output.split('\n').filter((line) => {
    if (!line.trim().startsWith('{')) return false;
    try {
      return typeof JSON.parse(line) === 'object';
    } catch {
      return false;
    }
  });
}

it('npm start: all five cases VERIFIED (one in the member account) and no JSON log line in the output', async () => {
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ['sandbox/bin/drift-remediation.mjs', 'demo', '--yes', '--port', '0'],
    { cwd: ROOT, encoding: 'utf8', env: userEnv(), maxBuffer: 16 * 1024 * 1024 },
  );
  expect(stdout).toContain('All drift remediated and verified.');
  expect(stdout.match(/■ [a-z-]+: VERIFIED/g)).toHaveLength(5);
  expect(stdout).toContain('■ member-ssh-open: VERIFIED');
  // The summary's account column: the member case's row names the member account and region.
  expect(stdout).toMatch(/222222222222 us-west-2 .*SecurityGroup sg-[0-9a-f]+ .*VERIFIED/);
  expect(jsonLines(stdout)).toEqual([]);
  expect(jsonLines(stderr)).toEqual([]);
  // Nothing else on stderr either: Metrics once printed "No application metrics to publish" there.
  expect(stderr.trim()).toBe('');
}, 240_000);

it('recognises a Powertools log line (the check above can fail)', () => {
  const line = JSON.stringify({ level: 'INFO', message: 'done', service: 'drift-remediation' });
  expect(jsonLines(`  8.1s  ■ ssh-open: VERIFIED\n${line}\n{ not json`)).toEqual([line]);
});
