/**
 * sdkNativeSha256 (infra/bundling/sdk-plugins.ts) leaves the SDK's pure-JS SHA-256 fallback out of the
 * task bundles. A probe (support/sha256-probe.ts) bundled exactly as the tasks are and once without the
 * plugins computes digests, HMACs and a SigV4 signature with the clients' SHA-256: the same hex either
 * way, equal to node:crypto's, and only the bundle without the plugin holds the fallback.
 */
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nativeSha256Only } from '../../infra/bundling/sdk-plugins';
import { bundleProbe, runProbe } from './support/run-probe';

const dir = mkdtempSync(join(tmpdir(), 'dr-bundle-sha256-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FALLBACK = 'node_modules/@smithy/core/dist-es/submodules/checksum/sha256/Sha256Js.js';

describe('the task bundles without the SDK pure-JS SHA-256 fallback', () => {
  it('Node has SHA-256 natively, the only case in which the fallback was taken', () => {
    expect(createHash('sha256').update('abc').digest('hex')).toBe(
      'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  });

  it('computes the same digests, HMACs and SigV4 signature as the bundle with the fallback', {
    timeout: 120_000,
  }, async () => {
    const whole = await runProbe('sha256-probe', false, undefined, dir);
    const pruned = await runProbe('sha256-probe', true, undefined, dir);
    expect(pruned).toEqual(whole);
    expect(pruned.digests?.abc).toBe(createHash('sha256').update('abc').digest('hex'));
    expect(pruned.hmacs?.abc).toBe(createHmac('sha256', 'key').update('abc').digest('hex'));
    expect(pruned.sigv4?.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261207\/eu-west-1\/sqs\/aws4_request, SignedHeaders=\S+, Signature=[0-9a-f]{64}$/,
    );
    expect(pruned.client).toEqual({ usesThisSha256: true });
    expect((await bundleProbe('sha256-probe', true, dir)).inputs).not.toContain(FALLBACK);
    expect((await bundleProbe('sha256-probe', false, dir)).inputs).toContain(FALLBACK);
  });

  it('fails the build, not silently, when the SDK changes the file it rewrites', () => {
    // …/@smithy/core/dist-cjs/submodules/checksum/index.js → …/dist-es/…/sha256/Sha256Node.js
    const cjs = createRequire(import.meta.url).resolve('@smithy/core/checksum');
    const shipped = readFileSync(
      join(cjs, '..', '..', '..', '..', 'dist-es', 'submodules', 'checksum', 'sha256', 'Sha256Node.js'),
      'utf8',
    );
    expect(nativeSha256Only(shipped)).not.toMatch(/Sha256Js/);
    expect(() => nativeSha256Only(shipped.replace('hasNativeCrypto ?', 'native ?'))).toThrow(/SDK changed/);
  });
});
