/** Storage: the stack's one KMS key and the tables (leases, slot queue, approvals, outcomes, ordering, waits). */
import { Aws, RemovalPolicy } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import {
  APPROVALS,
  AUDIT_INDEXES,
  LEASES,
  ORDERING,
  OUTCOMES,
  SLOT_QUEUE,
  WAITS,
} from '../../tasks/shared/tables';
import { Concern } from './logical-ids';

export interface StorageProps {
  /**
   * Removal policy of the tables (outcomes are the audit trail).
   * @default RemovalPolicy.RETAIN
   */
  readonly tableRemovalPolicy?: RemovalPolicy;
}

export interface Tables {
  readonly leases: dynamodb.Table;
  /** Executions waiting for a remediation slot, FIFO per runbook (LSI byPosition). */
  readonly slotQueue: dynamodb.Table;
  readonly approvals: dynamodb.Table;
  readonly outcomes: dynamodb.Table;
  readonly ordering: dynamodb.Table;
  /** Executions waiting by task token for a runbook's end or a COMPLIANT result. */
  readonly waits: dynamodb.Table;
}

/** Services that encrypt with the key on the stack's behalf (rule deliveries, alarm actions, topics). */
const KEY_USERS = ['events.amazonaws.com', 'cloudwatch.amazonaws.com', 'sns.amazonaws.com'];

export class Storage extends Concern {
  /** Encrypts tables, queues, topics and the signing secret. */
  readonly key: kms.Key;
  readonly tables: Tables;

  constructor(scope: Construct, id: string, props: StorageProps = {}) {
    super(scope, id);
    this.key = new kms.Key(this, 'Key', {
      description: 'drift-remediation: tables, queues, topics, secret',
      enableKeyRotation: true,
    });
    for (const service of KEY_USERS) {
      this.key.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal(service)],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } },
        }),
      );
    }
    const removalPolicy = props.tableRemovalPolicy ?? RemovalPolicy.RETAIN;
    const table = (name: string, partitionKey: string, sortKey?: string) =>
      new dynamodb.Table(this, name, {
        partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
        ...(sortKey ? { sortKey: { name: sortKey, type: dynamodb.AttributeType.STRING } } : {}),
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
        encryptionKey: this.key,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        timeToLiveAttribute: 'expiresAt',
        removalPolicy,
      });
    const slotQueue = table('SlotQueueTable', SLOT_QUEUE.partitionKey, SLOT_QUEUE.sortKey);
    slotQueue.addLocalSecondaryIndex({
      indexName: SLOT_QUEUE.positionIndex,
      sortKey: { name: SLOT_QUEUE.positionKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.ALL,
    });
    // Audit questions (drift-remediation audit): by time, rule, resource, account; newest first by `sk`.
    const outcomes = table('OutcomesTable', OUTCOMES.partitionKey, OUTCOMES.sortKey);
    for (const [indexName, partitionKey] of Object.entries(AUDIT_INDEXES)) {
      outcomes.addGlobalSecondaryIndex({
        indexName,
        partitionKey: { name: partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: OUTCOMES.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.ALL,
      });
    }
    this.tables = {
      leases: table('LeasesTable', LEASES.partitionKey),
      slotQueue,
      approvals: table('ApprovalsTable', APPROVALS.partitionKey),
      outcomes,
      ordering: table('OrderingTable', ORDERING.partitionKey),
      waits: table('WaitsTable', WAITS.partitionKey, WAITS.sortKey),
    };
  }
}

/** An SNS topic encrypted with the stack's key, TLS only. */
export function encryptedTopic(scope: Construct, id: string, displayName: string, key: kms.IKey): sns.Topic {
  return new sns.Topic(scope, id, { displayName, masterKey: key, enforceSSL: true });
}
