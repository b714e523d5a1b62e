/**
 * Approvals: the topic approvers subscribe to, the HMAC key that signs approval links, and the approval
 * endpoint (a Lambda Function URL without IAM auth — every link is signed and short-lived).
 */
import { Validations } from 'aws-cdk-lib';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secrets from 'aws-cdk-lib/aws-secretsmanager';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { Concern } from './logical-ids';
import { encryptedTopic } from './storage';
import { TaskFunction } from './task-function';

export interface ApprovalsProps {
  /** Encrypts the topic and the signing secret. */
  readonly key: kms.IKey;
  /**
   * Public base URL of the approval endpoint, when it sits behind your own domain/CDN.
   * @default the approval function's Lambda Function URL
   */
  readonly approvalBaseUrl?: string;
}

export class Approvals extends Concern {
  /** Approval requests (approvers filter on the `approver` attribute). */
  readonly topic: sns.Topic;
  readonly signingSecret: secrets.Secret;
  readonly endpoint: TaskFunction;
  readonly url: lambda.FunctionUrl;
  /** What links in approval messages start with (ENV.APPROVAL_BASE_URL). */
  readonly baseUrl: string;

  constructor(scope: Construct, id: string, props: ApprovalsProps) {
    super(scope, id);
    this.topic = encryptedTopic(this, 'ApprovalTopic', 'Drift remediation approvals', props.key);
    this.signingSecret = new secrets.Secret(this, 'ApprovalSigningSecret', {
      description: 'HMAC key that signs approval links (drift-remediation)',
      encryptionKey: props.key,
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });
    Validations.of(this.signingSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'The HMAC key signs short-lived approval links (TTL <= 7 days); rotating it is a manual, announced operation because it invalidates every pending link.',
    });
    this.endpoint = new TaskFunction(this, 'approval-endpoint');
    this.url = this.endpoint.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.baseUrl = props.approvalBaseUrl ?? this.url.url;
  }
}
