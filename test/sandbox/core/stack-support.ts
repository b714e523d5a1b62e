/**
 * Waiting for a CloudFormation stack through the real SDK client, shared by the sandbox's stack tests
 * (denied calls, handlers failing half-way): its status once no operation is in progress.
 */
import { type CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';

export async function settle(cfn: CloudFormationClient, name: string): Promise<string> {
  for (let i = 0; i < 2000; i++) {
    const s = (await cfn.send(new DescribeStacksCommand({ StackName: name }))).Stacks?.[0];
    if (s?.StackStatus && !s.StackStatus.endsWith('_IN_PROGRESS')) return s.StackStatus;
    await new Promise((res) => setTimeout(res, 5));
  }
  throw new Error(`stack ${name} did not settle`);
}
