/**
 * SSM (awsJson1.1, target prefix AmazonSSM): Automation documents (documents.ts: versioned YAML or JSON,
 * AWS-owned ones served read-only from a pulled folder, tagged through tagging.ts) and the Automation engine (automations.ts,
 * engine.ts, actions.ts), over one SsmStore per account-region (made on its first call): documents,
 * executions, client tokens and the concurrency quota are each account-region's own, as in AWS. The
 * AWS-owned documents are read once and served in every account-region.
 */
import type { OperationHandler, RequestContext, ServiceModule } from '../../core/types';
import { stateOf } from '../state';
import { automationOperations } from './automations';
import { documentOperations, loadAwsDocuments } from './documents';
import { type SsmOptions, SsmStore } from './store';
import { taggingOperations } from './tagging';

export type { SsmOptions } from './store';

export function ssmService(options: SsmOptions = {}): ServiceModule {
  const awsDocuments = new SsmStore(options);
  if (options.awsDocumentsDir) loadAwsDocuments(awsDocuments, options.awsDocumentsDir);
  /** The operations over the caller's account-region's store. */
  const operationsIn = (ctx: RequestContext): Record<string, OperationHandler> =>
    stateOf(ctx.sandbox, 'ssm', () => {
      const store = new SsmStore(options);
      for (const [name, d] of awsDocuments.documents) store.documents.set(name, d);
      return {
        ...documentOperations(store),
        ...automationOperations(store),
        ...taggingOperations(store),
      } as Record<string, OperationHandler>;
    });
  const names = Object.keys({
    ...documentOperations(awsDocuments),
    ...automationOperations(awsDocuments),
    ...taggingOperations(awsDocuments),
  });
  return {
    serviceName: 'ssm',
    signingName: 'ssm',
    protocol: 'awsJson1_1',
    targetPrefix: 'AmazonSSM',
    operations: Object.fromEntries(
      names.map((name): [string, OperationHandler] => [
        name,
        (input, ctx) => {
          const op = operationsIn(ctx)[name];
          if (!op) throw new Error(`ssm: no operation ${name}`);
          return op(input, ctx);
        },
      ]),
    ),
  };
}
