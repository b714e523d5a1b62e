/**
 * ManualStart: the authenticated entry for manual starts (`drift-remediation remediate`). A Lambda
 * Function URL with AuthType AWS_IAM: Lambda checks the caller's SigV4 signature and IAM permission
 * (`lambda:InvokeFunctionUrl`, granted by the caller's own identity policy: the function's resource
 * policy admits nobody), and hands the function the caller's principal ARN, which becomes the request's
 * `requestedBy` (tasks/manual-start/). The function only sends to the intake queue; it cannot start
 * executions itself (docs/security.md, "Who asked for a manual start").
 */
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { Concern } from './logical-ids';
import { TaskFunction } from './task-function';

export class ManualStart extends Concern {
  readonly function: TaskFunction;
  readonly url: lambda.FunctionUrl;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    this.function = new TaskFunction(this, 'manual-start');
    this.url = this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
  }
}
