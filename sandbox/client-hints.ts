/**
 * How to point AWS clients at a running sandbox, as `sandbox serve` prints it. AWS CLI v2.13+ / v1.29+
 * and current SDKs read AWS_ENDPOINT_URL; older ones (Debian's awscli 2.9, boto3 before 1.28) ignore
 * it and need `--endpoint-url` (or `endpoint_url=`) on every call. The sandbox answers both the JSON
 * protocols newer clients use and the query protocol older ones use for SQS.
 */
export function clientHints(endpoint: string, region: string): string[] {
  const credentials = `AWS_REGION=${region} AWS_DEFAULT_REGION=${region} AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test`;
  return [
    'point AWS CLIs and SDKs at it with dummy credentials:',
    `  export ${credentials}`,
    '  AWS CLI v2.13+ / v1.29+ and current SDKs read the endpoint from the environment:',
    `    export AWS_ENDPOINT_URL=${endpoint}`,
    "  older CLIs and SDKs ignore AWS_ENDPOINT_URL (e.g. Debian's awscli 2.9): pass it on every call:",
    `    aws --endpoint-url ${endpoint} sqs list-queues`,
  ];
}
