/**
 * The browser the tests drive: the Chromium build shipped inside the `@sparticuz/chromium` npm package
 * (pinned in package-lock.json), so `npm ci && npm test` needs no system browser, no root and no
 * download at test time. The package holds a brotli-compressed binary; it is unpacked once per install
 * into node_modules/.cache/ (a staging folder renamed into place, so an interrupted or concurrent unpack
 * never leaves a half-written browser) and reused by every test process. Why this and not Debian's
 * chromium: docs/approvals.md "Browser tests".
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { arch, platform } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Chromium from '@sparticuz/chromium';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGE_DIR = join(ROOT, 'node_modules', '@sparticuz', 'chromium');

/** The packaged browser ships for Linux x64 only. */
export const PACKAGED_BROWSER_SUPPORTED = platform() === 'linux' && arch() === 'x64';

function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Where this install's unpacked browser lives (one folder per package version). */
export function browserDir(): string {
  return join(ROOT, 'node_modules', '.cache', 'drift-remediation', `chromium-${packageVersion()}`);
}

/**
 * Fontconfig file for the browser: the system's fonts when there are any, plus the Open Sans the package
 * ships, so pages render text on a machine without fonts too.
 */
function fontConfig(fontsDir: string, cacheDir: string): string {
  return [
    '<?xml version="1.0"?>',
    '<!DOCTYPE fontconfig SYSTEM "fonts.dtd">',
    '<fontconfig>',
    '  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>',
    `  <dir>${fontsDir}</dir>`,
    `  <cachedir>${cacheDir}</cachedir>`,
    '</fontconfig>',
    '',
  ].join('\n');
}

/** Unpacks the packaged Chromium into a staging folder and moves it into place. */
async function unpack(dir: string): Promise<void> {
  const staging = `${dir}.unpacking-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  // @sparticuz/chromium unpacks into os.tmpdir() (it was made for Lambda's /tmp): point that at the
  // staging folder for the duration of the unpack.
  const saved = process.env.TMPDIR;
  process.env.TMPDIR = staging;
  try {
    await Chromium.executablePath(join(PACKAGE_DIR, 'bin'));
  } finally {
    if (saved === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = saved;
  }
  // Paths name the final folder: the staging one is renamed into place below.
  writeFileSync(join(staging, 'fonts.conf'), fontConfig(join(dir, 'fonts'), join(dir, 'fonts-cache')));
  try {
    renameSync(staging, dir);
  } catch (err) {
    // Another process finished first: use its copy.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(join(dir, 'chromium'))) throw err;
  }
}

export interface Browser {
  executablePath: string;
  /** Environment for the browser process: this process's, plus its fontconfig. */
  env: Record<string, string>;
}

/** The packaged browser, unpacked on first use. Throws with what to do when it cannot run here. */
export async function packagedBrowser(): Promise<Browser> {
  if (!PACKAGED_BROWSER_SUPPORTED) {
    throw new Error(
      `the browser tests use the Chromium inside @sparticuz/chromium, which ships for Linux x64 only (this is ${platform()} ${arch()})`,
    );
  }
  const dir = browserDir();
  if (!existsSync(join(dir, 'chromium'))) {
    mkdirSync(dirname(dir), { recursive: true });
    await unpack(dir);
  }
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  env.FONTCONFIG_FILE = join(dir, 'fonts.conf');
  return { executablePath: join(dir, 'chromium'), env };
}

/** Runs `chromium --version`: proves the binary and its shared libraries load. */
export function browserVersion(b: Browser): string {
  return execFileSync(b.executablePath, ['--version'], {
    encoding: 'utf8',
    env: b.env,
    timeout: 30_000,
  }).trim();
}
