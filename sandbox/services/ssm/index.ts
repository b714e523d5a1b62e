/**
 * SSM (awsJson1.1, target prefix AmazonSSM): Automation documents (documents.ts: versioned YAML or JSON,
 * AWS-owned ones served read-only from a pulled folder) and the Automation engine (automations.ts,
 * engine.ts, actions.ts), over one SsmStore per sandbox.
 */
import type { ServiceModule } from '../../core/types';
import { automationOperations } from './automations';
import { documentOperations, loadAwsDocuments } from './documents';
import { type SsmOptions, SsmStore } from './store';

export type { SsmOptions } from './store';

export function ssmService(options: SsmOptions = {}): ServiceModule {
  const store = new SsmStore(options);
  if (options.awsDocumentsDir) loadAwsDocuments(store, options.awsDocumentsDir);
  return {
    serviceName: 'ssm',
    signingName: 'ssm',
    protocol: 'awsJson1_1',
    targetPrefix: 'AmazonSSM',
    operations: { ...documentOperations(store), ...automationOperations(store) },
  };
}
