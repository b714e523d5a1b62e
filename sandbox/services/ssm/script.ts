/**
 * aws:executeScript with the Python runtimes: the step's handler runs in a real Python 3 with boto3
 * (python/runner.py), every boto3 client pointed at the sandbox endpoint, with the automation's
 * credentials. InputPayload is the handler's `events`; the return value becomes `Payload` (outputs select
 * from `$.Payload…`, and the step reports `OutputPayload` as SSM does); an exception fails the step with
 * SSM's message shape. PowerShell runtimes and attachments fail with a message saying so.
 *
 * Timeouts are real seconds (the script is a real process, outside the sandbox's scaled clock): the
 * step's timeoutSeconds, at most SSM's 600.
 */
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { isRecord, type Json, StepFailure, toJson } from './values';

/** Python runtime names SSM accepts for aws:executeScript (and the sandbox runs). */
export const PYTHON_RUNTIMES = ['python3.8', 'python3.9', 'python3.10', 'python3.11'] as const;
/** SSM's PowerShell runtime names: accepted in documents, refused when run. */
export const POWERSHELL_RUNTIMES = ['PowerShell Core 6.0', 'PowerShell 7.0', 'PowerShell 7.4'] as const;
/** aws:executeScript's maximum duration (seconds). */
export const SCRIPT_MAX_SECONDS = 600;

export interface ScriptCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/**
 * Credentials of the role the automation assumed (its AutomationAssumeRole), for the script's boto3.
 * The engine's default mints them with the sandbox's IAM (sandbox/core/authz.ts `credentialsFor`), so the
 * script's boto3 calls are authorized as that role session; `sandboxDummyCredentials` (the administrator)
 * is for automations with no role and no caller.
 */
export type CredentialsFor = (roleArn: string | undefined, sessionName: string) => Promise<ScriptCredentials>;
export const sandboxDummyCredentials: CredentialsFor = async () => ({
  accessKeyId: 'sandbox',
  secretAccessKey: 'sandbox',
});

const RUNNER = fileURLToPath(new URL('./python/runner.py', import.meta.url));

/** Interpreters tried, in order: $DRIFT_SANDBOX_PYTHON, the `python3` on PATH, Debian's. */
export function pythonCandidates(env: NodeJS.ProcessEnv = process.env): string[] {
  return [
    ...new Set([env.DRIFT_SANDBOX_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p)),
  ];
}

/** True when `python` starts and imports boto3. */
export function importsBoto3(python: string): boolean {
  const r = spawnSync(python, ['-c', 'import boto3, botocore'], { stdio: 'ignore', timeout: 30_000 });
  return !r.error && r.status === 0;
}

let found: string | null | undefined;
/** The first candidate interpreter that imports boto3 (cached), or undefined. */
export function pythonForScripts(): string | undefined {
  if (found === undefined) found = pythonCandidates().find(importsBoto3) ?? null;
  return found ?? undefined;
}

export interface ScriptStep {
  readonly inputs: Json;
  readonly timeoutSeconds: number | undefined;
  /** The automation's values handed to the handler as `context`. */
  readonly context: Record<string, Json>;
  readonly endpoint: string | undefined;
  readonly region: string;
  readonly credentials: ScriptCredentials;
  readonly signal: AbortSignal;
  readonly log: (line: string) => void;
}

interface ScriptInputs {
  runtime: string;
  handler: string;
  script: string;
  payload: Json;
}

/** Validates the step's inputs as SSM does; PowerShell and attachments are refused here. */
export function scriptInputs(inputs: Json): ScriptInputs {
  if (!isRecord(inputs)) throw new StepFailure('aws:executeScript inputs must be a map');
  const { Runtime, Handler, Script, InputPayload, Attachment } = inputs;
  if (typeof Runtime !== 'string') throw new StepFailure('aws:executeScript needs input Runtime');
  if ((POWERSHELL_RUNTIMES as readonly string[]).includes(Runtime) || /^powershell/i.test(Runtime)) {
    throw new StepFailure(
      `Runtime ${Runtime} is not supported by the sandbox: aws:executeScript runs the Python runtimes (${PYTHON_RUNTIMES.join(', ')}) only`,
    );
  }
  if (!(PYTHON_RUNTIMES as readonly string[]).includes(Runtime)) {
    throw new StepFailure(
      `Invalid Runtime ${Runtime} for aws:executeScript: use one of ${[...PYTHON_RUNTIMES, ...POWERSHELL_RUNTIMES].join(', ')}`,
    );
  }
  if (Attachment !== undefined) {
    throw new StepFailure(
      'aws:executeScript Attachment (scripts from document attachments) is not supported by the sandbox: inline the Script',
    );
  }
  if (typeof Handler !== 'string' || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(Handler)) {
    throw new StepFailure('aws:executeScript needs input Handler: the name of a function in the Script');
  }
  if (typeof Script !== 'string' || Script.trim() === '')
    throw new StepFailure('aws:executeScript needs input Script');
  return { runtime: Runtime, handler: Handler, script: Script, payload: InputPayload ?? {} };
}

function scriptEnv(step: ScriptStep, endpoint: string): NodeJS.ProcessEnv {
  const { credentials: c } = step;
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
    PYTHONDONTWRITEBYTECODE: '1',
    PYTHONIOENCODING: 'utf-8',
    DRIFT_SANDBOX_ENDPOINT: endpoint,
    AWS_DEFAULT_REGION: step.region,
    AWS_REGION: step.region,
    AWS_ACCESS_KEY_ID: c.accessKeyId,
    AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
    ...(c.sessionToken ? { AWS_SESSION_TOKEN: c.sessionToken } : {}),
    // Nothing from the user's own AWS configuration reaches the script.
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

interface RunnerResult {
  ok: boolean;
  payload?: unknown;
  type?: string;
  message?: string;
  traceback?: string;
}

/** Spawns the runner and collects its result (fd 3) and output; kills it on timeout or abort. */
function spawnRunner(
  python: string,
  request: string,
  env: NodeJS.ProcessEnv,
  timeoutSeconds: number,
  signal: AbortSignal,
): Promise<{ result: string; output: string; timedOut: boolean; aborted: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(python, [RUNNER], { env, stdio: ['pipe', 'pipe', 'pipe', 'pipe'] });
    let result = '';
    let output = '';
    let timedOut = false;
    let aborted = false;
    const kill = () => child.kill('SIGKILL');
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutSeconds * 1000);
    const onAbort = () => {
      aborted = true;
      kill();
    };
    signal.addEventListener('abort', onAbort, { once: true });
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString('utf8');
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString('utf8');
    });
    const fd3 = child.stdio[3];
    fd3?.on('data', (d: Buffer) => {
      result += d.toString('utf8');
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      reject(err);
    });
    child.on('close', () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve({ result, output, timedOut, aborted });
    });
    child.stdin?.end(request);
  });
}

/** SSM's failure message for an exception raised by the script. */
function failureMessage(r: RunnerResult): string {
  const detail = r.traceback?.trim() || `${r.type ?? 'Exception'}: ${r.message ?? ''}`;
  return `Step fails when it is Execute/Cancelling action. ${detail}. Please refer to Automation Service Troubleshooting Guide for more diagnosis details.`;
}

/** Runs the step's handler; resolves with `{ Payload: <return value> }`, throws StepFailure. */
export async function runPythonScript(step: ScriptStep): Promise<{ Payload: Json }> {
  const inputs = scriptInputs(step.inputs);
  const python = pythonForScripts();
  if (!python) {
    throw new StepFailure(
      'aws:executeScript needs Python 3 with boto3 on this machine (python3-boto3, or set DRIFT_SANDBOX_PYTHON)',
    );
  }
  if (!step.endpoint) throw new StepFailure('aws:executeScript: the sandbox endpoint is not known yet');
  const timeout = Math.min(step.timeoutSeconds ?? SCRIPT_MAX_SECONDS, SCRIPT_MAX_SECONDS);
  const request = JSON.stringify({
    script: inputs.script,
    handler: inputs.handler,
    payload: inputs.payload,
    context: step.context,
  });
  const run = await spawnRunner(python, request, scriptEnv(step, step.endpoint), timeout, step.signal);
  if (run.output.trim())
    step.log(`ssm script output (${inputs.runtime}): ${run.output.trim().slice(0, 2000)}`);
  if (run.aborted) throw new StepFailure('The script was cancelled', 'Unknown', 'Cancelled');
  if (run.timedOut) throw new StepFailure(`Step timed out after ${timeout} seconds`, 'Unknown', 'TimedOut');
  let parsed: RunnerResult;
  try {
    parsed = JSON.parse(run.result) as RunnerResult;
  } catch {
    throw new StepFailure(
      `Step fails when it is Execute/Cancelling action. The script process ended without a result: ${run.output.trim().slice(-500)}`,
    );
  }
  if (!parsed.ok) throw new StepFailure(failureMessage(parsed));
  return { Payload: toJson(parsed.payload) };
}
