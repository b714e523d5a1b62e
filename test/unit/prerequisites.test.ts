/**
 * The test command's prerequisites step (test/setup/prerequisites.ts): a Debian package is left alone
 * when present, installed with apt-get as root (updating the package lists once when needed), and
 * named with the command to run otherwise; a failing entry stops the run with its message.
 */
import { describe, expect, it } from 'vitest';
import {
  boto3Importable,
  debianPackage,
  ensurePrerequisites,
  type MachineAccess,
  type Prerequisite,
  PrerequisiteError,
  sharedLibraryPresent,
} from '../setup/prerequisites';

function fakeMachine(opts: { root: boolean; results?: Array<{ status: number | null; output?: string }> }) {
  const calls: string[] = [];
  const results = [...(opts.results ?? [])];
  const m: MachineAccess = {
    isRoot: () => opts.root,
    run: (cmd, args) => {
      calls.push([cmd, ...args].join(' '));
      const r = results.shift() ?? { status: 0 };
      return { status: r.status, output: r.output ?? '' };
    },
  };
  return { m, calls };
}

const boto3 = (present: () => boolean, m: MachineAccess) =>
  debianPackage({ pkg: 'python3-boto3', neededBy: 'the aws:executeScript tests', present }, m);

describe('debianPackage', () => {
  it('present → runs nothing', async () => {
    const { m, calls } = fakeMachine({ root: true });
    expect(await boto3(() => true, m).ensure()).toBe('python3-boto3: present');
    expect(calls).toEqual([]);
  });

  it('missing and not root → a PrerequisiteError naming the install command, nothing run', async () => {
    const { m, calls } = fakeMachine({ root: false });
    const err = await boto3(() => false, m)
      .ensure()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrerequisiteError);
    expect((err as Error).message).toMatch(
      /python3-boto3 is missing \(the aws:executeScript tests need it\).*sudo apt-get install -y python3-boto3/,
    );
    expect(calls).toEqual([]);
  });

  it('missing as root → apt-get install; a first failure updates the lists and retries once', async () => {
    let installed = false;
    const { m, calls } = fakeMachine({
      root: true,
      results: [
        { status: 100, output: 'E: Unable to locate package python3-boto3' },
        { status: 0 },
        { status: 0 },
      ],
    });
    const p = boto3(() => installed, m);
    const run = m.run;
    m.run = (cmd, args) => {
      const r = run(cmd, args);
      if (args[0] === 'install' && r.status === 0) installed = true;
      return r;
    };
    expect(await p.ensure()).toBe('python3-boto3: installed with apt-get');
    expect(calls).toEqual([
      'apt-get install -y -qq --no-install-recommends python3-boto3',
      'apt-get update -qq',
      'apt-get install -y -qq --no-install-recommends python3-boto3',
    ]);
  });

  it('apt-get failing twice, or missing → PrerequisiteError with apt-get’s output', async () => {
    const failing = fakeMachine({
      root: true,
      results: [{ status: 100 }, { status: 0 }, { status: 100, output: 'E: no' }],
    });
    await expect(boto3(() => false, failing.m).ensure()).rejects.toThrow(
      /apt-get install python3-boto3 failed:\nE: no/,
    );
    const noApt = fakeMachine({ root: true, results: [{ status: null }] });
    await expect(boto3(() => false, noApt.m).ensure()).rejects.toThrow(/apt-get is not available/);
  });
});

describe('sharedLibraryPresent', () => {
  it('asks ldconfig -p, trying the sbin paths when ldconfig is not on PATH', () => {
    const listing = '\tlibnss3.so (libc6,x86-64) => /lib/x86_64-linux-gnu/libnss3.so';
    const { m, calls } = fakeMachine({
      root: false,
      results: [{ status: null }, { status: 0, output: listing }],
    });
    expect(sharedLibraryPresent('libnss3.so', m)()).toBe(true);
    expect(calls).toEqual(['ldconfig -p', '/sbin/ldconfig -p']);
    const none = fakeMachine({ root: false, results: [{ status: 0 }, { status: 0 }, { status: 0 }] });
    expect(sharedLibraryPresent('libnss3.so', none.m)()).toBe(false);
  });
});

describe('ensurePrerequisites', () => {
  it('logs each status in order and stops at the first that cannot be provided, keeping the cause', async () => {
    const lines: string[] = [];
    const ran: string[] = [];
    const ok = (name: string): Prerequisite => ({
      name,
      neededBy: 'tests',
      ensure: async () => {
        ran.push(name);
        return `${name}: present`;
      },
    });
    const broken: Prerequisite = {
      name: 'broken',
      neededBy: 'the browser tests',
      ensure: async () => {
        ran.push('broken');
        throw new Error('ENOENT');
      },
    };
    const err = await ensurePrerequisites([ok('a'), broken, ok('c')], (l) => lines.push(l)).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(PrerequisiteError);
    expect((err as Error).message).toBe('broken (needed by the browser tests) could not be provided');
    expect((err as Error).cause).toEqual(new Error('ENOENT'));
    expect(ran).toEqual(['a', 'broken']);
    expect(lines).toEqual(['test prerequisites: a: present']);
  });
});

describe('boto3Importable', () => {
  it('tries each interpreter in order until one imports boto3', () => {
    const { m, calls } = fakeMachine({ root: false, results: [{ status: 1 }, { status: 0 }, { status: 0 }] });
    expect(boto3Importable(['python3', '/usr/bin/python3', 'never-tried'], m)()).toBe(true);
    expect(calls).toEqual([
      'python3 -c import boto3, botocore',
      '/usr/bin/python3 -c import boto3, botocore',
    ]);
  });

  it('is false when none does (missing interpreters count as not importing)', () => {
    const { m } = fakeMachine({ root: false, results: [{ status: null }, { status: 1 }] });
    expect(boto3Importable(['python3', '/usr/bin/python3'], m)()).toBe(false);
  });
});
