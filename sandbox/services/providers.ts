/**
 * The CloudFormation resource providers the sandbox supports. Stateless objects: each reads and writes
 * the store of the sandbox it is called for (ProviderContext.sandbox), the same store the service's
 * API operations use, so drift made through an API is what a provider reads back.
 */
import type { ResourceProvider } from '../core/types';
import { securityGroupIngressProvider, securityGroupProvider } from './ec2/provider';
import { managedPolicyProvider, roleProvider } from './iam/provider';
import { functionProvider } from './lambda/provider';
import { bucketProvider } from './s3/provider';

export function resourceProviders(): ResourceProvider[] {
  return [
    securityGroupProvider,
    securityGroupIngressProvider,
    bucketProvider,
    roleProvider,
    managedPolicyProvider,
    functionProvider,
  ];
}
