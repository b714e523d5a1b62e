/**
 * The AWS-owned documents round trip through the real CLI: `sandbox serve --aws-documents DIR` serves
 * a pulled folder (the first-party fixtures) as Owner Amazon, and `documents pull NAME --endpoint`
 * copies a document from an endpoint that answers like AWS into a new folder, which a sandbox then
 * serves unchanged. Against AWS the same command uses the caller's credentials (--profile/--region).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateDocumentCommand,
  DescribeDocumentCommand,
  GetDocumentCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { afterAll, describe, expect, it } from 'vitest';
import { startSandbox } from '../../sandbox/core/sandbox';
import { ssmService } from '../../sandbox/services/ssm';
import { clientConfigFor, TEST_CREDENTIALS } from './helpers';

const ROOT = join(import.meta.dirname, '..', '..');
const NAME = 'AWS-DisablePublicAccessForSecurityGroup';
const pulled = mkdtempSync(join(tmpdir(), 'aws-documents-'));
let child: ChildProcess | undefined;
/** Runs the real CLI to completion. */
const cli = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', 'sandbox/cli.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
  });
afterAll(() => {
  child?.kill('SIGTERM');
});

/** `sandbox serve --no-install --aws-documents test/fixtures/aws-documents`; resolves with its endpoint. */
function serve(): Promise<string> {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'sandbox/cli.ts',
      'sandbox',
      'serve',
      '--no-install',
      '--port',
      '0',
      '--aws-documents',
      'test/fixtures/aws-documents',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child = proc;
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const endpoint = /sandbox listening on (http:\/\/\S+)/.exec(out)?.[1];
      if (endpoint) resolve(endpoint);
    });
    proc.on('exit', (code) => reject(new Error(`sandbox serve exited (${code}):\n${out}`)));
  });
}

describe('documents pull and sandbox serve --aws-documents', () => {
  it('serve answers the folder as Owner Amazon; pull copies it; a sandbox serves the copy unchanged', async () => {
    const endpoint = await serveOnce();
    const served = new SSMClient({ endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS });
    expect((await served.send(new DescribeDocumentCommand({ Name: NAME }))).Document?.Owner).toBe('Amazon');

    const r = cli('documents', 'pull', NAME, '--endpoint', endpoint, '--dir', pulled);
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain(`wrote ${join(pulled, `${NAME}.json`)}`);
    const file = JSON.parse(readFileSync(join(pulled, `${NAME}.json`), 'utf8')) as Record<string, string>;
    const fixture = JSON.parse(readFileSync(`test/fixtures/aws-documents/${NAME}.json`, 'utf8')) as Record<
      string,
      string
    >;
    expect(file).toMatchObject({
      Name: NAME,
      Owner: 'Amazon',
      DocumentVersion: '7',
      Content: fixture.Content,
    });
  }, 90_000);

  it('the pulled copy is served by a new sandbox with the same content and version', async () => {
    // Started after the pull: it loads the folder the CLI wrote.
    const second = await startSandbox({ services: [ssmService({ awsDocumentsDir: pulled })], port: 0 });
    try {
      const got = await new SSMClient(clientConfigFor(second)).send(new GetDocumentCommand({ Name: NAME }));
      const fixture = JSON.parse(readFileSync(`test/fixtures/aws-documents/${NAME}.json`, 'utf8')) as Record<
        string,
        string
      >;
      expect(got).toMatchObject({ DocumentVersion: '7', Content: fixture.Content });
    } finally {
      await second.stop();
    }
  });

  it('pull refuses a document this account owns, naming it, and writes nothing', async () => {
    const endpoint = await serveOnce();
    const ssm = new SSMClient({ endpoint, region: 'us-east-1', credentials: TEST_CREDENTIALS });
    const content = (await ssm.send(new GetDocumentCommand({ Name: NAME }))).Content ?? '';
    await ssm.send(
      new CreateDocumentCommand({ Name: 'Team-OwnRunbook', Content: content, DocumentType: 'Automation' }),
    );
    const dir = join(pulled, 'none');
    const r = cli('documents', 'pull', 'Team-OwnRunbook', '--endpoint', endpoint, '--dir', dir);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Team-OwnRunbook is owned by 000000000000, not Amazon/);
    expect(existsSync(dir)).toBe(false);
  }, 60_000);
});

let servedEndpoint: Promise<string> | undefined;
function serveOnce(): Promise<string> {
  servedEndpoint ??= serve();
  return servedEndpoint;
}
