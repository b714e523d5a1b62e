/**
 * drift-remediation — the sandbox CLI.
 *
 *   drift-remediation demo [--yes]                 the scripted scenario (what `npm start` runs)
 *   drift-remediation sandbox serve [--port 4566]  a sandbox that stays up, with the stack installed
 *   drift-remediation executions list|show <name>  executions of a running sandbox
 *   drift-remediation outbox                       SNS messages a running sandbox has published
 *   drift-remediation remediate --type T --id ID   start a remediation by hand (sandbox, or AWS with --aws)
 *   drift-remediation documents pull NAME…         copy AWS-owned Automation documents from your account
 */
import { Command, InvalidArgumentError } from 'commander';
import { clientHints } from './client-hints';
import type { RemediateOptions } from './remediate';

function number(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n < min || n > max)
      throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}`);
    return n;
  };
}

const program = new Command()
  .name('drift-remediation')
  .description('Drift remediation on AWS Step Functions — local sandbox, demo and inspection tools')
  .showHelpAfterError();

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

const sandbox = program.command('sandbox').description('the local AWS sandbox');
sandbox
  .command('serve')
  .description('start the sandbox with the remediation stack installed, and keep it running')
  .option('-p, --port <port>', 'port', number('port', 0, 65535), 4566)
  .option('-t, --time-scale <factor>', 'real seconds per emulated second', number('time scale', 0.0001, 1), 1)
  .option('-f, --faults <file>', 'latency / fault injection rules (JSON)')
  .option('--no-install', 'do not install the remediation stack')
  .option('--aws-documents <dir>', 'serve the AWS-owned documents pulled into this folder (documents pull)')
  .option('-v, --verbose', 'print sandbox and task log lines')
  .action(
    async (opts: {
      port: number;
      timeScale: number;
      faults?: string;
      install: boolean;
      awsDocuments?: string;
      verbose?: boolean;
    }) => {
      const { startDriftSandbox } = await import('./main');
      const sb = await startDriftSandbox({
        port: opts.port,
        timeScale: opts.timeScale,
        ...(opts.faults ? { faults: opts.faults } : {}),
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

const executions = program.command('executions').description('executions of a running sandbox');
executions
  .command('list')
  .option(...endpointOption)
  .option('-s, --status <status>', 'RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED')
  .action(async (opts: { endpoint: string; status?: string }) => {
    const { listExecutions } = await import('./inspect');
    await listExecutions(opts.endpoint, opts.status);
  });
executions
  .command('show <nameOrArn>')
  .description('status, outcome and the state-by-state history of one execution')
  .option(...endpointOption)
  .action(async (nameOrArn: string, opts: { endpoint: string }) => {
    const { showExecution } = await import('./inspect');
    await showExecution(opts.endpoint, nameOrArn);
  });

program
  .command('outbox')
  .description('SNS messages (approval requests, outcomes) a running sandbox has published')
  .option(...endpointOption)
  .action(async (opts: { endpoint: string }) => {
    const { printOutbox } = await import('./inspect');
    await printOutbox(opts.endpoint);
  });

program
  .command('remediate')
  .description(
    'start a remediation of one resource now (a drift-remediation.manual event through EventBridge)',
  )
  .requiredOption('--type <type>', 'resource type, e.g. AWS::EC2::SecurityGroup')
  .requiredOption('--id <id>', 'resource id as Config records it (sg-…, bucket name, role name or AROA… id)')
  .option(
    '--rule <rule>',
    'Config rule to remediate against (default: the CloudFormation drift entry of the type)',
  )
  .option('--requested-by <who>', 'who asks (recorded; they may not approve their own request)')
  .option(...endpointOption)
  .option('--aws', 'send to AWS with your credentials instead of the sandbox')
  .option('--region <region>', 'AWS region (default: AWS_REGION, or your profile)')
  .option('--profile <profile>', 'AWS shared-config profile (implies --aws)')
  .addHelpText(
    'after',
    `
Examples:
  drift-remediation remediate --type AWS::EC2::SecurityGroup --id sg-0123456789abcdef0 --rule restricted-ssh
  drift-remediation remediate --type AWS::IAM::Role --id drift-demo-reporting
  drift-remediation remediate --type AWS::S3::Bucket --id my-bucket --rule s3-bucket-versioning-enabled \\
    --profile prod --region eu-west-1`,
  )
  .action(async (opts: RemediateOptions) => {
    const { remediate } = await import('./remediate');
    await remediate(opts);
  });

const documents = program.command('documents').description('AWS-owned Automation documents for the sandbox');
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
    `
Example:
  drift-remediation documents pull AWS-DisablePublicAccessForSecurityGroup AWS-EnableS3BucketEncryption --profile prod
  drift-remediation sandbox serve --aws-documents aws-documents`,
  )
  .action(
    async (names: string[], opts: { dir: string; region?: string; profile?: string; endpoint?: string }) => {
      const { pullDocuments } = await import('./documents-pull');
      for (const file of await pullDocuments(names, opts)) console.log(`wrote ${file}`);
    },
  );

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
