/**
 * drift-remediation — the sandbox CLI.
 *
 *   drift-remediation demo [--yes]                 the scripted scenario (what `npm start` runs)
 *   drift-remediation sandbox serve [--port 4566]  a sandbox that stays up, with the stack installed
 *   drift-remediation executions list|show <name>  executions of a running sandbox (list: --json)
 *   drift-remediation console [--port 4580]        the read-only ops console for a deployment (or a sandbox)
 *   drift-remediation outbox                       SNS messages a running sandbox has published (--json)
 *   drift-remediation remediate --type T --id ID   start a remediation by hand (sandbox, or AWS with --aws)
 *   drift-remediation audit [--resource ID] …      recorded outcomes by resource, rule, account, time (--json)
 *   drift-remediation plan [--rule R] [--account A] what would be remediated now, changing nothing (--json)
 *   drift-remediation documents pull NAME…         copy AWS-owned Automation documents from your account
 */
import './handler-env';
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import type { AuditOptions } from './audit';
import { explainError } from './cli-errors';
import { clientHints } from './client-hints';
import type { PlanOptions } from './plan';
import type { RemediateOptions } from './remediate';

function number(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}`);
    return n;
  };
}

/** A whole-number option from `min` to `max`. */
function wholeNumber(name: string, min: number, max: number) {
  const parse = number(name, min, max);
  return (v: string): number => {
    const n = parse(v);
    if (!Number.isInteger(n))
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}`);
    return n;
  };
}

/** `--help` text after the options: "Examples:" and one command per line. */
function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}`;
}

export const program = new Command()
  .name('drift-remediation')
  .description('Drift remediation on AWS Step Functions — local sandbox, demo and inspection tools')
  .showHelpAfterError()
  .addHelpText(
    'after',
    examples(
      'drift-remediation demo                      # the scripted demo (npm start)',
      'drift-remediation sandbox serve             # a sandbox on :4566 with the stack installed',
      'drift-remediation executions list --json    # in another terminal',
      'drift-remediation <command> --help          # options and examples of one command',
    ),
  );

/** The endpoint the running command was pointed at (for the "no sandbox answers" hint). */
let commandEndpoint: string | undefined;
program.hook('preAction', (_program, action) => {
  const endpoint: unknown = action.opts().endpoint;
  commandEndpoint = typeof endpoint === 'string' ? endpoint : undefined;
});

program
  .command('demo')
  .description('start a sandbox, install the stack, deploy demo stacks, inject drift, watch it get fixed')
  .option('-y, --yes', 'decide approvals automatically (the default when stdin is not a terminal)')
  .option('-p, --port <port>', 'sandbox port (0 = any free port)', number('port', 0, 65535), 4566)
  .option(
    '-t, --time-scale <factor>',
    'real seconds per emulated second',
    number('time scale', 0.0001, 1),
    0.02,
  )
  .option(
    '--timeout <seconds>',
    'give up after this many real seconds (default 120, or 900 when a person approves)',
    number('timeout', 5, 3600),
  )
  .option('-v, --verbose', 'print sandbox and task log lines')
  .addHelpText(
    'after',
    examples(
      'drift-remediation demo --yes                # approvals decided automatically',
      'drift-remediation demo --time-scale 0.05    # slower: one emulated minute takes 3 s',
      'drift-remediation demo                      # in a terminal: you open the approval link and decide',
    ),
  )
  .action(
    async (opts: { yes?: boolean; port: number; timeScale: number; timeout: number; verbose?: boolean }) => {
      const { runDemo } = await import('./demo/run');
      const ok = await runDemo({
        port: opts.port,
        timeScale: opts.timeScale,
        timeoutSeconds: opts.timeout,
        autoApprove: opts.yes === true || !process.stdin.isTTY,
        verbose: opts.verbose === true,
      });
      process.exitCode = ok ? 0 : 1;
    },
  );

const sandbox = program
  .command('sandbox')
  .description('the local AWS sandbox')
  .addHelpText('after', examples('drift-remediation sandbox serve --help'));
sandbox
  .command('serve')
  .description('start the sandbox with the remediation stack installed, and keep it running')
  .addHelpText(
    'after',
    examples(
      'drift-remediation sandbox serve                         # port 4566, real time',
      'drift-remediation sandbox serve --port 0 -t 0.02        # any free port, 50x faster',
      'drift-remediation sandbox serve --no-install            # AWS services only, no stack',
      'drift-remediation sandbox serve --faults faults.json    # latency / error injection',
      'drift-remediation sandbox serve --workers 0             # task handlers on the sandbox thread',
    ),
  )
  .option('-p, --port <port>', 'port', number('port', 0, 65535), 4566)
  .option('-t, --time-scale <factor>', 'real seconds per emulated second', number('time scale', 0.0001, 1), 1)
  .option('-f, --faults <file>', 'latency / fault injection rules (JSON)')
  .option('--no-install', 'do not install the remediation stack')
  .option('--aws-documents <dir>', 'serve the AWS-owned documents pulled into this folder (documents pull)')
  .option(
    '--workers <n>',
    'worker threads the task handlers run in; 0 = on the sandbox thread (default: SANDBOX_WORKERS, else one per core beyond the first)',
    wholeNumber('workers', 0, 64),
  )
  .option('-v, --verbose', 'print sandbox and task log lines')
  .action(
    async (opts: {
      port: number;
      timeScale: number;
      faults?: string;
      workers?: number;
      install: boolean;
      awsDocuments?: string;
      verbose?: boolean;
    }) => {
      const { startDriftSandbox } = await import('./main');
      const sb = await startDriftSandbox({
        port: opts.port,
        timeScale: opts.timeScale,
        ...(opts.faults ? { faults: opts.faults } : {}),
        ...(opts.workers === undefined ? {} : { workers: opts.workers }),
        install: opts.install,
        ...(opts.awsDocuments ? { serviceOptions: { ssm: { awsDocumentsDir: opts.awsDocuments } } } : {}),
        ...(opts.verbose ? { onLog: (l: string) => console.log(`  · ${l}`) } : {}),
      });
      console.log(`sandbox listening on ${sb.endpoint}`);
      for (const line of clientHints(sb.endpoint, sb.region)) console.log(`  ${line}`);
      if (sb.stack) console.log(`  state machine: ${sb.stack.stateMachineArn}`);
      sb.onMessage((m) =>
        console.log(`[sns ${m.topicArn.split(':').pop()}] ${m.subject ?? ''}\n${m.message}\n`),
      );
      const stop = async () => {
        await sb.stop();
        process.exit(0);
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
  );

const endpointOption = [
  '-e, --endpoint <url>',
  'sandbox endpoint',
  process.env.AWS_ENDPOINT_URL ?? 'http://127.0.0.1:4566',
] as const;

/** --endpoint (a sandbox, the default) or --aws / --region / --profile (AWS with the user's own credentials). */
function sandboxOrAws(cmd: Command, verb: string): Command {
  return cmd
    .option(...endpointOption)
    .option('--aws', `${verb} AWS with your credentials instead of the sandbox`)
    .option('--region <region>', 'AWS region (default: AWS_REGION, or your profile)')
    .option('--profile <profile>', 'AWS shared-config profile (implies --aws)');
}

const executions = program
  .command('executions')
  .description('executions of a running sandbox')
  .addHelpText(
    'after',
    examples('drift-remediation executions list --help', 'drift-remediation executions show --help'),
  );
executions
  .command('list')
  .description('the latest 100 executions: name, status, remediation outcome, start time')
  .option(...endpointOption)
  .option('-s, --status <status>', 'RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED')
  .option('--json', 'print a JSON array instead of a table')
  .addHelpText(
    'after',
    examples(
      'drift-remediation executions list',
      'drift-remediation executions list --status RUNNING',
      'drift-remediation executions list --json | jq -r \'.[] | select(.outcome == "FAILED") | .name\'',
    ),
  )
  .action(async (opts: { endpoint: string; status?: string; json?: boolean }) => {
    const { listExecutions } = await import('./inspect');
    await listExecutions(opts.endpoint, opts.status, opts.json === true);
  });
executions
  .command('show <nameOrArn>')
  .description(
    'status, outcome, cost, and each state with its duration, input and output (redacted) of one execution',
  )
  .option(...endpointOption)
  .option('--full', 'print whole inputs and outputs (default: cut at 240 characters)')
  .addHelpText(
    'after',
    examples(
      'drift-remediation executions show <name from executions list>',
      'drift-remediation executions show arn:aws:states:us-east-1:000000000000:execution:…',
    ),
  )
  .action(async (nameOrArn: string, opts: { endpoint: string; full?: boolean }) => {
    const { showExecution } = await import('./inspect');
    await showExecution(opts.endpoint, nameOrArn, opts.full === true);
  });

program
  .command('console')
  .description('the ops console (read-only) for a deployment, with your AWS credentials, on 127.0.0.1')
  .option('-p, --port <port>', 'local port (0 = any free port)', number('port', 0, 65535), 4580)
  .option('--region <region>', 'AWS region (default: AWS_REGION, or your profile)')
  .option('--profile <profile>', 'AWS shared-config profile (default: the SDK credential chain)')
  .option('-e, --endpoint <url>', 'read this endpoint (e.g. a sandbox) instead of AWS')
  .option('--state-machine <arn>', 'the remediation state machine (default: the one named *remediation*)')
  .addHelpText(
    'after',
    `
Calls only read-only APIs (states:List/Describe/GetExecutionHistory, dynamodb:GetItem/Query/Scan,
ssm:GetAutomationExecution, lambda:GetFunctionConfiguration): docs/operations.md "Ops console".
A running sandbox serves the same page at <endpoint>/console.
${examples(
  'drift-remediation console --profile prod --region eu-west-1',
  'drift-remediation console --port 8080 --state-machine arn:aws:states:us-east-1:111111111111:stateMachine:DriftRemediation',
  'drift-remediation console --endpoint http://127.0.0.1:4566',
)}`,
  )
  .action(
    async (opts: {
      port: number;
      region?: string;
      profile?: string;
      endpoint?: string;
      stateMachine?: string;
    }) => {
      const { serveConsole } = await import('./console/serve');
      const { url } = await serveConsole({
        port: opts.port,
        ...(opts.region ? { region: opts.region } : {}),
        ...(opts.profile ? { profile: opts.profile } : {}),
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        ...(opts.stateMachine ? { stateMachineArn: opts.stateMachine } : {}),
      });
      console.log(`console: ${url}  (read-only; Ctrl-C stops it)`);
    },
  );

program
  .command('outbox')
  .description('SNS messages (approval requests, outcomes) a running sandbox has published')
  .option(...endpointOption)
  .option('--json', 'print a JSON array of the messages')
  .addHelpText(
    'after',
    examples(
      'drift-remediation outbox',
      'drift-remediation outbox --json | jq -r \'.[] | select(.subject | test("approval"; "i")) | .message\'',
    ),
  )
  .action(async (opts: { endpoint: string; json?: boolean }) => {
    const { printOutbox } = await import('./inspect');
    await printOutbox(opts.endpoint, opts.json === true);
  });

sandboxOrAws(
  program
    .command('remediate')
    .description(
      "start a remediation of one resource now, through the stack's manual-start entry (IAM-signed: you are recorded as the requester)",
    )
    .requiredOption('--type <type>', 'resource type, e.g. AWS::EC2::SecurityGroup')
    .requiredOption(
      '--id <id>',
      'resource id as Config records it (sg-…, bucket name, role name or AROA… id)',
    )
    .option(
      '--rule <rule>',
      'Config rule to remediate against (default: the CloudFormation drift entry of the type)',
    )
    .option(
      '--url <url>',
      "the manual-start entry's URL (default: the sandbox's, or the stack's ManualStartUrl output)",
    )
    .option(
      '--stack <name>',
      'stack whose ManualStartUrl output names the entry (with --aws)',
      'DriftRemediation',
    ),
  'send to',
)
  .addHelpText(
    'after',
    examples(
      'drift-remediation remediate --type AWS::EC2::SecurityGroup --id sg-0123456789abcdef0 --rule restricted-ssh',
      'drift-remediation remediate --type AWS::IAM::Role --id drift-demo-reporting',
      'drift-remediation remediate --type AWS::S3::Bucket --id my-bucket --rule s3-bucket-versioning-enabled \\',
      '  --profile prod --region eu-west-1',
    ),
  )
  .action(async (opts: RemediateOptions) => {
    const { remediate } = await import('./remediate');
    await remediate(opts);
  });

sandboxOrAws(
  program
    .command('audit')
    .description(
      'outcomes recorded for a resource, rule, account or time span (Query on the audit indexes, never Scan)',
    )
    .option('--resource <id>', 'resource id (sg-…, bucket, role name, stack name)')
    .option('--rule <rule>', 'Config rule name')
    .option('--account <account>', '12-digit account id')
    .option(
      '--outcome <outcome>',
      'only this outcome: VERIFIED, FAILED, REJECTED, EXPIRED, SKIPPED, ESCALATED, ABORTED, …',
    )
    .option('--since <when>', '7d, 12h, 30m back from now, or a date (2026-12-01)', '7d')
    .option('--json', 'print the outcome items as a JSON array')
    .option(
      '--table <name>',
      'outcomes table (default: the stack output OutcomesTableName, or the one *OutcomesTable*)',
    )
    .option('--stack <name>', 'stack that has the OutcomesTableName output (with --aws)', 'DriftRemediation'),
  'query',
)
  .addHelpText(
    'after',
    examples(
      'drift-remediation audit --since 24h',
      'drift-remediation audit --resource sg-0123456789abcdef0 --since 30d',
      'drift-remediation audit --rule restricted-ssh --outcome FAILED --json',
      'drift-remediation audit --account 222222222222 --since 2026-12-01 --profile prod --region eu-west-1',
    ),
  )
  .action(async (opts: AuditOptions) => {
    const { audit } = await import('./audit');
    await audit(opts);
  });

sandboxOrAws(
  program
    .command('plan')
    .description(
      'what would be remediated right now: Config NON_COMPLIANT resources in scope, each with its policy entry, runbook + parameters and diff; changes nothing',
    )
    .option('--rule <rule>', 'only this Config rule (default: every rule the policy names)')
    .option('--account <account>', '12-digit account id (the account of the credentials used)')
    .option('--policy <file>', 'remediation policy', 'runbooks/policy.yaml')
    .option('--json', 'print the planned resources as a JSON array'),
  'read',
)
  .addHelpText(
    'after',
    `
Read-only calls only (config:GetComplianceDetailsByConfigRule, cloudformation:DescribeStackResources and
DescribeStackResourceDrifts, sts:GetCallerIdentity). It starts no drift detection: each diff is from the
stack's last one. docs/operations.md "Plan: what would be remediated right now".
${examples(
  'drift-remediation plan',
  'drift-remediation plan --rule restricted-ssh --json',
  'drift-remediation plan --account 111111111111 --profile prod --region eu-west-1',
)}`,
  )
  .action(async (opts: PlanOptions) => {
    const { plan } = await import('./plan');
    await plan(opts);
  });

const documents = program
  .command('documents')
  .description('AWS-owned Automation documents for the sandbox')
  .addHelpText('after', examples('drift-remediation documents pull --help'));
documents
  .command('pull <names...>')
  .description(
    'copy AWS-owned Automation documents (GetDocument) from your account into a folder that `sandbox serve --aws-documents` serves',
  )
  .option('-d, --dir <dir>', 'folder to write, one NAME.json per document', 'aws-documents')
  .option('--region <region>', 'AWS region (default: AWS_REGION, or your profile)')
  .option('--profile <profile>', 'AWS shared-config profile (default: the SDK credential chain)')
  .option('-e, --endpoint <url>', 'pull from this endpoint (e.g. a sandbox) instead of AWS')
  .addHelpText(
    'after',
    examples(
      'drift-remediation documents pull AWS-DisablePublicAccessForSecurityGroup AWS-EnableS3BucketEncryption --profile prod',
      'drift-remediation sandbox serve --aws-documents aws-documents',
    ),
  )
  .action(
    async (names: string[], opts: { dir: string; region?: string; profile?: string; endpoint?: string }) => {
      const { pullDocuments } = await import('./documents-pull');
      for (const file of await pullDocuments(names, opts)) console.log(`wrote ${file}`);
    },
  );

/** True when this file is the program being run (not imported, e.g. by the help test). */
function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isMain()) {
  program.parseAsync(process.argv).catch((err: unknown) => {
    for (const line of explainError(err, commandEndpoint)) console.error(line);
    process.exitCode = 1;
  });
}
