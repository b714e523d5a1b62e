/**
 * What the tests need from the machine, provided by the test command itself: vitest runs
 * `ensurePrerequisites()` once before any test (globalSetup, test/setup/global.ts), so
 * `npm ci && npm test` passes on a fresh machine and CI installs nothing the README's command does not.
 *
 * To add a need, add one entry to PREREQUISITES: `debianPackage(...)` for a system package (installed
 * with apt-get when it is missing and the tests run as root; otherwise the run stops and says what to
 * install), or an object with your own `ensure()`. An entry that cannot be provided fails the run with
 * its message; nothing is skipped.
 */
import { spawnSync } from 'node:child_process';
import { pythonCandidates } from '../../sandbox/services/ssm/script';
import { browserVersion, packagedBrowser } from './browser';

export interface Prerequisite {
  /** What it is, as the messages name it. */
  readonly name: string;
  /** Which tests need it, for the failure message. */
  readonly neededBy: string;
  /** Makes it present (or finds it is) and returns a one-line status; throws PrerequisiteError when it cannot. */
  ensure(): Promise<string>;
}

export class PrerequisiteError extends Error {
  override readonly name = 'PrerequisiteError';
}

/** The machine as the prerequisites see it (injected in the unit tests). */
export interface MachineAccess {
  isRoot(): boolean;
  /** Runs a program without a shell; `status` is null when it could not be started. */
  run(cmd: string, args: readonly string[]): { status: number | null; output: string };
}

export const machine: MachineAccess = {
  isRoot: () => process.getuid?.() === 0,
  run: (cmd, args) => {
    const r = spawnSync(cmd, args, {
      encoding: 'utf8',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 600_000,
    });
    return { status: r.error ? null : r.status, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
  },
};

/** True when the dynamic linker knows the shared library (`ldconfig -p`). */
export function sharedLibraryPresent(soname: string, m: MachineAccess = machine): () => boolean {
  return () =>
    ['ldconfig', '/sbin/ldconfig', '/usr/sbin/ldconfig'].some((cmd) => {
      const r = m.run(cmd, ['-p']);
      return r.status === 0 && r.output.includes(soname);
    });
}

/**
 * True when one of the interpreters starts and imports boto3: the sandbox's aws:executeScript uses the
 * first such one (sandbox/services/ssm/script.ts), so an existing Python with boto3 is preferred and
 * Debian's python3-boto3 is installed only when none has it.
 */
export function boto3Importable(candidates: readonly string[], m: MachineAccess = machine): () => boolean {
  return () => candidates.some((python) => m.run(python, ['-c', 'import boto3, botocore']).status === 0);
}

/**
 * A Debian package the tests need. Present → nothing happens. Missing → `apt-get install` when running
 * as root (after `apt-get update` if the first attempt fails, e.g. on a machine that never fetched the
 * package lists); otherwise a PrerequisiteError naming the command to run.
 */
export function debianPackage(
  opts: { pkg: string; neededBy: string; present: () => boolean },
  m: MachineAccess = machine,
): Prerequisite {
  const { pkg, neededBy, present } = opts;
  const missing = `Debian package ${pkg} is missing (${neededBy} need it)`;
  return {
    name: pkg,
    neededBy,
    async ensure() {
      if (present()) return `${pkg}: present`;
      if (!m.isRoot()) {
        throw new PrerequisiteError(
          `${missing}. Install it (sudo apt-get install -y ${pkg}) or run the tests as root, which installs it.`,
        );
      }
      const install = () => m.run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg]);
      let r = install();
      if (r.status === null) {
        throw new PrerequisiteError(`${missing} and apt-get is not available: install ${pkg} by hand.`);
      }
      if (r.status !== 0) {
        m.run('apt-get', ['update', '-qq']);
        r = install();
      }
      if (r.status !== 0 || !present()) {
        throw new PrerequisiteError(`${missing}; apt-get install ${pkg} failed:\n${r.output.trim()}`);
      }
      return `${pkg}: installed with apt-get`;
    },
  };
}

/** The approval-page browser tests' Chromium, from the @sparticuz/chromium npm package (test/setup/browser.ts). */
export const packagedChromium: Prerequisite = {
  name: 'Chromium (@sparticuz/chromium)',
  neededBy: 'the approval page browser tests',
  async ensure() {
    const browser = await packagedBrowser();
    try {
      return `${browserVersion(browser)} from @sparticuz/chromium`;
    } catch (err) {
      throw new PrerequisiteError(`the packaged Chromium does not start (${browser.executablePath})`, {
        cause: err,
      });
    }
  },
};

/** In order: each entry may rely on the ones before it. */
export const PREREQUISITES: readonly Prerequisite[] = [
  // The packaged Chromium links against the system's NSS/NSPR (it bundles the rest).
  debianPackage({
    pkg: 'libnss3',
    neededBy: 'the packaged Chromium of the browser tests',
    present: sharedLibraryPresent('libnss3.so'),
  }),
  packagedChromium,
  // aws:executeScript steps run in a real Python 3 with boto3.
  debianPackage({
    pkg: 'python3-boto3',
    neededBy: 'the aws:executeScript (Python) tests',
    present: boto3Importable(pythonCandidates()),
  }),
];

/** Ensures every prerequisite in order; the first that cannot be provided stops the run with its message. */
export async function ensurePrerequisites(
  list: readonly Prerequisite[] = PREREQUISITES,
  log: (line: string) => void = (l) => console.log(l),
): Promise<void> {
  for (const p of list) {
    try {
      log(`test prerequisites: ${await p.ensure()}`);
    } catch (err) {
      if (err instanceof PrerequisiteError) throw err;
      throw new PrerequisiteError(`${p.name} (needed by ${p.neededBy}) could not be provided`, {
        cause: err,
      });
    }
  }
}
