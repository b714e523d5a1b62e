/**
 * CLI manners (#15): every command's --help ends with examples; a command pointed at an endpoint where
 * nothing listens says how to start a sandbox instead of printing ECONNREFUSED; list-like commands
 * print JSON with --json. The last two run the real CLI (the npx entry point) as a user would.
 */
import { execFile, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CreateStateMachineCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { program } from '../../sandbox/cli';
import { explainError } from '../../sandbox/cli-errors';
import { stepFunctionsService } from '../../sandbox/services/stepfunctions';
import { withSandbox } from './helpers';

const ROOT = join(import.meta.dirname, '..', '..');
const BIN = ['sandbox/bin/drift-remediation.mjs'];
/** The real CLI, synchronously (only where no in-process sandbox has to answer it). */
const cli = (...args: string[]) =>
  spawnSync(process.execPath, [...BIN, ...args], { cwd: ROOT, encoding: 'utf8' });
/** The real CLI without blocking this process, whose sandbox answers it. */
const cliAsync = (...args: string[]) =>
  promisify(execFile)(process.execPath, [...BIN, ...args], { cwd: ROOT, encoding: 'utf8' });

function allCommands(cmd: Command, path: string[] = []): Array<[string, Command]> {
  return cmd.commands.flatMap((c) => {
    const p = [...path, c.name()];
    return [[p.join(' '), c] as [string, Command], ...allCommands(c, p)];
  });
}

function helpOf(cmd: Command): string {
  let out = '';
  cmd.configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  cmd.outputHelp();
  return out;
}

/** A loopback port nobody listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  await new Promise<void>((r) => server.close(() => r()));
  if (typeof address !== 'object' || address === null) throw new Error('no port');
  return address.port;
}

describe('--help', () => {
  it('every command, the program included, shows at least one example that names the command', () => {
    const commands = allCommands(program);
    expect(commands.map(([p]) => p)).toEqual(
      expect.arrayContaining(['demo', 'sandbox serve', 'executions list', 'executions show', 'outbox']),
    );
    for (const [path, cmd] of [['', program] as [string, Command], ...commands]) {
      const help = helpOf(cmd);
      expect(help, path).toMatch(/\nExamples:\n {2}drift-remediation /);
      const first = help.split('\nExamples:\n')[1]?.split('\n')[0] ?? '';
      expect(first, path).toContain(`drift-remediation ${path}`.trim());
    }
  });
});

describe('an unreachable endpoint', () => {
  it('explains ECONNREFUSED anywhere in the cause chain; other errors keep their message', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:4566'), {
      code: 'ECONNREFUSED',
      address: '127.0.0.1',
      port: 4566,
    });
    const viaFetch = new TypeError('fetch failed', { cause: refused });
    const viaAggregate = new AggregateError([refused], 'connect failed');
    for (const err of [refused, viaFetch, viaAggregate]) {
      const text = explainError(err).join('\n');
      expect(text).toContain('nothing answers at http://127.0.0.1:4566');
      expect(text).toContain('npx drift-remediation sandbox serve');
    }
    expect(explainError(viaFetch, 'http://127.0.0.1:9')[0]).toContain('http://127.0.0.1:9');
    expect(explainError(new Error('boom'))).toEqual(['error: boom']);
  });

  it('the real CLI prints how to start a sandbox, exits 1, and no ECONNREFUSED or stack', async () => {
    const endpoint = `http://127.0.0.1:${await closedPort()}`;
    for (const args of [
      ['executions', 'list', '--endpoint', endpoint],
      ['outbox', '--endpoint', endpoint],
    ]) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(1);
      expect(r.stderr).toContain(`nothing answers at ${endpoint}`);
      expect(r.stderr).toContain('npx drift-remediation sandbox serve');
      expect(r.stderr).not.toContain('ECONNREFUSED');
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  }, 60_000);
});

describe('--json', () => {
  const sb = withSandbox({ services: [stepFunctionsService()] });

  it('executions list --json and outbox --json print parseable arrays', async () => {
    const sfn = new SFNClient(sb.clientConfig);
    const { stateMachineArn } = await sfn.send(
      new CreateStateMachineCommand({
        name: 'remediation',
        roleArn: 'arn:aws:iam::000000000000:role/sfn',
        definition: JSON.stringify({
          StartAt: 'Done',
          States: { Done: { Type: 'Pass', Result: { outcome: { outcome: 'VERIFIED' } }, End: true } },
        }),
      }),
    );
    await sfn.send(new StartExecutionCommand({ stateMachineArn, name: 'one' }));
    await new Promise((r) => setTimeout(r, 300));

    const list = await cliAsync('executions', 'list', '--json', '--endpoint', sb.endpoint);
    expect(list.stderr).toBe('');
    const rows = JSON.parse(list.stdout) as Array<Record<string, string>>;
    expect(rows).toEqual([
      expect.objectContaining({ name: 'one', status: 'SUCCEEDED', outcome: 'VERIFIED' }),
    ]);
    expect(Date.parse(rows[0]?.startDate ?? '')).not.toBeNaN();

    const published = [
      {
        topicArn: 'arn:aws:sns:us-east-1:000000000000:approvals',
        subject: 'Approval',
        message: 'a\nb',
        timestamp: '2026-12-07T05:00:00.000Z',
      },
    ];
    sb.sandbox.registerHttpRoute('/_sandbox/outbox', () => ({
      status: 200,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(published),
    }));
    const outbox = await cliAsync('outbox', '--json', '--endpoint', sb.endpoint);
    expect(JSON.parse(outbox.stdout)).toEqual(published);
  }, 60_000);
});
